#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Softmax along one axis (ONNX opset 13): the input is viewed as
/// (outer, length, inner) around the axis, and each of the outer·inner lines
/// of `length` floats becomes exp(x - max) / Σ exp(x - max), with exp
/// eight lanes at a time (`VectorMath`).
enum Softmax {
    /// Workspace floats for the per-line maxima and sums when inner > 1.
    static func workspaceFloatCount(_ shape: Shape, axis: Int) -> Int {
        let inner = shape.dims[(axis + 1)...].reduce(1, *)
        return inner > 1 ? 2 * inner : 0
    }

    static func run(_ input: Tensor, axis: Int, output: Tensor, workspace: Workspace) {
        let dims = input.shape.dims
        let outer = dims[..<axis].reduce(1, *)
        let length = dims[axis]
        let inner = dims[(axis + 1)...].reduce(1, *)
        if inner == 1 {
            for o in 0..<outer {
                contiguousLine(input.data + o * length, output.data + o * length, length: length)
            }
            return
        }
        // Lines are strided by `inner`, so each step walks all `inner` lines of
        // a block together, row by row, to read memory in order.
        let maxima = workspace.floats(2 * inner)
        let sums = maxima + inner
        for o in 0..<outer {
            let x = input.data + o * length * inner
            let y = output.data + o * length * inner
            maxima.update(from: x, count: inner)
            for l in 1..<length {
                let row = x + l * inner
                for i in 0..<inner { maxima[i] = row[i] > maxima[i] ? row[i] : maxima[i] }
            }
            sums.update(repeating: 0, count: inner)
            for l in 0..<length {
                let (source, destination) = (x + l * inner, y + l * inner)
                var i = 0
                while i + 8 <= inner {
                    let e = VectorMath.exp(load(source + i) - load(maxima + i))
                    store(e, destination + i)
                    store(load(sums + i) + e, sums + i)
                    i += 8
                }
                while i < inner {
                    let e = expf(source[i] - maxima[i])
                    destination[i] = e
                    sums[i] += e
                    i += 1
                }
            }
            for i in 0..<inner { sums[i] = 1 / sums[i] }
            for l in 0..<length {
                let row = y + l * inner
                for i in 0..<inner { row[i] *= sums[i] }
            }
        }
    }

    private static func contiguousLine(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, length: Int) {
        var maxima = VectorMath.splat(x[0])
        var i = 0
        while i + 8 <= length {
            let v = load(x + i)
            maxima = maxima.replacing(with: v, where: v .> maxima)
            i += 8
        }
        var maximum = maxima.max()
        while i < length {
            maximum = x[i] > maximum ? x[i] : maximum
            i += 1
        }
        let shift = VectorMath.Vector(repeating: maximum)
        var lanes = VectorMath.Vector()
        i = 0
        while i + 8 <= length {
            let e = VectorMath.exp(load(x + i) - shift)
            store(e, y + i)
            lanes += e
            i += 8
        }
        var sum = lanes.sum()
        while i < length {
            let e = expf(x[i] - maximum)
            y[i] = e
            sum += e
            i += 1
        }
        let scale = 1 / sum
        for i in 0..<length { y[i] *= scale }
    }

    @inline(__always)
    private static func load(_ p: UnsafePointer<Float>) -> VectorMath.Vector {
        UnsafeRawPointer(p).loadUnaligned(as: VectorMath.Vector.self)
    }

    @inline(__always)
    private static func store(_ v: VectorMath.Vector, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: VectorMath.Vector.self)
    }
}
