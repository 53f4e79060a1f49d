import DemandFormat
import DemandTestSupport
import Foundation
import Testing

/// Typed graph outputs in the format: a writer declares them, the manifest
/// becomes version 3 only then, and a reader refuses a typed output in a
/// version 2 manifest or an output dtype that is not an output type.
@Suite struct TypedOutputFormatTests {
    /// One layer: `indices = ArgMax(input, axis 1)`, declared `dtype`.
    private func argMaxModel(_ dtype: DType, name: String) throws -> (path: String, model: Model) {
        let path = Scratch.directory("typed-format-\(name)") + "/argmax.dlm"
        let writer = try ModelWriter(destination: path, name: "argmax")
        writer.addInput("input", shape: [2, 3])
        writer.beginLayer("argmax")
        try writer.addNode(Manifest.Node(name: "argmax", op: "ArgMax", inputs: ["input"], outputs: ["indices"],
                                         attributes: ["axis": .int(1)]))
        try writer.endLayer()
        try writer.addOutput("indices", dtype: dtype)
        return (path, try writer.finish())
    }

    private func editManifest(_ path: String, _ edit: (inout [String: Any]) -> Void) throws {
        let url = URL(fileURLWithPath: path + "/manifest.json")
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        edit(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: url)
    }

    @Test func typedOutputIsWrittenAsVersion3AndReadBack() throws {
        let (path, model) = try argMaxModel(.int64, name: "v3")
        #expect(model.manifest.version == 3)
        #expect(model.manifest.outputs.map(\.dtype) == [.int64])
        let text = try String(contentsOfFile: path + "/manifest.json", encoding: .utf8)
        #expect(text.contains("\"int64\""), "the manifest spells the dtype: \(text)")
        #expect(try Model.open(path).manifest.outputs[0].dtype == .int64)
    }

    @Test func floatOnlyModelStaysVersion2() throws {
        let (_, model) = try argMaxModel(.float32, name: "v2")
        #expect(model.manifest.version == 2)
    }

    @Test(arguments: [DType.int64, .int32, .bool])
    func version2ManifestWithTypedOutputIsRefused(dtype: DType) throws {
        let (path, _) = try argMaxModel(dtype, name: "v2-\(dtype)")
        try editManifest(path) { $0["version"] = 2 }
        do {
            _ = try Model.open(path)
            Issue.record("a version 2 manifest with a \(dtype) output should be refused")
        } catch {
            #expect(error.code == .invalidGraph, "\(error)")
            for fragment in ["output 'indices'", "is \(dtype.rawValue)", "needs format version 3", "says 2"] {
                #expect(error.description.contains(fragment), "'\(error)' should mention '\(fragment)'")
            }
        }
    }

    @Test func float16OutputIsRefused() throws {
        let (path, _) = try argMaxModel(.int64, name: "f16")
        try editManifest(path) { manifest in
            var outputs = manifest["outputs"] as! [[String: Any]]
            outputs[0]["dtype"] = "float16"
            manifest["outputs"] = outputs
        }
        do {
            _ = try Model.open(path)
            Issue.record("a float16 output should be refused")
        } catch {
            #expect(error.description.contains("output 'indices' is float16"), "\(error)")
        }
    }

    @Test func typedNpyFilesCarryTheirDescr() throws {
        let directory = Scratch.directory("typed-npy")
        let cases: [(DType, String)] = [(.int64, "'<i8'"), (.int32, "'<i4'"), (.bool, "'|b1'"), (.float32, "'<f4'")]
        for (dtype, descr) in cases {
            let path = "\(directory)/\(dtype).npy"
            try Npy.write(path: path, shape: [3], values: [0, 1, -5], dtype: dtype)
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(String(decoding: data.prefix(128), as: UTF8.self).contains(descr), "\(dtype)")
        }
        let int64 = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/int64.npy")).suffix(24)
        #expect(Array(int64) == [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0] + [0xFB] + [UInt8](repeating: 0xFF, count: 7))
        let bool = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/bool.npy")).suffix(3)
        #expect(Array(bool) == [0, 1, 1])
    }
}
