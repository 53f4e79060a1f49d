import CKernels
import DemandFormat
@testable import DemandLayer
@testable import DemandTensor
import DemandTestSupport
import DemandZoo
import Foundation
import Testing

/// A resident session keeps its 3x3 convolutions' Winograd form from run to
/// run (`PreparedWeights`); every other policy transforms the weights at each
/// call. Both must give the same bits.
@Suite struct PreparedWeightsTests {
    /// Two 3x3 convolutions large enough for Winograd on the AVX2 and AVX-512
    /// paths: 32 channels at 24x24 (F(4x4, 3x3)), then, past a stride-2 one, 48
    /// channels at 12x12 (F(2x2, 3x3)); then a classifier.
    static let modelPath: String = {
        let path = Scratch.directory("prepared") + "/winograd.dlm"
        let writer = try! ModelWriter(destination: path, name: "winograd")
        let b = GraphBuilder(writer: writer, seed: 23)
        b.input("input", shape: [1, 32, 24, 24])
        var x = try! b.conv("input", 48, kernel: 3, activation: .relu)
        x = try! b.conv(x, 48, kernel: 3, stride: 2, activation: .relu)
        x = try! b.conv(x, 48, kernel: 3)
        x = try! b.globalAveragePool(x)
        x = try! b.flatten(x)
        x = try! b.dense(x, 10)
        try! b.output(try! b.softmax(x))
        _ = try! b.finish()
        return path
    }()

    /// A resident session that keeps at most `bytes` of transformed weights.
    static func resident(_ model: Model, keeping bytes: Int) throws -> Session {
        var options = SessionOptions(policy: .resident)
        options.transformedWeightBytes = bytes
        return try Session(model: model, options: options)
    }

    @Test func residentKeepsTheWinogradFormAndGivesTheOtherPoliciesBits() throws {
        let model = try Model.open(Self.modelPath)
        let inputs = DeepEyeAndPartialTests.inputs(for: model)   // seeded, named "input" as here
        let resident = try Session(model: model, options: .init(policy: .resident))
        let first = try resident.run(inputs)
        let prepared = try #require(resident.pipeline.workspace.preparedWeights, "the resident policy keeps transformed weights")
        // Both convolutions take Winograd wherever CKernels' GEMM runs (AVX2, AVX-512); with the portable
        // kernels (CI's DEMANDLAYER_PORTABLE_KERNELS run) nothing is transformed.
        var large = PreparedWeights.filterGeometry(channels: 32, height: 24, width: 24)
        var small = PreparedWeights.filterGeometry(channels: 48, height: 12, width: 12)
        #expect(dl_conv2d_winograd_variant(&large) == 4 && dl_conv2d_winograd_variant(&small) == 2, "the model runs both variants")
        let firstBytes = PreparedWeights.winogradByteCount(geometry: large, filters: 48)
        let winogradBytes = firstBytes + PreparedWeights.winogradByteCount(geometry: small, filters: 48)
        let expectedBytes = Conv2d.usesPackedColumns() ? winogradBytes : 0
        #expect(prepared.byteCount == expectedBytes)
        for _ in 0..<2 {
            #expect(bitIdentical(try resident.run(inputs), first), "later runs read the kept form")
            #expect(prepared.byteCount == expectedBytes, "made once, not again")
        }
        let perRun = try Self.resident(model, keeping: 0)
        #expect(perRun.pipeline.workspace.preparedWeights == nil, "asked not to keep them")
        #expect(bitIdentical(try perRun.run(inputs), first), "resident transforming per run: the same bits")
        // Room for the first layer's form only: the second transforms per run, with the same bits.
        let partly = try Self.resident(model, keeping: firstBytes + 1)
        for _ in 0..<2 { #expect(bitIdentical(try partly.run(inputs), first)) }
        let kept = try #require(partly.pipeline.workspace.preparedWeights)
        #expect(kept.byteCount == (Conv2d.usesPackedColumns() ? firstBytes : 0),
                "the first layer's form, and no more than the limit")
        for policy in [Policy.linear, .pipelined] {
            let session = try Session(model: model, options: .init(policy: policy))
            #expect(session.pipeline.workspace.preparedWeights == nil, "\(policy) reuses its buffers: no kept forms")
            #expect(bitIdentical(try session.run(inputs), first), "\(policy) transforms per call, with the same bits")
        }
    }

