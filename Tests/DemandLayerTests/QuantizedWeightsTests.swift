import CURing
import DemandFormat
@testable import DemandLayer
import DemandTensor
import DemandTestSupport
import DemandZoo
import Foundation
import Synchronization
import Testing

/// Quantized weights (int8, uint8, uint4): the dequantize kernels' vector and
/// portable paths against a plain reference, every scheme the restore stage
/// cuts into kernel calls, and an int8 model streamed end to end.
@Suite struct QuantizedWeightsTests {
    static let int8Path: String = {
        let path = Scratch.directory("quantized") + "/tiny-int8.dlm"
        Scratch.remove(path)
        try! Zoo.make("tiny", at: path, weightDType: .int8)
        return path
    }()

    // MARK: Kernels

    /// Runs `kernel` over every count, start, step and zero-point choice, and
    /// checks the vector path (`dl_dequantize_*`) equals the portable one bit
    /// for bit and both equal the plain formula (q - zero) * scale.
    @Test(arguments: ["int8", "uint8", "uint4"])
    func vectorAndPortablePathsEqualThePlainFormula(dtype: String) {
        #expect(dl_dequantize_is_vector() == 1, "this x86-64 CPU has AVX2, so the vector path is the one tested (ARM64: NEON always)")
        var random = SystemRandomNumberGenerator()
        for count in [0, 1, 7, 8, 9, 15, 16, 31, 33, 64, 1000] {
            for first in dtype == "uint4" ? [0, 1] : [0] {
                for step in [0, 1] {
                    for withZero in [false, true] {
                        let elements = first + count
                        let raw = (0..<max(elements, 1)).map { _ in UInt8.random(in: 0...255, using: &random) }
                        let bytes = dtype == "uint4" ? Array(raw.prefix((elements + 1) / 2 + 1)) : raw
                        let scaleCount = step == 0 ? 1 : max(count, 1)
                        let scales = (0..<scaleCount).map { _ in Float.random(in: -2...2, using: &random) }
                        let zeros = (0..<scaleCount).map { _ in dtype == "uint4" ? UInt8.random(in: 0...15, using: &random) : UInt8.random(in: 0...255, using: &random) }
                        var vector = [Float](repeating: .nan, count: count)
                        var portable = [Float](repeating: .nan, count: count)
                        bytes.withUnsafeBufferPointer { b in
                            zeros.withUnsafeBufferPointer { z in
                                let zero = withZero ? z.baseAddress : nil
                                let signed = UnsafeRawPointer(b.baseAddress!).assumingMemoryBound(to: Int8.self)
                                let signedZero = zero.map { UnsafeRawPointer($0).assumingMemoryBound(to: Int8.self) }
                                switch dtype {
                                case "int8":
                                    dl_dequantize_s8(signed, signedZero, scales, step, &vector, count)
                                    dl_dequantize_s8_portable(signed, signedZero, scales, step, &portable, count)
                                case "uint8":
                                    dl_dequantize_u8(b.baseAddress!, zero, scales, step, &vector, count)
                                    dl_dequantize_u8_portable(b.baseAddress!, zero, scales, step, &portable, count)
                                default:
                                    dl_dequantize_u4(b.baseAddress!, first, zero, scales, step, &vector, count)
                                    dl_dequantize_u4_portable(b.baseAddress!, first, zero, scales, step, &portable, count)
                                }
                            }
                        }
                        let plain = (0..<count).map { index -> Float in
                            let element = first + index
                            let q: Int
                            switch dtype {
                            case "int8": q = Int(Int8(bitPattern: bytes[element]))
                            case "uint8": q = Int(bytes[element])
                            default: q = Int(element % 2 == 0 ? bytes[element / 2] & 0x0F : bytes[element / 2] >> 4)
                            }
                            let at = index * step
                            let zero = !withZero ? 0 : dtype == "int8" ? Int(Int8(bitPattern: zeros[at])) : Int(zeros[at])
                            return Float(q - zero) * scales[at]
                        }
                        let label = "\(dtype) count \(count) first \(first) step \(step) zero \(withZero)"
                        #expect(vector.map(\.bitPattern) == portable.map(\.bitPattern), "\(label): vector differs from portable")
                        #expect(portable.map(\.bitPattern) == plain.map(\.bitPattern), "\(label): portable differs from the plain formula")
                    }
                }
            }
        }
    }

