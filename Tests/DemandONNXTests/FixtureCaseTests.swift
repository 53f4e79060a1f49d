import DemandFormat
import DemandLayer
import DemandONNX
import DemandTensor
import DemandTestSupport
import Foundation
import Testing

/// The committed onnxruntime fixtures (`fixtures/onnx/`, made by
/// Tools/onnx_reference.py): every `ops/<case>` converts, runs through a
/// session and matches the reference outputs; every `bad/<case>` is refused
/// with an error naming what its case.json expects, leaving no output.
///
/// Bounds: fp32 storage, the case's tolerance (1e-4) × max(1, max |ref|);
/// fp16 storage, the case's "fp16" tolerance when it states one, else 1e-2
/// × max(1, max |ref|) (float16 keeps 11 significant bits, a relative
/// rounding of 4.9e-4 per weight, summed over the reduction of each output).
@Suite struct FixtureCaseTests {
    static let root = Scratch.packageRoot + "/fixtures/onnx"
    static let defaultFP16Tolerance: Float = 1e-2

    static func cases(_ kind: String, root: String = root) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root + "/" + kind)) ?? [])
            .filter { FileManager.default.fileExists(atPath: "\(root)/\(kind)/\($0)/case.json") }.sorted()
    }

    /// The larger cases `Tools/onnx_reference.py real` and `zoo` write into
    /// `.models/` (not committed): pretrained models from PyPI wheels, MiniLM,
    /// ResNet-50 and VGG-19. Checked when present (CI makes them first).
    static let modelsRoot = Scratch.packageRoot + "/.models"
    static let largeCases: [String] = cases("real", root: modelsRoot).map { "real/\($0)" } + cases("zoo", root: modelsRoot).map { "zoo/\($0)" }

    struct Case: Decodable {
        struct Value: Decodable {
            var name: String
            var file: String
            var dtype: String?
            var shape: [Int]?
        }
        var name: String
        var inputs: [Value]?
        var outputs: [Value]?
        var convert_args: [String]?
        var tolerance: [String: Float]?
        var expect_error: [String]?
    }

    static func load(_ directory: String) throws -> Case {
        try JSONDecoder().decode(Case.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/case.json")))
    }

    /// `convert_args` as converter options (the CLI's spelling).
    static func options(_ arguments: [String]) throws -> Converter.Options {
        var options = Converter.Options()
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            var flag = argument
            var inline: String?
            if let equals = argument.firstIndex(of: "=") {
                flag = String(argument[..<equals])
                inline = String(argument[argument.index(after: equals)...])
            }
            let value = inline ?? rest.popFirst() ?? ""
            switch flag {
            case "--input-shape":
                let parts = value.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let dims = parts.count < 2 || parts[1].isEmpty || parts[1] == "scalar" ? [] : parts[1].split(separator: "x")
                options.inputShapes[String(parts[0])] = Shape(try dims.map { dim in try #require(Int(dim), "dimension '\(dim)'") })
            case "--dtype":
                options.weightType = try #require(Converter.WeightType(rawValue: value))
            default:
                throw FixtureError("unknown convert argument '\(argument)'")
            }
        }
        return options
    }

    @Test(arguments: cases("ops"))
    func opCaseMatchesOnnxruntime(name: String) throws {
        try check("\(Self.root)/ops/\(name)", name: name)
    }

    @Test(arguments: largeCases)
    func largeModelMatchesOnnxruntime(name: String) throws {
        try check("\(Self.modelsRoot)/\(name)", name: name.replacingOccurrences(of: "/", with: "-"), fp16Default: nil)
    }

    @Test func largeModelsArePresentOrSaid() {
        if Self.largeCases.isEmpty {
            print("skipped the large ONNX models: \(Self.modelsRoot) has none (run Tools/onnx_reference.py real and zoo to make them)")
        }
    }

    /// Converts one case directory with fp32 and fp16 storage and compares
    /// every output. fp16 is checked against the case's "fp16" bound, else
    /// `fp16Default`; nil skips fp16 when the case states no bound.
    func check(_ directory: String, name: String, fp16Default: Float? = defaultFP16Tolerance) throws {
        let spec = try Self.load(directory)
        let baseOptions = try Self.options(spec.convert_args ?? [])
        var inputs: [String: Tensor] = [:]
        for input in spec.inputs ?? [] { inputs[input.name] = try Npy.read(path: "\(directory)/\(input.file)").tensor }

        for weightType in Converter.WeightType.allCases {
            var options = baseOptions
            options.weightType = weightType
            let stated: Float?
            switch weightType {
            case .fp32: stated = spec.tolerance?["fp32"] ?? 1e-4
            case .fp16: stated = spec.tolerance?["fp16"] ?? fp16Default
            case .int8: stated = spec.tolerance?["int8"]   // weight-only int8 is checked where a case states its bound
            }
            guard let tolerance = stated else {
                if weightType == .fp16 { print("\(name): fp16 not checked, the case states no fp16 bound") }
                continue
            }
            let scratch = Scratch.directory("fixture-\(name)-\(weightType)")
            defer { Scratch.remove(scratch) }
            let summary = try Converter.convert(modelPath: directory + "/model.onnx", to: scratch + "/out.dlm", options: options)
            let outputs = try run(summary.model, inputs)
            for output in spec.outputs ?? [] {
                let expected = try Npy.read(path: "\(directory)/\(output.file)").tensor
                let actual = try #require(outputs[output.name], "\(weightType): output '\(output.name)' is produced")
                #expect(actual.shape == expected.shape, "\(weightType) \(output.name): shape \(actual.shape) vs \(expected.shape)")
                guard actual.shape == expected.shape else { continue }
                if let expectedType = try Self.integerType(of: "\(directory)/\(output.file)") {
                    // ArgMax, TopK indices, logic ops: the declared dtype, and values equal, not close.
                    let declared = summary.model.manifest.outputs.first { $0.name == output.name }?.dtype
                    #expect(declared == expectedType, "\(weightType) \(output.name): declared \(declared?.rawValue ?? "-"), onnxruntime gives \(expectedType.rawValue)")
                    #expect(OutputValue(actual, as: expectedType) == OutputValue(expected, as: expectedType),
                            "\(weightType) \(output.name): \(actual.array) vs \(expected.array), exactly")
                    continue
                }
                let closeness = Closeness(actual: actual, expected: expected)
                if fp16Default == nil {
                    print("\(name) \(weightType) \(output.name): max |error| / max(1, max |ref|) = \(closeness.maxError / closeness.scale), bound \(tolerance)")
                }
                #expect(closeness.passes(tolerance: tolerance), "\(weightType) \(output.name): \(closeness.describe(tolerance: tolerance))")
            }
        }
    }

    /// The dtype of an integer or bool `.npy` reference (from its header's
    /// descr), nil for a float one. Npy.read gives bool as int32, so the
    /// header is read here.
    static func integerType(of path: String) throws -> DType? {
        let header = String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)).prefix(128), as: UTF8.self)
        if header.contains("'<i8'") { return .int64 }
        if header.contains("'<i4'") { return .int32 }
        if header.contains("'|b1'") { return .bool }
        if header.contains("'|i1'") { return .int8 }
        if header.contains("'|u1'") { return .uint8 }
        return nil
    }

    @Test(arguments: cases("bad"))
    func badCaseIsRefused(name: String) throws {
        let directory = "\(Self.root)/bad/\(name)"
        let spec = try Self.load(directory)
        let scratch = Scratch.directory("bad-\(name)")
        defer { Scratch.remove(scratch) }
        let options = try Self.options(spec.convert_args ?? [])
        do {
            try Converter.convert(modelPath: directory + "/model.onnx", to: scratch + "/out.dlm", options: options)
            Issue.record("the convert succeeded")
        } catch {
            for needle in spec.expect_error ?? [] {
                #expect(error.description.contains(needle), "the error names '\(needle)': \(error)")
            }
        }
        #expect(leftovers(in: scratch, except: []) == [], "nothing is left behind")
    }

    @Test func fixturesArePresent() {
        #expect(!Self.cases("ops").isEmpty, "fixtures/onnx/ops holds the committed cases (Tools/onnx_reference.py ops makes them)")
    }
}
