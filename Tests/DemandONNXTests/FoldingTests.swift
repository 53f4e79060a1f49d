@testable import DemandONNX
import DemandTestSupport
import Foundation
import Testing

/// Convert-time evaluation: exact integers, ONNX's clamping and broadcasting.
@Suite struct FoldingTests {
    func node(_ op: String, _ attributes: [String: SourceGraph.Attribute] = [:], inputs: Int = 1) -> SourceGraph.Node {
        SourceGraph.Node(name: "n", op: op, domain: "", inputs: (0..<inputs).map { "i\($0)" }, outputs: ["o"], attributes: attributes)
    }

    func evaluate(_ op: String, _ inputs: [ConstantTensor], _ attributes: [String: SourceGraph.Attribute] = [:], opset: Int = 17) throws -> ConstantTensor {
        try #require(try Folding.evaluate(node(op, attributes, inputs: inputs.count), inputs: inputs, opset: opset)?.first)
    }

    @Test func sliceKeepsInt64ExtremesExact() throws {
        let value = ConstantTensor(ints: [10, 20, 30, 40, 50])
        let ends = [Int64.max, Int64.min, -1, 3]
        let expected: [[Int64]] = [[30, 40, 50], [], [30, 40], [30]]
        for (end, want) in zip(ends, expected) {
            let result = try evaluate("Slice", [value, ConstantTensor(ints: [2]), ConstantTensor(ints: [end])])
            #expect(result.ints == want, "ends \(end)")
        }
        let reversed = try evaluate("Slice", [value, ConstantTensor(ints: [-1]), ConstantTensor(ints: [Int64.min]),
                                              ConstantTensor(ints: [0]), ConstantTensor(ints: [-2])])
        #expect(reversed.ints == [50, 30, 10])
    }

    @Test func integerArithmeticIsExactAndTruncates() throws {
        let big = ConstantTensor(ints: [Int64.max - 1, -7, 7])
        #expect(try evaluate("Add", [big, ConstantTensor(ints: [1])]).ints == [Int64.max, -6, 8])
        #expect(try evaluate("Div", [big, ConstantTensor(ints: [2])]).ints == [(Int64.max - 1) / 2, -3, 3], "integer Div truncates toward zero")
        #expect(try evaluate("Mod", [ConstantTensor(ints: [-7, 7]), ConstantTensor(ints: [3])]).ints == [2, 1], "Mod takes the divisor's sign")
        #expect(try evaluate("Div", [ConstantTensor(ints: [Int64.min]), ConstantTensor(ints: [-1])]).count == 1, "no overflow trap")
        #expect(throws: ImportError.self) { try evaluate("Div", [ConstantTensor(ints: [1]), ConstantTensor(ints: [0])]) }
    }

    @Test func shapeChainPieces() throws {
        let shape = ConstantTensor(ints: [1, 3, 224, 224])
        let gathered = try evaluate("Gather", [shape, ConstantTensor(shape: [], ints: [-1])], ["axis": .int(0)])
        #expect(gathered.shape == [] && gathered.ints == [224])
        let unsqueezed = try evaluate("Unsqueeze", [gathered, ConstantTensor(ints: [0])])
        #expect(unsqueezed.shape == [1])
        let concatenated = try evaluate("Concat", [ConstantTensor(ints: [1, -1]), unsqueezed], ["axis": .int(0)])
        #expect(concatenated.ints == [1, -1, 224])
        let product = try evaluate("Mul", [gathered, ConstantTensor(shape: [], ints: [3])])
        #expect(product.ints == [672])
        let range = try evaluate("Range", [ConstantTensor(shape: [], ints: [0]), gathered, ConstantTensor(shape: [], ints: [100])])
        #expect(range.ints == [0, 100, 200])
        let floats = try evaluate("Range", [ConstantTensor(shape: [], floats: [1]), ConstantTensor(shape: [], floats: [2]),
                                            ConstantTensor(shape: [], floats: [0.25])])
        #expect(floats.floats == [1, 1.25, 1.5, 1.75])
        let reshaped = try evaluate("Reshape", [ConstantTensor(shape: [2, 3, 4], floats: Array(repeating: 0, count: 24)), ConstantTensor(ints: [0, -1])])
        #expect(reshaped.shape == [2, 12])
    }

    @Test func castFollowsOnnx() throws {
        let value = ConstantTensor(shape: [4], floats: [-1.7, 0, 2.9, 0.5])
        #expect(try evaluate("Cast", [value], ["to": .int(7)]).ints == [-1, 0, 2, 0], "to int64 truncates toward zero")
        #expect(try evaluate("Cast", [value], ["to": .int(9)]).ints == [1, 0, 1, 1], "to bool is x != 0")
        let back = try evaluate("Cast", [ConstantTensor(ints: [3, -4])], ["to": .int(1)])
        #expect(!back.isInteger && back.floats == [3, -4])
    }

    @Test func whereEqualAndBroadcast() throws {
        let mask = try evaluate("Equal", [ConstantTensor(ints: [1, 2, 3]), ConstantTensor(shape: [], ints: [2])])
        #expect(mask.ints == [0, 1, 0])
        let picked = try evaluate("Where", [mask, ConstantTensor(shape: [2, 1], floats: [10, 20]), ConstantTensor(shape: [], floats: [-1])])
        #expect(picked.shape == [2, 3] && picked.floats == [-1, 10, -1, -1, 20, -1])
        let expanded = try evaluate("Expand", [ConstantTensor(shape: [3, 1], ints: [1, 2, 3]), ConstantTensor(ints: [2, 1, 2])])
        #expect(expanded.shape == [2, 3, 2] && expanded.ints == [1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3])
    }

    @Test func hugeConstantsAreRefusedNotAllocated() throws {
        #expect(throws: ImportError.self) { try evaluate("ConstantOfShape", [ConstantTensor(ints: [1 << 20, 1 << 20])]) }
        #expect(throws: ImportError.self) { try evaluate("Range", [ConstantTensor(shape: [], ints: [Int64.min]), ConstantTensor(shape: [], ints: [Int64.max]),
                                                                   ConstantTensor(shape: [], ints: [1])]) }
    }

    @Test func transposeAndGatherMoveData() throws {
        let matrix = ConstantTensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6])
        #expect(try evaluate("Transpose", [matrix]).floats == [1, 4, 2, 5, 3, 6])
        let rows = try evaluate("Gather", [matrix, ConstantTensor(shape: [2, 1], ints: [1, 0])], ["axis": .int(0)])
        #expect(rows.shape == [2, 1, 3] && rows.floats == [4, 5, 6, 1, 2, 3])
        #expect(throws: ImportError.self) { try evaluate("Gather", [matrix, ConstantTensor(ints: [Int64.min])]) }
    }
}
