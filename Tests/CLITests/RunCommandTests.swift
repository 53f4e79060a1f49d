import DemandFormat
import DemandLayer
import DemandTensor
import DemandTestSupport
import Foundation
import Testing

/// `demandlayer run`: .npy in, .npy out, the same numbers as the library.
@Suite struct RunCommandTests {
    let cli = CLITests()

    @Test func outputsEqualTheLibrarysAndBadInputsAreNamed() throws {
        let directory = Scratch.directory()
        let model = try Model.open(Scratch.tinyModelPath)
        let declared = try #require(model.manifest.inputs.first)
        let values = (0..<declared.shape.elementCount).map { Float(($0 * 7919) % 1000) / 500 - 1 }
        let inputPath = directory + "/x.npy"
        try Npy.write(path: inputPath, shape: declared.shape, values: values)

        let result = try cli.run(["run", Scratch.tinyModelPath, "--input", "\(declared.name)=\(inputPath)", "--output", directory + "/out"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("peak weights"), "statistics go to stderr")

        let session = try Session(model: model, options: SessionOptions(policy: .resident, threadCount: 1))
        defer { session.close() }
        let expected = try session.run([declared.name: Tensor(shape: declared.shape, values: values)])
        for output in model.manifest.outputs {
            let written = try Npy.read(path: directory + "/out/" + output.name.replacingOccurrences(of: "/", with: "_") + ".npy")
            #expect(written.shape == output.shape)
            #expect(written.values == expected[output.name]!.array, "the CLI's '\(output.name)' equals the library's, bit for bit")
        }

        let wrongShape = directory + "/wrong-shape.npy"
        try Npy.write(path: wrongShape, shape: [1], values: [0])
        let shapeError = try cli.run(["run", Scratch.tinyModelPath, "--input", "\(declared.name)=\(wrongShape)", "--output", directory + "/out"])
        #expect(shapeError.status != 0 && shapeError.stderr.contains("input '\(declared.name)'") && shapeError.stderr.contains("\(declared.shape)"))

        let integers = directory + "/integers.npy"
        try NpyBytes.make(descr: "<i8", shape: "(1,)", payload: [1, 0, 0, 0, 0, 0, 0, 0]).write(to: URL(fileURLWithPath: integers))
        let dtypeError = try cli.run(["run", Scratch.tinyModelPath, "--input", "\(declared.name)=\(integers)", "--output", directory + "/out"])
        #expect(dtypeError.status != 0 && dtypeError.stderr.contains("int64") && dtypeError.stderr.contains("float32"))

        let unknown = try cli.run(["run", Scratch.tinyModelPath, "--input", "nope=\(inputPath)", "--output", directory + "/out"])
        #expect(unknown.status != 0 && unknown.stderr.contains("'nope' is not an input"))
        let missing = try cli.run(["run", Scratch.tinyModelPath, "--output", directory + "/out"])
        #expect(missing.status != 0 && missing.stderr.contains("is missing"))
    }
}
