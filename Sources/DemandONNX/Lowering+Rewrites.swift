import DemandTensor

/// The rewrites from ONNX's form of a node to the runtime's: constant inputs
/// become attributes with the same names (see the operator contract), opset
/// differences are evened out, and ops the runtime does not run as such
/// (Split, Softmax and LogSoftmax before opset 13, auto_pad) are spelled out.
extension Lowering {
    func rewrite(_ node: SourceGraph.Node) throws(ImportError) -> [RuntimeNode] {
        if node.op == "LSTM" || node.op == "GRU" { return try recurrentNodes(node) }
        if let nodes = try rewriteSelection(node) { return nodes }
        var rewriter = Rewriter(lowering: self, node: node)
        return try rewriter.run()
    }

    /// Runs one runtime kernel at convert time.
    func execute(_ op: Operator, inputs: [Tensor], output: Tensor, workspace: Workspace, node: RuntimeNode) throws(ImportError) {
        do {
            try op.execute(inputs: inputs, output: output, workspace: workspace)
        } catch {
            throw ImportError(.invalidModel, "evaluating constant inputs at convert time failed: \(error)", node: node.label)
        }
    }
}

/// Rewrites one source node; see `Lowering.rewrite`.
private struct Rewriter {
    let lowering: Lowering
    let node: SourceGraph.Node
    var opset: Int { lowering.opset }
    var attributes: [String: AttributeValue] = [:]
    var inputs: [String]
    /// The runtime op type, when a rewrite changes it (Upsample → Resize).
    var op: String
    let reader: NodeAttributes

    init(lowering: Lowering, node: SourceGraph.Node) {
        self.lowering = lowering
        self.node = node
        self.inputs = node.inputs
        self.op = node.op
        self.reader = NodeAttributes(node)
    }

    /// GroupNormalization's scale and bias hold one value per group before
    /// opset 21 and one per channel from 21; the runtime takes either, so
    /// only the opset's own form is let through (with C = num_groups both are).
    func groupNormalizationParameters() throws(ImportError) {
        guard case .int(let groups)? = attributes["num_groups"], let x = lowering.shape(of: inputs[0]), x.count >= 2 else { return }
        let (expected, per) = opset >= 21 ? (x[1], "channel") : (groups, "group")
        for (index, name) in [(1, "scale"), (2, "bias")] where index < inputs.count {
            guard let shape = lowering.shape(of: inputs[index]), shape != [expected] else { continue }
            throw ImportError(.invalidModel,
                "GroupNormalization \(name) is \(Shape(shape)); at opset \(opset) it holds one value per \(per) (\(expected))"
                    + (opset >= 21 ? "" : "; opset 21 changed it to one per channel"), node: node.label)
        }
    }

    mutating func run() throws(ImportError) -> [RuntimeNode] {
        try copyAttributes()
        switch node.op {
        case "Slice": try slice()
        case "Reshape":
            if opset >= 5 { try moveInput(1, to: "shape") }
            if attributes["allowzero"] == .int(0) { attributes["allowzero"] = nil }
        case "Expand": try moveInput(1, to: "shape")
        case "Tile": if opset >= 6 { try moveInput(1, to: "repeats") }
        case "CumSum":
            try moveInput(1, to: "axis")
            guard case .ints(let axis)? = attributes["axis"], axis.count == 1 else {
                throw ImportError(.invalidModel, "CumSum axis must be a single value, got \(attributes["axis"].map { "\($0)" } ?? "none")", node: node.label)
            }
            attributes["axis"] = .int(axis[0])
        case "Squeeze", "Unsqueeze": if opset >= 13 { try moveInput(1, to: "axes", optional: true) }
        case "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
             "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare":
            if opset >= 18 || (node.op == "ReduceSum" && opset >= 13) { try moveInput(1, to: "axes", optional: true) }
            let noop = attributes.removeValue(forKey: "noop_with_empty_axes") == .int(1)
            if noop, attributes["axes"] == nil || attributes["axes"] == .ints([]) {
                return [RuntimeNode(name: node.name, op: "Identity", inputs: [inputs[0]], output: node.outputs[0], attributes: [:])]
            }
        case "Clip":
            if opset >= 11 {
                try moveInput(1, to: "min", optional: true, asFloat: true)
                try moveInput(2, to: "max", optional: true, asFloat: true)
            }
        case "Pad": try pad()
        case "Resize", "Upsample": try resize()
        case "Split": return try split()
        case "Softmax" where opset < 13, "LogSoftmax" where opset < 13: return try legacySoftmax()
        case "Conv", "ConvTranspose", "MaxPool", "AveragePool": try resolveAutoPad()
        case "BatchNormalization":
            for name in ["momentum", "spatial", "is_test", "training_mode"] { attributes[name] = nil }
            try requireUnused(outputsFrom: 1)
        case "Cast": attributes["saturate"] = nil
        case "Sum" where inputs.count == 2:
            // Two same-shaped inputs (a residual sum, as older ResNet exports write it): the
            // runtime's Add, which a following Relu fuses into (one pass instead of two).
            if let a = lowering.shape(of: inputs[0]), a == lowering.shape(of: inputs[1]) { op = "Add" }
        case "GroupNormalization": try groupNormalizationParameters()
        case "Concat":
            // Empty constants (shape [0] pieces some exporters emit) add nothing and cannot be stored.
            inputs = inputs.filter { name in lowering.constants[name].map { $0.count > 0 } ?? true }
        default: break
        }
        while let last = inputs.last, last.isEmpty { inputs.removeLast() }
        if let gap = inputs.firstIndex(of: "") {
            throw ImportError(.unsupported, "input \(gap) is omitted, but a later input is given; the runtime takes inputs by position", node: node.label)
        }
        if node.outputs.count > 1 { try requireUnused(outputsFrom: 1) }
        return [RuntimeNode(name: node.name, op: op, inputs: inputs, output: node.outputs[0], attributes: attributes)]
    }

