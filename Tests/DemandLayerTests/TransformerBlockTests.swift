import DemandFormat
import DemandLayer
import DemandTensor
import DemandTestSupport
import DemandZoo
import Testing

/// A small transformer encoder (embedding Gather, LayerNormalization,
/// MatMul, Reshape/Transpose into heads, Softmax attention with a Where
/// mask, GELU feed-forward, residual Adds) streamed through a session, against
/// the plain graph reference: the added operators work on rank-3 and rank-4
/// activations end to end, under every loading policy.
@Suite struct TransformerBlockTests {
    static let (tokens, width, heads, vocabulary) = (8, 16, 2, 20)

    /// Writes the model; weights are seeded random.
    static func makeModel() throws -> Model {
        let writer = try ModelWriter(destination: Scratch.directory("transformer") + "/encoder.dlm", name: "encoder")
        var random = SeededRandom(seed: 42)
        func weight(_ name: String, _ shape: Shape, scale: Float = 0.5) {
            var values = [Float](repeating: 0, count: shape.elementCount)
            values.withUnsafeMutableBufferPointer { random.fill($0, bound: scale) }
            values.withUnsafeBufferPointer { writer.addWeight(name, shape: shape, values: $0) }
        }
        func node(_ name: String, _ op: String, _ inputs: [String], _ attributes: [String: AttributeValue] = [:]) throws {
            try writer.addNode(Manifest.Node(name: name, op: op, inputs: inputs, outputs: [name], attributes: attributes))
        }
        let (t, d, h) = (tokens, width, heads)
        writer.addInput("ids", shape: [1, t])
        writer.addInput("mask", shape: [1, t])

        writer.beginLayer("embed")
        weight("table", [vocabulary, d])
        try node("embedded", "Gather", ["table", "ids"])
        try writer.endLayer()

        writer.beginLayer("attention")
        for name in ["q", "k", "v", "o"] { weight("w\(name)", [d, d]) }
        weight("gamma", [d], scale: 1)
        weight("beta", [d])
        weight("scale", [1], scale: 1)
        weight("negative", [1], scale: 1)
        try node("ln", "LayerNormalization", ["embedded", "gamma", "beta"], ["epsilon": .float(1e-5)])
        for name in ["q", "k", "v"] {
            try node(name, "MatMul", ["ln", "w\(name)"])
            try node("\(name)4", "Reshape", [name], ["shape": .ints([0, 0, h, d / h])])
        }
        try node("qh", "Transpose", ["q4"], ["perm": .ints([0, 2, 1, 3])])
        try node("kt", "Transpose", ["k4"], ["perm": .ints([0, 2, 3, 1])])
        try node("vh", "Transpose", ["v4"], ["perm": .ints([0, 2, 1, 3])])
        try node("scores", "MatMul", ["qh", "kt"])
        try node("scaled", "Mul", ["scores", "scale"])
        try node("mask4", "Unsqueeze", ["mask"], ["axes": .ints([1, 2])])
        try node("masked", "Where", ["mask4", "scaled", "negative"])
        try node("probabilities", "Softmax", ["masked"], ["axis": .int(-1)])
        try node("context", "MatMul", ["probabilities", "vh"])
        try node("merged", "Transpose", ["context"], ["perm": .ints([0, 2, 1, 3])])
        try node("flat", "Reshape", ["merged"], ["shape": .ints([0, 0, -1])])
        try node("projected", "MatMul", ["flat", "wo"])
        try node("residual", "Add", ["projected", "embedded"])
        try writer.endLayer()

        writer.beginLayer("feedforward")
        weight("w1", [d, 2 * d])
        weight("b1", [2 * d])
        weight("w2", [2 * d, d])
        weight("gamma2", [d], scale: 1)
        try node("ln2", "LayerNormalization", ["residual", "gamma2"])
        try node("hidden", "MatMul", ["ln2", "w1"])
        try node("biased", "Add", ["hidden", "b1"])
        try node("activated", "Gelu", ["biased"])
        try node("down", "MatMul", ["activated", "w2"])
        try node("sum", "Sum", ["down", "residual"])
        try node("pooled", "ReduceMean", ["sum"], ["axes": .ints([1]), "keepdims": .int(0)])
        try writer.endLayer()

        try writer.addOutput("sum")
        try writer.addOutput("pooled")
        return try writer.finish()
    }

    static func inputs() -> [String: Tensor] {
        let ids = (0..<tokens).map { Float(($0 * 7 + 3) % vocabulary) }
        let mask = (0..<tokens).map { Float($0 < tokens - 2 ? 1 : 0) }
        return ["ids": Tensor(shape: [1, tokens], values: ids), "mask": Tensor(shape: [1, tokens], values: mask)]
    }

    @Test(arguments: [Policy.pipelined, .linear, .bulk, .deepeye, .partial, .resident])
    func sessionMatchesTheGraphReference(policy: Policy) throws {
        let model = try Self.makeModel()
        let session = try Session(model: model, options: .init(policy: policy))
        let outputs = try session.run(Self.inputs())
        let expected = try GraphReference.run(model, inputs: Self.inputs())
        for name in ["sum", "pooled"] {
            let closeness = Closeness(actual: try #require(outputs[name]), expected: try #require(expected[name]))
            #expect(closeness.passes(tolerance: 1e-4), "\(name): \(closeness.describe(tolerance: 1e-4))")
        }
        #expect(outputs["pooled"]?.shape == [1, Self.width])
        #expect(bitIdentical(try session.run(Self.inputs()), outputs), "a second run differs")
    }
}
