import DemandFormat
import DemandTensor

/// A node in the runtime's form: one output, attributes as the manifest
/// stores them, constant inputs still named (they become weights).
struct RuntimeNode {
    var name: String
    var op: String
    var inputs: [String]
    var output: String
    var attributes: [String: AttributeValue]

    var label: String { "node '\(name)' (\(op))" }
}

/// Turns an ONNX graph with fixed input shapes into runtime nodes, one ONNX
/// node at a time in topological order:
///
/// 1. `Constant`, `Shape`, `Size` and every node whose inputs are all known
///    are evaluated now (`Folding`, else the runtime's own kernel), so shape
///    subgraphs disappear. An `If` whose condition is known is replaced by
///    its taken branch's nodes, lowered the same way (`inlineIf`).
/// 2. `Identity` and `Dropout` are dropped by renaming their output.
/// 3. Everything else is rewritten into the runtime's form (`rewrite`):
///    constant inputs become attributes, opset differences are evened out,
///    Split becomes Slices, TopK one node per output, Einsum MatMul and
///    layout ops, BatchNormalization folds into the Conv before it.
/// 4. Each runtime node is checked with `Operator(type:attributes:)` and
///    `outputShape`, so an unsupported op or attribute stops the convert
///    with the node's name, and every value gets a static shape.
///
/// Not thread-safe; one lowering per convert.
final class Lowering {
    let graph: SourceGraph
    var opset: Int { graph.opset }
    /// Values known at convert time, by name.
    var constants: [String: ConstantTensor]
    /// Constants that are a DequantizeLinear of integer constants: their
    /// integers, scales and zero points, so the writer can store them quantized
    /// (the runtime restores exactly the float values in `constants`).
    var quantizedSources: [String: QuantizedTensor] = [:]
    /// Shapes of values computed at run time (graph inputs and node outputs).
    var shapes: [String: Shape] = [:]
    /// Renamed values: a dropped node's output → the value it passes on.
    var aliases: [String: String] = [:]
    /// How many nodes (and graph outputs) read each source value.
    var useCounts: [String: Int]
    private(set) var nodes: [RuntimeNode] = []
    /// Index in `nodes` of each value's producer.
    private var producers: [String: Int] = [:]
    private var usedNames: Set<String> = []

    init(graph: SourceGraph, inputShapes: [String: Shape]) {
        self.graph = graph
        self.constants = graph.initializers
        self.shapes = inputShapes
        var counts: [String: Int] = [:]
        for node in graph.nodes {
            for input in node.inputs + node.implicitInputs where !input.isEmpty { counts[input, default: 0] += 1 }
        }
        for output in graph.outputs { counts[output, default: 0] += 1 }
        self.useCounts = counts
        for node in graph.nodes { usedNames.formUnion(node.outputs) }
        usedNames.formUnion(graph.initializers.keys)
        usedNames.formUnion(inputShapes.keys)
    }

    /// Lowers every node; `progress` is called after each with the count done.
    func run(progress: (Int) -> Void) throws(ImportError) {
        for (index, node) in graph.nodes.enumerated() {
            do { try lower(node) } catch { throw error.at(node: node.label) }
            progress(index + 1)
        }
    }

    /// A value's name after renaming.
    func resolve(_ name: String) -> String {
        var current = name
        while let next = aliases[current] { current = next }
        return current
    }

    func shape(of name: String) -> [Int]? {
        if let shape = shapes[name] { return shape.dims }
        return constants[name]?.shape
    }

    func isUsed(_ name: String) -> Bool { (useCounts[name] ?? 0) > 0 }

    /// A value name no ONNX value has, derived from `base`.
    func freshName(_ base: String) -> String {
        var candidate = base
        var counter = 1
        while usedNames.contains(candidate) {
            candidate = "\(base)_\(counter)"
            counter += 1
        }
        usedNames.insert(candidate)
        return candidate
    }