    /// ONNX attributes in the manifest's encoding.
    private mutating func copyAttributes() throws(ImportError) {
        for (name, value) in node.attributes {
            switch value {
            case .int(let v): attributes[name] = .int(Int(v))
            case .float(let v): attributes[name] = .float(v)
            case .ints(let v): attributes[name] = .ints(v.map { Int($0) })
            case .floats(let v): attributes[name] = .floats(v)
            case .string(let v): attributes[name] = .string(v)
            case .strings, .tensor, .graph, .unsupported:
                throw ImportError(.unsupported, "attribute '\(name)' holds \(value.kindName), which \(node.op) cannot take in this runtime", node: node.label)
            }
        }
    }

    private func constant(_ index: Int) -> ConstantTensor? {
        guard index < inputs.count, !inputs[index].isEmpty else { return nil }
        return lowering.constants[inputs[index]]
    }

    /// Turns constant input `index` into attribute `name` and removes it from the inputs.
    private mutating func moveInput(_ index: Int, to name: String, optional: Bool = false, asFloat: Bool = false) throws(ImportError) {
        guard index < inputs.count, !inputs[index].isEmpty else {
            if optional { return }
            throw ImportError(.invalidModel, "input \(index) (\(name)) is missing", node: node.label)
        }
        guard let value = constant(index) else {
            throw ImportError(.unsupported,
                "input \(index) (\(name)) is computed at run time; it must be constant once input shapes are fixed (give --input-shape for every symbolic dimension)",
                node: node.label)
        }
        if asFloat {
            guard value.count == 1 else { throw ImportError(.invalidModel, "\(name) must be a single value, got shape \(value.shape)", node: node.label) }
            attributes[name] = .float(value.floats[0])
        } else {
            attributes[name] = .ints(value.ints.map { Int($0) })
        }
        inputs[index] = ""
    }

    private func requireUnused(outputsFrom first: Int) throws(ImportError) {
        for output in node.outputs.dropFirst(first) where !output.isEmpty && lowering.isUsed(output) {
            throw ImportError(.unsupported, "output '\(output)' is read by another node, but only the first output of \(node.op) is supported", node: node.label)
        }
    }

    private func inputShape(_ index: Int = 0) throws(ImportError) -> [Int] {
        guard index < inputs.count, !inputs[index].isEmpty else {
            throw ImportError(.invalidModel, "input \(index) is missing (the node has \(inputs.count) inputs)", node: node.label)
        }
        guard let shape = lowering.shape(of: inputs[index]) else {
            throw ImportError(.invalidModel, "input '\(inputs[index])' has no known shape", node: node.label)
        }
        return shape
    }

    // MARK: Op by op

    private mutating func slice() throws(ImportError) {
        guard opset >= 10 else { return }
        try moveInput(1, to: "starts")
        try moveInput(2, to: "ends")
        try moveInput(3, to: "axes", optional: true)
        try moveInput(4, to: "steps", optional: true)
    }

