#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Softmax and LogSoftmax along one axis (ONNX opset 13): the input is viewed
/// as (outer, length, inner) around the axis, and each of the outer·inner
/// lines of `length` floats becomes exp(x - max) / Σ exp(x - max), or for
/// LogSoftmax x - max - log Σ exp(x - max), with exp eight lanes at a time
/// (`VectorMath`).
enum Softmax {
    /// Workspace floats for the per-line maxima and sums when inner > 1.
    static func workspaceFloatCount(_ shape: Shape, axis: Int) -> Int {
        let inner = shape.dims[(axis + 1)...].reduce(1, *)
        return inner > 1 ? 2 * inner : 0
    }

    static func run(_ input: Tensor, axis: Int, output: Tensor, workspace: Workspace) {
        let (outer, length, inner) = lines(input.shape, axis: axis)
        if inner == 1 {
            for o in 0..<outer {
                VectorMath.softmaxLine(input.data + o * length, output.data + o * length, count: length)
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
            exponentiate(x, y, length: length, inner: inner, maxima: maxima, sums: sums)
            for i in 0..<inner { sums[i] = 1 / sums[i] }
            for l in 0..<length {
                let row = y + l * inner
                for i in 0..<inner { row[i] *= sums[i] }
            }
        }
    }

    /// LogSoftmax: the same walk as `run`, with the exponentials written to
    /// the output only as scratch before each line is replaced by
    /// x - (max + log Σ).
    static func runLog(_ input: Tensor, axis: Int, output: Tensor, workspace: Workspace) {
        let (outer, length, inner) = lines(input.shape, axis: axis)
        if inner == 1 {
            for o in 0..<outer {
                let (x, y) = (UnsafePointer(input.data + o * length), output.data + o * length)
                var maximum = x[0]
                for i in 1..<length { maximum = x[i] > maximum ? x[i] : maximum }
                let shift = maximum + logf(VectorMath.expSum(x, y, count: length, shift: maximum))
                for i in 0..<length { y[i] = x[i] - shift }
            }
            return
        }
        let maxima = workspace.floats(2 * inner)
        let sums = maxima + inner
        for o in 0..<outer {
            let x = input.data + o * length * inner
            let y = output.data + o * length * inner
            exponentiate(x, y, length: length, inner: inner, maxima: maxima, sums: sums)
            for i in 0..<inner { sums[i] = maxima[i] + logf(sums[i]) }
            for l in 0..<length {
                let (source, row) = (x + l * inner, y + l * inner)
                for i in 0..<inner { row[i] = source[i] - sums[i] }
            }
        }
    }

    /// One block of `inner` lines strided by `inner`: each line's maximum into
    /// `maxima`, exp(x - maximum) into `y`, and each line's sum of them into `sums`.
    private static func exponentiate(_ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>, length: Int, inner: Int,
                                     maxima: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Float>) {
        maxima.update(from: x, count: inner)
        for l in 1..<length {
            let row = x + l * inner
            for i in 0..<inner { maxima[i] = row[i] > maxima[i] ? row[i] : maxima[i] }
        }
        sums.update(repeating: 0, count: inner)
        for l in 0..<length {
            VectorMath.expAccumulate(x + l * inner, maxima: maxima, y + l * inner, sums: sums, count: inner)
        }
    }

    /// The lines along `axis`: how many blocks, each line's length, and how
    /// many lines a block holds (its stride: 1 when `axis` is the last).
    private static func lines(_ shape: Shape, axis: Int) -> (outer: Int, length: Int, inner: Int) {
        let dims = shape.dims
        return (dims[..<axis].reduce(1, *), dims[axis], dims[(axis + 1)...].reduce(1, *))
    }
}
