import DemandFormat
import DemandTensor

/// QuantizeLinear and DequantizeLinear (QDQ models), in float32 as the
/// runtime holds every value:
///
/// - DequantizeLinear of integer constants (a quantized weight): folded now to
///   (q - zeroPoint) * scale, per tensor, per axis or in blocks, and the
///   integers kept in `quantizedSources` so the writer stores the weight as
///   int8 or uint8 with its scales (the runtime's restore computes the same
///   float32 values bit for bit).
/// - DequantizeLinear of a run-time value (per tensor): Sub(zeroPoint), Mul(scale).
/// - QuantizeLinear of a run-time value (per tensor): Div(scale), Round (half
///   to even), Add(zeroPoint), Clip to the integer type's range (uint8 when
///   the zero point is absent, as ONNX says). The integers stay float32,
///   exact at these magnitudes.
extension Lowering {
    /// Lowers `node` when it is QuantizeLinear or DequantizeLinear; false otherwise.
    func lowerQuantization(_ node: SourceGraph.Node) throws(ImportError) -> Bool {
        guard node.op == "DequantizeLinear" || node.op == "QuantizeLinear" else { return false }
        guard node.inputs.count >= 2, let scaleName = node.input(1), let scale = constants[scaleName] else {
            throw ImportError(.unsupported, "'\(node.op)' needs a constant scale (input 1); scales computed at run time are not supported")
        }
        let zeroName = node.input(2)
        let zero: ConstantTensor? = try zeroName.map { name throws(ImportError) in
            guard let value = constants[name] else { throw ImportError(.unsupported, "'\(node.op)' needs a constant zero point (input 2)") }
            return value
        }
        if let zero, zero.shape != scale.shape {
            throw ImportError(.invalidModel, "zero point shape \(zero.shape) differs from scale shape \(scale.shape)")
        }
        let attributes = NodeAttributes(node)
        let blockSize = Int(try attributes.int("block_size") ?? 0)
        if node.op == "DequantizeLinear", let values = constants[node.inputs[0]] {
            try foldDequantize(node, values: values, scale: scale, zero: zero, axis: try attributes.int("axis") ?? 1, blockSize: blockSize)
            return true
        }
        guard scale.count == 1, blockSize == 0 else {
            throw ImportError(.unsupported, "\(node.op) of a run-time value supports one scale for the tensor (this one has \(scale.count)\(blockSize > 0 ? ", blocks of \(blockSize)" : "")); per-axis and blocked scales are supported on constant weights")
        }
        let zeroPoint = Float(zero?.ints.first ?? 0)
        let x = node.inputs[0]
        let output = node.outputs[0]
        if node.op == "DequantizeLinear" {
            let shifted = zeroPoint == 0 ? x : try emitBinary("Sub", x, zeroPoint, node)
            try lower(synthetic("Mul", [shifted, constant(scale.floats[0], node)], output, node))
            return true
        }
        let type = zeroName.flatMap { graph.elementTypes[$0] } ?? (zero.map { $0.ints.contains { $0 < 0 } } == true ? ElementType.int8 : ElementType.uint8)
        let range: ClosedRange<Float>
        switch type {
        case ElementType.uint8: range = 0...255
        case ElementType.int8: range = -128...127
        case ElementType.uint16: range = 0...65535
        case ElementType.int16: range = -32768...32767
        default:
            throw ImportError(.unsupported, "QuantizeLinear to \(ElementType.name(type)) is not supported; uint8, int8, uint16 and int16 are")
        }
        let divided = try emitBinary("Div", x, scale.floats[0], node)
        let rounded = freshName(output + "/round")
        try lower(synthetic("Round", [divided], rounded, node))
        let shifted = zeroPoint == 0 ? rounded : try emitBinary("Add", rounded, zeroPoint, node)
        if opset >= 11 {
            try lower(synthetic("Clip", [shifted, constant(range.lowerBound, node), constant(range.upperBound, node)], output, node))
        } else {
            var clip = synthetic("Clip", [shifted], output, node)
            clip.attributes = ["min": .float(range.lowerBound), "max": .float(range.upperBound)]
            try lower(clip)
        }
        return true
    }

