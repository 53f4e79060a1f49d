@testable import DemandTensor
import DemandZoo
import Testing

/// Max pooling on every path this CPU can run (portable Swift, and CKernels'
/// AVX2 or NEON loops): bit for bit the portable path, which is checked against
/// the reference. Rows are wide enough for the vector loops and their tails;
/// inputs hold NaNs and zeros of both signs, which only the same order of
/// maxima keeps the same.
struct PoolPathTests {
    static let paths = VectorMath.Path.allCases.filter(\.isAvailable)

    struct Geometry: CustomTestStringConvertible, Sendable {
        let name: String
        let input: [Int]
        let parameters: Pool2dParameters
        var testDescription: String { name }
    }

    static let geometries: [Geometry] = [
        Geometry(name: "3x3 stride 2 pad 1 (ResNet)", input: [1, 3, 23, 45],
                 parameters: Pool2dParameters(kernel: Size2d(3), strides: Size2d(2), pads: Padding2d(1))),
        Geometry(name: "5x5 stride 1 pad 2 (YOLO SPPF)", input: [1, 2, 9, 40],
                 parameters: Pool2dParameters(kernel: Size2d(5), pads: Padding2d(2))),
        Geometry(name: "3x3 stride 1 pad 1, batch 2", input: [2, 2, 7, 33],
                 parameters: Pool2dParameters(kernel: Size2d(3), pads: Padding2d(1))),
        Geometry(name: "2x2 stride 1 padded at the end (yolo-tiny)", input: [1, 2, 6, 19],
                 parameters: Pool2dParameters(kernel: Size2d(2), pads: Padding2d(top: 0, left: 0, bottom: 1, right: 1))),
        Geometry(name: "3x3 stride 3 (one output at a time)", input: [1, 2, 10, 50],
                 parameters: Pool2dParameters(kernel: Size2d(3), strides: Size2d(3))),
        Geometry(name: "3x3 stride 2 ceil mode", input: [1, 1, 10, 41],
                 parameters: Pool2dParameters(kernel: Size2d(3), strides: Size2d(2), ceilMode: true)),
        Geometry(name: "2x3 kernel, strides 1x2, uneven pads", input: [1, 2, 8, 37],
                 parameters: Pool2dParameters(kernel: Size2d(height: 2, width: 3), strides: Size2d(height: 1, width: 2),
                                              pads: Padding2d(top: 1, left: 0, bottom: 0, right: 2))),
    ]

    private func pooled(_ geometry: Geometry, _ input: Tensor, path: VectorMath.Path) throws -> Tensor {
        let output = Tensor(zeros: try Operator.maxPool(geometry.parameters).outputShape(inputs: [input.shape]))
        Pool.maxPool(geometry.parameters, input: input, output: output, workspace: Workspace(), path: path)
        return output
    }

    @Test(arguments: geometries, paths)
    func maxPoolMatchesPortableBitForBit(_ geometry: Geometry, path: VectorMath.Path) throws {
        var random = SeededRandom(name: geometry.name)
        let input = random.tensor(Shape(geometry.input), scale: 1)
        // Finite values first: the portable path against the reference.
        let portable = try pooled(geometry, input, path: .portable)
        let expected = Tensor(zeros: portable.shape)
        Reference.maxPool(geometry.parameters, x: input, y: expected)
        #expect(Array(portable.buffer) == Array(expected.buffer), "portable max pool differs from the reference")
        // Then NaNs and signed zeros spread through the input: the path against the portable one, bit for bit.
        for i in stride(from: 0, to: input.elementCount, by: 7) { input.data[i] = i % 3 == 0 ? .nan : (i % 2 == 0 ? 0 : -0.0) }
        let fast = try pooled(geometry, input, path: path)
        let slow = try pooled(geometry, input, path: .portable)
        let differing = (0..<fast.elementCount).filter { fast.data[$0].bitPattern != slow.data[$0].bitPattern }
        #expect(differing.isEmpty, "\(path) differs from portable at \(differing.prefix(5)) of \(fast.shape)")
    }
}
