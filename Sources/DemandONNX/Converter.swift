import DemandFormat
import DemandTensor
import Foundation

/// Converts an ONNX model file into a demandlayer model directory.
///
/// Steps: decode the protobuf and load every weight (initializers, `Constant`
/// nodes, external data beside the model) → fix the input shapes → lower the
/// graph to runtime nodes, folding everything computable now (`Lowering`) →
/// group nodes into layers (`Layering`) → write through `ModelWriter`, which
/// works in a hidden temporary directory and renames it into place only when
/// the finished model opens cleanly. Any failure leaves nothing behind.
public enum Converter {
    /// How weights are stored.
    public enum WeightType: String, Sendable, CaseIterable {
        /// 4 bytes per value, as computed.
        case fp32
        /// 2 bytes per value; widened to float32 when a layer is restored.
        /// Constants holding integers stay float32 (exact).
        case fp16
        /// Weight-only int8: each Conv, Gemm and MatMul weight of at least
        /// `smallestHalfCount` values symmetric per output channel (1 byte per
        /// value plus a float32 scale per channel), dequantized when a layer
        /// is restored; everything else stays float32.
        case int8
    }

    /// What to convert and how.
    public struct Options: Sendable {
        /// Shapes for graph inputs, replacing what the model declares
        /// (required for every input with a symbolic dimension).
        public var inputShapes: [String: Shape]
        /// How float weights are stored.
        public var weightType: WeightType
        /// The model's name in the manifest (default: the file's base name).
        public var name: String?

        public init(inputShapes: [String: Shape] = [:], weightType: WeightType = .fp32, name: String? = nil) {
            self.inputShapes = inputShapes
            self.weightType = weightType
            self.name = name
        }
    }

    /// With `--dtype fp16` or `int8`, tensors with fewer elements than this stay float32.
    public static let smallestHalfCount = 4096

    /// Where a convert is, for progress display.
    public enum Progress: Sendable {
        /// The model is decoded: its node and initializer counts and opset.
        case loaded(nodeCount: Int, initializerCount: Int, opset: Int)
        /// `done` of `total` ONNX nodes lowered.
        case lowered(done: Int, total: Int)
        /// Layer `index` of `total` is written with `byteCount` weight bytes.
        case wroteLayer(index: Int, total: Int, name: String, byteCount: Int)
    }

    /// What a finished convert produced.
    public struct Summary: Sendable {
        /// The written model, opened and validated.
        public let model: Model
        /// ONNX nodes in the source graph.
        public let sourceNodeCount: Int
        /// Runtime nodes written.
        public let nodeCount: Int
        /// Layers written (the units of reading).
        public var layerCount: Int { model.layers.count }
        /// Bytes of all layer files, padding included.
        public var weightByteCount: Int { model.weightByteCount }
        /// With `--dtype int8`: how many weights were quantized, and the largest
        /// quantization error among them, as RMS(error) / RMS(weight).
        public let quantizedWeightCount: Int
        public let largestQuantizationError: Float
        /// The largest layer's name and padded bytes.
        public var largestLayer: (name: String, byteCount: Int) {
            let layer = model.layers.max { $0.byteCount < $1.byteCount }
            return (layer?.name ?? "", layer?.byteCount ?? 0)
        }
    }

    /// Converts `modelPath` into a new model directory at `destination`
    /// (which must not exist).
    @discardableResult
    public static func convert(modelPath: String, to destination: String, options: Options = Options(),
                               progress: (Progress) -> Void = { _ in }) throws(ImportError) -> Summary {
        let graph = try SourceGraph.load(path: modelPath)
        progress(.loaded(nodeCount: graph.nodes.count, initializerCount: graph.initializers.count, opset: graph.opset))
        let name = options.name ?? ((modelPath as NSString).lastPathComponent as NSString).deletingPathExtension
        return try convert(graph, to: destination, name: name, options: options, progress: progress)
    }

    /// Converts ONNX protobuf bytes (external data is looked up in `directory`).
    @discardableResult
    public static func convert(modelBytes: Data, directory: String = ".", to destination: String, options: Options = Options(),
                               progress: (Progress) -> Void = { _ in }) throws(ImportError) -> Summary {
        let graph = try SourceGraph.decode(modelBytes, directory: directory)
        progress(.loaded(nodeCount: graph.nodes.count, initializerCount: graph.initializers.count, opset: graph.opset))
        return try convert(graph, to: destination, name: options.name ?? (graph.name.isEmpty ? "model" : graph.name),
                           options: options, progress: progress)
    }

    static func convert(_ graph: SourceGraph, to destination: String, name: String, options: Options,
                        progress: (Progress) -> Void) throws(ImportError) -> Summary {
        let inputs = try InputShapes.resolve(graph.inputs, overrides: options.inputShapes)
        var inputNames = Set<String>()
        for input in inputs where !inputNames.insert(input.name).inserted {
            throw ImportError(.invalidModel, "graph input '\(input.name)' is declared twice")
        }
        let lowering = Lowering(graph: graph, inputShapes: Dictionary(uniqueKeysWithValues: inputs.map { ($0.name, $0.shape) }))
        try lowering.run { progress(.lowered(done: $0, total: graph.nodes.count)) }

        var nodes = lowering.nodes
        for output in graph.outputs {
            let source = lowering.resolve(output)
            if lowering.constants[source] != nil {
                throw ImportError(.unsupported, "graph output '\(output)' is a constant; outputs must depend on an input")
            }
            if source != output {
                nodes.append(RuntimeNode(name: output, op: "Identity", inputs: [source], output: output, attributes: [:]))
            }
        }
        guard !nodes.isEmpty else { throw ImportError(.invalidModel, "the graph computes nothing at run time") }
        let layers = Layering.plan(nodes, constants: lowering.constants, freshName: lowering.freshName)
        let written = try write(layers, inputs: inputs, outputs: graph.outputs, outputTypes: graph.outputTypes, constants: lowering.constants,
                                quantizedSources: lowering.quantizedSources, destination: destination, name: name,
                                weightType: options.weightType, progress: progress)
        return Summary(model: written.model, sourceNodeCount: graph.nodes.count, nodeCount: nodes.count,
                       quantizedWeightCount: written.quantizedCount, largestQuantizationError: written.largestError)
    }
}
