import DemandFormat
import DemandTensor

// # Typed outputs: exact conversion at the edge
//
// Inside the runtime every value is float32. A graph output declared int64,
// int32 or bool (manifest version 3) is computed as float32 and converted
// when the execute stage copies it out. The conversion is exact or refused:
//
// - int64 and int32: each value must be a whole number whose magnitude is
//   below 2^24 (`DType.exactIntegerLimit`). At 2^24 and above float32 no
//   longer holds every integer, so the value may already be off by one or
//   more; it is refused rather than delivered as a plausible wrong index.
// - int8 and uint8 (QuantizeLinear outputs): a whole number in the type's
//   range (-128...127, 0...255).
// - bool: each value must be exactly 0 or 1.
// - NaN and infinities are refused for every typed output.
//
// A refused value fails the inference with `.operatorFailed`, naming the
// output, the element index and the value. `Session.run` returns the float32
// tensor of a typed output (its values are then known to be exact);
// `OutputValue` and the `Tensor` accessors below give the declared type.

/// A graph output in its declared dtype.
public enum OutputValue: Sendable, Equatable {
    /// A float output, as `Session.run` gives it.
    case float32(shape: Shape, values: [Float])
    /// An int64 output (ArgMax, TopK indices), every value exact.
    case int64(shape: Shape, values: [Int64])
    /// An int32 output, every value exact.
    case int32(shape: Shape, values: [Int32])
    /// An int8 output (QuantizeLinear), every value exact.
    case int8(shape: Shape, values: [Int8])
    /// A uint8 output (QuantizeLinear), every value exact.
    case uint8(shape: Shape, values: [UInt8])
    /// A bool output (a comparison, a mask).
    case bool(shape: Shape, values: [Bool])

    /// The output's float32 values converted to `dtype`; the values must have
    /// passed `OutputValue.inexactElement` (the session checks every typed output).
    public init(_ tensor: Tensor, as dtype: DType) {
        switch dtype {
        case .int64: self = .int64(shape: tensor.shape, values: tensor.buffer.map { Int64($0) })
        case .int32: self = .int32(shape: tensor.shape, values: tensor.buffer.map { Int32($0) })
        case .int8: self = .int8(shape: tensor.shape, values: tensor.buffer.map { Int8($0) })
        case .uint8: self = .uint8(shape: tensor.shape, values: tensor.buffer.map { UInt8($0) })
        case .bool: self = .bool(shape: tensor.shape, values: tensor.buffer.map { $0 != 0 })
        case .float32, .float16, .uint4: self = .float32(shape: tensor.shape, values: tensor.array)
        }
    }

    /// The dtype the value is delivered in.
    public var dtype: DType {
        switch self {
        case .float32: .float32
        case .int64: .int64
        case .int32: .int32
        case .int8: .int8
        case .uint8: .uint8
        case .bool: .bool
        }
    }

    /// The value's shape.
    public var shape: Shape {
        switch self {
        case .float32(let shape, _), .int64(let shape, _), .int32(let shape, _), .int8(let shape, _), .uint8(let shape, _),
             .bool(let shape, _): shape
        }
    }

    /// The first element of `values` that does not convert exactly to `dtype`
    /// (see the rule above), or nil when all do. float32 accepts everything.
    public static func inexactElement(in values: UnsafeBufferPointer<Float>, as dtype: DType) -> (index: Int, value: Float)? {
        let limit = Float(DType.exactIntegerLimit)
        switch dtype {
        case .float32, .float16, .uint4:  // only float32 reaches here (the validator refuses the others as outputs)
            return nil
        case .int8, .uint8:
            let range: ClosedRange<Float> = dtype == .int8 ? -128...127 : 0...255
            for (index, value) in values.enumerated() where !(range.contains(value) && value.rounded(.towardZero) == value) {
                return (index, value)
            }
        case .int64, .int32:
            for (index, value) in values.enumerated() where !(abs(value) < limit && value.rounded(.towardZero) == value) {
                return (index, value)
            }
        case .bool:
            for (index, value) in values.enumerated() where value != 0 && value != 1 {
                return (index, value)
            }
        }
        return nil
    }

    /// The error for output `name` whose element `index` is `value`, not exact as `dtype`.
    static func inexactError(output name: String, dtype: DType, index: Int, value: Float) -> RuntimeError {
        let rule = dtype == .bool ? "a bool output must be 0 or 1"
            : dtype == .int8 || dtype == .uint8 ? "an \(dtype.rawValue) output must be a whole number in the type's range"
            : "an integer output must be a whole number below 2^24 in magnitude (float32 holds integers exactly only there)"
        return RuntimeError(.operatorFailed,
            "output '\(name)' is declared \(dtype.rawValue) but element \(index) is \(value); \(rule), so the value would not be exact")
    }
}

extension Model {
    /// Every graph output of `outputs` (what `Session.run` returned) in its declared dtype.
    public func typed(_ outputs: [String: Tensor]) -> [String: OutputValue] {
        var typed: [String: OutputValue] = [:]
        for output in manifest.outputs {
            if let value = outputs[output.name] { typed[output.name] = OutputValue(value, as: output.dtype) }
        }
        return typed
    }
}

extension Session {
    /// Runs one inference like `run(_:timeoutNanoseconds:)` and returns every
    /// graph output in its declared dtype (`Model.outputs[i].dtype`).
    public func runTyped(_ inputs: [String: Tensor], timeoutNanoseconds: UInt64? = nil) throws(RuntimeError) -> [String: OutputValue] {
        model.typed(try run(inputs, timeoutNanoseconds: timeoutNanoseconds))
    }
}
