import DemandFormat
import DemandTensor
import DemandTestSupport
import DemandZoo
import Foundation
import Testing

/// Quantized weights (format version 3, item 9): what writers store, and the
/// bad metadata `Model.open` refuses, naming the layer and weight.
extension ModelValidationTests {
    /// A fresh int8 copy of the tiny model (per-output-channel symmetric).
    func quantizedTiny(_ name: String = #function) throws -> String {
        let path = Scratch.directory(name) + "/tiny-int8.dlm"
        Scratch.remove(path)
        try Zoo.make("tiny", at: path, weightDType: .int8)
        return path
    }

    /// Edits `quantization` of weight 0 of layer 0 (conv0.weight, int8 (16, 3, 3, 3), 16 scales).
    func editQuantization(_ path: String, _ edit: @escaping (inout [String: Any]) -> Void) throws {
        try editManifest(path) { object in
            var layers = object["layers"] as! [[String: Any]]
            var weights = layers[0]["weights"] as! [[String: Any]]
            edit(&weights[0])
            layers[0]["weights"] = weights
            object["layers"] = layers
        }
    }

    @Test func quantizedModelIsVersion3AndOthersStayVersion2() throws {
        let model = try Model.open(try quantizedTiny())
        #expect(model.manifest.version == 3)
        let conv = model.layers[0].weights[0]
        #expect(conv.dtype == .int8 && conv.byteCount == 16 * 3 * 3 * 3)
        #expect(conv.quantization == Manifest.Quantization(axis: 0, scales: .init(offsetBytes: 448, count: 16)))
        #expect(model.layers[0].weights[1].dtype == .float32, "biases stay float32")
        #expect(try Model.open(Scratch.tinyModelPath).manifest.version == 2)
    }

    @Test func wrongScaleCountIsRefused() throws {
        let path = try quantizedTiny()
        try editQuantization(path) { weight in
            var quantization = weight["quantization"] as! [String: Any]
            quantization["scales"] = ["offsetBytes": 448, "count": 15]
            weight["quantization"] = quantization
        }
        expectOpenFails(path, code: .invalidLayout, mentioning: ["layer 0", "weight 'conv0.weight'", "15 scales", "one scale per index of axis 0 needs 16"])
    }

    @Test func axisOutsideTheShapeIsRefused() throws {
        let path = try quantizedTiny()
        try editQuantization(path) { weight in
            var quantization = weight["quantization"] as! [String: Any]
            quantization["axis"] = 4
            weight["quantization"] = quantization
        }
        expectOpenFails(path, code: .invalidLayout, mentioning: ["weight 'conv0.weight'", "axis 4 is outside shape"])
    }

