import DemandFormat
@testable import DemandONNX
import DemandLayer
import DemandTensor
import DemandTestSupport
import Foundation
import Testing

/// Every failure names what is wrong and where, and leaves no output behind.
@Suite struct ConvertFailureTests {
    /// A small valid model: x (1, 8) → Gemm with a 4 KiB weight → y.
    static func gemmModel(rows: Int = 8, columns: Int = 128) -> ONNXBuilder {
        var b = ONNXBuilder()
        b.input("x", [1, rows])
        b.weight("w", [rows, columns])
        b.node("Gemm", ["x", "w"], ["y"], name: "fc")
        b.output("y")
        return b
    }

    func expectFailure(_ builder: ONNXBuilder, options: Converter.Options = .init(), name: String = #function,
                       _ check: (ImportError) -> Void) throws {
        let directory = Scratch.directory(name)
        let source = try builder.write(to: directory)
        do {
            try Converter.convert(modelPath: source, to: directory + "/out.dlm", options: options)
            Issue.record("the convert succeeded")
        } catch {
            check(error)
        }
        #expect(leftovers(in: directory) == [], "nothing is left behind")
    }

    @Test func unsupportedOperatorIsRefusedWithNodeAndList() throws {
        var b = Self.gemmModel()
        b.node("NonMaxSuppression", ["y"], ["boxes"], name: "nms_head")
        b.model.graph.output[0].name = "boxes"
        try expectFailure(b) { error in
            #expect(error.code == .unsupported)
            #expect(error.node == "node 'nms_head' (NonMaxSuppression)")
            #expect(error.message.contains("NonMaxSuppression") && error.message.contains("outside the model on the boxes output"),
                    "\(error)")
        }
    }

    /// An op with no table entry gets the supported list.
    @Test func unknownOperatorGetsTheSupportedList() throws {
        var b = Self.gemmModel()
        b.node("Det", ["y"], ["d"], name: "det")
        b.model.graph.output[0].name = "d"
        try expectFailure(b) { error in
            #expect(error.code == .unsupported && error.node == "node 'det' (Det)", "\(error)")
            #expect(error.message.contains("'Det'") && error.message.contains("supported: ") && error.message.contains("Conv"), "\(error)")
        }
    }

    /// What edge models ship and the runtime does not run: the error names
    /// the op, the node and what to do instead.
    @Test func unsupportedOperatorsNameAnAlternative() throws {
        let cases: [(op: String, domain: String, named: [String])] = [
            ("RNN", "", ["plain RNN cell is not supported", "LSTM and GRU are", "unrolled"]),
            ("If", "", ["condition computed at run time", "inlined only when its condition is known at convert time", "fold the condition at export"]),
            ("Loop", "", ["control flow is not supported", "unroll"]),
            ("Scan", "", ["control flow is not supported"]),
            ("QuantizeLinear", "", ["needs a constant scale (input 1)"]),
            ("DequantizeLinear", "", ["needs a constant scale (input 1)"]),
            ("ConvInteger", "", ["quantized operator is not supported yet", "QDQ form", "--dtype int8"]),
            ("DynamicQuantizeLinear", "", ["quantized operator is not supported yet"]),
            ("QLinearAdd", "com.microsoft", ["quantized operator", "4-bit MatMulNBits"]),
            ("Attention", "com.microsoft", ["'com.microsoft'", "before onnxruntime optimized it"]),
            ("MyNorm", "org.example.custom", ["'org.example.custom'", "only the default ONNX domain"]),
        ]
        for (index, testCase) in cases.enumerated() {
            var b = Self.gemmModel()
            b.node(testCase.op, ["y"], ["z"], name: "edge_\(index)", domain: testCase.domain)
            b.model.graph.output[0].name = "z"
            try expectFailure(b, name: "alternative-\(index)") { error in
                #expect(error.code == .unsupported, "\(testCase.op): \(error)")
                #expect(error.node == "node 'edge_\(index)' (\(testCase.op))", "\(testCase.op): \(error)")
                for fragment in ["'\(testCase.op)'"] + testCase.named {
                    #expect(error.message.contains(fragment), "\(testCase.op) should name \(fragment): \(error)")
                }
            }
        }
    }

    /// GroupNormalization's scale is per group before opset 21 and per channel from 21.
    @Test func groupNormalizationScaleFollowsTheOpset() throws {
        for (opset, count, expected) in [(21, 2, "per channel (6)"), (18, 6, "per group (2)")] {
            var b = ONNXBuilder(opset: opset)
            b.input("x", [1, 6, 4, 4])
            b.weight("scale", [count])
            b.weight("bias", [count])
            b.node("GroupNormalization", ["x", "scale", "bias"], ["y"], name: "gn", ["num_groups": .i(2)])
            b.output("y")
            try expectFailure(b, name: "groupnorm-\(opset)") { error in
                #expect(error.node == "node 'gn' (GroupNormalization)", "\(error)")
                #expect(error.message.contains("opset \(opset)") && error.message.contains(expected), "\(error)")
            }
        }
    }

    /// A Resize mode the runtime lacks names the modes it has.
    @Test func unsupportedResizeModeNamesTheSupportedOnes() throws {
        var b = ONNXBuilder()
        b.input("x", [1, 2, 4, 4])
        b.initializer("roi", [0], [])
        b.initializer("scales", [4], [1, 1, 2, 2])
        b.node("Resize", ["x", "roi", "scales"], ["y"], name: "up", ["mode": .s("cubic")])
        b.output("y")
        try expectFailure(b) { error in
            #expect(error.code == .unsupported && error.node == "node 'up' (Resize)", "\(error)")
            for fragment in ["cubic", "\"nearest\"", "\"linear\""] {
                #expect(error.message.contains(fragment), "\(fragment): \(error)")
            }
        }
    }

    @Test func unsupportedAttributeIsRefused() throws {
        var b = ONNXBuilder()
        b.input("x", [1, 2, 8, 8])
        b.node("MaxPool", ["x"], ["y"], name: "pool", ["kernel_shape": .ints([2, 2]), "dilations": .ints([2, 2])])
        b.output("y")
        try expectFailure(b) { error in
            #expect(error.code == .unsupported && error.node == "node 'pool' (MaxPool)")
            #expect(error.description.contains("dilations"), "\(error)")
        }
    }

    /// The edge-model operators refuse attribute values they do not
    /// implement, naming the op, the node and the attribute.
    @Test func unsupportedAttributesOfEdgeOperatorsAreNamed() throws {
        let cases: [(op: String, shape: [Any], attributes: [String: ONNXBuilder.Attr], named: [String])] = [
            ("DepthToSpace", [1, 8, 2, 2], ["blocksize": .i(2), "mode": .s("RDC")], ["mode", "\"RDC\"", "\"CRD\""]),
            ("Mod", [2, 3], ["fmod": .i(2)], ["fmod is 2"]),
            ("CumSum", [2, 3], ["reverse": .i(3)], ["reverse is 3"]),
            ("LogSoftmax", [2, 3], ["axes": .ints([1])], ["'axes'"]),
        ]
        for (index, testCase) in cases.enumerated() {
            var b = ONNXBuilder()
            b.input("x", testCase.shape)
            var inputs = ["x"]
            if testCase.op == "Mod" { inputs.append("x") }
            if testCase.op == "CumSum" {
                b.model.graph.initializer.append(ONNXBuilder.tensor("axis", [], ints: [1]))
                inputs.append("axis")
            }
            b.node(testCase.op, inputs, ["y"], name: "edge_\(index)", testCase.attributes)
            b.output("y")
            try expectFailure(b, name: "edge-attribute-\(index)") { error in
                #expect(error.code == .unsupported || error.code == .invalidModel, "\(testCase.op): \(error)")
                #expect(error.node == "node 'edge_\(index)' (\(testCase.op))", "\(testCase.op): \(error)")
                for fragment in [testCase.op] + testCase.named {
                    #expect(error.description.contains(fragment), "\(testCase.op): '\(error)' should mention '\(fragment)'")
                }
            }
        }
    }

    @Test func otherDomainsAreRefused() throws {
        var b = Self.gemmModel()
        b.node("FusedGemm", ["y"], ["z"], name: "ms", domain: "com.microsoft")
        b.model.graph.output[0].name = "z"
        try expectFailure(b) { error in
            #expect(error.code == .unsupported && error.description.contains("com.microsoft"), "\(error)")
        }
    }

    @Test func malformedAndTruncatedProtobufAreRefused() throws {
        let valid = try Self.gemmModel().bytes()
        var garbage = ONNXBuilder()
        garbage.model = Onnx_ModelProto()
        let cases: [(String, Data)] = [
            ("empty", Data()),
            ("text", Data("this is not a model\n".utf8)),
            ("truncated", valid.prefix(valid.count / 2)),
            ("truncated-one-byte", valid.prefix(valid.count - 1)),
            ("bad-wire-type", Data([0x0F, 0xFF, 0xFF])),
        ]
        for (name, bytes) in cases {
            let directory = Scratch.directory("malformed-\(name)")
            let path = directory + "/model.onnx"
            try bytes.write(to: URL(fileURLWithPath: path))
            do {
                try Converter.convert(modelPath: path, to: directory + "/out.dlm")
                Issue.record("\(name): the convert succeeded")
            } catch {
                #expect(error.code == .malformed || error.code == .invalidModel, "\(name): \(error)")
                #expect(error.path == path, "\(name): the error names the file")
            }
            #expect(leftovers(in: directory) == [], "\(name): nothing is left behind")
        }
    }

    @Test func missingExternalDataNamesFileAndTensor() throws {
        for (label, fileBytes) in [("missing", nil), ("short", 20)] as [(String, Int?)] {
            var b = ONNXBuilder()
            b.input("x", [1, 4])
            var weight = ONNXBuilder.tensor("big_weight", [4, 4], floats: [])
            weight.dataLocation = .external
            var entry = Onnx_StringStringEntryProto()
            entry.key = "location"
            entry.value = "big.bin"
            weight.externalData = [entry]
            b.model.graph.initializer.append(weight)
            b.node("Gemm", ["x", "big_weight"], ["y"])
            b.output("y")
            let directory = Scratch.directory("external-\(label)")
            if let fileBytes { try Data(count: fileBytes).write(to: URL(fileURLWithPath: directory + "/big.bin")) }
            let source = try b.write(to: directory)
            do {
                try Converter.convert(modelPath: source, to: directory + "/out.dlm")
                Issue.record("\(label): the convert succeeded")
            } catch {
                #expect(error.code == (label == "missing" ? .externalData : .invalidModel), "\(label): \(error)")
                #expect(error.description.contains("big_weight"), "\(label): names the tensor: \(error)")
                if label == "missing" { #expect(error.path == directory + "/big.bin", "names the file: \(error)") }
            }
            #expect(leftovers(in: directory, except: ["model.onnx", "big.bin"]) == [])
        }
    }

    @Test func symbolicDimensionWithoutShapeIsNamed() throws {
        var b = ONNXBuilder()
        b.input("tokens", [1, "sequence"])
        b.weight("w", [16, 4])
        b.node("Gemm", ["tokens", "w"], ["y"])
        b.output("y")
        try expectFailure(b) { error in
            #expect(error.code == .unresolvedShape)
            #expect(error.message.contains("'tokens'") && error.message.contains("dimension 1") && error.message.contains("sequence"), "\(error)")
            #expect(error.message.contains("--input-shape tokens=1x1"), "the remedy is spelled out: \(error)")
        }
        try expectFailure(b, options: .init(inputShapes: ["token": [1, 16]]), name: "misspelled") { error in
            #expect(error.message.contains("'token'") && error.message.contains("tokens"), "\(error)")
        }
    }

    @Test func integersBeyondFloatPrecisionAreRefused() throws {
        var b = ONNXBuilder()
        b.input("x", [1, 2])
        b.initializer("ids", [2], ints: [1, (1 << 24) + 1])
        b.node("Cast", ["ids"], ["ids_f"], ["to": .i(7)])
        b.node("Add", ["x", "ids"], ["y"], name: "add_ids")
        b.output("y")
        try expectFailure(b) { error in
            #expect(error.code == .valueRange && error.message.contains("16777217"), "\(error)")
        }
    }

    @Test func outputDirectoryThatCannotBeCreated() throws {
        let directory = Scratch.directory()
        let source = try Self.gemmModel().write(to: directory)
        // A regular file where the parent directory should be: refused even for root.
        FileManager.default.createFile(atPath: directory + "/blocker", contents: Data("x".utf8))
        #expect(throws: ImportError.self) { try Converter.convert(modelPath: source, to: directory + "/blocker/out.dlm") }
        // An existing output is never overwritten.
        try FileManager.default.createDirectory(atPath: directory + "/taken.dlm", withIntermediateDirectories: false)
        do {
            try Converter.convert(modelPath: source, to: directory + "/taken.dlm")
            Issue.record("overwrote an existing directory")
        } catch {
            #expect(error.code == .writeFailed && error.message.contains("already exists"), "\(error)")
        }
        #expect(leftovers(in: directory) == ["blocker", "taken.dlm"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/taken.dlm").isEmpty)
    }

    @Test func readOnlyOutputDirectory() throws {
        let directory = Scratch.directory()
        let source = try Self.gemmModel().write(to: directory)
        let target = directory + "/readonly"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
        if canMount {
            try #require(shell("mount -t tmpfs -o ro,size=1m tmpfs '\(target)'") == 0, "mount a read-only tmpfs")
        } else {
            chmod(target, 0o555)
        }
        defer { if canMount { shell("umount '\(target)'") } }
        do {
            try Converter.convert(modelPath: source, to: target + "/out.dlm")
            Issue.record("wrote into a read-only directory")
        } catch {
            #expect(error.code == .writeFailed, "\(error)")
            #expect(error.description.contains(target), "names the directory: \(error)")
        }
        #expect(leftovers(in: target, except: []) == [])
    }

    @Test func diskFullDuringConvertLeavesNothing() throws {
        guard canMount else {
            print("skipped diskFullDuringConvertLeavesNothing: mounting a small tmpfs needs root")
            return
        }
        let directory = Scratch.directory()
        let target = directory + "/small"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
        try #require(shell("mount -t tmpfs -o size=1m tmpfs '\(target)'") == 0, "mount a 1 MiB tmpfs")
        defer { shell("umount '\(target)'") }
        // Four layers of 512 KiB: the third does not fit.
        var b = ONNXBuilder()
        b.input("x", [1, 256])
        var previous = "x"
        for layer in 0..<4 {
            b.weight("w\(layer)", [256, 512])
            b.weight("v\(layer)", [512, 256])
            b.node("Gemm", [previous, "w\(layer)"], ["h\(layer)"], name: "up\(layer)")
            b.node("Gemm", ["h\(layer)", "v\(layer)"], ["o\(layer)"], name: "down\(layer)")
            previous = "o\(layer)"
        }
        b.output(previous)
        let source = try b.write(to: directory)
        do {
            try Converter.convert(modelPath: source, to: target + "/out.dlm")
            Issue.record("a 4 MiB model fit in 1 MiB")
        } catch {
            #expect(error.code == .writeFailed && error.description.contains("No space left"), "\(error)")
        }
        #expect(leftovers(in: target, except: []) == [], "the partial directory is removed")
    }
}

