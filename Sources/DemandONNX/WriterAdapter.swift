import DemandFormat
import DemandTensor

/// The importer's calls into `ModelWriter` that depend on element types,
/// kept in one place while the format's dtype support grows.
enum WriterAdapter {
    static func addInput(_ writer: ModelWriter, _ input: InputShapes.Input) throws(ImportError) {
        guard input.elementType == ElementType.float else {
            throw ImportError(.unsupported, "graph input '\(input.name)' is \(ElementType.name(input.elementType)); this build stores float inputs only")
        }
        writer.addInput(input.name, shape: input.shape)
    }

    /// Adds a weight and returns its byte count.
    static func addWeight(_ writer: ModelWriter, _ name: String, shape: Shape, values: [Float], half: Bool) throws(ImportError) -> Int {
        if half {
            throw ImportError(.unsupported, "--dtype fp16 needs float16 weights in the model format, which this build lacks")
        }
        values.withUnsafeBufferPointer { writer.addWeight(name, shape: shape, values: $0) }
        return values.count * 4
    }
}