    private mutating func pad() throws(ImportError) {
        let rank = try inputShape().count
        if opset >= 11 {
            try moveInput(1, to: "pads")
            try moveInput(2, to: "value", optional: true, asFloat: true)
            if let axesValue = constant(3) {
                guard case .ints(let given)? = attributes["pads"] else { return }
                var pads = [Int](repeating: 0, count: 2 * rank)
                guard given.count == 2 * axesValue.count,
                      axesValue.ints.allSatisfy({ $0 >= -Int64(rank) && $0 < Int64(rank) }) else {
                    throw ImportError(.invalidModel, "Pad axes \(axesValue.ints) and pads \(given) do not fit input rank \(rank)", node: node.label)
                }
                for (i, raw) in axesValue.ints.enumerated() {
                    let axis = raw < 0 ? Int(raw) + rank : Int(raw)
                    pads[axis] = given[i]
                    pads[axis + rank] = given[i + axesValue.count]
                }
                attributes["pads"] = .ints(pads)
                inputs[3] = ""
            } else if inputs.count > 3, !inputs[3].isEmpty {
                try moveInput(3, to: "axes")
            }
        } else if attributes["paddings"] != nil {
            attributes["pads"] = attributes.removeValue(forKey: "paddings")
        }
        if attributes["mode"] == nil { attributes["mode"] = .string("constant") }
        if attributes["value"] == nil { attributes["value"] = .float(0) }
    }

    /// Resize (any opset) and Upsample: writes both `sizes` and `scales` and
    /// spells out the coordinate and nearest modes.
    private mutating func resize() throws(ImportError) {
        let shape = try inputShape()
        var scales: [Float]?
        var sizes: [Int]?
        let scalesIndex = (node.op == "Upsample" || opset < 11) ? 1 : 2
        if let given = try reader.floats("scales") { scales = given }
        if let value = constant(scalesIndex), value.count > 0 { scales = value.floats }
        if node.op == "Resize", opset >= 11, let value = constant(3), value.count > 0 { sizes = value.ints.map { Int($0) } }
        for index in 1..<inputs.count where !inputs[index].isEmpty && constant(index) == nil {
            throw ImportError(.unsupported, "input \(index) of \(node.op) is computed at run time; it must be constant once input shapes are fixed", node: node.label)
        }
        if let axes = try reader.ints("axes") {
            guard axes.allSatisfy({ $0 >= -Int64(shape.count) && $0 < Int64(shape.count) }),
                  scales.map({ $0.count == axes.count }) ?? true, sizes.map({ $0.count == axes.count }) ?? true else {
                throw ImportError(.invalidModel, "Resize axes \(axes) do not fit the input rank \(shape.count) or the scales/sizes given", node: node.label)
            }
            func expand<T>(_ values: [T], fill: T) -> [T] {
                var full = [T](repeating: fill, count: shape.count)
                for (i, axis) in axes.enumerated() { full[Int(axis < 0 ? axis + Int64(shape.count) : axis)] = values[i] }
                return full
            }
            if let given = scales { scales = expand(given, fill: 1) }
            if let given = sizes {
                var full = shape
                for (i, axis) in axes.enumerated() { full[Int(axis < 0 ? axis + Int64(shape.count) : axis)] = given[i] }
                sizes = full
            }
            attributes["axes"] = nil
        }
        if let given = sizes, scales == nil {
            scales = zip(given, shape).map { Float($0) / Float($1) }
        } else if let given = scales, sizes == nil {
            guard given.count == shape.count else {
                throw ImportError(.invalidModel, "scales \(given) do not match the input rank \(shape.count)", node: node.label)
            }
            guard given.allSatisfy({ $0.isFinite && $0 > 0 && $0 <= 65536 }) else {
                throw ImportError(.invalidModel, "scales \(given) must be positive and finite", node: node.label)
            }
            sizes = zip(shape, given).map { Int((Float($0) * $1).rounded(.down)) }
        }
        guard let finalScales = scales, let finalSizes = sizes else {
            throw ImportError(.invalidModel, "\(node.op) needs scales or sizes", node: node.label)
        }
        let mode = (try reader.string("mode") ?? "nearest").lowercased()
        let isWhole = finalScales.allSatisfy { $0 >= 1 && $0.rounded() == $0 }
        if node.op == "Upsample", mode == "nearest", isWhole, finalScales.count == 4, finalScales[0] == 1, finalScales[1] == 1 {
            attributes = ["scales": .floats(finalScales), "mode": .string("nearest")]
            inputs = [inputs[0]]
            return
        }
        // Before opset 11 (Upsample, Resize-10) coordinates are asymmetric and
        // nearest rounds down when enlarging an axis and up when shrinking it.
        let legacy = node.op == "Upsample" || opset < 11
        var nearestMode = try reader.string("nearest_mode") ?? "round_prefer_floor"
        if legacy {
            let changed = finalScales.filter { $0 != 1 }
            if changed.allSatisfy({ $0 > 1 }) {
                nearestMode = "floor"
            } else if changed.allSatisfy({ $0 < 1 }) {
                nearestMode = "ceil"
            } else if mode == "nearest" {
                throw ImportError(.unsupported,
                    "nearest \(node.op) that enlarges one axis and shrinks another (scales \(finalScales)) is not supported before opset 11",
                    node: node.label)
            }
        }
        var result: [String: AttributeValue] = [
            "mode": .string(mode == "bilinear" ? "linear" : mode),
            "sizes": .ints(finalSizes),
            "scales": .floats(finalScales),
            "coordinate_transformation_mode": .string(legacy ? "asymmetric" : try reader.string("coordinate_transformation_mode") ?? "half_pixel"),
            "nearest_mode": .string(nearestMode),
        ]
        // Attributes at their defaults change nothing; others go on so the runtime can refuse them.
        let defaults: [String: AttributeValue] = [
            "exclude_outside": .int(0), "antialias": .int(0), "keep_aspect_ratio_policy": .string("stretch"),
        ]
        for (name, value) in attributes where !["mode", "scales", "coordinate_transformation_mode", "nearest_mode",
                                               "cubic_coeff_a", "extrapolation_value"].contains(name) && defaults[name] != value {
            result[name] = value
        }
        attributes = result
        inputs = [inputs[0]]
        op = "Resize"
    }

