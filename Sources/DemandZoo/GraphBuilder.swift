import DemandFormat
import DemandTensor

/// Builds a model with seeded random weights through a `ModelWriter`, one
/// layer per weighted node (a Conv or Gemm, with the weightless nodes that
/// follow it in the same layer).
///
/// Convolutions are generated as Conv + BatchNormalization and written with
/// the BatchNorm folded into the conv's weight and bias, as a converter would.
/// Weights are He-uniform so activations keep their scale through deep nets.
///
/// With `writer == nil` the builder only counts: the zoo runs each model once
/// that way to know the total bytes for its progress bar and how many nodes
/// read each value.
///
/// With a `Calibration`, a batch of inputs runs through the graph while it is
/// built, and each BatchNorm takes the mean and variance of the values it
/// normalizes over that batch (as a trained network's running statistics
/// are), instead of made-up ones; a classifier made `fromCalibration` mixes
/// the batch's features. Without calibration a deep net of random weights
/// passes on little of its input: its outputs barely change from one input
/// to the next, and its top class is a near tie decided by rounding.
public final class GraphBuilder {
    /// A batch of inputs run through the graph as it is built.
    public struct Calibration {
        /// For each graph input, a batch: its shape with the first dim the batch size.
        public var inputs: [String: Tensor]
        /// How many nodes read each value (a dry run's `useCounts`), so that a
        /// value's batch is freed after its last reader.
        public var useCounts: [String: Int]

        public init(inputs: [String: Tensor], useCounts: [String: Int]) {
            self.inputs = inputs
            self.useCounts = useCounts
        }
    }

    public let writer: ModelWriter?
    private var random: SeededRandom
    private var shapes: [String: Shape] = [:]
    private var nameCounts: [String: Int] = [:]
    private var layerOpen = false
    /// Weight bytes generated so far, and how many layers.
    public private(set) var weightByteCount = 0
    public private(set) var layerCount = 0
    /// Called after each layer with the weight bytes generated so far.
    public var progress: ((Int) -> Void)?
    /// How many nodes read each value so far.
    public private(set) var useCounts: [String: Int] = [:]
    /// The graph inputs declared so far, in order.
    public private(set) var inputs: [(name: String, shape: Shape)] = []
    private let calibration: Calibration?
    /// Calibration batches of the values still to be read, and how many reads each has left.
    private var batches: [String: Tensor] = [:]
    private var readsLeft: [String: Int] = [:]
    private let workspace = Workspace()

    /// How weights are stored: float32, float16 (half the bytes to read), or
    /// int8 (a quarter: each weight symmetric per output channel, biases float32).
    public let weightDType: DType

    public init(writer: ModelWriter?, seed: UInt64, weightDType: DType = .float32, calibration: Calibration? = nil) {
        self.writer = writer
        self.weightDType = weightDType
        self.random = SeededRandom(seed: seed)
        self.calibration = calibration
    }

    public func shape(of value: String) -> Shape { shapes[value]! }
    public func channels(of value: String) -> Int { shapes[value]![1] }

    public func input(_ name: String, shape: Shape) {
        writer?.addInput(name, shape: shape)
        shapes[name] = shape
        inputs.append((name, shape))
        if let calibration {
            let batch = calibration.inputs[name]!
            precondition(Array(batch.shape.dims.dropFirst()) == Array(shape.dims.dropFirst()), "calibration batch \(batch.shape) for input \(shape)")
            keep(batch, as: name)
        }
    }

    public func output(_ name: String) throws(FormatError) {
        try writer?.addOutput(name)
    }

    public func finish() throws(FormatError) -> Model? {
        try closeLayer()
        return try writer?.finish()
    }

    // MARK: Weighted nodes: each starts a layer.

