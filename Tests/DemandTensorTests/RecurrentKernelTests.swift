@testable import DemandTensor
import DemandTestSupport
import DemandZoo
import Testing

/// The LSTM and GRU kernel against `Reference.recurrent` (Double, one unit at
/// a time) over every direction and option, with batch 1 (the GEMV on R as
/// stored) and batch 3 (the GEMM on Rᵀ), on the best GEMM path and on
/// OpenBLAS; and the run-time and shape errors, which name what is wrong.
struct RecurrentKernelTests {
    struct Variant: CustomTestStringConvertible, Sendable {
        var kind: RecurrentParameters.Kind
        var direction: RecurrentParameters.Direction
        var batch: Int
        var lengths: [Float]?
        var states = false
        var peepholes = false
        var clip: Float?
        var inputForget = false
        var linearBeforeReset = false

        var testDescription: String {
            "\(kind.rawValue) \(direction.rawValue) batch \(batch)" + (lengths.map { " lengths \($0.map { Int($0) })" } ?? "")
                + (states ? " states" : "") + (peepholes ? " peepholes" : "") + (clip.map { " clip \($0)" } ?? "")
                + (inputForget ? " input_forget" : "") + (linearBeforeReset ? " linear_before_reset" : "")
        }
    }

    static let variants: [Variant] = {
        var list: [Variant] = []
        for kind in [RecurrentParameters.Kind.lstm, .gru] {
            for direction in RecurrentParameters.Direction.allCases {
                list.append(Variant(kind: kind, direction: direction, batch: 1, states: true, linearBeforeReset: kind == .gru))
                list.append(Variant(kind: kind, direction: direction, batch: 3, lengths: [5, 2, 0], states: true))
                list.append(Variant(kind: kind, direction: direction, batch: 3, lengths: [3, 3, 3], linearBeforeReset: kind == .gru))
            }
            list.append(Variant(kind: kind, direction: .bidirectional, batch: 2, lengths: [4, 1], states: true,
                                peepholes: kind == .lstm, clip: 0.3, inputForget: kind == .lstm, linearBeforeReset: kind == .gru))
        }
        return list
    }()

    static let (steps, inputSize, hidden) = (5, 7, 9)

    func inputs(_ variant: Variant, _ parameters: RecurrentParameters) -> [Tensor] {
        var random = SeededRandom(name: variant.testDescription)
        let (d, rows) = (parameters.directionCount, parameters.gateCount * Self.hidden)
        var inputs = [random.tensor([Self.steps, variant.batch, Self.inputSize], scale: 1),
                      random.tensor([d, rows, Self.inputSize], scale: 0.5),
                      random.tensor([d, rows, Self.hidden], scale: 0.5),
                      random.tensor([d, 2 * rows], scale: 0.5),
                      Tensor(shape: [variant.batch], values: variant.lengths ?? .init(repeating: Float(Self.steps), count: variant.batch))]
        if variant.states || variant.peepholes {
            inputs.append(random.tensor([d, variant.batch, Self.hidden], scale: 1))
            if variant.kind == .lstm { inputs.append(random.tensor([d, variant.batch, Self.hidden], scale: 1)) }
        }
        if variant.peepholes { inputs.append(random.tensor([d, 3 * Self.hidden], scale: 0.5)) }
        return inputs
    }