    // MARK: Schemes through the restore stage's cutting

    /// Places `tensor` as a layer file would (values, scales, zero points on
    /// 64-byte boundaries), dequantizes it as restore does, and compares with
    /// `QuantizedTensor.dequantized()`.
    func restoreMatchesThePlainDequantizer(_ tensor: QuantizedTensor, _ label: String) {
        var file = [UInt8]()
        func append(_ bytes: [UInt8]) -> Int {
            let offset = Layout.roundUp(file.count, to: Layout.tensorAlignment)
            file += [UInt8](repeating: 0, count: offset - file.count) + bytes
            return offset
        }
        let offset = append(tensor.bytes)
        let scales = Manifest.Quantization.Placement(offsetBytes: append(tensor.scales.withUnsafeBytes { Array($0) }), count: tensor.scales.count)
        let zeroPoints = tensor.zeroPoints.map { Manifest.Quantization.Placement(offsetBytes: append($0), count: $0.count) }
        let weight = Manifest.Weight(name: label, dtype: tensor.dtype, shape: tensor.shape, file: 0, offsetBytes: offset, byteCount: tensor.bytes.count,
                                     quantization: .init(axis: tensor.axis, blockSize: tensor.blockSize, scales: scales, zeroPoints: zeroPoints))
        var restored = [Float](repeating: .nan, count: tensor.shape.elementCount)
        file.withUnsafeBytes { bytes in
            restored.withUnsafeMutableBufferPointer { Widening.dequantize(weight, file: bytes.baseAddress!, into: $0.baseAddress!) }
        }
        #expect(restored.map(\.bitPattern) == tensor.dequantized().map(\.bitPattern), "\(label)")
    }