/// Damaged models never crash or hang the converter: each mutation of a
/// valid model either converts or fails with an `ImportError`.
@Suite struct ConvertMutationTests {
    @Test func mutatedModelsFailCleanly() throws {
        let fixtures = Scratch.packageRoot + "/fixtures/onnx/ops"
        let names = ["conv_batchnormalization", "shape_gather_unsqueeze_concat_reshape", "resize_linear_half_pixel_x2",
                     "split_opset13_input", "gather_embedding_runtime_ids", "convtranspose_output_shape"]
        var seed: UInt64 = 0x5EED
        func next() -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int(seed >> 33)
        }
        var outcomes = (converted: 0, refused: 0)
        let directory = Scratch.directory()
        for name in names {
            guard let original = FileManager.default.contents(atPath: "\(fixtures)/\(name)/model.onnx") else { continue }
            for round in 0..<150 {
                var bytes = original
                for _ in 0...(round % 4) {
                    let position = next() % bytes.count
                    switch next() % 3 {
                    case 0: bytes[position] = UInt8(truncatingIfNeeded: next())
                    case 1: bytes[position] ^= UInt8(1 << (next() % 8))
                    default: bytes = bytes.prefix(position) + bytes.suffix(from: min(bytes.count, position + 1 + next() % 8))
                    }
                }
                let destination = "\(directory)/\(name)-\(round).dlm"
                do {
                    let summary = try Converter.convert(modelBytes: bytes, directory: directory, to: destination)
                    outcomes.converted += 1
                    // What converts also runs (or fails with an error) on zero inputs.
                    var inputs: [String: Tensor] = [:]
                    for input in summary.model.manifest.inputs { inputs[input.name] = Tensor(zeros: input.shape) }
                    _ = try? run(summary.model, inputs)
                    Scratch.remove(destination)
                } catch {
                    outcomes.refused += 1
                    #expect(!FileManager.default.fileExists(atPath: destination), "\(name) round \(round): no output after \(error)")
                }
            }
        }
        print("mutated models: \(outcomes.converted) converted, \(outcomes.refused) refused")
        #expect(outcomes.refused > 0, "mutations are detected: \(outcomes)")
        #expect(leftovers(in: directory, except: []) == [], "no partial directories remain")
    }
}

