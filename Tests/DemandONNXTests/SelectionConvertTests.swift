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
}