    @Test func everySchemeRestoresAsThePlainDequantizerSays() {
        var random = SeededRandom(seed: 13)
        func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(random.next(in: 0, 255.99)) } }
        func scales(_ count: Int) -> [Float] { (0..<count).map { _ in random.next(in: 0.001, 0.1) } }
        func nibbles(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(random.next(in: 0, 15.99)) } }
        let shape: Shape = [6, 5, 3, 3]
        let count = shape.elementCount
        restoreMatchesThePlainDequantizer(.init(dtype: .int8, shape: shape, bytes: bytes(count), axis: nil, scales: scales(1)), "int8 per tensor")
        restoreMatchesThePlainDequantizer(.init(dtype: .uint8, shape: shape, bytes: bytes(count), axis: nil, scales: scales(1), zeroPoints: [128]), "uint8 per tensor, zero point")
        restoreMatchesThePlainDequantizer(.init(dtype: .int8, shape: shape, bytes: bytes(count), axis: 0, scales: scales(6)), "int8 conv, per output channel")
        restoreMatchesThePlainDequantizer(.init(dtype: .int8, shape: shape, bytes: bytes(count), axis: 1, scales: scales(5), zeroPoints: bytes(5)), "int8 axis 1 of 4, zero points")
        restoreMatchesThePlainDequantizer(.init(dtype: .int8, shape: [37, 29], bytes: bytes(37 * 29), axis: 1, scales: scales(29)), "int8 MatMul (K, N), per column")
        restoreMatchesThePlainDequantizer(.init(dtype: .uint8, shape: [37, 29], bytes: bytes(37 * 29), axis: 1, scales: scales(29), zeroPoints: bytes(29)), "uint8 per column, zero points")
        // MatMulNBits: (N, K) in blocks along K; K = 45 is not a multiple of 16, and odd rows start mid-byte.
        let packed = { (n: [UInt8]) in stride(from: 0, to: n.count, by: 2).map { n[$0] | (($0 + 1 < n.count ? n[$0 + 1] : 0) << 4) } }
        restoreMatchesThePlainDequantizer(.init(dtype: .uint4, shape: [7, 45], bytes: packed(nibbles(7 * 45)), axis: 1, blockSize: 16, scales: scales(7 * 3),
                                                zeroPoints: nibbles(7 * 3)), "uint4 blocks of 16 along the last axis, zero points")
        restoreMatchesThePlainDequantizer(.init(dtype: .uint4, shape: [7, 64], bytes: packed(nibbles(7 * 64)), axis: 1, blockSize: 32, scales: scales(7 * 2)),
                                          "uint4 blocks of 32, no zero points")
        restoreMatchesThePlainDequantizer(.init(dtype: .int8, shape: [10, 4, 3], bytes: bytes(120), axis: 0, blockSize: 4, scales: scales(3 * 12)),
                                          "int8 blocks of 4 along axis 0 (scales vary along the inner axes too)")
        restoreMatchesThePlainDequantizer(.init(dtype: .uint4, shape: [3, 5, 7], bytes: packed(nibbles(105)), axis: 1, blockSize: 2, scales: scales(3 * 3 * 7),
                                                zeroPoints: nibbles(3 * 3 * 7)), "uint4 blocks along a middle axis")
    }

    // MARK: End to end

    @Test func int8ModelReadsAQuarterAndStreamsThroughATinyBudget() throws {
        let full = try Model.open(Scratch.tinyModelPath)
        let quantized = try Model.open(Self.int8Path)
        #expect(quantized.layers.flatMap(\.weights).filter { $0.dtype == .int8 }.count == quantized.layers.count, "every layer's weight is int8")
        #expect(quantized.weightByteCount * 3 < full.weightByteCount, "int8 files: \(quantized.weightByteCount) bytes, float32: \(full.weightByteCount)")

        // The reference: the float32 model's graph with each weight replaced by
        // its dequantized int8 values, run by the plain reference kernels.
        let reference = try Session(model: full, options: .init(policy: .resident)).run(tinyInputs())
        let largestLayer = quantized.layers.map(\.byteCount).max()!
        let largestWidened = quantized.layers.map(Widening.widenedBytes(of:)).max()!
        var first: [String: Tensor]?
        for options in [SessionOptions(policy: .pipelined, depth: 1), SessionOptions(policy: .bulk), SessionOptions(policy: .resident),
                        SessionOptions(policy: .linear), SessionOptions(policy: .pipelined, budgetBytes: 2 * largestLayer + 2 * largestWidened, threadCount: 1)] {
            let session = try Session(model: quantized, options: options)
            defer { session.close() }
            let outputs = try session.run(tinyInputs())
            let stats = try #require(session.lastStats)
            let label = "\(options.policy)\(options.budgetBytes.map { " budget \($0)" } ?? "")"
            if options.policy != .resident {
                #expect(stats.bytesRead == quantized.weightByteCount, "\(label) reads the int8 files' bytes")
            }
            #expect(session.wideningBytes >= largestWidened, "\(label): the widening ring holds a layer's dequantized weights")
            #expect(stats.peakWeightBytes >= largestWidened, "\(label): the peak counts the dequantized bytes held")
            if let budget = options.budgetBytes {
                #expect(session.streamPlan!.weightBytes <= budget, "\(label): the plan, widening ring included, fits the budget")
                #expect(session.arenaBytes + session.wideningBytes <= budget, "\(label): read ring \(session.arenaBytes) + widening \(session.wideningBytes)")
            }
            if let first {
                #expect(bitIdentical(outputs, first), "\(label) differs from the first policy")
            } else {
                first = outputs
            }
            // Per-channel int8 rounds each weight by at most half a step of max|w|/127.
            let closeness = Closeness(actual: outputs["softmax0.out"]!, expected: reference["softmax0.out"]!)
            #expect(closeness.passes(tolerance: 2e-2), "\(label): \(closeness.describe(tolerance: 2e-2))")
            #expect(outputs["softmax0.out"]!.array != reference["softmax0.out"]!.array, "\(label): the weights really were quantized")
        }
    }

    @Test func aBudgetBelowReadRingPlusWideningRingIsRefused() throws {
        let quantized = try Model.open(Self.int8Path)
        let widening = Widening.ringBytes(of: quantized, policy: .pipelined)
        #expect(widening > 0)
        let largestLayer = quantized.layers.map(\.byteCount).max()!
        do {
            _ = try Session(model: quantized, options: .init(policy: .pipelined, budgetBytes: largestLayer + widening - 4096, threadCount: 1))
            Issue.record("a budget below the largest layer plus the widening ring should be refused")
        } catch {
            #expect(error.code == .budgetTooSmall, "\(error)")
        }
    }
}