    @Test(arguments: variants)
    func kernelMatchesReference(variant: Variant) throws {
        let parameters = RecurrentParameters(kind: variant.kind, hiddenSize: Self.hidden, direction: variant.direction, clip: variant.clip,
                                             inputForget: variant.inputForget, linearBeforeReset: variant.linearBeforeReset)
        let op = Operator.recurrent(parameters)
        let inputs = inputs(variant, parameters)
        let shape = try op.outputShape(inputs: inputs.map(\.shape))
        #expect(shape == [Self.steps + parameters.stateCount, parameters.directionCount, variant.batch, Self.hidden])
        let expected = Tensor(zeros: shape)
        Reference.execute(op, inputs: inputs, output: expected)
        for path in [BLAS.Path.best, .openBLAS] {
            let workspace = Workspace(floatCount: op.workspaceFloatCount(inputs: inputs.map(\.shape)))
            workspace.gemmPath = path
            let actual = Tensor(zeros: shape)
            actual.buffer.update(repeating: .nan)   // prior contents are ignored
            try op.execute(inputs: inputs, output: actual, workspace: workspace)
            let closeness = Closeness(actual: actual, expected: expected)
            #expect(closeness.passes(tolerance: 2e-6), "\(path): \(closeness.describe(tolerance: 2e-6))")
            #expect(workspace.allocationCount == 1, "the reserved workspace was enough")
        }
        // A batch entry of length 0 writes no Y and ends with zero states (onnxruntime's answer).
        if let lengths = variant.lengths, let empty = lengths.firstIndex(of: 0) {
            let plane = variant.batch * Self.hidden
            for step in 0..<Self.steps {
                for direction in 0..<parameters.directionCount {
                    let y = expected.data + (step * parameters.directionCount + direction) * plane + empty * Self.hidden
                    #expect((0..<Self.hidden).allSatisfy { y[$0] == 0 })
                }
            }
            for state in 0..<parameters.stateCount {
                let h = expected.data + (Self.steps + state) * parameters.directionCount * plane + empty * Self.hidden
                #expect((0..<Self.hidden).allSatisfy { h[$0] == 0 })
            }
        }
    }

    @Test func sequenceLengthOutOfRangeIsAnError() throws {
        let op = try Operator(type: "GRU", attributes: ["hidden_size": .int(2)])
        var random = SeededRandom(seed: 3)
        for bad: Float in [6, -1, 1.5] {
            let inputs = [random.tensor([5, 2, 3], scale: 1), random.tensor([1, 6, 3], scale: 1), random.tensor([1, 6, 2], scale: 1),
                          Tensor(zeros: [1, 12]), Tensor(shape: [2], values: [2, bad])]
            let output = Tensor(zeros: try op.outputShape(inputs: inputs.map(\.shape)))
            #expect {
                try op.execute(inputs: inputs, output: output, workspace: Workspace())
            } throws: { error in
                let error = error as? OperatorError
                return error?.code == .indexOutOfRange && error?.message.contains("sequence_lens[1] is \(bad)") == true
                    && error?.message.contains("0...5") == true
            }
        }
    }

    @Test func attributeAndShapeErrorsNameWhatIsWrong() throws {
        func message(_ type: String, _ attributes: [String: AttributeValue]) -> String? {
            do { _ = try Operator(type: type, attributes: attributes); return nil } catch { return error.message }
        }
        #expect(message("LSTM", [:])?.contains("hidden_size") == true)
        #expect(message("GRU", ["hidden_size": .int(0)])?.contains("hidden_size is 0") == true)
        #expect(message("LSTM", ["hidden_size": .int(4), "layout": .int(1)])?.contains("layout 1 is not supported") == true)
        #expect(message("LSTM", ["hidden_size": .int(4), "linear_before_reset": .int(1)])?.contains("'linear_before_reset'") == true)
        #expect(message("GRU", ["hidden_size": .int(4), "input_forget": .int(1)])?.contains("'input_forget'") == true)
        #expect(message("GRU", ["hidden_size": .int(4), "clip": .float(-1)])?.contains("clip is -1") == true)
        #expect(message("LSTM", ["hidden_size": .int(4), "direction": .string("both")])?.contains("\"bidirectional\"") == true)

        let lstm = try Operator(type: "LSTM", attributes: ["hidden_size": .int(4), "direction": .string("bidirectional")])
        let x: Shape = [3, 2, 5]
        let good: [Shape] = [x, [2, 16, 5], [2, 16, 4], [2, 32], [2], [2, 2, 4], [2, 2, 4], [2, 12]]
        #expect(try lstm.outputShape(inputs: good) == [5, 2, 2, 4])
        for (index, name) in ["W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"].enumerated() {
            var shapes = good
            shapes[index + 1] = Shape(shapes[index + 1].dims.map { $0 + 1 })
            do {
                _ = try lstm.outputShape(inputs: shapes)
                Issue.record("\(name) of the wrong shape was accepted")
            } catch {
                #expect(error.message.contains("LSTM \(name) is \(shapes[index + 1])") && error.message.contains("must be \(good[index + 1])"),
                        "\(error.message)")
            }
        }
        #expect(throws: OperatorError.self) { try lstm.outputShape(inputs: good + [[1]]) }
        #expect(throws: OperatorError.self) { try lstm.outputShape(inputs: [[3, 10], [2, 16, 5], [2, 16, 4]]) }
    }
}
