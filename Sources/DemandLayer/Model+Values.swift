import DemandFormat
import DemandTensor

/// A graph input or output as the model declares it: a name, a static shape and a dtype.
public struct TensorInfo: Sendable, Hashable, CustomStringConvertible {
    /// The value's name in the graph, the key of `Session.run`'s dictionaries.
    public var name: String
    /// The value's shape; every inference uses exactly this shape.
    public var shape: Shape
    /// The declared element type: what an input is read as, what `Session.runTyped`
    /// delivers an output as (`Session.run` gives float32 with exact values).
    public var dtype: DType

    /// A description of the value called `name` with shape `shape` and type `dtype`.
    public init(name: String, shape: Shape, dtype: DType = .float32) {
        self.name = name
        self.shape = shape
        self.dtype = dtype
    }

    /// `name` and shape, as in `input 1x3x224x224`.
    public var description: String { "\(name) \(shape)" }
}

extension Model {
    /// The graph inputs in declaration order: `Session.run` needs each of them.
    public var inputs: [TensorInfo] {
        manifest.inputs.map { TensorInfo(name: $0.name, shape: $0.shape, dtype: $0.dtype) }
    }

    /// The graph outputs in declaration order: `Session.run` returns each of them.
    /// Shapes are static, so an output's size is known before any inference.
    public var outputs: [TensorInfo] {
        manifest.outputs.map { TensorInfo(name: $0.name, shape: shapes[$0.name] ?? $0.shape, dtype: $0.dtype) }
    }

    /// The layers' names in execution order; `InferenceStats.layers` has one
    /// entry per layer in the same order.
    public var layerNames: [String] { manifest.layers.map(\.name) }
}
