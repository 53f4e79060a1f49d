import DemandFormat
import DemandTestSupport
import DemandZoo
import Foundation
import Testing

@Suite struct ModelFormatTests {
    @Test func tinyModelOpensWithAlignedPaddedFiles() throws {
        let model = try Model.open(Scratch.tinyModelPath)
        #expect(model.layers.count >= 8)
        for layer in model.layers {
            for file in layer.files {
                #expect(file.byteCount % Layout.fileAlignment == 0)
                let size = try FileManager.default.attributesOfItem(atPath: model.filePath(file))[.size] as! Int
                #expect(size == file.byteCount)
            }
            for weight in layer.weights { #expect(weight.offsetBytes % Layout.tensorAlignment == 0) }
        }
        #expect(model.manifest.outputs.map(\.shape) == [[1, 10]])
    }

    @Test func sameSeedWritesSameBytes() throws {
        let first = Scratch.directory() + "/a.dlm"
        let second = Scratch.directory() + "/b.dlm"
        let other = Scratch.directory() + "/c.dlm"
        try Zoo.make("tiny", at: first)
        try Zoo.make("tiny", at: second)
        try Zoo.make("tiny", at: other, seed: 7)
        let files = try FileManager.default.subpathsOfDirectory(atPath: first).filter { $0.hasSuffix(".bin") || $0.hasSuffix(".json") }.sorted()
        #expect(files.count > 5)
        for file in files {
            #expect(FileManager.default.contents(atPath: "\(first)/\(file)") == FileManager.default.contents(atPath: "\(second)/\(file)"), "\(file) differs")
        }
        #expect(FileManager.default.contents(atPath: "\(first)/layers/0000.bin") != FileManager.default.contents(atPath: "\(other)/layers/0000.bin"))
    }

    @Test func zooSizesMatchTheirArchitectures() throws {
        let mib = 1 << 20
        let resnet = try Zoo.measure("resnet152")
        #expect((220 * mib...240 * mib).contains(resnet.weightBytes), "resnet152 is \(resnet.weightBytes / mib) MiB")
        let vgg = try Zoo.measure("vgg16")
        #expect((520 * mib...540 * mib).contains(vgg.weightBytes), "vgg16 is \(vgg.weightBytes / mib) MiB")
        let yolo = try Zoo.measure("yolov3")
        #expect((220 * mib...250 * mib).contains(yolo.weightBytes), "yolov3 is \(yolo.weightBytes / mib) MiB")
    }

    @Test func manifestRoundTripsThroughJSON() throws {
        let model = try Model.open(Scratch.tinyModelPath)
        let data = try JSONEncoder().encode(model.manifest)
        #expect(try JSONDecoder().decode(Manifest.self, from: data) == model.manifest)
    }
}

/// Each broken model must be refused at open with a message naming what and where.
@Suite struct ModelValidationTests {
    func expectOpenFails(_ path: String, code: FormatError.Code, mentioning fragments: [String]) {
        do {
            _ = try Model.open(path)
            Issue.record("opening \(path) should fail with \(code)")
        } catch {
            #expect(error.code == code, "\(error)")
            for fragment in fragments { #expect(error.description.contains(fragment), "'\(error)' should mention '\(fragment)'") }
        }
    }

    func editManifest(_ path: String, _ edit: (inout [String: Any]) -> Void) throws {
        let url = URL(fileURLWithPath: path + "/manifest.json")
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        edit(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: url)
    }

    @Test func truncatedManifest() throws {
        let path = Scratch.tinyCopy()
        let url = URL(fileURLWithPath: path + "/manifest.json")
        let data = try Data(contentsOf: url)
        try data.prefix(data.count / 2).write(to: url)
        expectOpenFails(path, code: .manifestMalformed, mentioning: ["manifest.json", "truncated"])
    }

    @Test func garbageManifest() throws {
        let path = Scratch.tinyCopy()
        try Data([0xFF, 0x00, 0x12, 0x7B]).write(to: URL(fileURLWithPath: path + "/manifest.json"))
        expectOpenFails(path, code: .manifestMalformed, mentioning: ["manifest.json"])
    }

    @Test func missingManifestAndDirectory() throws {
        let path = Scratch.tinyCopy()
        try FileManager.default.removeItem(atPath: path + "/manifest.json")
        expectOpenFails(path, code: .manifestUnreadable, mentioning: ["manifest.json"])
        expectOpenFails(path + "-nowhere", code: .manifestUnreadable, mentioning: ["no model directory"])
    }

    @Test func newerVersionIsRefused() throws {
        let path = Scratch.tinyCopy()
        try editManifest(path) { $0["version"] = 99 }
        expectOpenFails(path, code: .unsupportedVersion, mentioning: ["version 99", "reads versions 1 to 3"])
    }

    @Test func wrongFormatName() throws {
        let path = Scratch.tinyCopy()
        try editManifest(path) { $0["format"] = "onnx" }
        expectOpenFails(path, code: .manifestMalformed, mentioning: ["'format'", "demandlayer-model"])
    }

    @Test func missingFieldIsNamedWithItsPath() throws {
        let path = Scratch.tinyCopy()
        try editManifest(path) { object in
            var layers = object["layers"] as! [[String: Any]]
            layers[2]["files"] = nil
            object["layers"] = layers
        }
        expectOpenFails(path, code: .manifestMalformed, mentioning: ["'files'", "layers[2]"])
    }

    @Test func missingLayerFile() throws {
        let path = Scratch.tinyCopy()
        try FileManager.default.removeItem(atPath: path + "/layers/0003.bin")
        expectOpenFails(path, code: .layerFileMissing, mentioning: ["layers/0003.bin", "layer 3"])
    }

    @Test func shortLayerFile() throws {
        let path = Scratch.tinyCopy()
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path + "/layers/0005.bin"))
        try handle.truncate(atOffset: 4096)
        try handle.close()
        expectOpenFails(path, code: .layerFileSize, mentioning: ["layers/0005.bin", "layer 5", "4096 bytes", "truncated"])
    }