    func lower(_ source: SourceGraph.Node) throws(ImportError) {
        if source.op == "If", source.domain.isEmpty || source.domain == "ai.onnx" { return try inlineIf(source) }
        let isMatMulNBits = source.op == "MatMulNBits" && source.domain == "com.microsoft"
        if !isMatMulNBits, let error = Self.unsupportedOperatorError(op: source.op, domain: source.domain) { throw error }
        var node = source
        // LSTM and GRU may leave out Y and give only Y_h or Y_c.
        let firstOutputOptional = node.op == "LSTM" || node.op == "GRU"
        guard node.outputs.contains(where: { !$0.isEmpty }), firstOutputOptional || !node.outputs[0].isEmpty else {
            throw ImportError(.invalidModel, "the node has no output")
        }
        let needsInput = ["Identity", "Dropout", "Shape", "Size"].contains(node.op)
        if needsInput && (node.inputs.first ?? "").isEmpty {
            throw ImportError(.invalidModel, "\(node.op) needs an input")
        }
        node.inputs = node.inputs.map { $0.isEmpty ? $0 : resolve($0) }
        for input in node.inputs where !input.isEmpty && shape(of: input) == nil {
            throw ImportError(.invalidModel, "input '\(input)' is not a graph input, an initializer or an earlier node's output")
        }
        switch node.op {
        case "Constant":
            constants[node.outputs[0]] = try constantValue(node)
            return
        case "Identity", "Dropout":
            if node.outputs.count > 1, isUsed(node.outputs[1]) {
                throw ImportError(.unsupported, "the mask output of Dropout is not supported (inference has no mask)")
            }
            let input = node.inputs[0]
            if let value = constants[input] { constants[node.outputs[0]] = value } else { aliases[node.outputs[0]] = input }
            return
        case "Shape":
            let dims = shape(of: node.inputs[0])!.map { Int64($0) }
            let attributes = NodeAttributes(node)
            let rank = Int64(dims.count)
            func clampAxis(_ value: Int64) -> Int { Int(min(max(value < 0 ? value + rank : value, 0), rank)) }
            let start = clampAxis(try attributes.int("start") ?? 0)
            let end = clampAxis(try attributes.int("end") ?? rank)
            constants[node.outputs[0]] = ConstantTensor(ints: start < end ? Array(dims[start..<end]) : [])
            return
        case "Size":
            constants[node.outputs[0]] = ConstantTensor(shape: [], ints: [Int64(shape(of: node.inputs[0])!.reduce(1, *))])
            return
        default:
            break
        }
        if try lowerQuantization(node) { return }
        if try lowerQLinear(node) { return }
        if isMatMulNBits {
            try lowerMatMulNBits(node)
            return
        }
        let present = node.inputs.filter { !$0.isEmpty }
        if !present.isEmpty && present.allSatisfy({ constants[$0] != nil }) {
            try fold(node)
            return
        }
        if node.op == "BatchNormalization", try foldBatchNormIntoConv(node) { return }
        for runtimeNode in try rewrite(node) { try emit(runtimeNode) }
    }

    /// Checks a runtime node and appends it, or fuses a Relu into its producer.
    private func emit(_ node: RuntimeNode) throws(ImportError) {
        if fuseActivation(node) || fuseSiLU(node) || fuseResidual(node) { return }
        let (_, outputShape) = try check(node, shapeOf: { self.shape(of: $0).map(Shape.init) })
        shapes[node.output] = outputShape
        producers[node.output] = nodes.count
        nodes.append(node)
    }