/// `demandlayer convert` stopped by SIGINT while writing leaves nothing behind.
@Suite struct ConvertInterruptTests {
    static let binary: String? = {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path,
            Bundle.main.bundleURL.deletingLastPathComponent().path,
            Scratch.packageRoot + "/.build/debug",
        ]
        return candidates.map { $0 + "/demandlayer" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    @Test func interruptedConvertLeavesNothing() throws {
        guard let binary = Self.binary else {
            print("skipped interruptedConvertLeavesNothing: the demandlayer binary is not built beside the tests")
            return
        }
        // 24 layers of 4 MiB, each written and fsynced: long enough to interrupt mid-write.
        var b = ONNXBuilder()
        b.input("x", [1, 1024])
        var previous = "x"
        for layer in 0..<24 {
            b.initializer("w\(layer)", [1024, 1024], [Float](repeating: Float(layer) / 1024, count: 1024 * 1024))
            b.node("Gemm", [previous, "w\(layer)"], ["h\(layer)"], name: "fc\(layer)")
            previous = "h\(layer)"
        }
        b.output(previous)
        let directory = Scratch.directory()
        let source = try b.write(to: directory)
        let output = directory + "/out"
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: false)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["convert", source, output + "/model.dlm"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Interrupt once the first layer is written.
        var seen = ""
        while !seen.contains("writing layers"), process.isRunning {
            let chunk = errors.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        seen += String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let left = try FileManager.default.contentsOfDirectory(atPath: output)
        if process.terminationStatus == 0 {
            print("interruptedConvertLeavesNothing: the convert finished before the signal; checked that it left one complete model")
            #expect(left == ["model.dlm"])
        } else {
            #expect(process.terminationStatus == 128 + SIGINT, "\(seen)")
            #expect(seen.contains("interrupted"), "\(seen)")
            #expect(left == [], "an interrupted convert leaves nothing behind: \(left)")
        }
    }
}
