import CDemandLayer
import DemandLayer

// Typed outputs in C (API version 3): the run functions write every output as
// floats, exact for a typed one (the session checks); these report an
// output's declared type and convert its floats into that type.

extension DType {
    /// The C spelling of an output type (float16 never declares an output).
    var cValue: dl_dtype {
        switch self {
        case .float32, .float16, .uint4: DL_DTYPE_FLOAT32  // only float32 declares an output among these
        case .int64: DL_DTYPE_INT64
        case .int32: DL_DTYPE_INT32
        case .bool: DL_DTYPE_BOOL
        case .int8: DL_DTYPE_INT8
        case .uint8: DL_DTYPE_UINT8
        }
    }

    /// The type a C dl_dtype names, nil for a value outside the enum.
    init?(_ value: dl_dtype) {
        switch value {
        case DL_DTYPE_FLOAT32: self = .float32
        case DL_DTYPE_INT64: self = .int64
        case DL_DTYPE_INT32: self = .int32
        case DL_DTYPE_BOOL: self = .bool
        case DL_DTYPE_INT8: self = .int8
        case DL_DTYPE_UINT8: self = .uint8
        default: return nil
        }
    }
}

/// The declared type of one graph output; see demandlayer.h.
@_cdecl("dl_model_output_dtype")
public func dlModelOutputDType(_ handle: OpaquePointer?, _ index: Int, _ dtypeOut: UnsafeMutablePointer<dl_dtype>?) -> dl_status {
    reporting("dl_model_output_dtype") { () throws(Failure) in
        let values = try model(handle).outputs
        guard let dtypeOut else { throw .argument("dtype_out is NULL") }
        guard values.indices.contains(index) else { throw .argument("output index \(index) is out of range: the model has \(values.count) output(s)") }
        dtypeOut.pointee = values[index].info.dtype.cValue
    }
}

/// Converts an output's floats into its type; see demandlayer.h.
@_cdecl("dl_output_copy_as")
public func dlOutputCopyAs(_ output: UnsafePointer<dl_output>?, _ dtype: dl_dtype, _ data: UnsafeMutableRawPointer?,
                           _ capacity: Int) -> dl_status {
    reporting("dl_output_copy_as") { () throws(Failure) in
        guard let output else { throw .argument("output is NULL") }
        guard let type = DType(dtype) else { throw .argument("dtype \(dtype.rawValue) is not a dl_dtype") }
        guard let data else { throw .argument("data is NULL") }
        let count = output.pointee.element_count
        let name = output.pointee.name.flatMap { String(validatingCString: $0) } ?? "(unnamed)"
        guard count == 0 || output.pointee.data != nil else { throw .argument("output '\(name)' has no data") }
        guard capacity >= count else {
            throw Failure(DL_ERROR_BUFFER_TOO_SMALL, "output '\(name)' has \(count) elements; the capacity is \(capacity)")
        }
        let values = UnsafeBufferPointer(start: output.pointee.data, count: count)
        if let bad = OutputValue.inexactElement(in: values, as: type) {
            throw Failure(DL_ERROR_OPERATOR_FAILED, "output '\(name)': element \(bad.index) is \(bad.value), not exact as \(type.rawValue)")
        }
        guard let source = values.baseAddress else { return }
        /// Writes each value converted to `Element` (already checked to be exact in it).
        func store<Element>(_: Element.Type, _ convert: (Float) -> Element) {
            let typed = data.bindMemory(to: Element.self, capacity: count)
            for index in 0..<count { typed[index] = convert(values[index]) }
        }
        switch type {
        case .float32, .float16, .uint4:  // only float32 reaches here (init?(dl_dtype) gives no other)
            data.bindMemory(to: Float.self, capacity: count).update(from: source, count: count)
        case .int64: store(Int64.self) { Int64($0) }
        case .int32: store(Int32.self) { Int32($0) }
        case .int8: store(Int8.self) { Int8($0) }
        case .uint8: store(UInt8.self) { UInt8($0) }
        case .bool: store(UInt8.self) { $0 != 0 ? 1 : 0 }
        }
    }
}
