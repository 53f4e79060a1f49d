import DemandFormat
import DemandTensor

/// Writing: layers through `ModelWriter` (a hidden temporary directory,
/// renamed into place only when the finished model opens cleanly).
extension Converter {
    /// A constant in `quantizedSources` (a DequantizeLinear of integer
    /// constants) is stored with its integers and scales whatever `weightType` is.
    static func write(_ layers: [Layering.Layer], inputs: [InputShapes.Input], outputs: [String], outputTypes: [String: Int32],
                              constants: [String: ConstantTensor], quantizedSources: [String: QuantizedTensor] = [:],
                              destination: String, name: String,
                              weightType: WeightType, progress: (Progress) -> Void) throws(ImportError) -> (model: Model, quantizedCount: Int, largestError: Float) {
        func failed(_ error: FormatError) -> ImportError {
            ImportError(.writeFailed, error.description + "; nothing was written", path: error.path == nil ? destination : nil)
        }
        let writer: ModelWriter
        do { writer = try ModelWriter(destination: destination, name: name) } catch { throw failed(error) }
        do {
            for input in inputs { try addInput(writer, input) }
            var quantizedCount = 0
            var largestError: Float = 0
            for (index, layer) in layers.enumerated() {
                writer.beginLayer(layer.name)
                var layerBytes = 0
                for weight in layer.weights {
                    if let quantized = quantizedSources[weight.constant] {
                        writer.addWeight(weight.stored, quantized: quantized)
                        layerBytes += quantized.bytes.count + quantized.scales.count * MemoryLayout<Float>.stride + (quantized.zeroPoints?.count ?? 0)
                        continue
                    }
                    let value = constants[weight.constant]!
                    let values = try value.exactFloats(name: weight.constant)
                    if weightType == .int8, !value.isInteger, value.count >= Converter.smallestHalfCount, values.allSatisfy(\.isFinite),
                       let axis = outputChannelAxis(of: weight.stored, rank: value.shape.count, in: layer.nodes) {
                        let quantized = values.withUnsafeBufferPointer { QuantizedTensor.symmetricInt8($0, shape: Shape(value.shape), axis: axis) }
                        writer.addWeight(weight.stored, quantized: quantized)
                        layerBytes += quantized.bytes.count + quantized.scales.count * MemoryLayout<Float>.stride
                        quantizedCount += 1
                        largestError = max(largestError, relativeError(quantized.dequantized(), values))
                        continue
                    }
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
            return (try writer.finish(), quantizedCount, largestError)
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

    /// The axis of a weight's output channels when every node of its layer
    /// that reads it reads it as a weight whose output channels are known:
    /// Conv's (out, in/groups, kH, kW) → 0; Gemm's B → 0 with transB, else 1;
    /// MatMul's B (…, K, N) → its last. Nil otherwise (the weight stays float).
    static func outputChannelAxis(of weight: String, rank: Int, in nodes: [RuntimeNode]) -> Int? {
        var axis: Int?
        for node in nodes {
            for (position, input) in node.inputs.enumerated() where input == weight {
                let use: Int?
                switch (node.op, position) {
                case ("Conv", 1): use = 0
                case ("Gemm", 1) where rank == 2:
                    if case .int(let transB) = node.attributes["transB"], transB != 0 { use = 0 } else { use = 1 }
                case ("MatMul", 1) where rank >= 2: use = rank - 1
                default: use = nil
                }
                guard let use, axis == nil || axis == use else { return nil }
                axis = use
            }
        }
        return axis
    }

    /// RMS(dequantized - original) / RMS(original) (0 for an all-zero weight).
    private static func relativeError(_ dequantized: [Float], _ original: [Float]) -> Float {
        var error: Double = 0
        var energy: Double = 0
        for (restored, value) in zip(dequantized, original) {
            error += Double(restored - value) * Double(restored - value)
            energy += Double(value) * Double(value)
        }
        return energy > 0 ? Float((error / energy).squareRoot()) : 0
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
    /// int64, int32, int8, uint8 (QuantizeLinear) or bool (the runtime converts exactly at the edge), float32
    /// for float types and for an output that declares no type. Other integer
    /// types are refused rather than delivered as floats a caller would misread.
    private static func outputType(_ name: String, _ elementType: Int32) throws(ImportError) -> DType {
        switch elementType {
        case 0, ElementType.float, ElementType.double, ElementType.float16, ElementType.bfloat16: return .float32
        case ElementType.int64: return .int64
        case ElementType.int32: return .int32
        case ElementType.bool: return .bool
        case ElementType.int8: return .int8
        case ElementType.uint8: return .uint8
        default:
            throw ImportError(.unsupported,
                "graph output '\(name)' is \(ElementType.name(elementType)); outputs must be float, int64, int32, int8, uint8 or bool")
        }
    }

    /// Adds a weight and returns its byte count.
    private static func addWeight(_ writer: ModelWriter, _ name: String, shape: Shape, values: [Float], half: Bool) throws(ImportError) -> Int {
        let dtype: DType = half ? .float16 : .float32
        values.withUnsafeBufferPointer { writer.addWeight(name, shape: shape, values: $0, dtype: dtype) }
        return values.count * dtype.byteWidth
    }
}
