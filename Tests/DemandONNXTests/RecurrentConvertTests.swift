import DemandFormat
import DemandLayer
@testable import DemandONNX
import DemandTensor
import DemandTestSupport
import Foundation
import Testing

/// LSTM and GRU through the converter and a session: refusals of what the
/// runtime does not implement, layout 1 against layout 0, and a stacked
/// LSTM → GRU → MatMul fixture streamed in a budget below its weights.
@Suite struct RecurrentConvertTests {
    static let (steps, batch, inputSize, hidden) = (4, 2, 3, 5)

    /// x → one `op` node named 'enc' (bidirectional, every input given) → Y, Y_h (and Y_c).
    static func model(_ op: String = "LSTM", layout: Int = 0, _ attributes: [String: ONNXBuilder.Attr] = [:]) -> ONNXBuilder {
        let gates = op == "LSTM" ? 4 : 3
        var b = ONNXBuilder(opset: 14)
        let batchFirst = layout == 1
        b.input("x", batchFirst ? [batch, steps, inputSize] : [steps, batch, inputSize])
        b.input("h0", batchFirst ? [batch, 2, hidden] : [2, batch, hidden])
        b.weight("w", [2, gates * hidden, inputSize])
        b.weight("r", [2, gates * hidden, hidden])
        b.weight("b", [2, 2 * gates * hidden])
        b.initializer("lengths", [batch], ints: [Int64(steps), 2])
        var inputs = ["x", "w", "r", "b", "lengths", "h0"]
        var outputs = ["y", "y_h"]
        if op == "LSTM" {
            b.input("c0", batchFirst ? [batch, 2, hidden] : [2, batch, hidden])
            inputs.append("c0")
            outputs.append("y_c")
        }
        var all: [String: ONNXBuilder.Attr] = ["hidden_size": .i(Int64(hidden)), "direction": .s("bidirectional")]
        if layout != 0 { all["layout"] = .i(Int64(layout)) }
        all.merge(attributes) { $1 }
        b.node(op, inputs, outputs, name: "enc", all)
        for output in outputs { b.output(output) }
        return b
    }

    func expectRefusal(_ builder: ONNXBuilder, name: String = #function, _ check: (ImportError) -> Void) throws {
        let directory = Scratch.directory(name)
        defer { Scratch.remove(directory) }
        let source = try builder.write(to: directory)
        do {
            try Converter.convert(modelPath: source, to: directory + "/out.dlm")
            Issue.record("the convert succeeded")
        } catch {
            check(error)
        }
        #expect(leftovers(in: directory) == [], "nothing is left behind")
    }

    @Test func nonDefaultActivationsAreRefusedNamingNodeAndAttribute() throws {
        try expectRefusal(Self.model("LSTM", ["activations": .strings(["Sigmoid", "Relu", "Tanh", "Sigmoid", "Tanh", "Tanh"])])) { error in
            #expect(error.code == .unsupported, "\(error)")
            #expect(error.node == "node 'enc' (LSTM)", "\(error)")
            for fragment in ["activations", "Relu", "Sigmoid, Tanh, Tanh per direction"] {
                #expect(error.message.contains(fragment), "names \(fragment): \(error)")
            }
        }
        // The defaults spelled out (in any case) are accepted.
        let spelled = Self.model("GRU", ["activations": .strings(["sigmoid", "tanh", "Sigmoid", "Tanh"])])
        let directory = Scratch.directory("recurrent-spelled-defaults")
        defer { Scratch.remove(directory) }
        try Converter.convert(modelPath: try spelled.write(to: directory), to: directory + "/out.dlm")
    }

    @Test func activationParametersAndUnknownAttributesAreRefused() throws {
        try expectRefusal(Self.model("GRU", ["activation_alpha": .floats([0.5])])) { error in
            #expect(error.code == .unsupported && error.node == "node 'enc' (GRU)", "\(error)")
            #expect(error.message.contains("'activation_alpha'"), "\(error)")
        }
        try expectRefusal(Self.model("LSTM", ["peephole_mode": .i(1)])) { error in
            #expect(error.code == .unsupported && error.node == "node 'enc' (LSTM)", "\(error)")
            #expect(error.message.contains("'peephole_mode'") && error.message.contains("hidden_size"), "\(error)")
        }
        try expectRefusal(Self.model("GRU", ["direction": .s("sideways")])) { error in
            #expect(error.node == "node 'enc' (GRU)" && error.message.contains("\"sideways\""), "\(error)")
        }
        try expectRefusal(Self.model("LSTM", layout: 2)) { error in
            #expect(error.node == "node 'enc' (LSTM)" && error.message.contains("layout is 2"), "\(error)")
        }
    }