    /// (q - zeroPoint) * scale over a constant, with its integers kept for the writer.
    private func foldDequantize(_ node: SourceGraph.Node, values: ConstantTensor, scale: ConstantTensor, zero: ConstantTensor?,
                                axis rawAxis: Int64, blockSize: Int) throws(ImportError) {
        let shape = values.shape
        let q = values.ints
        let scales = scale.floats
        let zeros = zero?.ints ?? [Int64](repeating: 0, count: scales.count)
        let rank = shape.count
        var axis: Int?
        if scales.count > 1 || blockSize > 0 {
            let resolved = Int(rawAxis < 0 ? rawAxis + Int64(rank) : rawAxis)
            guard (0..<rank).contains(resolved) else {
                throw ImportError(.invalidModel, "axis \(rawAxis) is outside input shape \(shape)")
            }
            axis = resolved
        }
        var scheme = Manifest.Quantization(axis: axis, blockSize: blockSize > 0 ? blockSize : nil, scales: .init(offsetBytes: 0, count: scales.count))
        guard let needed = scheme.scaleCount(for: Shape(shape)), needed == scales.count else {
            throw ImportError(.invalidModel, "\(scales.count) scales do not fit input shape \(shape) (axis \(rawAxis), block_size \(blockSize))")
        }
        scheme.scales.count = needed
        // The integers as the writer stores them: int8 or uint8 when every
        // value and zero point fits one (else the weight is stored as float).
        let type = graph.elementTypes[node.inputs[0]]
        let all = q + zeros
        let dtype: DType? = type == ElementType.int8 || (type == nil && all.allSatisfy { (-128...127).contains($0) }) ? .int8
            : type == ElementType.uint8 || (type == nil && all.allSatisfy { (0...255).contains($0) }) ? .uint8 : nil
        let byte = { (value: Int64) -> UInt8 in UInt8(truncatingIfNeeded: value) }
        // Computed exactly as the restore stage does (QuantizedTensor.dequantized()).
        let tensor = QuantizedTensor(dtype: dtype ?? .int8, shape: Shape(shape), bytes: dtype == nil ? [UInt8](repeating: 0, count: q.count) : q.map(byte),
                                     axis: scheme.axis, blockSize: scheme.blockSize, scales: scales, zeroPoints: zero.map { _ in zeros.map(byte) })
        let floats: [Float]
        if dtype != nil {
            floats = tensor.dequantized()
        } else {
            var plain = QuantizedTensor(dtype: .int8, shape: Shape(shape), bytes: [UInt8](repeating: 0, count: q.count), axis: scheme.axis,
                                        blockSize: scheme.blockSize, scales: scales)
            plain.zeroPoints = nil
            // Wide integers (an int32 bias): the same formula, in Int64.
            let index = plain.scaleIndices()
            floats = q.indices.map { Float(q[$0] - zeros[index[$0]]) * scales[index[$0]] }
        }
        constants[node.outputs[0]] = ConstantTensor(shape: shape, floats: floats)
        if dtype != nil { quantizedSources[node.outputs[0]] = tensor }
    }

    private func synthetic(_ op: String, _ inputs: [String], _ output: String, _ source: SourceGraph.Node) -> SourceGraph.Node {
        SourceGraph.Node(name: source.name, op: op, domain: "", inputs: inputs, outputs: [output], attributes: [:])
    }

    /// A fresh scalar float constant.
    private func constant(_ value: Float, _ source: SourceGraph.Node) -> String {
        let name = freshName(source.outputs[0] + "/const")
        constants[name] = ConstantTensor(shape: [], floats: [value])
        return name
    }

    /// `op`(x, value) into a fresh value; returns its name.
    private func emitBinary(_ op: String, _ x: String, _ value: Float, _ source: SourceGraph.Node) throws(ImportError) -> String {
        let output = freshName(source.outputs[0] + "/" + op.lowercased())
        try lower(synthetic(op, [x, constant(value, source)], output, source))
        return output
    }
}
