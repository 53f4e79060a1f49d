import DemandFormat
import DemandTensor

/// The importer's calls into `ModelWriter` that depend on element types.
enum WriterAdapter {
    /// Float inputs (float, double, float16) are declared float32; int64 and
    /// int32 inputs keep their dtype (the runtime holds them as float32, exact
    /// below 2^24); other integer types are refused.
    static func addInput(_ writer: ModelWriter, _ input: InputShapes.Input) throws(ImportError) {
        let dtype: DType
        switch input.elementType {
        case ElementType.float, ElementType.double, ElementType.float16: dtype = .float32
        case ElementType.int64: dtype = .int64
        case ElementType.int32: dtype = .int32
        default:
            throw ImportError(.unsupported,
                "graph input '\(input.name)' is \(ElementType.name(input.elementType)); inputs must be float, int64 or int32")
        }
        writer.addInput(input.name, shape: input.shape, dtype: dtype)
    }

    /// Adds a weight and returns its byte count.
    static func addWeight(_ writer: ModelWriter, _ name: String, shape: Shape, values: [Float], half: Bool) throws(ImportError) -> Int {
        let dtype: DType = half ? .float16 : .float32
        values.withUnsafeBufferPointer { writer.addWeight(name, shape: shape, values: $0, dtype: dtype) }
        return values.count * dtype.byteWidth
    }
}
