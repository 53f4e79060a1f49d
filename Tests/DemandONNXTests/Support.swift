import DemandFormat
import DemandLayer
@testable import DemandONNX
import DemandTensor
import DemandTestSupport
import Foundation

/// Converts a built model into a scratch directory and returns the model.
func convert(_ builder: ONNXBuilder, options: Converter.Options = .init(), name: String = #function) throws -> (Converter.Summary, String) {
    let directory = Scratch.directory(name)
    let source = try builder.write(to: directory)
    let destination = directory + "/out.dlm"
    let summary = try Converter.convert(modelPath: source, to: destination, options: options)
    return (summary, directory)
}

/// Runs a converted model through a pipelined session.
func run(_ model: Model, _ inputs: [String: Tensor]) throws -> [String: Tensor] {
    let session = try Session(model: model, options: .init(policy: .pipelined, depth: 2, threadCount: 1))
    defer { session.close() }
    return try session.run(inputs)
}

/// Runs one runtime operator with the plain reference kernels.
func reference(_ type: String, _ attributes: [String: AttributeValue] = [:], _ inputs: [Tensor]) throws -> Tensor {
    let op = try Operator(type: type, attributes: attributes)
    let output = Tensor(zeros: try op.outputShape(inputs: inputs.map(\.shape)))
    Reference.execute(op, inputs: inputs, output: output)
    return output
}

func tensor(_ shape: Shape, _ values: [Float]) -> Tensor { Tensor(shape: shape, values: values) }

/// Every file and directory left under `directory`, for no-partial-output checks.
func leftovers(in directory: String, except kept: Set<String> = ["model.onnx"]) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { !kept.contains($0) }.sorted()
}

/// Whether the process may mount filesystems (root in the sandbox).
var canMount: Bool { geteuid() == 0 }

/// Runs a shell command; returns its exit status.
@discardableResult
func shell(_ command: String) -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { return -1 }
    process.waitUntilExit()
    return process.terminationStatus
}