    @Test func weightPastEndOfFile() throws {
        let path = Scratch.tinyCopy()
        try editManifest(path) { object in
            var layers = object["layers"] as! [[String: Any]]
            var weights = layers[1]["weights"] as! [[String: Any]]
            weights[0]["offsetBytes"] = 1 << 30
            layers[1]["weights"] = weights
            object["layers"] = layers
        }
        expectOpenFails(path, code: .invalidLayout, mentioning: ["layer 1", "run past the end"])
    }

    @Test func inconsistentShapes() throws {
        let path = Scratch.tinyCopy()
        try editManifest(path) { object in
            var layers = object["layers"] as! [[String: Any]]
            var weights = layers[0]["weights"] as! [[String: Any]]
            weights[0]["shape"] = [8, 3, 3, 3]   // 8 filters, but the bias has 16
            weights[0]["byteCount"] = 8 * 3 * 3 * 3 * 4
            layers[0]["weights"] = weights
            object["layers"] = layers
        }
        expectOpenFails(path, code: .invalidGraph, mentioning: ["layer 0", "Conv"])
    }

    @Test func unsupportedOperator() throws {
        let path = Scratch.tinyCopy()
        try editManifest(path) { object in
            var layers = object["layers"] as! [[String: Any]]
            var nodes = layers[0]["nodes"] as! [[String: Any]]
            nodes[0]["op"] = "FancyConv"
            layers[0]["nodes"] = nodes
            object["layers"] = layers
        }
        expectOpenFails(path, code: .invalidGraph, mentioning: ["FancyConv", "layer 0"])
    }

    @Test func pathEscapingTheModel() throws {
        let path = Scratch.tinyCopy()
        try editManifest(path) { object in
            var layers = object["layers"] as! [[String: Any]]
            var files = layers[0]["files"] as! [[String: Any]]
            files[0]["path"] = "../../etc/passwd"
            layers[0]["files"] = files
            object["layers"] = layers
        }
        expectOpenFails(path, code: .invalidLayout, mentioning: ["relative path inside"])
    }

    @Test func failedWriteLeavesNothingBehind() throws {
        let directory = Scratch.directory()
        let writer = try ModelWriter(destination: directory + "/broken.dlm", name: "broken")
        writer.addInput("x", shape: [1, 3, 8, 8])
        writer.beginLayer("bad")
        #expect(throws: FormatError.self) {
            try writer.addNode(.init(name: "n", op: "Conv", inputs: ["x", "missing"], outputs: ["y"]))
        }
        writer.abandon()
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }

    @Test func writerRefusesToOverwrite() throws {
        #expect(throws: FormatError.self) { _ = try ModelWriter(destination: Scratch.tinyModelPath, name: "tiny") }
    }
}
