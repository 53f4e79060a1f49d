import DemandFormat
import DemandTensor

/// How one large layer is streamed in pieces cut along its output dimension,
/// so that a layer larger than the ring still runs, and a large layer's first
/// rows execute while its last ones are still being read.
///
/// A layer can be split when one Conv (groups 1, batch 1; on CPUs where
/// CKernels' AVX2 or AVX-512 GEMM runs) or one Gemm (B
/// stored transposed, (N, K), with one row of A) reads a float32 weight that
/// starts on a 4096-byte boundary of the layer's only file. Rows of that
/// weight are output channels (Conv) or output features (Gemm), so rows
/// [r0, r1) of the weight, with the same rows of the bias, compute exactly
/// channels (features) [r0, r1) of the output: each piece runs the same
/// operator on views (weight rows, bias rows, output rows) and writes its
/// slice of the one output tensor in place. The kernels compute every output
/// row the same way whatever the rows around it, so the pieces' output is
/// bit-identical to the whole layer's (tested on every kernel path).
///
/// A piece is a whole number of granules of `granuleRows` rows: a granule's
/// bytes are a multiple of 4096 (so every piece is an O_DIRECT read) and a
/// multiple of 16 rows. The layer's other bytes (its bias, and anything
/// before the weight) are read once when the session opens and held
/// (`head`, `tail`): every piece needs them.
///
/// Checksums: the read stage sums each piece's CRC-32C as it lands; restore
/// joins the head's (summed at open), every piece's and the tail's into the
/// file's CRC-32C and checks it against the manifest when the last piece
/// arrives, before the layer's output can reach any later layer.
struct LayerSplit: Sendable {
    /// Layers below this many bytes are never split: they fit any sensible ring.
    static let minimumLayerBytes = 1 << 20
    /// Pieces are whole multiples of this many rows (and of 4096 bytes).
    static let rowMultiple = 16

    let layer: Int
    /// The node that reads the split weight.
    let node: Int
    let weightName: String
    let weightShape: Shape
    /// The node's bias (Conv B, Gemm C), sliced with the rows; nil if none.
    let biasName: String?
    let rowCount: Int
    let rowBytes: Int
    let granuleRows: Int
    /// The weight's bytes in the file, rounded out to 4096: what the pieces read.
    let streamed: Range<Int>
    /// Bytes before the weight, and from the 4096-byte boundary at or below
    /// its end to the end of the file: read at open and held.
    let head: Range<Int>
    let tail: Range<Int>
    /// The node's output, and how many of its floats one weight row makes.
    let outputName: String
    let outputShape: Shape
    let outputRowFloats: Int

    var granuleBytes: Int { granuleRows * rowBytes }
    /// Bytes held for good while the layer is split.
    var residentBytes: Int { head.count + tail.count }

    /// What the planner needs to know of the split.
    var cost: SplitCost {
        SplitCost(granuleBytes: granuleBytes, streamedBytes: streamed.count, residentBytes: residentBytes)
    }

