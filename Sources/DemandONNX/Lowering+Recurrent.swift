import DemandTensor

/// LSTM and GRU in the runtime's form (`RecurrentParameters`): one runtime
/// node whose single output stacks Y, Y_h and (LSTM) Y_c along the sequence
/// axis, then a Slice (and a Reshape for the states) per ONNX output the
/// graph reads.
///
/// - Activations must be ONNX's defaults (Sigmoid, Tanh, Tanh per direction
///   for LSTM; Sigmoid, Tanh for GRU); others, and activation_alpha or
///   activation_beta, are refused naming the node and the attribute.
/// - An omitted input before a given one becomes a constant: B zeros,
///   sequence_lens the full length, initial_h and initial_c zeros.
/// - layout 1 (batch first) becomes layout 0 with Transposes of X, the
///   initial states and the outputs.
/// - hidden_size, when absent, is read from R's shape.
extension Lowering {
    func recurrentNodes(_ node: SourceGraph.Node) throws(ImportError) -> [RuntimeNode] {
        let isLSTM = node.op == "LSTM"
        let gates = isLSTM ? 4 : 3
        let states = isLSTM ? 2 : 1
        let reader = NodeAttributes(node)
        let direction = try reader.string("direction") ?? "forward"
        let directions = direction == "bidirectional" ? 2 : 1
        try checkActivations(node, directions: directions)

        var attributes: [String: AttributeValue] = [:]
        for (name, value) in node.attributes where !["activations", "layout"].contains(name) {
            switch value {
            case .int(let v): attributes[name] = .int(Int(v))
            case .float(let v): attributes[name] = .float(v)
            case .string(let v): attributes[name] = .string(v)
            case .ints(let v): attributes[name] = .ints(v.map { Int($0) })
            case .floats(let v): attributes[name] = .floats(v)
            case .strings, .tensor, .graph, .unsupported:
                throw ImportError(.unsupported, "attribute '\(name)' holds \(value.kindName), which \(node.op) does not take", node: node.label)
            }
        }
        let layout = try reader.int("layout") ?? 0
        guard layout == 0 || layout == 1 else {
            throw ImportError(.invalidModel, "\(node.op) layout is \(layout); it must be 0 (sequence first) or 1 (batch first)", node: node.label)
        }
        for index in 0..<3 where node.input(index) == nil {
            throw ImportError(.invalidModel, "\(node.op) input \(index) (\(["X", "W", "R"][index])) is missing", node: node.label)
        }
        guard let x = shape(of: node.inputs[0]), x.count == 3, let r = shape(of: node.inputs[2]), r.count == 3 else {
            throw ImportError(.invalidModel, "\(node.op) X and R must have rank 3; got X \(shape(of: node.inputs[0]) ?? []) and R \(shape(of: node.inputs[2]) ?? [])",
                              node: node.label)
        }
        let hidden = try reader.int("hidden_size").map { Int($0) } ?? r[2]
        attributes["hidden_size"] = .int(hidden)
        let (steps, batch) = layout == 0 ? (x[0], x[1]) : (x[1], x[0])

        var nodes: [RuntimeNode] = []
        var inputs = node.inputs
        func transposed(_ name: String, perm: [Int], what: String) -> String {
            let output = freshName("\(node.outputs.first { !$0.isEmpty } ?? node.name)/\(what)_layout0")
            nodes.append(RuntimeNode(name: "\(node.name)/\(what)_layout0", op: "Transpose", inputs: [name], output: output,
                                     attributes: ["perm": .ints(perm)]))
            return output
        }
        if layout == 1 {
            inputs[0] = transposed(inputs[0], perm: [1, 0, 2], what: "X")
            for (index, what) in [(5, "initial_h"), (6, "initial_c")] where node.input(index) != nil {
                inputs[index] = transposed(inputs[index], perm: [1, 0, 2], what: what)
            }
        }
        // A gap before a given input is filled with what leaving it out means.
        while let last = inputs.last, last.isEmpty { inputs.removeLast() }
        for index in inputs.indices where inputs[index].isEmpty {
            let (what, value): (String, ConstantTensor)
            switch index {
            case 3: (what, value) = ("B", ConstantTensor(shape: [directions, 2 * gates * hidden], floats: .init(repeating: 0, count: directions * 2 * gates * hidden)))
            case 4: (what, value) = ("sequence_lens", ConstantTensor(shape: [batch], floats: .init(repeating: Float(steps), count: batch)))
            default: (what, value) = (index == 5 ? "initial_h" : "initial_c", ConstantTensor(shape: [directions, batch, hidden], floats: .init(repeating: 0, count: directions * batch * hidden)))
            }
            let name = freshName("\(node.name)/\(what)")
            constants[name] = value
            inputs[index] = name
        }
        let stacked = freshName("\(node.outputs.first { !$0.isEmpty } ?? node.name)/stacked")
        nodes.append(RuntimeNode(name: node.name, op: node.op, inputs: inputs, output: stacked, attributes: attributes))

        // Y is rows 0..<steps of the stack; state s is row steps + s.
        for (index, output) in node.outputs.enumerated() where !output.isEmpty && isUsed(output) && index <= states {
            let isY = index == 0
            let (start, end) = isY ? (0, steps) : (steps + index - 1, steps + index)
            let sliceName = isY && layout == 0 ? output : freshName("\(output)/stacked_rows")
            nodes.append(RuntimeNode(name: "\(node.name)/\(["Y", "Y_h", "Y_c"][index])", op: "Slice", inputs: [stacked], output: sliceName,
                                     attributes: ["starts": .ints([start]), "ends": .ints([end]), "axes": .ints([0])]))
            if isY {
                // (seq, dirs, batch, hidden) → (batch, seq, dirs, hidden)
                if layout == 1 {
                    nodes.append(RuntimeNode(name: "\(node.name)/Y_layout1", op: "Transpose", inputs: [sliceName], output: output,
                                             attributes: ["perm": .ints([2, 0, 1, 3])]))
                }
            } else if layout == 0 {
                nodes.append(RuntimeNode(name: "\(node.name)/\(["Y", "Y_h", "Y_c"][index])_shape", op: "Reshape", inputs: [sliceName],
                                         output: output, attributes: ["shape": .ints([directions, batch, hidden])]))
            } else {
                // (1, dirs, batch, hidden) → (batch, dirs, hidden)
                let rows = freshName("\(output)/batch_first")
                nodes.append(RuntimeNode(name: "\(node.name)/\(["Y", "Y_h", "Y_c"][index])_layout1", op: "Transpose", inputs: [sliceName],
                                         output: rows, attributes: ["perm": .ints([0, 2, 1, 3])]))
                nodes.append(RuntimeNode(name: "\(node.name)/\(["Y", "Y_h", "Y_c"][index])_shape", op: "Reshape", inputs: [rows],
                                         output: output, attributes: ["shape": .ints([batch, directions, hidden])]))
            }
        }
        return nodes
    }

    /// Refuses activations other than the defaults, and their parameters.
    private func checkActivations(_ node: SourceGraph.Node, directions: Int) throws(ImportError) {
        let defaults = node.op == "LSTM" ? ["Sigmoid", "Tanh", "Tanh"] : ["Sigmoid", "Tanh"]
        let expected = Array([[String]](repeating: defaults, count: directions).joined())
        if let given = node.attributes["activations"] {
            guard case .strings(let names) = given else {
                throw ImportError(.invalidModel, "\(node.op) attribute 'activations' is \(given.kindName); it must be a list of strings", node: node.label)
            }
            guard names.map({ $0.lowercased() }) == expected.map({ $0.lowercased() }) else {
                throw ImportError(.unsupported,
                    "\(node.op) activations \(names) is not supported; only the defaults \(expected) "
                        + "(\(defaults.joined(separator: ", ")) per direction) are implemented", node: node.label)
            }
        }
        for name in ["activation_alpha", "activation_beta"] where node.attributes[name] != nil {
            throw ImportError(.unsupported,
                "\(node.op) attribute '\(name)' is not supported; it parameterizes activations other than the defaults "
                    + "(\(defaults.joined(separator: ", "))), which are the only ones implemented", node: node.label)
        }
    }
}
