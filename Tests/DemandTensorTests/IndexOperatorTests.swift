import DemandTensor
import Testing

/// Hand-computed values of TopK, OneHot and ScatterND, and ScatterND's
/// refusal of an index out of range (checked before anything is written).
struct IndexOperatorTests {
    func run(_ type: String, _ attributes: [String: AttributeValue], _ inputs: [Tensor]) throws -> Tensor {
        let op = try Operator(type: type, attributes: attributes)
        let output = Tensor(zeros: try op.outputShape(inputs: inputs.map(\.shape)))
        let workspace = Workspace(floatCount: op.workspaceFloatCount(inputs: inputs.map(\.shape)))
        try op.execute(inputs: inputs, output: output, workspace: workspace)
        return output
    }

    @Test func topKBreaksTiesTowardTheLowerIndex() throws {
        let x = Tensor(shape: [1, 6], values: [3, 1, 3, 2, 1, 3])
        #expect(try run("TopK", ["k": .int(4)], [x]).array == [3, 3, 3, 2])
        #expect(try run("TopK", ["k": .int(4), "output": .string("indices")], [x]).array == [0, 2, 5, 3])
        #expect(try run("TopK", ["k": .int(3), "largest": .int(0), "output": .string("indices")], [x]).array == [1, 4, 3])
    }

    @Test func oneHotCountsNegativeIndicesFromTheEndAndLeavesOutOfRangeOff() throws {
        let indices = Tensor(shape: [4], values: [0, -1, 3, -4])
        let y = try run("OneHot", ["depth": .int(3), "values": .floats([5, 9])], [indices])
        #expect(y.shape == [4, 3])
        #expect(y.array == [9, 5, 5, 5, 5, 9, 5, 5, 5, 5, 5, 5])
    }

    @Test func scatterNDReplacesAndAddsSlices() throws {
        let data = Tensor(shape: [3, 2], values: [1, 2, 3, 4, 5, 6])
        let indices = Tensor(shape: [2, 1], values: [2, -3])
        let updates = Tensor(shape: [2, 2], values: [10, 20, 30, 40])
        #expect(try run("ScatterND", [:], [data, indices, updates]).array == [30, 40, 3, 4, 10, 20])
        #expect(try run("ScatterND", ["reduction": .string("add")], [data, indices, updates]).array == [31, 42, 3, 4, 15, 26])
    }

    @Test func scatterNDIndexOutOfRangeThrowsNamingIt() throws {
        let data = Tensor(shape: [3, 2], values: [1, 2, 3, 4, 5, 6])
        let op = try Operator(type: "ScatterND", attributes: [:])
        for bad: Float in [3, -4, 0.5] {
            let indices = Tensor(shape: [2, 1], values: [0, bad])
            let updates = Tensor(shape: [2, 2], values: [0, 0, 0, 0])
            let output = Tensor(zeros: [3, 2])
            #expect {
                try op.execute(inputs: [data, indices, updates], output: output, workspace: Workspace())
            } throws: { error in
                guard let error = error as? OperatorError, error.code == .indexOutOfRange else { return false }
                return error.message.contains("row 1") && error.message.contains("3x2") && error.message.contains("-3..<3")
            }
            #expect(output.array == [0, 0, 0, 0, 0, 0], "nothing is written before the indices are checked")
        }
    }
}