    /// Builds the node's operator and infers its output shape; the one check
    /// every runtime node passes, here and when folding with the runtime's kernel.
    func check(_ node: RuntimeNode, shapeOf: (String) -> Shape?) throws(ImportError) -> (Operator, Shape) {
        // The same size limits as the model reader, so no shape arithmetic overflows.
        for (name, value) in node.attributes.sorted(by: { $0.key < $1.key }) {
            if let problem = ModelLimits.problem(with: value, named: name) { throw ImportError(.invalidModel, problem, node: node.label) }
        }
        let op: Operator
        do { op = try Operator(type: node.op, attributes: node.attributes) } catch {
            let text = error.code == .unknownOperator
                ? "operator '\(node.op)' is not supported; supported: \(Self.supportedList)" : error.message
            throw ImportError(.unsupported, text, node: node.label)
        }
        var inputShapes: [Shape] = []
        for input in node.inputs {
            guard let shape = shapeOf(input) else {
                throw ImportError(.invalidModel, "input '\(input)' has no known shape", node: node.label)
            }
            inputShapes.append(shape)
        }
        let outputShape: Shape
        do { outputShape = try op.outputShape(inputs: inputShapes) } catch {
            let code: ImportError.Code = error.code == .unsupportedAttribute ? .unsupported : .invalidModel
            throw ImportError(code, "\(error.message) (input shapes \(inputShapes.map(\.description)))", node: node.label)
        }
        if let problem = ModelLimits.problem(with: outputShape) {
            throw ImportError(.invalidModel, "output '\(node.output)': \(problem)", node: node.label)
        }
        return (op, outputShape)
    }

    /// Fuses Relu, LeakyRelu, Sigmoid or Clip into the Conv, Gemm or Add that
    /// feeds it (their `activation` attribute) when nothing else reads that value.
    private func fuseActivation(_ node: RuntimeNode) -> Bool {
        guard ["Relu", "LeakyRelu", "Sigmoid", "Clip"].contains(node.op), node.inputs.count == 1 else { return false }
        let input = node.inputs[0]
        guard let index = producers[input], useCounts[input] == 1, !graph.outputs.contains(input),
              ["Conv", "Gemm", "Add"].contains(nodes[index].op), nodes[index].attributes["activation"] == nil else { return false }
        var fused = nodes[index].attributes
        switch node.op {
        case "Relu":
            fused["activation"] = .string("relu")
        case "Sigmoid":
            fused["activation"] = .string("sigmoid")
        case "LeakyRelu":
            fused["activation"] = .string("leaky_relu")
            // Gemm's own `alpha` scales A·B, so its slope has another name.
            fused[nodes[index].op == "Gemm" ? "activation_alpha" : "alpha"] = node.attributes["alpha"] ?? .float(0.01)
        default:
            fused["activation"] = .string("clip")
            for bound in ["min", "max"] { if let value = node.attributes[bound] { fused[bound] = value } }
        }
        return giveActivation(fused, toProducerAt: index, of: input, output: node.output, after: {})
    }

    /// Gives the node at `index` (the producer of `input`) the fused
    /// attributes and the output `output`, when the runtime takes that fused
    /// form; `after` removes what the fusion replaces first. False (and
    /// nothing changed) when the runtime does not take it.
    private func giveActivation(_ fused: [String: AttributeValue], toProducerAt index: Int, of input: String, output: String,
                                after removeReplaced: () -> Void) -> Bool {
        // The runtime decides whether it takes the fused form; if not, the nodes stay apart.
        guard (try? Operator(type: nodes[index].op, attributes: fused)) != nil else { return false }
        removeReplaced()
        nodes[index].attributes = fused
        nodes[index].output = output
        producers[output] = index
        shapes[output] = shapes[input]
        shapes[input] = nil
        return true
    }