    /// Conv (+ folded BatchNorm) + activation. `pad` defaults to "same" for odd kernels.
    @discardableResult
    public func conv(_ x: String, _ outChannels: Int, kernel: Int, stride: Int = 1, pad: Int? = nil, dilation: Int = 1,
                     groups: Int = 1, activation: Activation = .relu, batchNorm: Bool = true, gammaScale: Float = 1,
                     residual: String? = nil, name: String = "conv") throws(FormatError) -> String {
        let inChannels = channels(of: x)
        let node = unique(name)
        try beginLayer(node)
        let perGroup = inChannels / groups
        let weightShape: Shape = [outChannels, perGroup, kernel, kernel]
        let padding = pad ?? (dilation * (kernel - 1)) / 2
        let convAttributes: [String: AttributeValue] = [
            "kernel_shape": .ints([kernel, kernel]), "strides": .ints([stride, stride]),
            "pads": .ints([padding, padding, padding, padding]), "dilations": .ints([dilation, dilation]),
            "group": .int(groups),
        ]
        let generate = { [self] () -> (weight: [Float], bias: [Float]) in
            var weight = [Float](repeating: 0, count: weightShape.elementCount)
            var bias = [Float](repeating: 0, count: outChannels)
            let fanIn = Float(perGroup * kernel * kernel)
            weight.withUnsafeMutableBufferPointer { random.fill($0, bound: (6 / fanIn).squareRoot()) }
            if batchNorm {
                // What the BatchNorm normalizes: the conv's output over the calibration batch, when there is one.
                let measured = batches[x].map { input in
                    Self.channelStatistics(Self.run("Conv", convAttributes, [input, Tensor(shape: weightShape, values: weight)], workspace))
                }
                let perChannel = weightShape.elementCount / outChannels
                for channel in 0..<outChannels {
                    let gamma = random.next(in: 0.5, 1.0) * gammaScale
                    let beta = random.next(in: -0.1, 0.1)
                    var mean = random.next(in: -0.1, 0.1)
                    var variance = random.next(in: 0.5, 1.5)
                    if let measured { (mean, variance) = (measured.mean[channel], measured.variance[channel]) }
                    let scale = gamma / (variance + 1e-5).squareRoot()
                    for index in (channel * perChannel)..<((channel + 1) * perChannel) { weight[index] *= scale }
                    bias[channel] = beta - mean * scale
                }
            } else {
                bias.withUnsafeMutableBufferPointer { random.fill($0, bound: 0.05) }
            }
            return (weight, bias)
        }
        var attributes = convAttributes
        attributes.merge(Self.attributes(of: activation)) { $1 }
        // A residual rides in the conv (attribute residual): the Add (then the activation) as the GEMM stores
        // each tile, bit for bit conv, then add(·, residual, activation:). BatchNorm statistics are the conv's own.
        if residual != nil { attributes["residual"] = .int(1) }
        return try weighted(node, op: "Conv", input: x, weightShape: weightShape, attributes: attributes, extraInputs: residual.map { [$0] } ?? [],
                            values: generate)
    }

    /// Gemm (fully connected, weight stored as (outFeatures, inFeatures) with transB = 1).
    /// With `fromCalibration` and a calibration batch, each output's weights
    /// are a mix of the batch items' input features, centred on their mean
    /// (folded into the bias) and scaled to unit RMS. Output k below the batch
    /// size leans on item k (weight 64, against random weights in [-8, 8) for
    /// every item), so it scores how much an input resembles item k; the
    /// other outputs are random mixes. A linear classifier fitted to those
    /// items would lie in the same span, and like it, these outputs follow how
    /// inputs differ rather than what they share.
    @discardableResult
    public func dense(_ x: String, _ outFeatures: Int, activation: Activation = .none, fromCalibration: Bool = false,
                      name: String = "fc") throws(FormatError) -> String {
        let inFeatures = shape(of: x)[1]
        let node = unique(name)
        try beginLayer(node)
        let generate = { [self] () -> (weight: [Float], bias: [Float]) in
            var weight = [Float](repeating: 0, count: outFeatures * inFeatures)
            var bias = [Float](repeating: 0, count: outFeatures)
            weight.withUnsafeMutableBufferPointer { random.fill($0, bound: (6 / Float(inFeatures)).squareRoot()) }
            bias.withUnsafeMutableBufferPointer { random.fill($0, bound: 0.05) }
            if fromCalibration, let input = batches[x] {
                let count = input.shape[0]
                let mean = Self.channelStatistics(input.reshaped([count, inFeatures, 1])).mean
                var deviations = [Float](repeating: 0, count: count * inFeatures)
                for item in 0..<count {
                    let row = input.data + item * inFeatures
                    var squares: Float = 0
                    for feature in 0..<inFeatures {
                        deviations[item * inFeatures + feature] = row[feature] - mean[feature]
                        squares += deviations[item * inFeatures + feature] * deviations[item * inFeatures + feature]
                    }
                    let scale = 1 / ((squares / Float(inFeatures)).squareRoot() + 1e-6) / Float(inFeatures)
                    for feature in 0..<inFeatures { deviations[item * inFeatures + feature] *= scale }
                }
                for output in 0..<outFeatures {
                    var mix = (0..<count).map { _ in random.nextSigned() * 8 }
                    if output < count { mix[output] += 64 }
                    for feature in 0..<inFeatures {
                        var sum: Float = 0
                        for item in 0..<count { sum += mix[item] * deviations[item * inFeatures + feature] }
                        weight[output * inFeatures + feature] = sum
                        bias[output] -= sum * mean[feature]
                    }
                }
            }
            return (weight, bias)
        }
        var attributes: [String: AttributeValue] = ["transB": .int(1)]
        attributes.merge(Self.attributes(of: activation)) { $1 }
        return try weighted(node, op: "Gemm", input: x, weightShape: [outFeatures, inFeatures], attributes: attributes, values: generate)
    }

