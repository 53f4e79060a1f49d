import DemandFormat
import DemandONNX
import DemandTensor
import DemandTestSupport
import Foundation
import Testing

/// QDQ models keep their weights quantized, and `--dtype int8` quantizes float ones.
@Suite struct QuantizedImportTests {
    static let ops = Scratch.packageRoot + "/fixtures/onnx/ops"

    func convertFixture(_ name: String, _ options: Converter.Options = .init()) throws -> Model {
        let path = Scratch.directory("qdq-\(name)") + "/out.dlm"
        Scratch.remove(path)
        return try Converter.convert(modelPath: "\(Self.ops)/\(name)/model.onnx", to: path, options: options).model
    }

    @Test func dequantizedWeightsAreStoredWithTheirIntegersScalesAndZeroPoints() throws {
        let cases: [(String, DType, Manifest.Quantization)] = [
            ("dequantizelinear_conv_weight_per_tensor", .int8, .init(axis: nil, scales: .init(offsetBytes: 448, count: 1), zeroPoints: .init(offsetBytes: 512, count: 1))),
            ("dequantizelinear_gemm_uint8_weight_per_row", .uint8, .init(axis: 0, scales: .init(offsetBytes: 5760, count: 72), zeroPoints: .init(offsetBytes: 6080, count: 72))),
            ("dequantizelinear_matmul_weight_blocked", .int8, .init(axis: 0, blockSize: 16, scales: .init(offsetBytes: 1920, count: 120), zeroPoints: .init(offsetBytes: 2432, count: 120))),
        ]
        for (name, dtype, quantization) in cases {
            // With --dtype fp16 too: a weight that arrives quantized stays as it came.
            for weightType in [Converter.WeightType.fp32, .fp16] {
                let model = try convertFixture(name, .init(weightType: weightType))
                #expect(model.manifest.version == 3)
                let weight = try #require(model.layers.flatMap(\.weights).first { $0.quantization != nil }, "\(name)")
                #expect(weight.dtype == dtype, "\(name) \(weightType)")
                #expect(weight.quantization == quantization, "\(name) \(weightType): \(String(describing: weight.quantization))")
            }
        }
    }

    @Test func int8ConvertQuantizesLargeMatMulAndGemmWeightsPerOutputChannel() throws {
        var b = ONNXBuilder()
        b.input("x", [2, 64])
        b.weight("w", [64, 128])          // MatMul (K, N): output channels are columns, axis 1
        b.weight("v", [96, 128])          // Gemm with transB (N, K): rows, axis 0
        b.weight("small", [128])          // below the threshold: stays float32
        b.node("MatMul", ["x", "w"], ["h"], name: "mm")
        b.node("Add", ["h", "small"], ["hb"], name: "shift")
        b.node("Gemm", ["hb", "v"], ["y"], name: "fc", ["transB": .i(1)])
        b.output("y")
        let (summary, _) = try convert(b, options: .init(weightType: .int8))
        let weights = Dictionary(uniqueKeysWithValues: summary.model.layers.flatMap(\.weights).map { ($0.name, $0) })
        #expect(weights["w"]?.dtype == .int8 && weights["w"]?.quantization?.axis == 1 && weights["w"]?.quantization?.scales.count == 128)
        #expect(weights["v"]?.dtype == .int8 && weights["v"]?.quantization?.axis == 0 && weights["v"]?.quantization?.scales.count == 96)
        #expect(weights["small"]?.dtype == .float32)
        #expect(summary.quantizedWeightCount == 2)
        // Uniform weights: the RMS rounding error is 1/(127·2) of the largest, about 0.39% of the RMS.
        #expect(summary.largestQuantizationError > 0.002 && summary.largestQuantizationError < 0.006, "\(summary.largestQuantizationError)")

        let (full, _) = try convert(b, name: "fp32")
        #expect(summary.weightByteCount < full.weightByteCount / 2)
        let x = tensor([2, 64], (0..<128).map { Float($0 % 11) / 11 - 0.5 })
        let quantized = try run(summary.model, ["x": x])["y"]!
        let exact = try run(full.model, ["x": x])["y"]!
        let closeness = Closeness(actual: quantized, expected: exact)
        #expect(closeness.passes(tolerance: 2e-2), "\(closeness.describe(tolerance: 2e-2))")
        #expect(quantized.array != exact.array, "the weights really were quantized")
    }
}
