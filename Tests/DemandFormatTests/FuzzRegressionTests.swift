import DemandFormat
import DemandTestSupport
import Foundation
import Testing

/// Every input under fixtures/fuzz/manifest/crashes once crashed, hung or
/// leaked in the model reader (found by Tools/fuzz/ManifestFuzz.swift or by
/// inputs aimed at its arithmetic). Each is opened as the manifest of a model
/// directory holding tiny's layer files and must be refused with a
/// `FormatError` that says why; a crash here takes the test process down.
@Suite struct FuzzRegressionTests {
    static let directory = Scratch.packageRoot + "/fixtures/fuzz/manifest/crashes"
    static let inputs = Scratch.fixtureNames(in: "fuzz/manifest/crashes")

    /// What each input's error must say.
    static let expectations: [String: String] = [
        "empty-file-leak.json": "manifest.json is empty",
        "conv-dilation-overflow.json": "attribute 'dilations' holds 4611686018427387904",
        "conv-pads-overflow.json": "attribute 'pads' holds 9223372036854775807",
        "weight-offset-overflow.json": "run past the end",
        "weight-shape-overflow.json": "more than 1099511627776 elements",
        "input-shape-overflow.json": "dimension 4294967296",
        "reshape-shape-overflow.json": "more elements than an Int can count",
    ]

    @Test func everyCrashInputHasAnExpectation() {
        #expect(!Self.inputs.isEmpty, "no inputs under \(Self.directory)")
        #expect(Set(Self.inputs) == Set(Self.expectations.keys))
    }

    @Test(arguments: inputs)
    func crashInputIsRefusedWithAReason(name: String) throws {
        let model = Scratch.tinyCopy("fuzz\(name)")
        try FileManager.default.removeItem(atPath: model + "/manifest.json")
        try FileManager.default.copyItem(atPath: Self.directory + "/" + name, toPath: model + "/manifest.json")
        do {
            _ = try Model.open(model)
            Issue.record("\(name) opened")
        } catch {
            let fragment = Self.expectations[name] ?? "?"
            #expect(error.description.contains(fragment), "\(name): '\(error)' should say '\(fragment)'")
            #expect(error.path?.hasSuffix("manifest.json") == true)
        }
    }
}
