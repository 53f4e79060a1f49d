import DemandONNX
import DemandTestSupport
import Foundation
import Testing

/// Every input under fixtures/fuzz/onnx/crashes once crashed the importer or
/// took it past the fuzzer's 10 s limit (found by Tools/fuzz/OnnxFuzz.swift). Each must now be refused with an
/// `ImportError` that says why, and leave nothing behind; a crash here takes
/// the test process down.
@Suite struct OnnxFuzzRegressionTests {
    static let directory = Scratch.packageRoot + "/fixtures/fuzz/onnx/crashes"
    static let inputs = Scratch.fixtureNames(in: "fuzz/onnx/crashes")

    /// What each input's error must say.
    static let expectations: [String: String] = [
        "reshape-shape-overflow.onnx": "attribute 'shape' holds 4251398048237748223",
        "duplicate-input-name.onnx": "declared twice",
        "pad-without-inputs.onnx": "input 0 is missing",
        "split-sizes-overflow.onnx": "do not add up",
        "range-5m-elements.onnx": "folds ranges of at most",
        "cycle-through-subgraph.onnx": "the graph has a cycle",
        "constantofshape-419m-elements.onnx": "folds constants that grow to at most",
    ]

    @Test func everyCrashInputHasAnExpectation() {
        #expect(!Self.inputs.isEmpty, "no inputs under \(Self.directory)")
        #expect(Set(Self.inputs) == Set(Self.expectations.keys))
    }

    @Test(arguments: inputs)
    func crashInputIsRefusedWithAReason(name: String) throws {
        let destination = Scratch.directory("onnxfuzz\(name)") + "/out.dlm"
        do {
            try Converter.convert(modelPath: Self.directory + "/" + name, to: destination)
            Issue.record("\(name) converted")
        } catch {
            let fragment = Self.expectations[name] ?? "?"
            #expect(error.description.contains(fragment), "\(name): '\(error)' should say '\(fragment)'")
        }
        #expect(!FileManager.default.fileExists(atPath: destination), "a failed convert leaves nothing behind")
    }
}
