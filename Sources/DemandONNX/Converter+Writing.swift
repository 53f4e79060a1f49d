import DemandFormat
import DemandTensor

/// Writing: layers through `ModelWriter` (a hidden temporary directory,
/// renamed into place only when the finished model opens cleanly).
extension Converter {
    static func write(_ layers: [Layering.Layer], inputs: [InputShapes.Input], outputs: [String], outputTypes: [String: Int32],
                              constants: [String: ConstantTensor], destination: String, name: String,
                              weightType: WeightType, progress: (Progress) -> Void) throws(ImportError) -> Model {
        func failed(_ error: FormatError) -> ImportError {
            ImportError(.writeFailed, error.description + "; nothing was written", path: error.path == nil ? destination : nil)
        }
        let writer: ModelWriter
        do { writer = try ModelWriter(destination: destination, name: name) } catch { throw failed(error) }
        do {
            for input in inputs { try addInput(writer, input) }
            for (index, layer) in layers.enumerated() {
                writer.beginLayer(layer.name)
                var layerBytes = 0
                for weight in layer.weights {
                    let value = constants[weight.constant]!
                    let values = try value.exactFloats(name: weight.constant)
                    // float16 for the bulk (matrices and kernels); integer-valued constants, values
                    // beyond float16's range and small vectors (biases, scales: a rounding error
                    // there shifts a whole channel, and they cost few bytes) stay float32.
                    let half = weightType == .fp16 && !value.isInteger && value.count >= Converter.smallestHalfCount
                        && values.allSatisfy { abs($0) <= 65504 }
                    layerBytes += try addWeight(writer, weight.stored, shape: Shape(value.shape), values: values, half: half)
                }
                for node in layer.nodes {
                    try writer.addNode(Manifest.Node(name: node.name, op: node.op, inputs: node.inputs,
                                                     outputs: [node.output], attributes: node.attributes))
                }
                try writer.endLayer()
                progress(.wroteLayer(index: index, total: layers.count, name: layer.name,
                                     byteCount: layerBytes))
            }
            for output in outputs { try writer.addOutput(output, dtype: outputType(output, outputTypes[output] ?? 0)) }
            return try writer.finish()
        } catch let error as ImportError {
            writer.abandon()
            throw error
        } catch let error as FormatError {
            writer.abandon()
            throw failed(error)
        } catch {
            writer.abandon()
            throw ImportError(.writeFailed, "\(error)", path: destination)
        }
    }

    /// Float inputs (float, double, float16) are declared float32; int64 and
    /// int32 inputs keep their dtype (the runtime holds them as float32, exact
    /// below 2^24); bool inputs are declared int32 (0 or 1, the form a bool
    /// .npy is read in); other integer types are refused.
    private static func addInput(_ writer: ModelWriter, _ input: InputShapes.Input) throws(ImportError) {
        let dtype: DType
        switch input.elementType {
        case ElementType.float, ElementType.double, ElementType.float16: dtype = .float32
        case ElementType.int64: dtype = .int64
        case ElementType.int32, ElementType.bool: dtype = .int32
        default:
            throw ImportError(.unsupported,
                "graph input '\(input.name)' is \(ElementType.name(input.elementType)); inputs must be float, int64, int32 or bool")
        }
        writer.addInput(input.name, shape: input.shape, dtype: dtype)
    }

    /// The dtype an output is delivered in: its declared ONNX type when that is
    /// int64, int32 or bool (the runtime converts exactly at the edge), float32
    /// for float types and for an output that declares no type. Other integer
    /// types are refused rather than delivered as floats a caller would misread.
    private static func outputType(_ name: String, _ elementType: Int32) throws(ImportError) -> DType {
        switch elementType {
        case 0, ElementType.float, ElementType.double, ElementType.float16, ElementType.bfloat16: return .float32
        case ElementType.int64: return .int64
        case ElementType.int32: return .int32
        case ElementType.bool: return .bool
        default:
            throw ImportError(.unsupported,
                "graph output '\(name)' is \(ElementType.name(elementType)); outputs must be float, int64, int32 or bool")
        }
    }

    /// Adds a weight and returns its byte count.
    private static func addWeight(_ writer: ModelWriter, _ name: String, shape: Shape, values: [Float], half: Bool) throws(ImportError) -> Int {
        let dtype: DType = half ? .float16 : .float32
        values.withUnsafeBufferPointer { writer.addWeight(name, shape: shape, values: $0, dtype: dtype) }
        return values.count * dtype.byteWidth
    }
}
