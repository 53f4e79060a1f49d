import DemandTensor
import Foundation

// # NumPy `.npy` files, version 1.0 to 3.0
//
//     6 bytes   magic "\x93NUMPY"
//     2 bytes   major, minor version
//     2 or 4    header length, little-endian (2 bytes in 1.x, 4 in 2.x and 3.x)
//     header    a Python dict literal, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }
//               padded with spaces and a newline so the data starts on a 64-byte boundary
//     data      elementCount values, C order
//
// Read: float32 ('<f4'), float16 ('<f2'), float64 ('<f8'), int64 ('<i8'), int32
// ('<i4') and bool ('|b1'), in C order. Everything is widened to float32, the
// runtime's one element type; integers must stay below 2^24 in magnitude to be
// exact, and a file that breaks that is refused. Written: float32, version 1.0.

/// An array read from a `.npy` file, widened to float32.
public struct NpyArray: Sendable {
    /// The element type stored in the file (float64 is reported as float32,
    /// bool and uint8 as int32).
    public var dtype: DType
    /// The array's shape.
    public var shape: Shape
    /// `shape.elementCount` values in C order.
    public var values: [Float]

    /// The values as a tensor with its own storage.
    public var tensor: Tensor { Tensor(shape: shape, values: values) }
}

/// Why a `.npy` file could not be read or written, naming the file.
public struct NpyError: Error, CustomStringConvertible, Sendable {
    /// The file concerned.
    public let path: String
    /// What is wrong with it.
    public let message: String

    public var description: String { "\(path): \(message)" }
}

