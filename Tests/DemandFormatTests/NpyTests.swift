import DemandFormat
import DemandTensor
import DemandTestSupport
import Foundation
import Testing

@Suite struct NpyTests {
    static func npy(descr: String, shape: String, payload: [UInt8], major: UInt8 = 1, fortran: Bool = false) -> Data {
        NpyBytes.make(descr: descr, shape: shape, payload: payload, major: major, fortran: fortran)
    }

    func write(_ data: Data, _ name: String) throws -> String {
        let path = Scratch.directory("npy") + "/" + name
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func writtenFilesReadBack() throws {
        let path = Scratch.directory("npy") + "/roundtrip.npy"
        let values: [Float] = [1.5, -2, 0, .greatestFiniteMagnitude, 3e-8, 7]
        try Npy.write(path: path, shape: [2, 3], values: values)
        let array = try Npy.read(path: path)
        #expect(array.dtype == .float32)
        #expect(array.shape == [2, 3])
        #expect(array.values == values)
        let bytes = try #require(FileManager.default.contents(atPath: path))
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        #expect((10 + headerLength) % 64 == 0, "the data starts on a 64-byte boundary, as numpy writes it")
    }

    /// 0-d arrays (numpy's `np.array(16000)`): shape () reads as a scalar
    /// shape [] of one element, and a scalar writes back as shape ().
    @Test func zeroDimensionalArraysReadAndWrite() throws {
        let int64 = try Npy.read(path: write(Self.npy(descr: "<i8", shape: "()", payload: [0x80, 0x3E, 0, 0, 0, 0, 0, 0]), "sr.npy"))
        #expect(int64.dtype == .int64 && int64.shape == Shape([]) && int64.values == [16000])
        let path = Scratch.directory("npy") + "/scalar.npy"
        try Npy.write(path: path, shape: [], values: [2.5])
        let bytes = try #require(FileManager.default.contents(atPath: path))
        #expect(String(decoding: bytes.prefix(80), as: UTF8.self).contains("'shape': ()"), "numpy's spelling of a 0-d shape")
        let back = try Npy.read(path: path)
        #expect(back.shape.rank == 0 && back.values == [2.5])
        #expect(throws: NpyError.self) { try Npy.write(path: path, shape: [], values: [1, 2]) }
    }

    @Test func integerFloat16AndVersion2FilesWidenToFloat() throws {
        let int64 = try Npy.read(path: write(Self.npy(descr: "<i8", shape: "(3,)", payload: [5, 0, 0, 0, 0, 0, 0, 0] + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF] + [0, 1, 0, 0, 0, 0, 0, 0]), "i8.npy"))
        #expect(int64.dtype == .int64)
        #expect(int64.values == [5, -1, 256])
        let half = try Npy.read(path: write(Self.npy(descr: "<f2", shape: "(1, 2)", payload: [0x00, 0x3C, 0x00, 0xC0]), "f2.npy"))
        #expect(half.dtype == .float16)
        #expect(half.shape == [1, 2])
        #expect(half.values == [1, -2])
        let version2 = try Npy.read(path: write(Self.npy(descr: "<i4", shape: "(2,)", payload: [7, 0, 0, 0, 0xFE, 0xFF, 0xFF, 0xFF], major: 2), "v2.npy"))
        #expect(version2.dtype == .int32)
        #expect(version2.values == [7, -2])
        let scalar = try Npy.read(path: write(Self.npy(descr: "<f4", shape: "()", payload: [0, 0, 0x80, 0x3F]), "scalar.npy"))
        #expect(scalar.shape == Shape([]))
        #expect(scalar.values == [1])
    }

    @Test(arguments: [
        ("short", npy(descr: "<f4", shape: "(4,)", payload: [0, 0, 0, 0]), "needs 16"),
        ("fortran", npy(descr: "<f4", shape: "(1,)", payload: [0, 0, 0, 0], fortran: true), "Fortran"),
        ("big-endian", npy(descr: ">f4", shape: "(1,)", payload: [0, 0, 0, 0]), "not supported"),
        ("magic", Data("hello world, not numpy".utf8), "magic"),
        ("huge-int", npy(descr: "<i8", shape: "(1,)", payload: [0, 0, 0, 2, 0, 0, 0, 0]), "2^24"),
    ])
    func badFilesAreRefusedNamingTheFile(name: String, data: Data, expected: String) throws {
        let path = try write(data, name + ".npy")
        #expect {
            _ = try Npy.read(path: path)
        } throws: { error in
            let text = "\(error)"
            return text.hasPrefix(path) && text.contains(expected)
        }
    }
}
