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

    /// A typed output is written in its declared dtype (`<i8` here, with the
    /// ArgMax's exact indices); a value that is not exact fails the run naming it.
    @Test func typedOutputsAreWrittenInTheirDtype() throws {
        let directory = Scratch.directory()
        let path = directory + "/typed.dlm"
        let writer = try ModelWriter(destination: path, name: "typed")
        writer.addInput("x", shape: [2, 4])
        writer.beginLayer("heads")
        try writer.addNode(Manifest.Node(name: "argmax", op: "ArgMax", inputs: ["x"], outputs: ["best"],
                                         attributes: ["axis": .int(1), "keepdims": .int(0)]))
        try writer.addNode(Manifest.Node(name: "copy", op: "Identity", inputs: ["x"], outputs: ["copy"]))
        try writer.endLayer()
        try writer.addOutput("best", dtype: .int64)
        try writer.addOutput("copy", dtype: .int32)
        _ = try writer.finish()

        let input = directory + "/x.npy"
        try Npy.write(path: input, shape: [2, 4], values: [0, 3, -1, 2, 7, 7, 8, -9])
        let result = try cli.run(["run", path, "--input", "x=\(input)", "--output", directory + "/out"])
        #expect(result.status == 0, "\(result.stderr)")
        let best = try Data(contentsOf: URL(fileURLWithPath: directory + "/out/best.npy"))
        #expect(String(decoding: best.prefix(128), as: UTF8.self).contains("'descr': '<i8'"))
        #expect(Array(best.suffix(16)) == [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0], "indices 1 and 2 as little-endian int64")
        let copy = try Data(contentsOf: URL(fileURLWithPath: directory + "/out/copy.npy"))
        #expect(String(decoding: copy.prefix(128), as: UTF8.self).contains("'descr': '<i4'"))
        #expect(try Npy.read(path: directory + "/out/copy.npy").values == [0, 3, -1, 2, 7, 7, 8, -9])

        try Npy.write(path: input, shape: [2, 4], values: [0, 3, -1, 2, 7, 7.25, 8, -9])
        let inexact = try cli.run(["run", path, "--input", "x=\(input)", "--output", directory + "/out2"])
        #expect(inexact.status != 0 && inexact.stderr.contains("output 'copy'") && inexact.stderr.contains("7.25"), "\(inexact.stderr)")
    }
}
