import DemandTensor

/// The integer operators, lowered to their QDQ meaning in float32: each
/// quantized input is dequantized (a constant weight stays stored as its
/// integers, see `Lowering+Quantization.swift`), the float operator runs, and
/// QLinear* outputs are quantized again (round half to even, saturated).
///
/// - QLinearMatMul(a, a_scale, a_zero, b, b_scale, b_zero, y_scale, y_zero)
/// - QLinearConv(x, x_scale, x_zero, w, w_scale, w_zero, y_scale, y_zero, B)
///   with the int32 bias B dequantized by x_scale · w_scale
/// - MatMulInteger(A, B, a_zero, b_zero): (A - a_zero) · (B - b_zero), the
///   int32 result held as float32 (exact below 2^24)
///
/// onnxruntime accumulates in int32 and requantizes once; the float path here
/// differs from it only where a result lands within float rounding of a
/// quantization step's midpoint (then by one step).
extension Lowering {
    func lowerQLinear(_ node: SourceGraph.Node) throws(ImportError) -> Bool {
        switch node.op {
        case "QLinearMatMul", "QLinearConv":
            let isConv = node.op == "QLinearConv"
            guard node.inputs.count >= 8 else { throw ImportError(.invalidModel, "'\(node.op)' needs 8 inputs (value, scale and zero point of each input and of the output), has \(node.inputs.count)") }
            let x = try dequantized(node, value: 0, scale: 1, zero: 2, axis: 1)
            let w = try dequantized(node, value: 3, scale: 4, zero: 5, axis: isConv ? 0 : 1)
            var inputs = [x, w]
            if isConv, let bias = node.input(8) {
                guard let xScale = constants[node.inputs[1]], let wScale = constants[node.inputs[4]], let b = constants[bias] else {
                    throw ImportError(.unsupported, "'QLinearConv' needs constant scales and bias")
                }
                let scales = wScale.floats.map { $0 * xScale.floats[0] }
                let name = freshName(node.outputs[0] + "/bias")
                constants[name] = ConstantTensor(shape: b.shape, floats: b.ints.enumerated().map { Float($1) * scales[scales.count == 1 ? 0 : $0] })
                inputs.append(name)
            }
            let product = freshName(node.outputs[0] + "/float")
            var float = SourceGraph.Node(name: node.name, op: isConv ? "Conv" : "MatMul", domain: "", inputs: inputs, outputs: [product], attributes: [:])
            if isConv { float.attributes = node.attributes }
            try lower(float)
            try lower(SourceGraph.Node(name: node.name, op: "QuantizeLinear", domain: "", inputs: [product, node.inputs[6], node.inputs[7]],
                                       outputs: [node.outputs[0]], attributes: [:]))
            return true
        case "MatMulInteger":
            guard node.inputs.count >= 2 else { throw ImportError(.invalidModel, "'MatMulInteger' needs inputs A and B, has \(node.inputs.count) input") }
            let a = try dequantized(node, value: 0, scale: nil, zero: 2, axis: 1)
            let b = try dequantized(node, value: 1, scale: nil, zero: 3, axis: 1)
            try lower(SourceGraph.Node(name: node.name, op: "MatMul", domain: "", inputs: [a, b], outputs: [node.outputs[0]], attributes: [:]))
            return true
        default:
            return false
        }
    }

    /// Input `value` of `node` dequantized by its scale and zero point inputs
    /// (scale nil: 1, as MatMulInteger has none) along `axis` when per axis.
    private func dequantized(_ node: SourceGraph.Node, value: Int, scale: Int?, zero: Int, axis: Int) throws(ImportError) -> String {
        let input = node.inputs[value]
        var scaleName: String
        if let scale {
            scaleName = node.inputs[scale]
        } else {
            let count = node.input(zero).flatMap { constants[$0]?.count } ?? 1
            scaleName = freshName(node.outputs[0] + "/unit_scale")
            let zeroShape = node.input(zero).flatMap { constants[$0]?.shape } ?? []
            constants[scaleName] = ConstantTensor(shape: zeroShape, floats: [Float](repeating: 1, count: count))
        }
        let output = freshName(node.outputs[0] + "/dequantized\(value)")
        var inputs = [input, scaleName]
        if let zeroName = node.input(zero) { inputs.append(zeroName) }
        // A per-row zero point of a run-time A (MatMulInteger's a_zero_point of M values) is not supported: one value or per column of B.
        try lower(SourceGraph.Node(name: node.name, op: "DequantizeLinear", domain: "", inputs: inputs, outputs: [output],
                                   attributes: ["axis": .int(Int64(axis))]))
        return output
    }
}
