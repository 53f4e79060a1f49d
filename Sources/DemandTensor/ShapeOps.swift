/// Kernels that only move floats: Concat, nearest Upsample and the copy that
/// implements Flatten.
enum ShapeOps {
    /// Concatenates along `axis` (in 0..<rank): for each index of the axes
    /// before it, each input contributes one contiguous run of floats.
    static func concat(_ inputs: [Tensor], axis: Int, output: Tensor) {
        let outer = output.shape.dims[..<axis].reduce(1, *)
        let outputRun = output.elementCount / outer
        let runs = inputs.map { $0.elementCount / outer }
        // Output elements [start, end) copied from wherever they come from, split across the pool's threads.
        ParallelRanges.run(count: output.elementCount) { start, end in
            var position = start
            while position < end {
                let o = position / outputRun
                var within = position - o * outputRun
                var index = 0
                while within >= runs[index] {
                    within -= runs[index]
                    index += 1
                }
                let count = min(runs[index] - within, end - position)
                (output.data + position).update(from: inputs[index].data + o * runs[index] + within, count: count)
                position += count
            }
        }
    }

    /// (N, C, H, W) → (N, C, H·scaleH, W·scaleW): each input row is widened
    /// once, then the widened row is copied scaleH - 1 more times.
    static func upsampleNearest(_ input: Tensor, scaleH: Int, scaleW: Int, output: Tensor) {
        let (inHeight, inWidth) = (input.shape[2], input.shape[3])
        let outWidth = inWidth * scaleW
        let rows = input.shape[0] * input.shape[1] * inHeight
        for row in 0..<rows {
            let source = input.data + row * inWidth
            let first = output.data + row * scaleH * outWidth
            if scaleW == 1 {
                first.update(from: source, count: inWidth)
            } else {
                for iw in 0..<inWidth {
                    (first + iw * scaleW).update(repeating: source[iw], count: scaleW)
                }
            }
            for copy in 1..<scaleH {
                (first + copy * outWidth).update(from: first, count: outWidth)
            }
        }
    }

    /// Flatten: the same floats under a new shape. The runtime gives every
    /// node its own output buffer, so this is one copy.
    static func copy(_ input: Tensor, to output: Tensor) {
        output.data.update(from: input.data, count: output.elementCount)
    }
}