    @Test func blockSizeWithoutAxisOrNotPositiveIsRefused() throws {
        let path = try quantizedTiny()
        try editQuantization(path) { weight in
            var quantization = weight["quantization"] as! [String: Any]
            quantization["axis"] = nil
            quantization["blockSize"] = 8
            weight["quantization"] = quantization
        }
        expectOpenFails(path, code: .invalidLayout, mentioning: ["weight 'conv0.weight'", "blockSize 8 needs an axis"])
        let other = try quantizedTiny(#function + "-zero")
        try editQuantization(other) { weight in
            var quantization = weight["quantization"] as! [String: Any]
            quantization["blockSize"] = 0
            weight["quantization"] = quantization
        }
        expectOpenFails(other, code: .invalidLayout, mentioning: ["weight 'conv0.weight'", "blockSize 0 is not positive"])
    }

    @Test func byteCountMismatchIsRefused() throws {
        let path = try quantizedTiny()
        try editQuantization(path) { $0["byteCount"] = 432 * 4 }
        expectOpenFails(path, code: .invalidLayout, mentioning: ["weight 'conv0.weight'", "byteCount 1728", "of int8 (432 bytes)"])
    }

    @Test func scalesOverlappingTheValuesOrPastTheFileAreRefused() throws {
        let path = try quantizedTiny()
        try editQuantization(path) { weight in
            var quantization = weight["quantization"] as! [String: Any]
            quantization["scales"] = ["offsetBytes": 384, "count": 16]
            weight["quantization"] = quantization
        }
        expectOpenFails(path, code: .invalidLayout, mentioning: ["weight 'conv0.weight'", "scales: overlaps another weight"])
        let other = try quantizedTiny(#function + "-past")
        try editQuantization(other) { weight in
            var quantization = weight["quantization"] as! [String: Any]
            quantization["zeroPoints"] = ["offsetBytes": 4096, "count": 16]
            weight["quantization"] = quantization
        }
        expectOpenFails(other, code: .invalidLayout, mentioning: ["weight 'conv0.weight'", "zero points: 16 bytes from offset 4096 run past the end"])
    }

    @Test func zeroPointCountMustMatchTheScales() throws {
        let path = try quantizedTiny()
        try editQuantization(path) { weight in
            var quantization = weight["quantization"] as! [String: Any]
            quantization["zeroPoints"] = ["offsetBytes": 1024, "count": 1]
            weight["quantization"] = quantization
        }
        expectOpenFails(path, code: .invalidLayout, mentioning: ["weight 'conv0.weight'", "1 zero points", "needs 16, one per scale"])
    }

    @Test func quantizedDtypeWithoutQuantizationAndTheReverseAreRefused() throws {
        let path = try quantizedTiny()
        try editQuantization(path) { $0["quantization"] = nil }
        expectOpenFails(path, code: .invalidLayout, mentioning: ["weight 'conv0.weight'", "dtype int8 is quantized but the weight has no 'quantization'"])
        let other = try quantizedTiny(#function + "-float")
        try editManifest(other) { object in
            var layers = object["layers"] as! [[String: Any]]
            var weights = layers[0]["weights"] as! [[String: Any]]
            weights[1]["quantization"] = ["axis": 0, "scales": ["offsetBytes": 1024, "count": 16]]
            layers[0]["weights"] = weights
            object["layers"] = layers
        }
        expectOpenFails(other, code: .invalidLayout, mentioning: ["weight 'conv0.bias'", "dtype float32 is not quantized"])
    }

    @Test func quantizationInAVersion2ManifestIsRefused() throws {
        let path = try quantizedTiny()
        try editManifest(path) { $0["version"] = 2 }
        expectOpenFails(path, code: .invalidLayout, mentioning: ["weight 'conv0.weight'", "needs format version 3 (the manifest says 2)"])
    }

    @Test func quantizedGraphInputIsRefused() throws {
        let path = try quantizedTiny()
        try editManifest(path) { object in
            var inputs = object["inputs"] as! [[String: Any]]
            inputs[0]["dtype"] = "uint8"
            object["inputs"] = inputs
        }
        expectOpenFails(path, code: .invalidGraph, mentioning: ["input 'input' is uint8", "float32, int64 or int32"])
    }
}

/// The writer's quantizer and the plain dequantizer every kernel is tested against.
@Suite struct QuantizedTensorTests {
    @Test func symmetricInt8RoundsHalfToEvenPerChannel() {
        // Channel 0: max 127 → scale 1, so 2.5 → 2 and -3.5 → -4 (half to even); channel 1 all zero → scale 1.
        let values: [Float] = [127, 2.5, -3.5, 0.49, 0, 0, 0, 0]
        let quantized = values.withUnsafeBufferPointer { QuantizedTensor.symmetricInt8($0, shape: [2, 4], axis: 0) }
        #expect(quantized.scales == [1, 1])
        #expect(quantized.bytes.map { Int8(bitPattern: $0) } == [127, 2, -4, 0, 0, 0, 0, 0])
        #expect(quantized.dequantized() == [127, 2, -4, 0, 0, 0, 0, 0])
        // Along the last axis (a MatMul's (K, N) weight): column 1's largest is 254 → scale 2, 3 → 1.5 → 2 (half to even).
        let columns: [Float] = [1, 3, -1, 254]
        let byColumn = columns.withUnsafeBufferPointer { QuantizedTensor.symmetricInt8($0, shape: [2, 2], axis: 1) }
        #expect(byColumn.scales == [1 / 127, 2])
        #expect(byColumn.bytes.map { Int8(bitPattern: $0) } == [127, 2, -127, 127])
        #expect(byColumn.dequantized() == [1, 4, -1, 254])
    }

    @Test func dequantizedFollowsBlocksAndZeroPoints() {
        // uint4 (2, 5) in blocks of 2 along axis 1: 3 blocks per row, zero points 8.
        let nibbles: [UInt8] = [0, 1, 2, 3, 4, 15, 14, 13, 12, 11]
        let packed = stride(from: 0, to: 10, by: 2).map { nibbles[$0] | nibbles[$0 + 1] << 4 }
        let tensor = QuantizedTensor(dtype: .uint4, shape: [2, 5], bytes: packed, axis: 1, blockSize: 2,
                                     scales: [1, 2, 4, 0.5, 0.25, 0.125], zeroPoints: [8, 8, 8, 8, 8, 0])
        #expect(tensor.dequantized() == [-8, -7, -12, -10, -16, 3.5, 3, 1.25, 1, 11 * 0.125])
    }
}
