import Foundation

/// Decodes `TensorProto`s into `ConstantTensor`s: raw little-endian bytes,
/// the typed repeated fields, or an external data file beside the model.
struct TensorDecoder {
    /// The directory external data locations are relative to.
    let modelDirectory: String

    func decode(_ proto: Onnx_TensorProto, name: String) throws(ImportError) -> ConstantTensor {
        let shape = proto.dims.map { Int($0) }
        let count = try Shapes.elementCount(shape, of: "tensor '\(name)'")
        let type = proto.dataType
        if proto.hasSegment {
            throw ImportError(.unsupported, "tensor '\(name)' is split into segments, which is not supported")
        }
        var raw: Data?
        if proto.dataLocation == .external {
            raw = try externalBytes(proto, name: name, count: count)
        } else if !proto.rawData.isEmpty {
            raw = proto.rawData
        }
        if let raw {
            return try fromRaw(raw, type: type, shape: shape, name: name)
        }
        switch type {
        case ElementType.float:
            return try checked(ConstantTensor.Values.floats(proto.floatData), proto.floatData.count, shape, name)
        case ElementType.double:
            return try checked(.floats(proto.doubleData.map { Float($0) }), proto.doubleData.count, shape, name)
        case ElementType.float16:
            return try checked(.floats(proto.int32Data.map { Float(Float16(bitPattern: UInt16(truncatingIfNeeded: $0))) }),
                               proto.int32Data.count, shape, name)
        case ElementType.bfloat16:
            return try checked(.floats(proto.int32Data.map { Float(bitPattern: UInt32(UInt16(truncatingIfNeeded: $0)) << 16) }),
                               proto.int32Data.count, shape, name)
        case ElementType.int64:
            return try checked(.ints(proto.int64Data), proto.int64Data.count, shape, name)
        case ElementType.int32, ElementType.int16, ElementType.int8, ElementType.uint16, ElementType.uint8, ElementType.bool:
            return try checked(.ints(proto.int32Data.map { Int64($0) }), proto.int32Data.count, shape, name)
        case ElementType.uint32, ElementType.uint64:
            return try checked(.ints(proto.uint64Data.map { Int64(truncatingIfNeeded: $0) }), proto.uint64Data.count, shape, name)
        default:
            throw ImportError(.unsupported, "tensor '\(name)' has element type \(ElementType.name(type)), which is not supported")
        }
    }

    private func checked(_ values: ConstantTensor.Values, _ found: Int, _ shape: [Int], _ name: String) throws(ImportError) -> ConstantTensor {
        let count = shape.reduce(1, *)
        guard found == count else {
            throw ImportError(.invalidModel, "tensor '\(name)' of shape \(shape) holds \(found) values; it needs \(count)")
        }
        return ConstantTensor(shapeUnchecked: shape, values: values)
    }

