import CURing
import DemandFormat
@testable import DemandLayer
import DemandTensor
import DemandTestSupport
import DemandZoo
import Foundation
import Synchronization
import Testing

/// Models stored with float16 weights: half the bytes read, widened by the restore stage.
@Suite struct Float16WeightsTests {
    static let halfPath: String = {
        let path = Scratch.directory("float16") + "/tiny-fp16.dlm"
        try! Zoo.make("tiny", at: path, weightDType: .float16)
        return path
    }()

    @Test func widenedWeightsAreTheRoundedFloat32WeightsAndLiveInTheWideningRing() throws {
        let full = try Model.open(Scratch.tinyModelPath)
        let half = try Model.open(Self.halfPath)
        #expect(half.layers.flatMap(\.weights).allSatisfy { $0.dtype == .float16 })
        #expect(half.weightByteCount * 2 <= full.weightByteCount + 4096 * half.layers.count, "about half the bytes")

        // The float32 model's weights, rounded to float16 and back, by name.
        let fullSession = try Session(model: full, options: .init(policy: .resident))
        defer { fullSession.close() }
        let expected = Locked<[String: [Float]]>([:])
        fullSession.pipeline.weightObserver = { views in
            expected.withLock { for (name, tensor) in views { $0[name] = tensor.array.map { Float(Float16($0)) } } }
        }
        _ = try fullSession.run(tinyInputs())

        for policy in [Policy.pipelined, .bulk, .resident] {
            let session = try Session(model: half, options: .init(policy: policy, depth: 1))
            defer { session.close() }
            #expect(session.wideningBytes > 0)
            let seen = Locked<[String: [Float]]>([:])
            let outside = Locked(0)
            let widening = try #require(session.pipeline.widening?.ring)
            let arena = UInt(bitPattern: widening.base)..<(UInt(bitPattern: widening.base) + UInt(widening.capacityBytes))
            session.pipeline.weightObserver = { views in
                for (name, tensor) in views {
                    seen.withLock { $0[name] = tensor.array }
                    if !arena.contains(UInt(bitPattern: tensor.data)) { outside.withLock { $0 += 1 } }
                }
            }
            _ = try session.run(tinyInputs())
            #expect(outside.withLock { $0 } == 0, "\(policy): every widened weight lies in the widening arena")
            #expect(seen.withLock { $0 } == expected.withLock { $0 }, "\(policy): widened weights equal float16-rounded float32 weights")
        }
    }

    @Test func everyPolicyAgreesAndTheOutputIsCloseToFloat32() throws {
        let full = try Model.open(Scratch.tinyModelPath)
        let half = try Model.open(Self.halfPath)
        let reference = try Session(model: full, options: .init(policy: .resident)).run(tinyInputs())
        var first: [String: Tensor]?
        for policy in Policy.allCases {
            let session = try Session(model: half, options: .init(policy: policy, depth: 2))
            let outputs = try session.run(tinyInputs())
            let stats = try #require(session.lastStats)
            if policy != .resident {
                #expect(stats.bytesRead == half.weightByteCount, "\(policy) reads the float16 files")
            }
            session.close()
            if let first {
                #expect(bitIdentical(outputs, first), "\(policy) differs from resident")
            } else {
                first = outputs
            }
            // Weights rounded to 11 significant bits: a relative error near 2^-11 per
            // weight, accumulated over a few layers of a softmax-ended network.
            let closeness = Closeness(actual: outputs["softmax0.out"]!, expected: reference["softmax0.out"]!)
            #expect(closeness.passes(tolerance: 1e-2), "\(policy): \(closeness.describe(tolerance: 1e-2))")
        }
    }

    @Test func hardwareWideningEqualsTheSoftwareConversionForEveryValue() {
        let bits = (0...UInt16.max).map { $0 }
        var hardware = [Float](repeating: 0, count: bits.count)
        var software = [Float](repeating: 0, count: bits.count)
        dl_widen_f16(bits, &hardware, bits.count)
        dl_widen_f16_software(bits, &software, bits.count)
        // F16C quiets signalling NaNs; any NaN for a NaN is right.
        let mismatches = bits.indices.filter {
            hardware[$0].bitPattern != software[$0].bitPattern && !(hardware[$0].isNaN && software[$0].isNaN)
        }
        let nanCount = bits.indices.filter { software[$0].isNaN }.count
        #expect(nanCount == 2046, "binary16 has 2046 NaN patterns")
        #expect(mismatches.isEmpty, "\(mismatches.count) of 65536 differ, first 0x\(mismatches.first.map { String($0, radix: 16) } ?? "-")")
        let swift = bits.map { Float(Float16(bitPattern: $0)) }
        let disagreeing = bits.indices.filter { !swift[$0].isNaN && swift[$0].bitPattern != software[$0].bitPattern }
        #expect(disagreeing.isEmpty, "the software path agrees with Swift's Float16 on every non-NaN value")
    }
}