    // MARK: Weightless nodes: appended to the current layer.

    public func maxPool(_ x: String, kernel: Int, stride: Int, pad: Int = 0) throws(FormatError) -> String {
        try node("MaxPool", [x], ["kernel_shape": .ints([kernel, kernel]), "strides": .ints([stride, stride]), "pads": .ints([pad, pad, pad, pad])], name: "maxpool")
    }

    public func averagePool(_ x: String, kernel: Int, stride: Int, pad: Int = 0) throws(FormatError) -> String {
        try node("AveragePool", [x], ["kernel_shape": .ints([kernel, kernel]), "strides": .ints([stride, stride]), "pads": .ints([pad, pad, pad, pad])], name: "avgpool")
    }

    public func globalAveragePool(_ x: String) throws(FormatError) -> String { try node("GlobalAveragePool", [x], [:], name: "gap") }
    public func flatten(_ x: String) throws(FormatError) -> String { try node("Flatten", [x], ["axis": .int(1)], name: "flatten") }
    public func softmax(_ x: String) throws(FormatError) -> String { try node("Softmax", [x], ["axis": .int(-1)], name: "softmax") }
    public func concat(_ xs: [String]) throws(FormatError) -> String { try node("Concat", xs, ["axis": .int(1)], name: "concat") }

    public func add(_ a: String, _ b: String, activation: Activation = .none) throws(FormatError) -> String {
        try node("Add", [a, b], Self.attributes(of: activation), name: "add")
    }

    public func upsample(_ x: String, scale: Int) throws(FormatError) -> String {
        try node("Upsample", [x], ["mode": .string("nearest"), "scales": .floats([1, 1, Float(scale), Float(scale)])], name: "upsample")
    }

    public func activation(_ x: String, _ activation: Activation) throws(FormatError) -> String {
        let (op, attributes) = Self.standalone(activation)
        return try node(op, [x], attributes, name: op.lowercased())
    }

    // MARK: Plumbing

    static func attributes(of activation: Activation) -> [String: AttributeValue] {
        switch activation {
        case .none: [:]
        case .relu: ["activation": .string("relu")]
        case .leakyRelu(let alpha): ["activation": .string("leaky_relu"), "alpha": .float(alpha)]
        case .sigmoid: ["activation": .string("sigmoid")]
        case .silu: ["activation": .string("silu")]
        case .clip(let low, let high): ["activation": .string("clip"), "min": .float(low), "max": .float(high)]
        }
    }

    static func standalone(_ activation: Activation) -> (String, [String: AttributeValue]) {
        switch activation {
        case .none: ("Identity", [:])
        case .relu: ("Relu", [:])
        case .leakyRelu(let alpha): ("LeakyRelu", ["alpha": .float(alpha)])
        case .sigmoid: ("Sigmoid", [:])
        case .silu: ("Silu", [:])
        case .clip(let low, let high): ("Clip", ["min": .float(low), "max": .float(high)])
        }
    }

    private func unique(_ base: String) -> String {
        let count = nameCounts[base, default: 0]
        nameCounts[base] = count + 1
        return "\(base)\(count)"
    }

    private func beginLayer(_ name: String) throws(FormatError) {
        try closeLayer()
        writer?.beginLayer(name)
        layerOpen = true
        layerCount += 1
    }

    private func closeLayer() throws(FormatError) {
        guard layerOpen else { return }
        try writer?.endLayer()
        layerOpen = false
        progress?(weightByteCount)
    }