    /// Interprets little-endian bytes of `type`.
    private func fromRaw(_ data: Data, type: Int32, shape: [Int], name: String) throws(ImportError) -> ConstantTensor {
        let count = shape.reduce(1, *)
        let widths: [Int32: Int] = [
            ElementType.float: 4, ElementType.double: 8, ElementType.float16: 2, ElementType.bfloat16: 2,
            ElementType.int64: 8, ElementType.int32: 4, ElementType.int16: 2, ElementType.int8: 1,
            ElementType.uint64: 8, ElementType.uint32: 4, ElementType.uint16: 2, ElementType.uint8: 1, ElementType.bool: 1,
        ]
        guard let width = widths[type] else {
            throw ImportError(.unsupported, "tensor '\(name)' has element type \(ElementType.name(type)), which is not supported")
        }
        guard data.count == count * width else {
            throw ImportError(.invalidModel, "tensor '\(name)' of shape \(shape) (\(ElementType.name(type))) has \(data.count) bytes of data; it needs \(count * width)")
        }
        if type == ElementType.float {
            // The bulk of every model: one copy, no per-element work (x86-64 and arm64 are little-endian).
            let floats = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                data.withUnsafeBytes { bytes in
                    if count > 0 { UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: bytes.baseAddress!, byteCount: count * 4) }
                }
                initialized = count
            }
            return ConstantTensor(shapeUnchecked: shape, values: .floats(floats))
        }
        let values: ConstantTensor.Values = data.withUnsafeBytes { bytes in
            func load<T: FixedWidthInteger>(_: T.Type, _ i: Int) -> T {
                T(littleEndian: bytes.loadUnaligned(fromByteOffset: i * width, as: T.self))
            }
            switch type {
            case ElementType.float: return .floats((0..<count).map { Float(bitPattern: load(UInt32.self, $0)) })
            case ElementType.double: return .floats((0..<count).map { Float(Double(bitPattern: load(UInt64.self, $0))) })
            case ElementType.float16: return .floats((0..<count).map { Float(Float16(bitPattern: load(UInt16.self, $0))) })
            case ElementType.bfloat16: return .floats((0..<count).map { Float(bitPattern: UInt32(load(UInt16.self, $0)) << 16) })
            case ElementType.int64: return .ints((0..<count).map { load(Int64.self, $0) })
            case ElementType.uint64: return .ints((0..<count).map { Int64(truncatingIfNeeded: load(UInt64.self, $0)) })
            case ElementType.int32: return .ints((0..<count).map { Int64(load(Int32.self, $0)) })
            case ElementType.uint32: return .ints((0..<count).map { Int64(load(UInt32.self, $0)) })
            case ElementType.int16: return .ints((0..<count).map { Int64(load(Int16.self, $0)) })
            case ElementType.uint16: return .ints((0..<count).map { Int64(load(UInt16.self, $0)) })
            case ElementType.int8: return .ints((0..<count).map { Int64(load(Int8.self, $0)) })
            default: return .ints((0..<count).map { Int64(load(UInt8.self, $0)) })
            }
        }
        return ConstantTensor(shapeUnchecked: shape, values: values)
    }

    /// Reads the bytes of an externally stored tensor: `location` relative to
    /// the model's directory, optional `offset` and `length`.
    private func externalBytes(_ proto: Onnx_TensorProto, name: String, count: Int) throws(ImportError) -> Data {
        var entries: [String: String] = [:]
        for entry in proto.externalData { entries[entry.key] = entry.value }
        guard let location = entries["location"], !location.isEmpty else {
            throw ImportError(.invalidModel, "tensor '\(name)' is stored externally but names no location")
        }
        let components = location.split(separator: "/")
        guard !location.hasPrefix("/"), !components.contains("..") else {
            throw ImportError(.externalData, "tensor '\(name)': external data location '\(location)' must be a relative path beside the model")
        }
        let path = modelDirectory + "/" + location
        guard let offset = Int(entries["offset"] ?? "0"), offset >= 0 else {
            throw ImportError(.invalidModel, "tensor '\(name)': external data offset '\(entries["offset"] ?? "")' is not a non-negative integer", path: path)
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ImportError(.externalData, "cannot open the external data file of tensor '\(name)'; it must sit beside the model file", path: path)
        }
        defer { try? handle.close() }
        let fileSize: UInt64
        do { fileSize = try handle.seekToEnd() } catch {
            throw ImportError(.externalData, "cannot read the external data file of tensor '\(name)': \(error)", path: path)
        }
        let length: Int
        if let given = entries["length"] {
            guard let value = Int(given), value >= 0 else {
                throw ImportError(.invalidModel, "tensor '\(name)': external data length '\(given)' is not a non-negative integer", path: path)
            }
            length = value
        } else {
            length = max(0, Int(fileSize) - offset)
        }
        guard UInt64(offset + length) <= fileSize else {
            throw ImportError(.externalData,
                "external data file is \(fileSize) bytes, but tensor '\(name)' needs bytes \(offset)..<\(offset + length); the file is truncated",
                path: path)
        }
        do {
            try handle.seek(toOffset: UInt64(offset))
            let data = try handle.read(upToCount: length) ?? Data()
            guard data.count == length else {
                throw ImportError(.externalData, "read \(data.count) of \(length) bytes of tensor '\(name)' at offset \(offset)", path: path)
            }
            return data
        } catch let error as ImportError {
            throw error
        } catch {
            throw ImportError(.externalData, "cannot read tensor '\(name)' at offset \(offset): \(error)", path: path)
        }
    }
}

extension ConstantTensor {
    init(shapeUnchecked shape: [Int], values: Values) {
        self.shape = shape
        self.values = values
    }
}
