import DemandFormat
import DemandTensor
import DemandTestSupport
import Foundation
import Testing

/// `demandlayer convert`, end to end with `run`, on the committed ONNX fixtures.
@Suite struct ConvertCommandTests {
    let cli = CLITests()
    static let fixtures = Scratch.packageRoot + "/fixtures/onnx"

    @Test func convertThenRunMatchesOnnxruntime() throws {
        let source = Self.fixtures + "/ops/conv_batchnormalization"
        let directory = Scratch.directory()
        let output = directory + "/model.dlm"
        let result = try cli.run(["convert", source + "/model.onnx", output])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("loaded") && result.stderr.contains("opset"), "progress goes to stderr: \(result.stderr)")
        #expect(result.stdout.contains("layers") && result.stdout.contains("of weights") && result.stdout.contains("largest layer"),
                "one summary line: \(result.stdout)")
        let model = try Model.open(output)
        #expect(!model.layers.flatMap(\.nodes).contains { $0.op == "BatchNormalization" })

        let input = try #require(model.manifest.inputs.first)
        let run = try cli.run(["run", output, "--input", "\(input.name)=\(source)/input_0.npy", "--output", directory + "/out"])
        #expect(run.status == 0, "\(run.stderr)")
        let outputName = try #require(model.manifest.outputs.first?.name)
        let actual = try Npy.read(path: "\(directory)/out/\(outputName.replacingOccurrences(of: "/", with: "_")).npy").tensor
        let expected = try Npy.read(path: source + "/output_0.npy").tensor
        let closeness = Closeness(actual: actual, expected: expected)
        #expect(closeness.passes(tolerance: 1e-4), "\(closeness.describe(tolerance: 1e-4))")
    }

    /// A scalar input: declared in the model (an int64 sample rate, fed a 0-d
    /// .npy) or declared on the command line (`NAME=scalar`, and `NAME=`).
    @Test func scalarInputsConvertAndRun() throws {
        let declared = Self.fixtures + "/ops/scalar_input_int64"
        let directory = Scratch.directory()
        let result = try cli.run(["convert", declared + "/model.onnx", directory + "/sr.dlm"])
        #expect(result.status == 0, "\(result.stderr)")
        let run = try cli.run(["run", directory + "/sr.dlm", "--input", "x=\(declared)/input_0.npy",
                               "--input", "sr=\(declared)/input_1.npy", "--output", directory + "/out"])
        #expect(run.status == 0, "\(run.stderr)")
        let actual = try Npy.read(path: directory + "/out/mul_5.npy").tensor
        let expected = try Npy.read(path: declared + "/output_0.npy").tensor
        #expect(Closeness(actual: actual, expected: expected).passes(tolerance: 1e-4))
        let wrongRank = try cli.run(["run", directory + "/sr.dlm", "--input", "x=\(declared)/input_0.npy",
                                     "--input", "sr=\(declared)/input_0.npy", "--output", directory + "/out2"])
        #expect(wrongRank.status != 0 && wrongRank.stderr.contains("scalar"), "the expected shape is named: \(wrongRank.stderr)")

        let total = Self.fixtures + "/ops/reducesum_opset13_all_nokeep"
        #expect(try cli.run(["convert", total + "/model.onnx", directory + "/total.dlm"]).status == 0)
        let totalRun = try cli.run(["run", directory + "/total.dlm", "--input", "x=\(total)/input_0.npy", "--output", directory + "/total"])
        #expect(totalRun.status == 0, "\(totalRun.stderr)")
        let outputName = try #require(try Model.open(directory + "/total.dlm").manifest.outputs.first?.name)
        let written = try Npy.read(path: "\(directory)/total/\(outputName).npy")
        #expect(written.shape.rank == 0, "a rank-0 output is written as a 0-d array")
        #expect(Closeness(actual: written.tensor, expected: try Npy.read(path: total + "/output_0.npy").tensor).passes(tolerance: 1e-4))

        let undeclared = Self.fixtures + "/ops/scalar_input_undeclared_shape/model.onnx"
        let refused = try cli.run(["convert", undeclared, directory + "/refused.dlm"])
        #expect(refused.status != 0 && refused.stderr.contains("--input-shape gain=scalar"), "\(refused.stderr)")
        for (index, flag) in ["gain=scalar", "gain="].enumerated() {
            let converted = try cli.run(["convert", undeclared, directory + "/gain\(index).dlm", "--input-shape", flag])
            #expect(converted.status == 0, "\(flag): \(converted.stderr)")
            #expect(try Model.open(directory + "/gain\(index).dlm").manifest.inputs.first { $0.name == "gain" }?.shape == Shape([]))
        }
    }

    @Test func refusedModelsFailWithTheNodeAndLeaveNothing() throws {
        let directory = Scratch.directory()
        let result = try cli.run(["convert", Self.fixtures + "/bad/unsupported_op/model.onnx", directory + "/out.dlm"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("NonMaxSuppression") && result.stderr.contains("nms_0")
                && result.stderr.contains("outside the model"), "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty, "nothing is left behind")

        let open = try cli.run(["convert", Self.fixtures + "/bad/open_dimension/model.onnx", directory + "/out.dlm"])
        #expect(open.status != 0 && open.stderr.contains("--input-shape"), "the remedy is named: \(open.stderr)")
    }

    @Test func argumentsAreCheckedAndHelpTeaches() throws {
        let model = Self.fixtures + "/ops/relu/model.onnx"
        for arguments in [["--input-shape", "x=1xq"], ["--input-shape", "noequals"], ["--dtype", "int4"]] {
            let result = try cli.run(["convert", model, Scratch.directory("args") + "/out.dlm"] + arguments)
            #expect(result.status == 64, "\(arguments): a usage error, \(result.stderr)")
        }
        let help = try cli.run(["convert", "--help"])
        for phrase in ["--input-shape", "--dtype", "fp16", "int8", "BatchNormalization", "Examples:", "leaves nothing behind", "=scalar"] {
            #expect(help.stdout.contains(phrase), "help mentions \(phrase)")
        }
    }
}
