import DemandFormat
import DemandLayer
@testable import DemandONNX
import DemandTensor
import DemandTestSupport
import Foundation
import Testing

/// Graphs whose nodes are not listed in topological order: converted as if
/// they were (the order ONNX requires, which onnxruntime does not insist on),
/// and a real cycle refused naming its nodes.
@Suite struct NodeOrderTests {
    /// x → fc (Gemm) → relu → mul (relu × relu) → y, with the nodes listed as `order` gives them.
    func model(order: [Int]) -> ONNXBuilder {
        var b = ONNXBuilder()
        b.input("x", [1, 16])
        _ = b.weight("w", [64, 16])
        var nodes: [(String, [String], [String], String, [String: ONNXBuilder.Attr])] = [
            ("Gemm", ["x", "w"], ["h"], "fc", ["transB": .i(1)]),
            ("Relu", ["h"], ["r"], "relu", [:]),
            ("Mul", ["r", "r"], ["y"], "mul", [:]),
        ]
        nodes = order.map { nodes[$0] }
        for (op, inputs, outputs, name, attributes) in nodes { b.node(op, inputs, outputs, name: name, attributes) }
        b.output("y")
        return b
    }

    var input: [String: Tensor] { ["x": Tensor(shape: [1, 16], values: (0..<16).map { Float($0) / 8 - 1 })] }

    @Test func nodesListedOutOfOrderConvertAsIfInOrder() throws {
        let (_, ordered) = try convert(model(order: [0, 1, 2]), name: "ordered")
        let reference = try Model.open(ordered + "/out.dlm")
        let expected = try run(reference, input)
        for order in [[2, 1, 0], [1, 2, 0], [2, 0, 1]] {
            let (_, directory) = try convert(model(order: order), name: "order-\(order.map(String.init).joined())")
            let converted = try Model.open(directory + "/out.dlm")
            #expect(converted.layers.flatMap { $0.nodes.map(\.op) } == reference.layers.flatMap { $0.nodes.map(\.op) }, "order \(order)")
            let outputs = try run(converted, input)
            #expect(outputs["y"]!.array == expected["y"]!.array, "order \(order): the same output bit for bit")
        }
    }

    @Test func aFileAlreadyInOrderKeepsItsOrder() throws {
        let nodes = (0..<5).map { SourceGraph.Node(name: "n\($0)", op: "Relu", domain: "", inputs: ["x"], outputs: ["o\($0)"], attributes: [:]) }
        #expect(try SourceGraph.topologicallySorted(nodes).map(\.name) == ["n0", "n1", "n2", "n3", "n4"], "independent nodes stay in file order")
        let chain = [("c", "b"), ("a", "x"), ("b", "a")].map { SourceGraph.Node(name: $0.0, op: "Relu", domain: "", inputs: [$0.1], outputs: [$0.0], attributes: [:]) }
        #expect(try SourceGraph.topologicallySorted(chain).map(\.name) == ["a", "b", "c"])
    }

    @Test func aCycleIsRefusedNamingItsNodes() throws {
        var b = ONNXBuilder()
        b.input("x", [1, 4])
        b.node("Add", ["x", "c"], ["a"], name: "first")
        b.node("Relu", ["a"], ["b"], name: "second")
        b.node("Neg", ["b"], ["c"], name: "third")
        b.output("c")
        let directory = Scratch.directory()
        let source = try b.write(to: directory)
        do {
            try Converter.convert(modelPath: source, to: directory + "/out.dlm")
            Issue.record("a cyclic graph converted")
        } catch {
            #expect(error.code == .invalidModel)
            #expect(error.message.contains("cycle") && error.message.contains("'first'") && error.message.contains("'second'") && error.message.contains("'third'"), "\(error.message)")
        }
        #expect(leftovers(in: directory) == [])
        let selfLoop = [SourceGraph.Node(name: "loop", op: "Relu", domain: "", inputs: ["o"], outputs: ["o"], attributes: [:])]
        #expect(throws: ImportError.self) { try SourceGraph.topologicallySorted(selfLoop) }
    }
}