    /// The split of layer `index`, or nil when it cannot be split (see above).
    static func make(_ model: Model, layer index: Int) -> LayerSplit? {
        let layer = model.layers[index]
        guard layer.files.count == 1, layer.byteCount >= minimumLayerBytes,
              layer.weights.allSatisfy({ $0.dtype == .float32 }),
              let weight = layer.weights.max(by: { $0.byteCount < $1.byteCount }),
              weight.offsetBytes % Layout.fileAlignment == 0, weight.shape.rank >= 2 else { return nil }
        let readers = layer.nodes.indices.filter { layer.nodes[$0].inputs.contains(weight.name) }
        guard readers.count == 1, let nodeIndex = readers.first else { return nil }
        let node = layer.nodes[nodeIndex]
        // A fused residual (a Conv's fourth input) is an activation, sliced with the output rows.
        guard node.inputs.count >= 2, node.inputs[1] == weight.name, node.inputs[0] != weight.name,
              node.inputs.count < 4 || !layer.weights.contains(where: { $0.name == node.inputs[3] }),
              let outputShape = model.shapes[node.outputs[0]] else { return nil }
        let rows = weight.shape[0]
        let outputRowFloats: Int
        switch model.operators[index][nodeIndex] {
        case .conv(let parameters):
            // Only CKernels' GEMM (AVX2 or AVX-512) computes a conv's rows
            // independently of the rows around them (OpenBLAS rounds a small
            // piece differently: Tests/DemandTensorTests/SplitKernelTests.swift).
            guard BLAS.Path.best.computesRowsIndependently, parameters.groups == 1, outputShape.rank == 4, outputShape[0] == 1, outputShape[1] == rows else { return nil }
            outputRowFloats = outputShape[2] * outputShape[3]
        case .gemm(let parameters):
            guard parameters.transposeB, !parameters.transposeA, outputShape.rank == 2, outputShape[0] == 1, outputShape[1] == rows else { return nil }
            outputRowFloats = 1
        default:
            return nil
        }
        var biasName: String?
        if node.inputs.count > 2 {
            // The bias must be one of the layer's weights with one value per row, read by this node alone.
            guard let bias = layer.weights.first(where: { $0.name == node.inputs[2] }), bias.shape.elementCount == rows,
                  layer.nodes.indices.allSatisfy({ $0 == nodeIndex || !layer.nodes[$0].inputs.contains(bias.name) }) else { return nil }
            biasName = bias.name
        }
        let rowBytes = weight.byteCount / rows
        let pageRows = Layout.fileAlignment / gcd(rowBytes, Layout.fileAlignment)
        let granuleRows = pageRows * rowMultiple / gcd(pageRows, rowMultiple)
        guard granuleRows < rows else { return nil }
        let weightEnd = weight.offsetBytes + weight.byteCount
        let fileBytes = layer.files[0].byteCount
        let streamedEnd = Layout.roundUp(weightEnd, to: Layout.fileAlignment)
        let tailStart = weightEnd / Layout.fileAlignment * Layout.fileAlignment
        return LayerSplit(
            layer: index, node: nodeIndex, weightName: weight.name, weightShape: weight.shape, biasName: biasName, rowCount: rows, rowBytes: rowBytes,
            granuleRows: granuleRows, streamed: weight.offsetBytes..<streamedEnd, head: 0..<weight.offsetBytes,
            tail: (tailStart < fileBytes ? tailStart : fileBytes)..<fileBytes,
            outputName: node.outputs[0], outputShape: outputShape, outputRowFloats: outputRowFloats)
    }

    /// The units of the layer read in `pieces` pieces, granules dealt as `SplitCost.granules` deals them.
    func units(pieces: Int) -> [ReadUnit] {
        let cost = self.cost
        return (0..<pieces).map { piece in
            let granules = cost.granules(piece: piece, of: pieces)
            let rows = min(granules.lowerBound * granuleRows, rowCount)..<min(granules.upperBound * granuleRows, rowCount)
            let start = streamed.lowerBound + rows.lowerBound * rowBytes
            let end = rows.upperBound == rowCount ? streamed.upperBound : streamed.lowerBound + rows.upperBound * rowBytes
            return ReadUnit(layer: layer, piece: piece, pieceCount: pieces, rows: rows,
                            extents: [.init(file: 0, offsetBytes: start, byteCount: end - start)], isResident: false)
        }
    }

    /// The split node's inputs and output for the rows of one piece: `input`
    /// as it is, the weight rows in place in the piece's bytes, the rows of
    /// `bias` (the whole held bias, when the node has one), the same rows of a
    /// Conv's fused `residual` (an activation shaped as the output), the output
    /// rows in place in the whole `output`.
    func sliced(rows: Range<Int>, pieceBytes: UnsafeMutableRawBufferPointer, input: Tensor, bias: Tensor?, residual: Tensor? = nil,
                output: Tensor) -> (inputs: [Tensor], output: Tensor) {
        var shape = weightShape.dims
        shape[0] = rows.count
        var sliced = [input, Tensor(shape: Shape(shape), borrowing: pieceBytes.baseAddress!.bindMemory(to: Float.self, capacity: rows.count * rowBytes / 4))]
        if let bias {
            let biasShape: Shape = bias.shape.rank == 2 ? [1, rows.count] : [rows.count]
            sliced.append(Tensor(shape: biasShape, borrowing: bias.data + rows.lowerBound))
        }
        var outputDims = outputShape.dims
        outputDims[1] = rows.count
        if let residual { sliced.append(Tensor(shape: Shape(outputDims), borrowing: residual.data + rows.lowerBound * outputRowFloats)) }
        return (sliced, Tensor(shape: Shape(outputDims), borrowing: output.data + rows.lowerBound * outputRowFloats))
    }
}

private func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