    /// A weighted node: its weight (`weightShape`) and bias (one per output
    /// channel, `weightShape[0]`). `values` makes them, and is called only when
    /// writing: the counting dry run generates no weights.
    private func weighted(_ node: String, op: String, input: String, weightShape: Shape, attributes: [String: AttributeValue],
                          extraInputs: [String] = [], values: () -> (weight: [Float], bias: [Float])) throws(FormatError) -> String {
        let weightName = node + ".weight"
        let biasName = node + ".bias"
        let biasShape: Shape = [weightShape[0]]
        shapes[weightName] = weightShape
        shapes[biasName] = biasShape
        if let writer {
            let (weight, bias) = values()
            if calibration != nil {
                keep(Tensor(shape: weightShape, values: weight), as: weightName, reads: 1)
                keep(Tensor(shape: biasShape, values: bias), as: biasName, reads: 1)
            }
            if weightDType == .int8 {
                // Conv (out, in/groups, kH, kW) and Gemm with transB (out, in): output channels are axis 0.
                writer.addWeight(weightName, quantized: weight.withUnsafeBufferPointer { .symmetricInt8($0, shape: weightShape, axis: 0) })
                bias.withUnsafeBufferPointer { writer.addWeight(biasName, shape: biasShape, values: $0) }
            } else {
                weight.withUnsafeBufferPointer { writer.addWeight(weightName, shape: weightShape, values: $0, dtype: weightDType) }
                bias.withUnsafeBufferPointer { writer.addWeight(biasName, shape: biasShape, values: $0, dtype: weightDType) }
            }
        }
        weightByteCount += (weightShape.elementCount + biasShape.elementCount) * MemoryLayout<Float>.stride
        return try add(Manifest.Node(name: node, op: op, inputs: [input, weightName, biasName] + extraInputs, outputs: [node + ".out"],
                                     attributes: attributes))
    }

    private func node(_ op: String, _ inputs: [String], _ attributes: [String: AttributeValue], name: String) throws(FormatError) -> String {
        let node = unique(name)
        if !layerOpen { try beginLayer(node) }
        return try add(Manifest.Node(name: node, op: op, inputs: inputs, outputs: [node + ".out"], attributes: attributes))
    }

    private func add(_ node: Manifest.Node) throws(FormatError) -> String {
        let shape: Shape
        if let writer {
            shape = try writer.addNode(node)
        } else {
            shape = try node.resolve(shapes: shapes).outputShape
        }
        shapes[node.outputs[0]] = shape
        for input in node.inputs { useCounts[input, default: 0] += 1 }
        if calibration != nil {
            let inputs = node.inputs.map { batches[$0]! }
            let output = Self.run(node.op, node.attributes, inputs, workspace)
            for input in node.inputs {
                readsLeft[input]! -= 1
                if readsLeft[input] == 0 { batches[input] = nil }
            }
            keep(output, as: node.outputs[0])
        }
        return node.outputs[0]
    }

    // MARK: Calibration

    /// Holds `batch` as value `name` until its last reader has run.
    private func keep(_ batch: Tensor, as name: String, reads: Int? = nil) {
        let count = reads ?? calibration!.useCounts[name, default: 0]
        guard count > 0 else { return }
        batches[name] = batch
        readsLeft[name] = count
    }

    /// Runs one operator on calibration batches (shapes and attributes were
    /// checked when the node was added, so failures here are programming errors).
    private static func run(_ op: String, _ attributes: [String: AttributeValue], _ inputs: [Tensor], _ workspace: Workspace) -> Tensor {
        do {
            let parsed = try Operator(type: op, attributes: attributes)
            let shapes = inputs.map(\.shape)
            let output = Tensor(zeros: try parsed.outputShape(inputs: shapes))
            workspace.reserve(floatCount: parsed.workspaceFloatCount(inputs: shapes))
            try parsed.execute(inputs: inputs, output: output, workspace: workspace)
            return output
        } catch {
            preconditionFailure("calibrating \(op): \(error)")
        }
    }

    /// Each channel's mean and variance over a (N, C, spatial...) batch, in double precision.
    static func channelStatistics(_ batch: Tensor) -> (mean: [Float], variance: [Float]) {
        let (count, channels) = (batch.shape[0], batch.shape[1])
        let plane = batch.elementCount / (count * channels)
        var mean = [Float](repeating: 0, count: channels)
        var variance = [Float](repeating: 0, count: channels)
        for channel in 0..<channels {
            var sum = 0.0
            var squares = 0.0
            for item in 0..<count {
                let start = batch.data + (item * channels + channel) * plane
                for index in 0..<plane {
                    let value = Double(start[index])
                    sum += value
                    squares += value * value
                }
            }
            let n = Double(count * plane)
            mean[channel] = Float(sum / n)
            variance[channel] = Float(max(squares / n - (sum / n) * (sum / n), 0))
        }
        return (mean, variance)
    }
}
