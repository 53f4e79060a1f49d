/// Elementwise kernels: Add with numpy broadcasting and a fused activation.
/// (The activations themselves live on `Activation`.)
enum Elementwise {
    /// Same-shape adds run in blocks of this many floats, so the activation
    /// pass reads what the add just wrote while it is still in L1.
    private static let blockFloats = 4096

    static func add(_ a: Tensor, _ b: Tensor, activation: Activation, output: Tensor) {
        if a.shape == b.shape {
            // Split across the pool's threads (a residual add is a whole pass over memory).
            ParallelRanges.run(count: output.elementCount) { first, end in
                for start in stride(from: first, to: end, by: blockFloats) {
                    addRow(a.data + start, 1, b.data + start, 1, output.data + start, count: min(blockFloats, end - start), activation)
                }
            }
            return
        }
        let layout = BroadcastLayout(output: output.shape, a: a.shape, b: b.shape)
        let outerRank = layout.dims.count - 1
        let inner = layout.dims[outerRank]
        let (innerStrideA, innerStrideB) = (layout.stridesA[outerRank], layout.stridesB[outerRank])
        var index = [Int](repeating: 0, count: outerRank)
        var (offsetA, offsetB) = (0, 0)
        for row in 0..<(output.elementCount / inner) {
            addRow(a.data + offsetA, innerStrideA, b.data + offsetB, innerStrideB, output.data + row * inner, count: inner, activation)
            var axis = outerRank - 1
            while axis >= 0 {
                index[axis] += 1
                offsetA += layout.stridesA[axis]
                offsetB += layout.stridesB[axis]
                if index[axis] < layout.dims[axis] { break }
                offsetA -= layout.stridesA[axis] * layout.dims[axis]
                offsetB -= layout.stridesB[axis] * layout.dims[axis]
                index[axis] = 0
                axis -= 1
            }
        }
    }

    /// `output[i] = activation(a[i·strideA] + b[i·strideB])` for strides of 0 or 1.
    @inline(__always)
    private static func addRow(_ a: UnsafePointer<Float>, _ strideA: Int, _ b: UnsafePointer<Float>, _ strideB: Int,
                               _ output: UnsafeMutablePointer<Float>, count: Int, _ activation: Activation) {
        switch (strideA, strideB) {
        case (1, 1): for i in 0..<count { output[i] = a[i] + b[i] }
        case (1, 0): activation.apply(from: a, to: output, count: count, adding: b[0]); return
        case (0, 1): activation.apply(from: b, to: output, count: count, adding: a[0]); return
        default: output.update(repeating: a[0] + b[0], count: count)
        }
        activation.apply(to: output, count: count)
    }
}

/// The output shape of a broadcast add with each input's strides over it
/// (0 along broadcast axes), with adjacent axes merged wherever both inputs
/// stay contiguous across them, so the innermost axis is as long as possible
/// and each input's stride along it is 0 or 1.
struct BroadcastLayout {
    private(set) var dims: [Int] = []
    private(set) var stridesA: [Int] = []
    private(set) var stridesB: [Int] = []

    init(output: Shape, a: Shape, b: Shape) {
        let fullA = StridedLayout.broadcastStrides(of: a, over: output), fullB = StridedLayout.broadcastStrides(of: b, over: output)
        for axis in 0..<output.rank where output[axis] != 1 {
            let (size, strideA, strideB) = (output[axis], fullA[axis], fullB[axis])
            if let last = dims.indices.last, stridesA[last] == strideA * size, stridesB[last] == strideB * size {
                dims[last] *= size
                stridesA[last] = strideA
                stridesB[last] = strideB
            } else {
                dims.append(size)
                stridesA.append(strideA)
                stridesB.append(strideB)
            }
        }
        if dims.isEmpty {
            dims = [1]
            stridesA = [0]
            stridesB = [0]
        }
    }
}
