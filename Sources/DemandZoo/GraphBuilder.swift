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
/// that way to know the total bytes for its progress bar.
public final class GraphBuilder {
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

    /// How weights are stored: float32, float16 (half the bytes to read), or
    /// int8 (a quarter: each weight symmetric per output channel, biases float32).
    public let weightDType: DType

    public init(writer: ModelWriter?, seed: UInt64, weightDType: DType = .float32) {
        self.writer = writer
        self.weightDType = weightDType
        self.random = SeededRandom(seed: seed)
    }

    public func shape(of value: String) -> Shape { shapes[value]! }
    public func channels(of value: String) -> Int { shapes[value]![1] }

    public func input(_ name: String, shape: Shape) {
        writer?.addInput(name, shape: shape)
        shapes[name] = shape
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
                     name: String = "conv") throws(FormatError) -> String {
        let inChannels = channels(of: x)
        let node = unique(name)
        try beginLayer(node)
        let perGroup = inChannels / groups
        let weightShape: Shape = [outChannels, perGroup, kernel, kernel]
        let generate = { [self] () -> (weight: [Float], bias: [Float]) in
            var weight = [Float](repeating: 0, count: weightShape.elementCount)
            var bias = [Float](repeating: 0, count: outChannels)
            let fanIn = Float(perGroup * kernel * kernel)
            weight.withUnsafeMutableBufferPointer { random.fill($0, bound: (6 / fanIn).squareRoot()) }
            if batchNorm {
                let perChannel = weightShape.elementCount / outChannels
                for channel in 0..<outChannels {
                    let gamma = random.next(in: 0.5, 1.0) * gammaScale
                    let beta = random.next(in: -0.1, 0.1)
                    let mean = random.next(in: -0.1, 0.1)
                    let variance = random.next(in: 0.5, 1.5)
                    let scale = gamma / (variance + 1e-5).squareRoot()
                    for index in (channel * perChannel)..<((channel + 1) * perChannel) { weight[index] *= scale }
                    bias[channel] = beta - mean * scale
                }
            } else {
                bias.withUnsafeMutableBufferPointer { random.fill($0, bound: 0.05) }
            }
            return (weight, bias)
        }
        let padding = pad ?? (dilation * (kernel - 1)) / 2
        var attributes: [String: AttributeValue] = [
            "kernel_shape": .ints([kernel, kernel]), "strides": .ints([stride, stride]),
            "pads": .ints([padding, padding, padding, padding]), "dilations": .ints([dilation, dilation]),
            "group": .int(groups),
        ]
        attributes.merge(Self.attributes(of: activation)) { $1 }
        return try weighted(node, op: "Conv", input: x, weightShape: weightShape, attributes: attributes, values: generate)
    }

    /// Gemm (fully connected, weight stored as (outFeatures, inFeatures) with transB = 1).
    @discardableResult
    public func dense(_ x: String, _ outFeatures: Int, activation: Activation = .none, name: String = "fc") throws(FormatError) -> String {
        let inFeatures = shape(of: x)[1]
        let node = unique(name)
        try beginLayer(node)
        let generate = { [self] () -> (weight: [Float], bias: [Float]) in
            var weight = [Float](repeating: 0, count: outFeatures * inFeatures)
            var bias = [Float](repeating: 0, count: outFeatures)
            weight.withUnsafeMutableBufferPointer { random.fill($0, bound: (6 / Float(inFeatures)).squareRoot()) }
            bias.withUnsafeMutableBufferPointer { random.fill($0, bound: 0.05) }
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
    private func weighted(_ node: String, op: String, input: String, weightShape: Shape,
                          attributes: [String: AttributeValue], values: () -> (weight: [Float], bias: [Float])) throws(FormatError) -> String {
        let weightName = node + ".weight"
        let biasName = node + ".bias"
        let biasShape: Shape = [weightShape[0]]
        shapes[weightName] = weightShape
        shapes[biasName] = biasShape
        if let writer {
            let (weight, bias) = values()
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
        return try add(Manifest.Node(name: node, op: op, inputs: [input, weightName, biasName], outputs: [node + ".out"], attributes: attributes))
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
        return node.outputs[0]
    }
}
