import DemandFormat
import DemandTensor

/// onnxruntime's `com.microsoft` MatMulNBits with 4-bit weights:
/// Y = A · dequantize(B)ᵀ (+ bias), where B is (N, ceil(K / block_size),
/// block_size / 2) bytes, two values per byte low nibble first along K;
/// `scales` one per (row n, block); `zero_points` 4-bit packed per row
/// (ceil(blocks / 2) bytes, low nibble first), 8 when absent. The weight is
/// stored as uint4 (N, K) with blocks along axis 1 (item 9 of the format) and
/// dequantized when its layer is restored; A · Wᵀ runs as Gemm with transB,
/// with A's leading dimensions folded into rows by Reshape.
extension Lowering {
    func lowerMatMulNBits(_ node: SourceGraph.Node) throws(ImportError) {
        let attributes = NodeAttributes(node)
        guard let k64 = try attributes.int("K"), let n64 = try attributes.int("N"), let block64 = try attributes.int("block_size") else {
            throw ImportError(.invalidModel, "MatMulNBits needs the K, N and block_size attributes")
        }
        let (k, n, blockSize) = (Int(k64), Int(n64), Int(block64))
        let bits = Int(try attributes.int("bits") ?? 4)
        guard bits == 4 else { throw ImportError(.unsupported, "MatMulNBits with \(bits)-bit weights is not supported; 4-bit weights are") }
        guard k > 0, n > 0, blockSize >= 16, blockSize & (blockSize - 1) == 0 else {
            throw ImportError(.invalidModel, "MatMulNBits K \(k), N \(n), block_size \(blockSize): K and N must be positive and block_size a power of 2 of at least 16")
        }
        guard node.input(4) == nil else {
            throw ImportError(.unsupported, "MatMulNBits with g_idx (act-order) is not supported; quantize without act-order")
        }
        guard let packed = node.input(1).flatMap({ constants[$0] }), let scales = node.input(2).flatMap({ constants[$0] }) else {
            throw ImportError(.unsupported, "MatMulNBits needs constant B and scales (inputs 1 and 2)")
        }
        let blocks = (k + blockSize - 1) / blockSize
        let blobBytes = blockSize / 2
        guard packed.count == n * blocks * blobBytes, scales.count == n * blocks else {
            throw ImportError(.invalidModel, "MatMulNBits B has \(packed.count) bytes and scales \(scales.count) values; K \(k), N \(n), block_size \(blockSize) need \(n * blocks * blobBytes) and \(n * blocks)")
        }
        let bytes = packed.ints
        // The (N, K) nibbles, without the padding of a last partial block.
        var nibbles = [UInt8](repeating: 0, count: n * k)
        for row in 0..<n {
            for column in 0..<k {
                let byte = UInt8(truncatingIfNeeded: bytes[(row * blocks + column / blockSize) * blobBytes + (column % blockSize) / 2])
                nibbles[row * k + column] = column % 2 == 0 ? byte & 0x0F : byte >> 4
            }
        }
        var zeroPoints = [UInt8](repeating: 8, count: n * blocks)
        if let zeroName = node.input(3) {
            guard let zero = constants[zeroName] else { throw ImportError(.unsupported, "MatMulNBits needs constant zero points (input 3)") }
            guard graph.elementTypes[zeroName].map(ElementType.isInteger) ?? zero.isInteger else {
                throw ImportError(.unsupported, "MatMulNBits with float zero points is not supported; uint8-packed zero points are")
            }
            let rowBytes = (blocks + 1) / 2
            guard zero.count == n * rowBytes else {
                throw ImportError(.invalidModel, "MatMulNBits zero points hold \(zero.count) bytes; N \(n) rows of \(blocks) packed 4-bit values need \(n * rowBytes)")
            }
            let values = zero.ints
            for row in 0..<n {
                for block in 0..<blocks {
                    let byte = UInt8(truncatingIfNeeded: values[row * rowBytes + block / 2])
                    zeroPoints[row * blocks + block] = block % 2 == 0 ? byte & 0x0F : byte >> 4
                }
            }
        }
        let packedNibbles = stride(from: 0, to: nibbles.count, by: 2).map { index in
            nibbles[index] | (index + 1 < nibbles.count ? nibbles[index + 1] << 4 : 0)
        }
        let weight = QuantizedTensor(dtype: .uint4, shape: [n, k], bytes: packedNibbles, axis: 1, blockSize: blockSize,
                                     scales: scales.floats, zeroPoints: zeroPoints)
        let weightName = freshName(node.outputs[0] + "/weight")
        constants[weightName] = ConstantTensor(shape: [n, k], floats: weight.dequantized())
        quantizedSources[weightName] = weight

        let a = node.inputs[0]
        guard let aShape = shape(of: a), aShape.last == k else {
            throw ImportError(.invalidModel, "MatMulNBits input A has shape \(shape(of: a) ?? []); its last dimension must be K = \(k)")
        }
        var gemmInputs = [a, weightName]
        if let bias = node.input(5) { gemmInputs.append(bias) }
        let output = node.outputs[0]
        guard aShape.count != 2 else {
            try lower(SourceGraph.Node(name: node.name, op: "Gemm", domain: "", inputs: gemmInputs, outputs: [output], attributes: ["transB": .int(1)]))
            return
        }
        let rows = aShape.dropLast().reduce(1, *)
        let flat = freshName(output + "/rows")
        try lower(SourceGraph.Node(name: node.name, op: "Reshape", domain: "", inputs: [a, shapeConstant([rows, k], output)], outputs: [flat], attributes: [:]))
        gemmInputs[0] = flat
        let product = freshName(output + "/gemm")
        try lower(SourceGraph.Node(name: node.name, op: "Gemm", domain: "", inputs: gemmInputs, outputs: [product], attributes: ["transB": .int(1)]))
        try lower(SourceGraph.Node(name: node.name, op: "Reshape", domain: "", inputs: [product, shapeConstant(Array(aShape.dropLast()) + [n], output)],
                                   outputs: [output], attributes: [:]))
    }

    private func shapeConstant(_ dims: [Int], _ output: String) -> String {
        let name = freshName(output + "/shape")
        constants[name] = ConstantTensor(ints: dims.map(Int64.init))
        return name
    }
}
