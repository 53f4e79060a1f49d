import DemandFormat
import DemandLayer
import DemandTensor
import DemandTestSupport
import Foundation
import Testing

/// The `tiny` model through a session, against outputs numpy computed
/// (`Tools/reference.py`, committed under `fixtures/tiny/`). numpy shares no
/// code with the runtime, its fast kernels or `Reference`, so this catches a
/// misreading of ONNX that both Swift paths would share. No Python is needed
/// to run it.
@Suite struct NumpyReferenceTests {
    static let fixtureDirectory = Scratch.packageRoot + "/fixtures/tiny"
    static let regenerateCommand = "rm -rf /tmp/dl-reference && swift run demandlayer zoo make tiny --out /tmp/dl-reference && "
        + "python3 Tools/reference.py fixtures /tmp/dl-reference/tiny.dlm fixtures/tiny"

    let model = try! Model.open(Scratch.tinyModelPath)

    /// Policies that reach the kernels by different routes: pipelined at
    /// both depths, linear (one layer at a time) and resident (all loaded at open).
    static let runs = [
        PolicyRun(policy: .pipelined, depth: 1), PolicyRun(policy: .pipelined, depth: 2),
        PolicyRun(policy: .linear, depth: 1), PolicyRun(policy: .resident, depth: 1),
    ]

    @Test func fixturesDescribeTheZooModel() throws {
        let fixture = try ModelFixture.load(Self.fixtureDirectory)
        #expect(fixture.model == model.name)
        let changed = fixture.changedFiles(comparedWith: model.manifest)
        #expect(changed.isEmpty, "\(Self.staleMessage(changed))")
    }

    @Test(arguments: runs)
    func sessionMatchesNumpy(_ run: PolicyRun) throws {
        let fixture = try ModelFixture.load(Self.fixtureDirectory)
        let changed = fixture.changedFiles(comparedWith: model.manifest)
        try #require(changed.isEmpty, "\(Self.staleMessage(changed))")

        var inputs: [String: Tensor] = [:]
        for input in fixture.inputs { inputs[input.name] = try input.tensor(in: Self.fixtureDirectory) }
        let session = try Session(model: model, options: .init(policy: run.policy, depth: run.depth))
        defer { session.close() }
        let outputs = try session.run(inputs)

        for output in fixture.outputs {
            let expected = try output.tensor(in: Self.fixtureDirectory)
            let actual = try #require(outputs[output.name], "the session gave no output '\(output.name)'")
            try #require(actual.shape == expected.shape, "'\(output.name)' is \(actual.shape); numpy gave \(expected.shape)")
            let comparison = Closeness(actual: actual, expected: expected)
            #expect(comparison.passes(tolerance: fixture.tolerance),
                    "\(run): '\(output.name)' \(comparison.describe(tolerance: fixture.tolerance))")
        }
    }

    static func staleMessage(_ changed: [String]) -> String {
        "the zoo's tiny model changed (not as recorded in fixtures/tiny/reference.json: \(changed.joined(separator: ", "))); "
            + "regenerate the fixtures at the package root with: \(regenerateCommand)"
    }
}

struct PolicyRun: Sendable, CustomTestStringConvertible {
    let policy: Policy
    let depth: Int
    var testDescription: String { policy == .pipelined ? "\(policy) depth \(depth)" : "\(policy)" }
}

/// `fixtures/<model>/reference.json`, written by `Tools/reference.py fixtures`.
struct ModelFixture: Decodable {
    struct File: Decodable {
        let path: String
        let crc32c: UInt32
    }

    /// A graph input or output, stored as raw little-endian float32 in `file`
    /// (relative to the fixture directory).
    struct Value: Decodable {
        let name: String
        let shape: [Int]
        let file: String

        func tensor(in directory: String) throws -> Tensor {
            try loadFloat32(directory + "/" + file, shape: Shape(shape))
        }
    }

    let model: String
    let files: [File]
    let inputs: [Value]
    let outputs: [Value]
    /// Allowed max |error|, as a fraction of max(1, max |numpy|).
    let tolerance: Float

    static func load(_ directory: String) throws -> ModelFixture {
        let path = directory + "/reference.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FixtureError("\(path) is missing; regenerate it with: \(NumpyReferenceTests.regenerateCommand)")
        }
        return try JSONDecoder().decode(ModelFixture.self, from: data)
    }

    /// Layer files whose path or CRC-32C differs between the fixture and `manifest`.
    func changedFiles(comparedWith manifest: Manifest) -> [String] {
        let current = manifest.layers.flatMap(\.files)
        guard current.count == files.count else {
            return ["\(current.count) layer files where the fixtures have \(files.count)"]
        }
        return zip(current, files).compactMap { now, then in
            now.path == then.path && now.crc32c == then.crc32c ? nil : now.path
        }
    }
}