/// Reads and writes NumPy `.npy` files (see the layout at the top of this file).
public enum Npy {
    /// Reads a `.npy` file. Throws `NpyError` naming the file for anything
    /// that is not a C-order array of a supported type.
    public static func read(path: String) throws(NpyError) -> NpyArray {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw NpyError(path: path, message: "cannot read the file (\(String(cString: strerror(errno))))")
        }
        do {
            return try decode(data)
        } catch let message {
            throw NpyError(path: path, message: message.text)
        }
    }

    /// Writes float32 values as a version 1.0 `.npy` file, replacing any file
    /// there only once the new one is complete.
    public static func write(path: String, shape: Shape, values: [Float]) throws(NpyError) {
        try write(path: path, shape: shape, values: values, dtype: .float32)
    }

    /// Writes values held as float32 as a `.npy` file of `dtype`: float32 as
    /// `<f4`, int64 as `<i8`, int32 as `<i4`, bool as `|b1` (nonzero is true).
    /// Integer values must already be whole and in range (the runtime checks
    /// a typed output before it returns it); float16 is written as float32.
    public static func write(path: String, shape: Shape, values: [Float], dtype: DType) throws(NpyError) {
        guard values.count == shape.elementCount else {
            throw NpyError(path: path, message: "\(values.count) values do not fill shape \(shape)")
        }
        var data: Data
        switch dtype {
        case .float32, .float16, .uint4:  // only float32 reaches here (the validator refuses the others as outputs)
            data = encodeHeader(descr: "<f4", shape: shape)
            values.withUnsafeBytes { data.append(contentsOf: $0) }
        case .int64:
            data = encodeHeader(descr: "<i8", shape: shape)
            values.map { Int64($0).littleEndian }.withUnsafeBytes { data.append(contentsOf: $0) }
        case .int32:
            data = encodeHeader(descr: "<i4", shape: shape)
            values.map { Int32($0).littleEndian }.withUnsafeBytes { data.append(contentsOf: $0) }
        case .int8:
            data = encodeHeader(descr: "|i1", shape: shape)
            data.append(contentsOf: values.map { UInt8(bitPattern: Int8($0)) })
        case .uint8:
            data = encodeHeader(descr: "|u1", shape: shape)
            data.append(contentsOf: values.map { UInt8($0) })
        case .bool:
            data = encodeHeader(descr: "|b1", shape: shape)
            data.append(contentsOf: values.map { $0 != 0 ? UInt8(1) : 0 })
        }
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw NpyError(path: path, message: "cannot write the file: \(error.localizedDescription)")
        }
    }

    /// Writes a tensor as a float32 `.npy` file.
    public static func write(path: String, tensor: Tensor) throws(NpyError) {
        try write(path: path, shape: tensor.shape, values: tensor.array)
    }

    struct Message: Error { let text: String; init(_ text: String) { self.text = text } }

    static func encodeHeader(descr: String, shape: Shape) -> Data {
        let dims = shape.dims.map(String.init)
        let shapeText = dims.count == 1 ? "(\(dims[0]),)" : "(\(dims.joined(separator: ", ")))"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        data.append(contentsOf: Array(header.utf8))
        return data
    }

    static func decode(_ data: Data) throws(Message) -> NpyArray {
        let bytes = [UInt8](data)
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1..<6]) == Array("NUMPY".utf8) else {
            throw Message("not a .npy file (the magic \\x93NUMPY is missing)")
        }
        let major = bytes[6]
        let (headerStart, headerLength): (Int, Int)
        switch major {
        case 1:
            (headerStart, headerLength) = (10, Int(bytes[8]) | Int(bytes[9]) << 8)
        case 2, 3:
            guard bytes.count >= 12 else { throw Message("the file ends inside its header length") }
            (headerStart, headerLength) = (12, Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24)
        default:
            throw Message(".npy version \(major).\(bytes[7]) is not supported (1.0 to 3.0 are)")
        }
        guard headerStart + headerLength <= bytes.count,
              let header = String(bytes: bytes[headerStart..<(headerStart + headerLength)], encoding: .utf8) else {
            throw Message("the header is truncated or not text")
        }
        let descr = try field("descr", in: header)
        let fortran = try field("fortran_order", in: header)
        guard fortran == "False" else { throw Message("Fortran-order arrays are not supported; save with np.ascontiguousarray") }
        let shape = try parseShape(try field("shape", in: header))
        let payload = bytes.count - headerStart - headerLength
        let start = headerStart + headerLength
        let count = shape.elementCount

        func need(_ width: Int) throws(Message) {
            guard payload >= count * width else {
                throw Message("holds \(payload) data bytes; shape \(shape) of \(descr) needs \(count * width)")
            }
        }
        var values = [Float](repeating: 0, count: count)
        let dtype: DType
        switch descr {
        case "<f4", "=f4", "|f4":
            try need(4); dtype = .float32
            values.withUnsafeMutableBytes { $0.copyBytes(from: bytes[start..<(start + count * 4)]) }
        case "<f2", "=f2":
            try need(2); dtype = .float16
            for index in 0..<count {
                let bits = UInt16(bytes[start + 2 * index]) | UInt16(bytes[start + 2 * index + 1]) << 8
                values[index] = Float(Float16(bitPattern: bits))
            }
        case "<f8", "=f8":
            try need(8); dtype = .float32
            for index in 0..<count { values[index] = Float(Double(bitPattern: littleEndian(bytes, start + 8 * index, 8))) }
        case "<i8", "=i8", "<i4", "=i4", "|b1", "|u1", "<u1":
            let width = descr.hasSuffix("8") ? 8 : descr.hasSuffix("4") ? 4 : 1
            try need(width)
            dtype = width == 8 ? .int64 : .int32
            for index in 0..<count {
                let raw = littleEndian(bytes, start + width * index, width)
                let value: Int64 = switch width {
                case 8: Int64(bitPattern: raw)
                case 4: Int64(Int32(bitPattern: UInt32(truncatingIfNeeded: raw)))
                default: Int64(raw)
                }
                guard value.magnitude < UInt64(DType.exactIntegerLimit) else {
                    throw Message("element \(index) is \(value); integers are held as float32 and must be below 2^24 in magnitude")
                }
                values[index] = Float(value)
            }
        default:
            throw Message("dtype '\(descr)' is not supported; use float32, float16, float64, int64, int32 or bool, little-endian")
        }
        return NpyArray(dtype: dtype, shape: shape, values: values)
    }

    private static func littleEndian(_ bytes: [UInt8], _ offset: Int, _ width: Int) -> UInt64 {
        var value: UInt64 = 0
        for byte in 0..<width { value |= UInt64(bytes[offset + byte]) << (8 * UInt64(byte)) }
        return value
    }

    /// The text of `key`'s value in the header dict: a quoted string, a word or a tuple.
    private static func field(_ key: String, in header: String) throws(Message) -> String {
        guard let keyRange = header.range(of: "'\(key)'") else { throw Message("the header has no '\(key)'") }
        var rest = header[keyRange.upperBound...].drop { $0 == " " || $0 == ":" }
        if rest.first == "'" {
            rest = rest.dropFirst()
            guard let end = rest.firstIndex(of: "'") else { throw Message("the header's '\(key)' is not closed") }
            return String(rest[..<end])
        }
        if rest.first == "(" {
            guard let end = rest.firstIndex(of: ")") else { throw Message("the header's '\(key)' is not closed") }
            return String(rest[...end])
        }
        return String(rest.prefix { $0.isLetter || $0.isNumber })
    }

    private static func parseShape(_ text: String) throws(Message) -> Shape {
        let inner = text.trimmingCharacters(in: CharacterSet(charactersIn: "() "))
        var dims: [Int] = []
        for part in inner.split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let dim = Int(trimmed), dim >= 0 else { throw Message("shape \(text) is not a tuple of sizes") }
            dims.append(dim)
        }
        return Shape(dims)
    }
}
