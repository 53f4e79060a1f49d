import DemandFormat
@testable import DemandONNX
import DemandTestSupport
import Foundation
import Testing

/// The importer's side of TopK, Einsum, OneHot, ScatterND, NonZero and If:
/// what it refuses names the op, the node and what would work instead, and
/// leaves no output behind. (Their values are checked against onnxruntime by
/// the fixtures, FixtureCaseTests.)
@Suite struct SelectionConvertTests {
    func expectFailure(_ builder: ONNXBuilder, name: String = #function, _ fragments: String...,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let directory = Scratch.directory(name)
        defer { Scratch.remove(directory) }
        let source = try builder.write(to: directory)
        do {
            try Converter.convert(modelPath: source, to: directory + "/out.dlm", options: .init())
            Issue.record("the convert succeeded", sourceLocation: sourceLocation)
        } catch {
            for fragment in fragments {
                #expect(error.description.contains(fragment), "'\(error)' should mention '\(fragment)'", sourceLocation: sourceLocation)
            }
        }
        #expect(leftovers(in: directory) == [], "nothing is left behind", sourceLocation: sourceLocation)
    }

    @Test func topKWithRunTimeKIsRefused() throws {
        var b = ONNXBuilder(opset: 11)
        b.input("x", [2, 6])
        b.input("k", [1], type: 7)
        b.node("TopK", ["x", "k"], ["values", "indices"], name: "pick")
        b.output("values")
        try expectFailure(b, "node 'pick' (TopK)", "input 1 (K) is computed at run time")
    }

    @Test func topKWithKBeyondTheAxisNamesBoth() throws {
        var b = ONNXBuilder(opset: 11)
        b.input("x", [2, 6])
        b.initializer("k", [1], ints: [7])
        b.node("TopK", ["x", "k"], ["values", "indices"], name: "pick", ["axis": .i(1)])
        b.output("indices")
        try expectFailure(b, "node 'pick/indices' (TopK)", "k is 7", "1...6")
    }

    func convertedOps(_ builder: ONNXBuilder, name: String = #function) throws -> [String] {
        let directory = Scratch.directory(name)
        defer { Scratch.remove(directory) }
        let summary = try Converter.convert(modelPath: try builder.write(to: directory), to: directory + "/out.dlm", options: .init())
        return summary.model.layers.flatMap { $0.nodes.map(\.op) }
    }

    func einsumModel(_ equation: String, _ shapes: [[Int]]) -> ONNXBuilder {
        var b = ONNXBuilder(opset: 12)
        for (index, shape) in shapes.enumerated() { b.input("x\(index)", shape) }
        b.node("Einsum", shapes.indices.map { "x\($0)" }, ["y"], name: "mix", ["equation": .s(equation)])
        b.output("y")
        return b
    }

