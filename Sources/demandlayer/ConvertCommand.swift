import ArgumentParser
import DemandFormat
import DemandONNX
import DemandTensor
import Foundation
import Synchronization

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert an ONNX model into a demandlayer model directory (NAME.dlm).",
        discussion: """
            Every shape is fixed at convert time. Inputs with symbolic dimensions
            (batch, sequence length) need --input-shape; the error names any left open.
            An input declared with a shape of no dimensions is a scalar (rank 0);
            one declared with no shape at all needs --input-shape NAME=scalar (or
            NAME=, the same) or NAME=DIMS.

            What happens to the graph:
              - weights come from initializers, Constant nodes and external data
                files beside the model;
              - shape subgraphs (Shape, Gather, Unsqueeze, Concat, Range,
                ConstantOfShape, Cast, arithmetic) and every node whose inputs
                are all constant are evaluated now;
              - BatchNormalization folds into the Conv before it; Relu, LeakyRelu,
                Sigmoid and Clip fuse into Conv, Gemm and Add; Split becomes Slices;
                Dropout and Identity vanish;
              - nodes are grouped into layers, each a weighted node plus the
                weightless nodes after it; a layer is the unit read from disk.

            An operator or attribute the runtime does not run stops the convert
            with the node's name and the supported list. The output is written to
            a hidden temporary directory and renamed at the end: a failed or
            interrupted convert leaves nothing behind.

            Examples:
              demandlayer convert resnet50.onnx resnet50.dlm
              demandlayer convert bert.onnx bert.dlm \\
                  --input-shape input_ids=1x128 --input-shape attention_mask=1x128
              demandlayer convert vgg19.onnx vgg19-fp16.dlm --dtype fp16
              demandlayer convert resnet50.onnx resnet50-int8.dlm --dtype int8
              demandlayer convert denoise.onnx denoise.dlm --input-shape sample_rate=scalar
            """
    )

    @Argument(help: ArgumentHelp("The ONNX model file (external data files must sit beside it).", valueName: "model.onnx"))
    var model: String

    @Argument(help: ArgumentHelp("The model directory to write; it must not exist.", valueName: "out.dlm"))
    var output: String

    @Option(name: .customLong("input-shape"), parsing: .singleValue, help: ArgumentHelp(
        "Fix an input's shape, e.g. input=1x3x224x224, or sr=scalar (also sr=) for a rank-0 input (repeat for several inputs).",
        valueName: "name=dims"))
    var inputShapes: [String] = []

    @Option(name: .long, help: ArgumentHelp(
        "How weights are stored: fp32, fp16 (half the bytes read; widened to fp32 on restore; integer constants stay fp32), or int8 (weight-only: Conv, Gemm and MatMul weights symmetric per output channel, about a quarter of the bytes; dequantized on restore; the rest stays fp32).",
        valueName: "fp32|fp16|int8"))
    var dtype: String = "fp32"

    func validate() throws {
        _ = try parsedShapes()
        guard Converter.WeightType(rawValue: dtype) != nil else {
            throw ValidationError("--dtype must be fp32, fp16 or int8, not '\(dtype)'")
        }
        guard FileManager.default.fileExists(atPath: model) else {
            throw ValidationError("no such model file: \(model)")
        }
    }

    /// `--input-shape` values as name → shape.
    func parsedShapes() throws -> [String: Shape] {
        var shapes: [String: Shape] = [:]
        for text in inputShapes {
            guard let equals = text.lastIndex(of: "=") else {
                throw ValidationError("--input-shape '\(text)' must look like NAME=1x3x224x224")
            }
            let name = String(text[..<equals])
            let value = text[text.index(after: equals)...]
            // NAME=scalar and NAME= both mean rank 0 (one element, no dimensions).
            let dims = value.isEmpty || value == "scalar"
                ? [] : value.split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
            guard !name.isEmpty, dims.allSatisfy({ ($0 ?? 0) > 0 }) else {
                throw ValidationError("--input-shape '\(text)' must look like NAME=1x3x224x224 with positive dimensions, or NAME=scalar")
            }
            guard shapes.updateValue(Shape(dims.map { $0! }), forKey: name) == nil else {
                throw ValidationError("--input-shape gives '\(name)' twice")
            }
        }
        return shapes
    }

    func run() throws {
        let options = Converter.Options(inputShapes: try parsedShapes(), weightType: Converter.WeightType(rawValue: dtype)!)
        let interruption = Self.removeOnInterrupt(ModelWriter.temporaryDirectory(for: output))
        defer { interruption.forEach { $0.cancel() } }
        // If a signal arrived, its handler is removing the partial output and will
        // exit with 128 + the signal: wait for it rather than report the failed
        // write it caused (or, once the model is complete, finish normally).
        func settle(finished: Bool) {
            let interrupted = Self.interruption.withLock { state in
                if state == .interrupting { return true }
                if finished { state = .finished }
                return false
            }
            if interrupted { while true { pause() } }
        }
        let start = DispatchTime.now().uptimeNanoseconds
        var lastDecile = -1
        do {
            let summary = try Converter.convert(modelPath: model, to: output, options: options) { progress in
                switch progress {
                case .loaded(let nodes, let initializers, let opset):
                    status("loaded \(model): \(nodes) nodes, \(initializers) initializers, opset \(opset)")
                case .lowered(let done, let total):
                    if done == total { status("lowered \(total) nodes") }
                case .wroteLayer(let index, let total, _, _):
                    let decile = (index + 1) * 10 / max(total, 1)
                    if decile > lastDecile {
                        lastDecile = decile
                        status("writing layers: \(index + 1)/\(total)")
                    }
                }
            }
            settle(finished: true)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let largest = summary.largestLayer
            status(String(format: "converted in %.1f s", seconds))
            print("\(output): \(summary.layerCount) layers, \(summary.nodeCount) nodes (from \(summary.sourceNodeCount)), "
                + "\(formatMiB(summary.weightByteCount)) of weights, largest layer '\(largest.name)' \(formatMiB(largest.byteCount))"
                + (options.weightType == .int8 ? String(format: ", %d weights int8 (largest RMS error %.2f%% of the weight's RMS)",
                                                        summary.quantizedWeightCount, summary.largestQuantizationError * 100) : ""))
        } catch {
            settle(finished: false)
            throw ConvertFailure(error: error)
        }
    }
}

extension ConvertCommand {
    enum InterruptionState { case running, interrupting, finished }
    /// Whether a signal handler has taken over (then the main thread must not
    /// exit before it) or the model is complete (then signals are let be).
    static let interruption = Mutex(InterruptionState.running)

    /// On SIGINT or SIGTERM, removes the half-written model at `temporaryPath`
    /// and exits with 128 + the signal: an interrupted convert leaves nothing
    /// behind. (A failed one cleans up through `ModelWriter` itself.)
    static func removeOnInterrupt(_ temporaryPath: String) -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                let proceed = interruption.withLock { state in
                    guard state == .running else { return false }
                    state = .interrupting
                    return true
                }
                guard proceed else { return }
                // Move it out of the writer's way first (the main thread may still be adding
                // files by path), then remove it.
                let doomed = temporaryPath + ".removing"
                let target = rename(temporaryPath, doomed) == 0 ? doomed : temporaryPath
                try? FileManager.default.removeItem(atPath: target)
                status("convert interrupted; removed the partial output")
                _exit(128 + number)
            }
            source.resume()
            return source
        }
    }
}

/// A convert error printed as "error: <where>: <what>" with a non-zero exit.
struct ConvertFailure: Error, CustomStringConvertible {
    let error: ImportError
    var description: String { "convert failed: \(error.description)" }
}
