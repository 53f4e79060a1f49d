import DemandFormat
@testable import DemandLayer
import DemandTensor
import DemandTestSupport
import Testing

/// A failure that depends on the input values (a Gather index out of range)
/// ends that inference with an error naming the layer and the node; the
/// session stays usable.
@Suite struct OperatorFailureTests {
    /// One layer: a 3x2 table and `output = Gather(table, tokens)`.
    private func gatherModel() throws -> Model {
        let writer = try ModelWriter(destination: Scratch.directory() + "/gather.dlm", name: "gather")
        writer.addInput("tokens", shape: [2])
        writer.beginLayer("embedding")
        let table: [Float] = [1, 2, 3, 4, 5, 6]
        table.withUnsafeBufferPointer { writer.addWeight("table", shape: [3, 2], values: $0) }
        try writer.addNode(Manifest.Node(name: "lookup", op: "Gather", inputs: ["table", "tokens"], outputs: ["output"]))
        try writer.endLayer()
        try writer.addOutput("output")
        return try writer.finish()
    }

    @Test(arguments: [Policy.pipelined, .bulk])
    func gatherIndexOutOfRangeFailsTheInferenceOnly(policy: Policy) throws {
        let session = try Session(model: try gatherModel(), options: .init(policy: policy))
        let good = try session.run(["tokens": Tensor(shape: [2], values: [2, -3])])
        #expect(good["output"]?.array == [5, 6, 1, 2])
        do {
            _ = try session.run(["tokens": Tensor(shape: [2], values: [0, 5])])
            Issue.record("an out-of-range index should fail the inference")
        } catch {
            #expect(error.code == .operatorFailed)
            for fragment in ["layer 0 'embedding'", "node 'lookup' (Gather)", "index 5.0", "-3..<3"] {
                #expect(error.description.contains(fragment), "'\(error)' should mention '\(fragment)'")
            }
        }
        #expect(try session.run(["tokens": Tensor(shape: [2], values: [1, 1])])["output"]?.array == [3, 4, 3, 4])
    }
}
