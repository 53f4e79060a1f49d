import Foundation

/// `.npy` bytes as numpy writes them, built by hand so tests can make the
/// types and versions the writer does not produce.
public enum NpyBytes {
    public static func make(descr: String, shape: String, payload: [UInt8], major: UInt8 = 1, fortran: Bool = false) -> Data {
        var header = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shape), }"
        let prefix = major == 1 ? 10 : 12
        header += String(repeating: " ", count: (64 - (prefix + header.utf8.count + 1) % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [major, 0])
        let length = header.utf8.count
        data.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)] + (major == 1 ? [] : [0, 0]))
        data.append(contentsOf: Array(header.utf8))
        data.append(contentsOf: payload)
        return data
    }
}