    /// Split → one Slice per output that is read.
    private func split() throws(ImportError) -> [RuntimeNode] {
        let shape = try inputShape()
        var axis = Int(try reader.int("axis") ?? 0)
        if axis < 0 { axis += shape.count }
        guard axis >= 0 && axis < shape.count else {
            throw ImportError(.invalidModel, "axis \(axis) is out of range for input shape \(shape)", node: node.label)
        }
        let dim = shape[axis]
        let count = node.outputs.count
        var parts: [Int]
        if let given = constant(1) {
            parts = given.ints.map { Int($0) }
        } else if inputs.count > 1, !inputs[1].isEmpty {
            throw ImportError(.unsupported, "split sizes are computed at run time; they must be constant", node: node.label)
        } else if let given = try reader.ints("split") {
            parts = given.map { Int($0) }
        } else if let pieces = try reader.int("num_outputs"), pieces > 0, pieces <= Int64(max(dim, 1)) {
            let chunk = (dim + Int(pieces) - 1) / Int(pieces)
            parts = (0..<Int(pieces)).map { min(chunk, max(0, dim - $0 * chunk)) }
        } else {
            guard dim % count == 0 else {
                throw ImportError(.invalidModel, "cannot split a dimension of \(dim) into \(count) equal parts", node: node.label)
            }
            parts = Array(repeating: dim / count, count: count)
        }
        // Each size within the dimension before summing, so hostile sizes cannot overflow the sum.
        guard parts.count == count, parts.allSatisfy({ (0...dim).contains($0) }), parts.reduce(0, +) == dim else {
            throw ImportError(.invalidModel, "split sizes \(parts) do not add up to \(dim) over \(count) outputs", node: node.label)
        }
        var start = 0
        var nodes: [RuntimeNode] = []
        for (output, size) in zip(node.outputs, parts) {
            defer { start += size }
            guard !output.isEmpty, lowering.isUsed(output) else { continue }
            nodes.append(RuntimeNode(name: "\(node.name)/\(nodes.count)", op: "Slice", inputs: [inputs[0]], output: output,
                                     attributes: ["starts": .ints([start]), "ends": .ints([start + size]), "axes": .ints([axis])]))
        }
        return nodes
    }

