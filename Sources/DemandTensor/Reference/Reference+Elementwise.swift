#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reference unary, broadcast binary and Where ops, one output element at a
/// time from its multi-index, in Double.
extension Reference {
    /// The offset in `shape` of the element that output index `index` reads
    /// under numpy broadcasting: axes aligned right, size-1 axes read index 0.
    static func broadcastOffset(_ index: [Int], _ shape: Shape) -> Int {
        let aligned = index.suffix(shape.rank).enumerated().map { axis, i in shape[axis] == 1 ? 0 : i }
        return offset(Array(aligned), in: shape)
    }

    static func unary(_ function: UnaryFunction, x: Tensor, y: Tensor) {
        for i in 0..<y.elementCount {
            let v = Double(x.data[i])
            let result: Double = switch function {
            case .hardSigmoid(let alpha, let beta): Swift.max(0, Swift.min(1, Double(alpha) * v + Double(beta)))
            case .hardSwish: v * Swift.max(0, Swift.min(1, v / 6 + 0.5))
            case .tanh: Glibc.tanh(v)
            case .erf: Glibc.erf(v)
            case .gelu(tanhApproximation: false): 0.5 * v * (1 + Glibc.erf(v / 2.0.squareRoot()))
            case .gelu(tanhApproximation: true): 0.5 * v * (1 + Glibc.tanh((2 / Double.pi).squareRoot() * (v + 0.044715 * v * v * v)))
            case .sqrt: v.squareRoot()
            case .reciprocal: 1 / v
            case .exp: Glibc.exp(v)
            case .neg: -v
            case .abs: Swift.abs(v)
            case .log: Glibc.log(v)
            case .floor: Glibc.floor(v)
            case .ceil: Glibc.ceil(v)
            case .round: Glibc.rint(v)   // the default rounding mode: halves to even
            case .not: v == 0 ? 1 : 0
            case .dropout, .cast(.float): v
            case .cast(.integer): v < 0 ? -(-v).rounded(.down) : v.rounded(.down)
            case .cast(.bool): v == 0 ? 0 : 1
            }
            y.data[i] = Float(result)
        }
    }

    static func binary(_ function: BinaryFunction, _ inputs: [Tensor], y: Tensor) {
        for i in 0..<y.elementCount {
            let index = multiIndex(i, in: y.shape)
            let values = inputs.map { Double($0.data[broadcastOffset(index, $0.shape)]) }
            let result: Double
            switch function {
            case .add: result = values.reduce(0, +)
            case .max: result = values.max()!
            case .min: result = values.min()!
            case .sub: result = values[0] - values[1]
            case .mul: result = values[0] * values[1]
            case .div: result = values[0] / values[1]
            case .pow: result = Glibc.pow(values[0], values[1])
            case .equal: result = values[0] == values[1] ? 1 : 0
            case .less: result = values[0] < values[1] ? 1 : 0
            case .greater: result = values[0] > values[1] ? 1 : 0
            case .prelu: result = values[0] >= 0 ? values[0] : values[0] * values[1]
            case .mod: result = values[0] - values[1] * (values[0] / values[1]).rounded(.down)
            case .fmod: result = Glibc.fmod(values[0], values[1])
            case .and: result = values[0] != 0 && values[1] != 0 ? 1 : 0
            case .or: result = values[0] != 0 || values[1] != 0 ? 1 : 0
            case .xor: result = (values[0] != 0) != (values[1] != 0) ? 1 : 0
            }
            y.data[i] = Float(result)
        }
    }

    static func select(condition: Tensor, x: Tensor, other: Tensor, y: Tensor) {
        for i in 0..<y.elementCount {
            let index = multiIndex(i, in: y.shape)
            let pick = condition.data[broadcastOffset(index, condition.shape)] != 0
            y.data[i] = pick ? x.data[broadcastOffset(index, x.shape)] : other.data[broadcastOffset(index, other.shape)]
        }
    }
}