    @Test func weightOfTheWrongShapeIsNamed() throws {
        var b = Self.model("GRU")
        b.model.graph.initializer.removeAll { $0.name == "r" }
        b.weight("r", [2, 3 * Self.hidden, Self.hidden + 1])
        try expectRefusal(b) { error in
            #expect(error.node == "node 'enc' (GRU)", "\(error)")
            #expect(error.message.contains("GRU R is 2x15x6") && error.message.contains("must be 2x15x5"), "\(error)")
        }
    }

    /// Layout 1 (batch first) is converted to layout 0 with Transposes: the
    /// same weights and inputs give the same outputs, permuted.
    @Test(arguments: ["LSTM", "GRU"])
    func layoutOneMatchesLayoutZero(op: String) throws {
        var random = ONNXBuilder(seed: 11)
        func values(_ shape: Shape) -> Tensor { Tensor(shape: shape, values: random.randomValues(shape.elementCount)) }
        let x = values([Self.steps, Self.batch, Self.inputSize])
        let h0 = values([2, Self.batch, Self.hidden])
        let c0 = values([2, Self.batch, Self.hidden])
        var results: [[String: Tensor]] = []
        for layout in [0, 1] {
            let directory = Scratch.directory("recurrent-layout-\(op)-\(layout)")
            defer { Scratch.remove(directory) }
            let summary = try Converter.convert(modelPath: try Self.model(op, layout: layout).write(to: directory), to: directory + "/out.dlm")
            var inputs = ["x": x, "h0": h0, "c0": c0]
            if layout == 1 {
                inputs = ["x": permuted(x, [1, 0, 2]), "h0": permuted(h0, [1, 0, 2]), "c0": permuted(c0, [1, 0, 2])]
            }
            if op == "GRU" { inputs["c0"] = nil }
            results.append(try run(summary.model, inputs))
        }
        let pairs: [(String, [Int])] = [("y", [2, 0, 1, 3]), ("y_h", [1, 0, 2])] + (op == "LSTM" ? [("y_c", [1, 0, 2])] : [])
        for (name, perm) in pairs {
            let expected = permuted(try #require(results[0][name]), perm)
            let actual = try #require(results[1][name])
            #expect(actual.shape == expected.shape, "\(name): \(actual.shape) vs \(expected.shape)")
            guard actual.shape == expected.shape else { continue }
            let closeness = Closeness(actual: actual, expected: expected)
            #expect(closeness.passes(tolerance: 1e-6), "\(op) \(name): \(closeness.describe(tolerance: 1e-6))")
        }
        // Row 1 is 2 steps long: its Y past step 2 is zero in both layouts.
        let y = try #require(results[1]["y"])
        #expect((0..<(2 * 2 * Self.hidden)).allSatisfy { y.data[Self.steps * 2 * Self.hidden + 2 * 2 * Self.hidden + $0] == 0 })
    }

    /// The stacked fixture (bidirectional LSTM, GRU, MatMul: three layers)
    /// streamed through the pipelined policy in a budget below its weights
    /// matches onnxruntime.
    @Test func stackedRecurrentModelStreamsInASmallBudget() throws {
        let directory = Scratch.packageRoot + "/fixtures/onnx/ops/recurrent_stack_lstm_gru"
        let scratch = Scratch.directory("recurrent-stack")
        defer { Scratch.remove(scratch) }
        let summary = try Converter.convert(modelPath: directory + "/model.onnx", to: scratch + "/out.dlm")
        let model = summary.model
        #expect(model.layers.count == 3, "LSTM, GRU and MatMul each open a layer")
        let budget = model.largestLayerByteCount + 4096
        #expect(budget < model.weightByteCount)
        let session = try Session(model: model, options: .init(policy: .pipelined, budgetBytes: budget, threadCount: 1))
        defer { session.close() }
        let x = try Npy.read(path: directory + "/input_0.npy").tensor
        let expected = try Npy.read(path: directory + "/output_0.npy").tensor
        for _ in 0..<2 {
            let outputs = try session.run(["x": x])
            let actual = try #require(outputs.values.first)
            #expect(actual.shape == expected.shape)
            guard actual.shape == expected.shape else { continue }
            let closeness = Closeness(actual: actual, expected: expected)
            #expect(closeness.passes(tolerance: 1e-4), "\(closeness.describe(tolerance: 1e-4))")
            let stats = try #require(session.lastStats)
            #expect(stats.peakWeightBytes <= budget && stats.peakWeightBytes < model.weightByteCount,
                    "peak \(stats.peakWeightBytes) bytes, budget \(budget), weights \(model.weightByteCount)")
        }
    }
}

/// `tensor` with its axes permuted: output axis i is input axis perm[i].
private func permuted(_ tensor: Tensor, _ perm: [Int]) -> Tensor {
    let op = Operator.transpose(perm: perm)
    let output = Tensor(zeros: try! op.outputShape(inputs: [tensor.shape]))
    try! op.execute(inputs: [tensor], output: output, workspace: Workspace())
    return output
}
