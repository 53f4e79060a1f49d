import DemandTensor
import DemandTestSupport
import Foundation
import Testing

/// Every operator case of `fixtures/kernels.json` (inputs and outputs
/// computed by numpy in `Tools/reference.py`) through the fast kernel and
/// through `Reference`. The Swift kernels are checked against each other in
/// `KernelTests`; this checks both against an implementation that shares
/// nothing with them. No Python is needed to run it.
struct NumpyKernelTests {
    @Test func fixturesLoad() throws {
        let cases = try NumpyKernelCase.load()
        #expect(cases.count >= 20, "fixtures/kernels.json holds only \(cases.count) cases")
    }

    @Test(arguments: NumpyKernelCase.all)
    func kernelsMatchNumpy(_ testCase: NumpyKernelCase) throws {
        let op = try Operator(type: testCase.op, attributes: testCase.attributes)
        let inputs = try testCase.inputs.map { try $0.tensor() }
        let expected = try testCase.output.tensor()
        let shape = try op.outputShape(inputs: inputs.map(\.shape))
        try #require(shape == expected.shape, "outputShape is \(shape); numpy gave \(expected.shape)")

        // NaN in the output proves the kernel does not rely on a zeroed buffer.
        let fast = Tensor(shape: shape, values: .init(repeating: .nan, count: shape.elementCount))
        try op.execute(inputs: inputs, output: fast, workspace: Workspace())
        let reference = Tensor(shape: shape, values: .init(repeating: .nan, count: shape.elementCount))
        Reference.execute(op, inputs: inputs, output: reference)

        for (name, actual) in [("execute", fast), ("Reference.execute", reference)] {
            let closeness = Closeness(actual: actual, expected: expected)
            #expect(closeness.passes(tolerance: testCase.tolerance),
                    "\(name) against numpy for \(op) on \(inputs.map(\.shape)): \(closeness.describe(tolerance: testCase.tolerance))")
        }
    }
}

/// One entry of `fixtures/kernels.json`, written by `Tools/reference.py kernels`.
struct NumpyKernelCase: Decodable, Sendable, CustomTestStringConvertible {
    /// A tensor stored as raw little-endian float32, `file` relative to `fixtures/`.
    struct Stored: Decodable, Sendable {
        let shape: [Int]
        let file: String

        func tensor() throws -> Tensor {
            try loadFloat32(NumpyKernelCase.fixtureDirectory + "/" + file, shape: Shape(shape))
        }
    }

    let name: String
    let op: String
    let attributes: [String: AttributeValue]
    let inputs: [Stored]
    let output: Stored
    /// Allowed max |error|, as a fraction of max(1, max |numpy|).
    let tolerance: Float

    var testDescription: String { name }

    static let fixtureDirectory = Scratch.packageRoot + "/fixtures"

    static func load() throws -> [NumpyKernelCase] {
        let path = fixtureDirectory + "/kernels.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FixtureError("\(path) is missing; regenerate it at the package root with: python3 Tools/reference.py kernels fixtures")
        }
        return try JSONDecoder().decode([NumpyKernelCase].self, from: data)
    }

    /// The cases for the parameterized test; empty if the file cannot be
    /// read, which `fixturesLoad` then reports with the reason.
    static let all: [NumpyKernelCase] = (try? load()) ?? []
}