    /// Three 1x1 convolutions over 1024 channels (K = 1024, the slice layout's case): 70 filters (11 whole
    /// groups of six and 4 rows), 13 filters at stride 2, and 1024 filters adding the input back (a
    /// residual), then a classifier over all three.
    static let slicedModelPath: String = {
        let path = Scratch.directory("prepared") + "/sliced.dlm"
        let writer = try! ModelWriter(destination: path, name: "sliced")
        let b = GraphBuilder(writer: writer, seed: 29)
        b.input("input", shape: [1, 1024, 9, 8])
        let a = try! b.conv("input", 70, kernel: 1, activation: .relu)
        let strided = try! b.conv("input", 13, kernel: 1, stride: 2, activation: .none)
        let residual = try! b.conv("input", 1024, kernel: 1, activation: .relu, residual: "input")
        let pooled = try! [a, strided, residual].map { x throws(FormatError) in try b.flatten(try b.globalAveragePool(x)) }
        let x = try! b.dense(try! b.concat(pooled), 10)
        try! b.output(try! b.softmax(x))
        _ = try! b.finish()
        return path
    }()

    @Test func residentKeepsKOf1024InTheSliceLayoutWithTheSameBits() throws {
        let model = try Model.open(Self.slicedModelPath)
        let inputs = DeepEyeAndPartialTests.inputs(for: model)
        let pipelined = try Session(model: model, options: .init(policy: .pipelined)).run(inputs)
        let resident = try Session(model: model, options: .init(policy: .resident))
        let prepared = try #require(resident.pipeline.workspace.preparedWeights)
        // CKernels' GEMM (AVX2, AVX-512, NEON) reads the three weights in the slice layout from the first
        // run on; the portable kernels (DEMANDLAYER_PORTABLE_KERNELS) leave them as rows.
        let expected = Conv2d.usesPackedColumns() ? 3 : 0
        for run in 0..<3 {
            #expect(bitIdentical(try resident.run(inputs), pipelined), "run \(run): the rearranged weights give the rows' bits")
            #expect(prepared.slicedCount == expected, "run \(run): rearranged once, at the first run")
        }
        let plain = try Self.resident(model, keeping: 0)
        #expect(bitIdentical(try plain.run(inputs), pipelined), "no kept forms: the rows")
    }

    @Test func aWeightAnotherNodeReadsIsNotRearranged() throws {
        let (m, k): (Int32, Int32) = (12, 1024)
        let rows = (0..<Int(m * k)).map { Float($0) }
        let weight = UnsafeMutableBufferPointer<Float>.allocate(capacity: rows.count)
        defer { weight.deallocate() }
        _ = weight.initialize(from: rows)
        let prepared = PreparedWeights(limitBytes: 1 << 20)
        prepared.weightIsExclusive = false
        #expect(!prepared.slicedWeights(weight.baseAddress!, filters: m, depth: k, columns: 49))
        #expect(Array(weight) == rows && prepared.slicedCount == 0, "left as rows")
        prepared.weightIsExclusive = true
        #expect(!prepared.slicedWeights(weight.baseAddress!, filters: m, depth: 1000, columns: 49), "K 1000: not wanted")
        #expect(Array(weight) == rows)
        #expect(prepared.slicedWeights(weight.baseAddress!, filters: m, depth: k, columns: 49))
        #expect(prepared.slicedWeights(weight.baseAddress!, filters: m, depth: k, columns: 49), "kept: not rearranged again")
        #expect(prepared.slicedCount == 1)
        // Row 1's first slice follows row 0's (256 floats); the second slice starts after all 12 rows' first.
        #expect(weight[256] == rows[1024] && weight[0] == rows[0] && weight[256 * 12] == rows[256])
    }
}