    /// Fuses `Add(y, r)` into the Conv that produces y, as that Conv's
    /// residual input R (attribute `residual`), when the Conv has a bias, no
    /// activation and no residual yet, nothing else reads y, r has y's shape
    /// and is computed before the Conv runs (a graph input or an earlier
    /// node's output; not a constant): ResNet's and MobileNetV2's shortcut Add
    /// (and the Relu after it, fused next) ride in the Conv's GEMM epilogue
    /// instead of a pass over memory. Of two Conv operands, the later one takes
    /// the other. Bit for bit the separate Add.
    private func fuseResidual(_ node: RuntimeNode) -> Bool {
        guard node.op == "Add", node.inputs.count == 2, node.attributes.isEmpty, node.inputs[0] != node.inputs[1] else { return false }
        var best: (index: Int, y: String, r: String)?
        for side in 0..<2 {
            let (y, r) = (node.inputs[side], node.inputs[1 - side])
            guard let index = producers[y], nodes[index].op == "Conv", nodes[index].inputs.count == 3,
                  nodes[index].attributes["activation"] == nil, nodes[index].attributes["residual"] == nil,
                  useCounts[y] == 1, !graph.outputs.contains(y), constants[r] == nil,
                  let shape = shapes[y], shapes[r] == shape, producers[r].map({ $0 < index }) ?? true,
                  index > best?.index ?? -1 else { continue }
            best = (index, y, r)
        }
        guard let (index, y, r) = best else { return false }
        var fused = nodes[index].attributes
        fused["residual"] = .int(1)
        return giveActivation(fused, toProducerAt: index, of: y, output: node.output) { nodes[index].inputs.append(r) }
    }

    /// Fuses `Mul(y, Sigmoid(y))` (SiLU written out, as YOLO and EfficientNet
    /// exports have it) into the Conv, Gemm or Add that produces y, when y and
    /// the Sigmoid's output have no other reader: one activation pass instead
    /// of a Sigmoid and a Mul pass. The Sigmoid need not be the node just
    /// emitted (exporters often order a block's Sigmoids apart from their Muls).
    private func fuseSiLU(_ node: RuntimeNode) -> Bool {
        guard node.op == "Mul", node.inputs.count == 2, node.attributes.isEmpty,
              let sigmoidIndex = node.inputs.compactMap({ producers[$0] }).first(where: {
                  nodes[$0].op == "Sigmoid" && nodes[$0].attributes.isEmpty && nodes[$0].inputs.count == 1
              }) else { return false }
        let sigmoid = nodes[sigmoidIndex]
        let y = sigmoid.inputs[0]
        guard Set(node.inputs) == [y, sigmoid.output], useCounts[y] == 2, useCounts[sigmoid.output] == 1,
              !graph.outputs.contains(y), !graph.outputs.contains(sigmoid.output),
              let index = producers[y], index < sigmoidIndex,
              ["Conv", "Gemm", "Add"].contains(nodes[index].op), nodes[index].attributes["activation"] == nil else { return false }
        var fused = nodes[index].attributes
        fused["activation"] = .string("silu")
        return giveActivation(fused, toProducerAt: index, of: y, output: node.output) {
            nodes.remove(at: sigmoidIndex)
            producers[sigmoid.output] = nil
            shapes[sigmoid.output] = nil
            for (name, producer) in producers where producer > sigmoidIndex { producers[name] = producer - 1 }
        }
    }

    /// Folds `Y = BatchNormalization(Conv(X))` into the Conv's weight and bias
    /// when the Conv's output has no other reader and everything is constant.
    private func foldBatchNormIntoConv(_ node: SourceGraph.Node) throws(ImportError) -> Bool {
        let x = node.inputs[0]
        guard node.inputs.count >= 5, let index = producers[x], nodes[index].op == "Conv",
              useCounts[x] == 1, !graph.outputs.contains(x), nodes[index].attributes["activation"] == nil,
              nodes[index].attributes["residual"] == nil,
              let weight = constants[nodes[index].inputs[1]], weight.shape.count >= 2,
              let scale = constants[node.inputs[1]], let shift = constants[node.inputs[2]],
              let mean = constants[node.inputs[3]], let variance = constants[node.inputs[4]] else { return false }
        let epsilon = try NodeAttributes(node).float("epsilon") ?? 1e-5
        let channels = weight.shape[0]
        guard [scale, shift, mean, variance].allSatisfy({ $0.count == channels }) else { return false }
        let oldBias = nodes[index].inputs.count > 2 ? constants[nodes[index].inputs[2]]?.floats : nil
        if nodes[index].inputs.count > 2 && oldBias == nil { return false }
        let perChannel = weight.count / channels
        var w = weight.floats
        var b = [Float](repeating: 0, count: channels)
        let (s, t, m, v) = (scale.floats, shift.floats, mean.floats, variance.floats)
        for c in 0..<channels {
            let factor = s[c] / (v[c] + epsilon).squareRoot()
            for k in 0..<perChannel { w[c * perChannel + k] *= factor }
            b[c] = ((oldBias?[c] ?? 0) - m[c]) * factor + t[c]
        }
        let conv = nodes[index]
        let weightName = freshName(conv.name + ".weight_bn")
        let biasName = freshName(conv.name + ".bias_bn")
        constants[weightName] = ConstantTensor(shape: weight.shape, floats: w)
        constants[biasName] = ConstantTensor(shape: [channels], floats: b)
        nodes[index].inputs = [conv.inputs[0], weightName, biasName]
        nodes[index].output = node.outputs[0]
        producers[node.outputs[0]] = index
        shapes[node.outputs[0]] = shapes[x]
        shapes[x] = nil
        return true
    }

