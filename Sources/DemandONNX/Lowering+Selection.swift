import DemandTensor

/// Rewrites of the selection and index operators whose ONNX form the
/// runtime does not take as is: TopK (two outputs → one runtime node per
/// output read, K from a constant input), OneHot (constant depth and values
/// become attributes), Einsum (lowered to Transpose, Reshape, ReduceSum and
/// MatMul; see `Lowering+Einsum.swift`) and NonZero (only folded; refused
/// here with what to do instead). ScatterND needs no rewrite.
extension Lowering {
    /// The runtime nodes for `node`, or nil when the general rewrite applies.
    func rewriteSelection(_ node: SourceGraph.Node) throws(ImportError) -> [RuntimeNode]? {
        if ["TopK", "OneHot"].contains(node.op), node.input(0) == nil {
            throw ImportError(.invalidModel, "\(node.op) needs input 0", node: node.label)
        }
        switch node.op {
        case "TopK": return try topK(node)
        case "Einsum": return try einsum(node)
        case "OneHot": return try oneHot(node)
        case "NonZero":
            // Reached only when the input is not a constant (a constant one is folded).
            throw ImportError(.unsupported,
                "operator 'NonZero' is supported only when its input is known at convert time: its output's length "
                    + "depends on the input's values, and the runtime's shapes are fixed when the model is converted. "
                    + "For a mask, use it directly (Where, or Mul by the 0/1 mask) instead of gathering its indices",
                node: node.label)
        default: return nil
        }
    }

    /// An input known at convert time, or an error naming it.
    func constantInput(_ node: SourceGraph.Node, _ index: Int, _ role: String) throws(ImportError) -> ConstantTensor {
        guard let name = node.input(index) else {
            throw ImportError(.invalidModel, "input \(index) (\(role)) is missing", node: node.label)
        }
        guard let value = constants[name] else {
            throw ImportError(.unsupported,
                "input \(index) (\(role)) is computed at run time; it must be constant once input shapes are fixed "
                    + "(give --input-shape for every symbolic dimension)", node: node.label)
        }
        return value
    }

    /// OneHot's depth (input 1, one number) and values (input 2, off and on)
    /// must be constants; they become attributes.
    private func oneHot(_ node: SourceGraph.Node) throws(ImportError) -> [RuntimeNode] {
        let depth = try constantInput(node, 1, "depth")
        let values = try constantInput(node, 2, "values")
        guard depth.count == 1 else { throw ImportError(.invalidModel, "OneHot depth must hold one value, got shape \(depth.shape)", node: node.label) }
        guard values.count == 2 else {
            throw ImportError(.invalidModel, "OneHot values must hold two values (off, on), got shape \(values.shape)", node: node.label)
        }
        // ONNX allows a float depth; it is truncated toward zero (ConstantTensor.ints does that).
        var attributes: [String: AttributeValue] = ["depth": .int(Int(clamping: depth.ints[0])), "values": .floats(values.floats)]
        if let axis = try NodeAttributes(node).int("axis") { attributes["axis"] = .int(Int(axis)) }
        for name in node.attributes.keys where name != "axis" {
            throw ImportError(.unsupported, "OneHot attribute '\(name)' is not supported; OneHot takes axis", node: node.label)
        }
        return [RuntimeNode(name: node.name, op: "OneHot", inputs: [node.inputs[0]], output: node.outputs[0], attributes: attributes)]
    }

    private func topK(_ node: SourceGraph.Node) throws(ImportError) -> [RuntimeNode] {
        let attributes = NodeAttributes(node)
        let k: Int64
        if opset >= 10 {
            let value = try constantInput(node, 1, "K")
            guard value.count == 1 else {
                throw ImportError(.invalidModel, "TopK K must hold one value, got shape \(value.shape)", node: node.label)
            }
            k = value.ints[0]
        } else {
            guard let given = try attributes.int("k") else { throw ImportError(.invalidModel, "TopK needs k", node: node.label) }
            k = given
        }
        var common: [String: AttributeValue] = ["k": .int(Int(clamping: k)), "axis": .int(Int(try attributes.int("axis") ?? -1))]
        if let largest = try attributes.int("largest") { common["largest"] = .int(Int(largest)) }
        if let sorted = try attributes.int("sorted") { common["sorted"] = .int(Int(sorted)) }
        for name in node.attributes.keys where !["k", "axis", "largest", "sorted"].contains(name) {
            throw ImportError(.unsupported, "TopK attribute '\(name)' is not supported; TopK takes axis, largest, sorted", node: node.label)
        }
        var nodes: [RuntimeNode] = []
        for (position, output) in [TopKParameters.Output.values, .indices].enumerated() {
            guard position < node.outputs.count, !node.outputs[position].isEmpty, isUsed(node.outputs[position]) else { continue }
            var attributes = common
            attributes["output"] = .string(output.rawValue)
            nodes.append(RuntimeNode(name: position == 0 ? node.name : node.name + "/indices", op: "TopK",
                                     inputs: [node.inputs[0]], output: node.outputs[position], attributes: attributes))
        }
        return nodes
    }
}
