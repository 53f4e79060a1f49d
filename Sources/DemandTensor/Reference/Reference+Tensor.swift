#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reference Add, Concat, Upsample, Gemm and Softmax, each output element
/// found from its multi-index.
extension Reference {
    /// Numpy broadcasting: an input axis of size 1 (or missing on the left) reads index 0.
    static func add(_ a: Tensor, _ b: Tensor, activation: Activation, y: Tensor) {
        func broadcastOffset(_ index: [Int], _ shape: Shape) -> Int {
            let aligned = index.suffix(shape.rank).enumerated().map { axis, i in shape[axis] == 1 ? 0 : i }
            return offset(Array(aligned), in: shape)
        }
        for i in 0..<y.elementCount {
            let index = multiIndex(i, in: y.shape)
            let sum = Double(a.data[broadcastOffset(index, a.shape)]) + Double(b.data[broadcastOffset(index, b.shape)])
            y.data[i] = Float(apply(activation, sum))
        }
    }

    static func concat(_ inputs: [Tensor], axis: Int, y: Tensor) {
        for i in 0..<y.elementCount {
            var index = multiIndex(i, in: y.shape)
            for input in inputs {
                if index[axis] < input.shape[axis] {
                    y.data[i] = input.data[offset(index, in: input.shape)]
                    break
                }
                index[axis] -= input.shape[axis]
            }
        }
    }

    static func upsample(x: Tensor, scaleH: Int, scaleW: Int, y: Tensor) {
        for i in 0..<y.elementCount {
            let index = multiIndex(i, in: y.shape)
            y.data[i] = x.data[offset(x.shape, index[0], index[1], index[2] / scaleH, index[3] / scaleW)]
        }
    }

    static func gemm(_ p: GemmParameters, a: Tensor, b: Tensor, c: Tensor?, y: Tensor) {
        let (m, n) = (y.shape[0], y.shape[1])
        let k = p.transposeA ? a.shape[0] : a.shape[1]
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for l in 0..<k {
                    let aValue = p.transposeA ? a.data[l * a.shape[1] + i] : a.data[i * a.shape[1] + l]
                    let bValue = p.transposeB ? b.data[j * b.shape[1] + l] : b.data[l * b.shape[1] + j]
                    sum += Double(aValue) * Double(bValue)
                }
                var value = Double(p.alpha) * sum
                if let c {
                    let cValue: Float = switch c.shape.rank {
                    case 0: c.data[0]
                    case 1: c.data[c.shape[0] == 1 ? 0 : j]
                    default: c.data[(c.shape[0] == 1 ? 0 : i) * c.shape[1] + (c.shape[1] == 1 ? 0 : j)]
                    }
                    value += Double(p.beta) * Double(cValue)
                }
                y.data[i * n + j] = Float(apply(p.activation, value))
            }
        }
    }

    static func softmax(x: Tensor, axis: Int, y: Tensor) {
        forEachLine(x: x, axis: axis, y: y) { value, maximum, total in exp(value - maximum) / total }
    }

    /// Calls `f(x, the line's maximum, Σ exp(x - maximum) over the line)` for
    /// every element, in Double, and stores what it returns in `y`.
    private static func forEachLine(x: Tensor, axis: Int, y: Tensor, _ f: (Double, Double, Double) -> Double) {
        let length = x.shape[axis]
        for i in 0..<y.elementCount {
            let index = multiIndex(i, in: y.shape)
            var line = index
            var values: [Double] = []
            for l in 0..<length {
                line[axis] = l
                values.append(Double(x.data[offset(line, in: x.shape)]))
            }
            let maximum = values.max()!
            let total = values.reduce(0.0) { $0 + exp($1 - maximum) }
            y.data[i] = Float(f(values[index[axis]], maximum, total))
        }
    }

    /// log of the softmax, from its definition: x − log Σ exp(x), with the
    /// line's maximum taken out of the exponent so it cannot overflow.
    static func logSoftmax(x: Tensor, axis: Int, y: Tensor) {
        forEachLine(x: x, axis: axis, y: y) { value, maximum, total in value - maximum - log(total) }
    }
}
