#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An elementwise function of one input that is not a fusable activation:
/// the ONNX unary ops, Dropout (inference: a copy) and Cast (values stay
/// float32; see `CastTarget`).
public enum UnaryFunction: Hashable, Sendable {
    /// max(0, min(1, alpha·x + beta))
    case hardSigmoid(alpha: Float, beta: Float)
    /// x · max(0, min(1, x/6 + 1/2))
    case hardSwish
    /// Hyperbolic tangent.
    case tanh
    /// The error function.
    case erf
    /// x/2 · (1 + erf(x/√2)), or with `tanhApproximation`
    /// x/2 · (1 + tanh(√(2/π) · (x + 0.044715·x³))).
    case gelu(tanhApproximation: Bool)
    /// Square root.
    case sqrt
    /// 1/x
    case reciprocal
    /// e^x
    case exp
    /// −x
    case neg
    /// |x|
    case abs
    /// Natural logarithm.
    case log
    /// The largest whole number ≤ x.
    case floor
    /// The smallest whole number ≥ x.
    case ceil
    /// The nearest whole number, halves to the even one (ONNX Round).
    case round
    /// Logical Not on a bool held as a float: 1 where x = 0, else 0.
    case not
    /// Inference Dropout: the input unchanged.
    case dropout
    /// ONNX Cast to the TensorProto type `to`, on float-held values.
    case cast(CastTarget)

    /// What a Cast does to a float32 value, by the ONNX target type.
    public enum CastTarget: Hashable, Sendable {
        /// float, double, float16: the value unchanged.
        case float
        /// int8...int64, uint8...uint64: truncated toward zero.
        case integer
        /// bool: 1 where x ≠ 0, else 0.
        case bool

        /// The TensorProto.DataType numbers, and what each becomes; others are refused.
        static let byTensorProtoType: [Int: CastTarget] = [
            1: .float, 10: .float, 11: .float,
            2: .integer, 3: .integer, 4: .integer, 5: .integer, 6: .integer, 7: .integer, 12: .integer, 13: .integer,
            9: .bool,
        ]
    }

    /// The ONNX op type, for messages.
    var typeName: String {
        switch self {
        case .hardSigmoid: "HardSigmoid"
        case .hardSwish: "HardSwish"
        case .tanh: "Tanh"
        case .erf: "Erf"
        case .gelu: "Gelu"
        case .sqrt: "Sqrt"
        case .reciprocal: "Reciprocal"
        case .exp: "Exp"
        case .neg: "Neg"
        case .abs: "Abs"
        case .log: "Log"
        case .floor: "Floor"
        case .ceil: "Ceil"
        case .round: "Round"
        case .not: "Not"
        case .dropout: "Dropout"
        case .cast: "Cast"
        }
    }

    /// `destination[i] = f(source[i])` for `count` floats; the two may be equal.
    /// One loop per function, so the switch runs once per call, not per value.
    func apply(from source: UnsafePointer<Float>, to destination: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .hardSigmoid(let alpha, let beta):
            for i in 0..<count {
                let y = alpha * source[i] + beta
                destination[i] = y < 0 ? 0 : (y > 1 ? 1 : y)
            }
        case .hardSwish:
            for i in 0..<count {
                let x = source[i]
                let gate = x * (1 / 6) + 0.5
                destination[i] = x * (gate < 0 ? 0 : (gate > 1 ? 1 : gate))
            }
        case .tanh:
            VectorMath.apply(.tanh, from: source, to: destination, count: count)
        case .erf:
            VectorMath.apply(.erf, from: source, to: destination, count: count)
        case .gelu(let tanhApproximation):
            if tanhApproximation {
                VectorMath.apply(.geluTanh, from: source, to: destination, count: count)
            } else {
                VectorMath.apply(.gelu, from: source, to: destination, count: count)
            }
        case .sqrt:
            for i in 0..<count { destination[i] = source[i].squareRoot() }
        case .reciprocal:
            for i in 0..<count { destination[i] = 1 / source[i] }
        case .exp:
            VectorMath.apply(.exp, from: source, to: destination, count: count)
        case .neg:
            for i in 0..<count { destination[i] = -source[i] }
        case .abs:
            for i in 0..<count { destination[i] = Swift.abs(source[i]) }
        case .log:
            for i in 0..<count { destination[i] = logf(source[i]) }
        case .floor:
            for i in 0..<count { destination[i] = source[i].rounded(.down) }
        case .ceil:
            for i in 0..<count { destination[i] = source[i].rounded(.up) }
        case .round:
            for i in 0..<count { destination[i] = source[i].rounded(.toNearestOrEven) }
        case .not:
            for i in 0..<count { destination[i] = source[i] == 0 ? 1 : 0 }
        case .dropout, .cast(.float):
            if UnsafePointer(destination) != source { destination.update(from: source, count: count) }
        case .cast(.integer):
            for i in 0..<count { destination[i] = source[i].rounded(.towardZero) }
        case .cast(.bool):
            for i in 0..<count { destination[i] = source[i] != 0 ? 1 : 0 }
        }
    }
}
