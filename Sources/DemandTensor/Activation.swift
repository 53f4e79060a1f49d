#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An elementwise nonlinearity, run standalone or fused into the pass that
/// writes a conv, gemm or add output.
public enum Activation: Hashable, Sendable {
    /// The identity: no activation.
    case none
    /// max(x, 0)
    case relu
    /// x for x ≥ 0, alpha·x otherwise
    case leakyRelu(alpha: Float)
    /// 1 / (1 + e^-x)
    case sigmoid
    /// x · sigmoid(x), also called swish
    case silu
    /// min(max(x, min), max)
    case clip(min: Float, max: Float)

    /// Applies the activation to `count` floats in place.
    public func apply(to values: UnsafeMutablePointer<Float>, count: Int) {
        apply(from: values, to: values, count: count, adding: 0)
    }

    /// `destination[i] = f(source[i] + bias)` for `count` floats; `source` may
    /// equal `destination`. The bias is the per-channel bias of a conv, added
    /// here so that bias and activation cost one pass over the output.
    func apply(from source: UnsafePointer<Float>, to destination: UnsafeMutablePointer<Float>, count: Int, adding bias: Float) {
        switch self {
        case .none:
            if bias == 0 {
                if UnsafePointer(destination) != source { destination.update(from: source, count: count) }
            } else {
                for i in 0..<count { destination[i] = source[i] + bias }
            }
        case .relu:
            for i in 0..<count {
                let x = source[i] + bias
                destination[i] = x > 0 ? x : 0
            }
        case .leakyRelu(let alpha):
            for i in 0..<count {
                let x = source[i] + bias
                destination[i] = x >= 0 ? x : x * alpha
            }
        case .sigmoid:
            for i in 0..<count {
                destination[i] = 1 / (1 + expf(-(source[i] + bias)))
            }
        case .silu:
            for i in 0..<count {
                let x = source[i] + bias
                destination[i] = x / (1 + expf(-x))
            }
        case .clip(let low, let high):
            for i in 0..<count {
                let x = source[i] + bias
                destination[i] = x < low ? low : (x > high ? high : x)
            }
        }
    }
}

extension Activation: CustomStringConvertible {
    /// The spelling of the fused "activation" attribute.
    public var description: String {
        switch self {
        case .none: "none"
        case .relu: "relu"
        case .leakyRelu(let alpha): "leaky_relu(alpha: \(alpha))"
        case .sigmoid: "sigmoid"
        case .silu: "silu"
        case .clip(let low, let high): "clip(min: \(low), max: \(high))"
        }
    }
}