    /// The common patterns become the runtime's own ops, no more of them than needed.
    @Test func einsumLowersToExistingOps() throws {
        #expect(try convertedOps(einsumModel("ij,jk->ik", [[3, 4], [4, 5]])) == ["MatMul"])
        #expect(try convertedOps(einsumModel("bhid,bhjd->bhij", [[2, 3, 4, 8], [2, 3, 5, 8]]))
                == ["Transpose", "MatMul"])
        #expect(try convertedOps(einsumModel("bhij,bhjd->bhid", [[2, 3, 4, 5], [2, 3, 5, 8]])) == ["MatMul"])
        #expect(try convertedOps(einsumModel("i,j->ij", [[4], [3]])) == ["Reshape", "Reshape", "MatMul"])
        #expect(try convertedOps(einsumModel("ij->ji", [[3, 5]])) == ["Transpose"])
        #expect(try convertedOps(einsumModel("ij->i", [[3, 5]])) == ["ReduceSum"])
        #expect(try convertedOps(einsumModel("ij->ij", [[3, 5]])) == ["Identity"])
        #expect(try convertedOps(einsumModel("ii", [[4, 4]])) == ["Reshape", "Gather", "ReduceSum"])
        // A weight stored (out, in), as a linear layer's: transposed once at convert time.
        var linear = ONNXBuilder(opset: 12)
        linear.input("x", [2, 3, 4])
        linear.weight("w", [6, 4])
        linear.node("Einsum", ["x", "w"], ["y"], name: "mix", ["equation": .s("bsd,fd->bsf")])
        linear.output("y")
        let linearOps = try convertedOps(linear)
        #expect(linearOps == ["MatMul"], "\(linearOps)")
    }

    /// What the lowering does not take is refused naming the node, the equation and the alternative.
    @Test func unsupportedEinsumEquationsNameTheNodeAndEquation() throws {
        let cases: [(String, [[Int]], String)] = [
            ("iii->i", [[3, 3, 3]], "has a letter more than twice"),
            ("...ij,...jk->...ik", [[2, 3, 4], [2, 4, 5]], "ellipsis"),
            ("ij,jk,kl->il", [[2, 3], [3, 4], [4, 5]], "3 operands"),
            ("ij,jk->ik", [[2, 3], [4, 5]], "letter j is 3 in one operand and 4 in another"),
            ("ijk->ij", [[2, 3]], "has 3 letters"),
        ]
        for (index, (equation, shapes, why)) in cases.enumerated() {
            try expectFailure(einsumModel(equation, shapes), name: "einsum-\(index)",
                              "node 'mix' (Einsum)", "\"\(equation)\"", why, "MatMul with Transpose and Reshape")
        }
    }

    /// A branch of one node, `op` reading `input` and writing `output`.
    static func branch(_ op: String, _ input: String, _ output: String) -> Onnx_GraphProto {
        var graph = Onnx_GraphProto()
        var node = Onnx_NodeProto()
        node.opType = op
        node.input = [input]
        node.output = [output]
        graph.node = [node]
        var value = Onnx_ValueInfoProto()
        value.name = output
        graph.output = [value]
        return graph
    }

    /// An If choosing Relu or Neg of `x`, whose condition is `condition`.
    static func ifModel(condition: String, build: (inout ONNXBuilder) -> Void) -> ONNXBuilder {
        var b = ONNXBuilder(opset: 13)
        build(&b)
        b.node("If", [condition], ["y"], name: "choose")
        for (name, op) in [("then_branch", "Relu"), ("else_branch", "Neg")] {
            var attribute = Onnx_AttributeProto()
            attribute.name = name
            attribute.type = .graph
            attribute.g = branch(op, "x", "r")
            b.model.graph.node[b.model.graph.node.count - 1].attribute.append(attribute)
        }
        b.output("y")
        return b
    }

    @Test func ifWithARunTimeConditionNamesTheNodeAndCondition() throws {
        let b = Self.ifModel(condition: "flag") { b in
            b.input("x", [2, 3])
            b.input("flag", [], type: 9)
        }
        try expectFailure(b, "node 'choose' (If)", "condition computed at run time ('flag')", "fold the condition at export")
    }

    /// The branch reads x, which a node listed after the If computes: the
    /// If still comes after it, and the taken branch (else: Neg) is inlined.
    @Test func ifOrderedAfterWhatItsBranchReads() throws {
        var b = Self.ifModel(condition: "flag") { b in
            b.input("input", [2, 3])
            b.initializer("flag", [], ints: [0])
        }
        b.node("Abs", ["input"], ["x"], name: "abs")
        b.model.graph.node.reverse()
        #expect(try convertedOps(b) == ["Abs", "Neg"])
    }

    @Test func nonZeroOfARunTimeValueIsRefusedWithAnAlternative() throws {
        var b = ONNXBuilder(opset: 13)
        b.input("x", [2, 3])
        b.node("NonZero", ["x"], ["where"], name: "find")
        b.output("where")
        try expectFailure(b, "node 'find' (NonZero)", "only when its input is known at convert time", "Where")
    }

    @Test func oneHotWithRunTimeDepthIsRefused() throws {
        var b = ONNXBuilder(opset: 11)
        b.input("labels", [4], type: 7)
        b.input("depth", [1], type: 7)
        b.initializer("values", [2], [0, 1])
        b.node("OneHot", ["labels", "depth", "values"], ["y"], name: "encode")
        b.output("y")
        try expectFailure(b, "node 'encode' (OneHot)", "input 1 (depth) is computed at run time")
    }
}