    /// Evaluates a node whose inputs are all constants.
    private func fold(_ node: SourceGraph.Node) throws(ImportError) {
        let inputs = node.inputs.map { $0.isEmpty ? nil : constants[$0] }
        if let outputs = try Folding.evaluate(node, inputs: inputs, opset: opset) {
            for (name, value) in zip(node.outputs, outputs) { constants[name] = value }
            return
        }
        // Any other op: run the runtime's kernel on the constant inputs.
        var local: [String: Tensor] = [:]
        for name in node.inputs where !name.isEmpty {
            local[name] = Tensor(shape: Shape(constants[name]!.shape), values: constants[name]!.floats)
        }
        let workspace = Workspace()
        for runtimeNode in try rewrite(node) {
            let (op, outputShape) = try check(runtimeNode) { name in
                local[name]?.shape ?? self.constants[name].map { Shape($0.shape) }
            }
            let inputs = runtimeNode.inputs.map { local[$0] ?? Tensor(shape: Shape(constants[$0]!.shape), values: constants[$0]!.floats) }
            workspace.reserve(floatCount: op.workspaceFloatCount(inputs: inputs.map(\.shape)))
            _ = try Folding.foldedElementCount(outputShape.dims, of: "\(runtimeNode.op) node '\(node.name)' on constant inputs",
                                               inputCount: inputs.map(\.shape.elementCount).max() ?? 0)
            let output = Tensor(zeros: outputShape)
            try execute(op, inputs: inputs, output: output, workspace: workspace, node: runtimeNode)
            local[runtimeNode.output] = output
        }
        for name in node.outputs where !name.isEmpty {
            guard let value = local[name] else { continue }
            constants[name] = ConstantTensor(shape: value.shape.dims, floats: value.array)
        }
    }

    private func constantValue(_ node: SourceGraph.Node) throws(ImportError) -> ConstantTensor {
        guard let (key, attribute) = node.attributes.first, node.attributes.count == 1 else {
            throw ImportError(.invalidModel, "Constant needs exactly one value attribute")
        }
        switch (key, attribute) {
        case ("value", .tensor(let tensor)): return tensor
        case ("value_float", .float(let value)): return ConstantTensor(shape: [], floats: [value])
        case ("value_floats", .floats(let values)): return ConstantTensor(shape: [values.count], floats: values)
        case ("value_int", .int(let value)): return ConstantTensor(shape: [], ints: [value])
        case ("value_ints", .ints(let values)): return ConstantTensor(ints: values)
        default:
            throw ImportError(.unsupported, "Constant attribute '\(key)' is not supported; supported: value (a dense tensor), value_float(s), value_int(s)")
        }
    }

    /// The op types a model may use: the runtime's, plus those the converter
    /// removes (evaluated at convert time or rewritten).
    static var supportedList: String {
        let converterOnly = ["BatchNormalization", "Cast", "Constant", "ConstantOfShape", "Dropout", "Einsum", "If", "NonZero", "Range",
                             "Shape", "Size", "Split"]
        return Set(Operator.supportedTypes + converterOnly).sorted().joined(separator: ", ")
    }
}