    /// Softmax and LogSoftmax before opset 13 normalize over all axes from
    /// `axis` on, as if the input were flattened to 2-D there.
    private func legacySoftmax() throws(ImportError) -> [RuntimeNode] {
        let shape = try inputShape()
        var axis = Int(try reader.int("axis") ?? 1)
        if axis < 0 { axis += shape.count }
        if axis == shape.count - 1 {
            return [RuntimeNode(name: node.name, op: node.op, inputs: [inputs[0]], output: node.outputs[0], attributes: ["axis": .int(-1)])]
        }
        let flat = lowering.freshName(node.outputs[0] + "/2d")
        let normalized = lowering.freshName(node.outputs[0] + "/\(node.op.lowercased())2d")
        return [
            RuntimeNode(name: node.name + "/flatten", op: "Flatten", inputs: [inputs[0]], output: flat, attributes: ["axis": .int(axis)]),
            RuntimeNode(name: node.name, op: node.op, inputs: [flat], output: normalized, attributes: ["axis": .int(1)]),
            RuntimeNode(name: node.name + "/reshape", op: "Reshape", inputs: [normalized], output: node.outputs[0], attributes: ["shape": .ints(shape)]),
        ]
    }

    /// auto_pad SAME_UPPER / SAME_LOWER / VALID written out as explicit pads
    /// (shapes are static), and ConvTranspose's output_shape turned into pads.
    private mutating func resolveAutoPad() throws(ImportError) {
        let autoPad = try reader.string("auto_pad") ?? "NOTSET"
        let outputShape = try reader.ints("output_shape")
        guard autoPad != "NOTSET" || outputShape != nil else { return }
        let shape = try inputShape()
        guard shape.count >= 3 else { return }
        let spatial = Array(shape.dropFirst(2))
        let rank = spatial.count
        var kernel = try reader.ints("kernel_shape")?.map { Int($0) } ?? []
        if kernel.isEmpty, inputs.count > 1, let weightShape = lowering.shape(of: inputs[1]) { kernel = Array(weightShape.dropFirst(2)) }
        guard kernel.count == rank else {
            throw ImportError(.invalidModel, "kernel_shape \(kernel) does not match \(rank) spatial dimensions", node: node.label)
        }
        let strides = try reader.ints("strides")?.map { Int($0) } ?? Array(repeating: 1, count: rank)
        let dilations = try reader.ints("dilations")?.map { Int($0) } ?? Array(repeating: 1, count: rank)
        let outputPadding = try reader.ints("output_padding")?.map { Int($0) } ?? Array(repeating: 0, count: rank)
        guard strides.count == rank, dilations.count == rank, outputPadding.count == rank,
              strides.allSatisfy({ $0 > 0 }), dilations.allSatisfy({ $0 > 0 }), (outputShape?.count ?? rank) >= rank else {
            throw ImportError(.invalidModel,
                "strides \(strides), dilations \(dilations), output_padding \(outputPadding) or output_shape do not fit \(rank) spatial dimensions",
                node: node.label)
        }
        var begins = [Int](repeating: 0, count: rank), ends = [Int](repeating: 0, count: rank)
        var extraPadding = [Int](repeating: 0, count: rank)
        for i in 0..<rank {
            let extent = (kernel[i] - 1) * dilations[i] + 1
            var total: Int
            if node.op == "ConvTranspose" {
                let target = outputShape.map { Int($0[$0.count - rank + i]) } ?? spatial[i] * strides[i]
                if autoPad == "VALID" && outputShape == nil { continue }
                total = strides[i] * (spatial[i] - 1) + outputPadding[i] + extent - target
                if total < 0 {
                    // A larger output than the kernel covers: the extra cells come at the end, as output_padding.
                    extraPadding[i] = -total
                    total = 0
                }
                let upper = autoPad == "SAME_UPPER"
                begins[i] = upper ? total / 2 : total - total / 2
                ends[i] = upper ? total - total / 2 : total / 2
            } else {
                if autoPad == "VALID" { continue }
                let out = (spatial[i] + strides[i] - 1) / strides[i]
                total = max(0, (out - 1) * strides[i] + extent - spatial[i])
                begins[i] = autoPad == "SAME_LOWER" ? total - total / 2 : total / 2
                ends[i] = total - begins[i]
            }
        }
        attributes["auto_pad"] = nil
        attributes["output_shape"] = nil
        attributes["pads"] = .ints(begins + ends)
        if extraPadding.contains(where: { $0 > 0 }) {
            attributes["output_padding"] = .ints(zip(outputPadding, extraPadding).map { $0 + $1 })
        }
    }
}
