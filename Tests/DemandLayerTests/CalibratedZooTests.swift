import DemandFormat
import DemandLayer
import DemandTensor
import DemandTestSupport
import DemandZoo
import Foundation
import Testing

/// Models the zoo calibrates while making them (`GraphBuilder.Calibration`):
/// BatchNorms hold the statistics of the calibration batch, and a classifier
/// made `fromCalibration` recognises the batch's items.
@Suite struct CalibratedZooTests {
    static let images = (0..<4).map { Zoo.seededImage(shape: [1, 3, 24, 24], seed: 500 + UInt64($0)) }

    /// A conv stack: calibrated or not, its last conv's output (no activation) as the first
    /// output and a calibrated classifier's softmax as the second.
    static func makeModel(calibrated: Bool) throws -> Model {
        let path = Scratch.directory(calibrated ? "calibrated" : "uncalibrated") + "/stack.dlm"
        let batch = Tensor(zeros: [4, 3, 24, 24])
        for (index, image) in images.enumerated() {
            (batch.data + index * image.elementCount).update(from: image.data, count: image.elementCount)
        }
        // The dry run counts each value's readers, as Zoo.make does.
        func build(_ b: GraphBuilder) throws -> Void {
            b.input("input", shape: [1, 3, 24, 24])
            var x = try b.conv("input", 16, kernel: 3, stride: 2)
            x = try b.conv(x, 32, kernel: 3)
            let last = try b.conv(x, 24, kernel: 3, activation: .none)
            try b.output(last)
            x = try b.globalAveragePool(try b.activation(last, .relu))
            x = try b.flatten(x)
            try b.output(try b.softmax(try b.dense(x, 10, fromCalibration: true)))
        }
        let dry = GraphBuilder(writer: nil, seed: 7)
        try build(dry)
        _ = try dry.finish()
        let calibration = calibrated ? GraphBuilder.Calibration(inputs: ["input": batch], useCounts: dry.useCounts) : nil
        let builder = GraphBuilder(writer: try ModelWriter(destination: path, name: "stack"), seed: 7, calibration: calibration)
        try build(builder)
        return try #require(try builder.finish())
    }

    /// Each channel of the last conv's output over the calibration images: (mean, standard deviation).
    static func lastConvStatistics(_ model: Model) throws -> (outputs: [[Float]], mean: [Float], deviation: [Float]) {
        let session = try Session(model: model, options: .init(policy: .resident))
        defer { session.close() }
        let first = model.manifest.outputs[0].name
        let runs = try images.map { try session.run(["input": $0]) }
        let outputs = runs.map { $0[model.manifest.outputs[1].name]!.array }
        let planes = runs.map { $0[first]! }
        let channels = planes[0].shape[1]
        let plane = planes[0].elementCount / channels
        var mean = [Float](), deviation = [Float]()
        for channel in 0..<channels {
            let values = planes.flatMap { Array($0.buffer[(channel * plane)..<((channel + 1) * plane)]) }.map(Double.init)
            let average = values.reduce(0, +) / Double(values.count)
            let variance = values.map { ($0 - average) * ($0 - average) }.reduce(0, +) / Double(values.count)
            mean.append(Float(average))
            deviation.append(Float(variance.squareRoot()))
        }
        return (outputs, mean, deviation)
    }

    @Test func batchNormsHoldTheCalibrationBatchStatistics() throws {
        // Calibrated, the BatchNorm before the output normalizes it over the batch: each
        // channel's mean is its beta, in [-0.1, 0.1], and its deviation its gamma, in [0.5, 1].
        let calibrated = try Self.lastConvStatistics(try Self.makeModel(calibrated: true))
        for channel in calibrated.mean.indices {
            #expect(abs(calibrated.mean[channel]) <= 0.1 + 1e-3, "channel \(channel) mean \(calibrated.mean[channel])")
            #expect((0.5 - 1e-3...1 + 1e-3).contains(calibrated.deviation[channel]),
                    "channel \(channel) deviation \(calibrated.deviation[channel])")
        }
        // Made-up statistics do not normalize it: the same check fails somewhere.
        let plain = try Self.lastConvStatistics(try Self.makeModel(calibrated: false))
        let normalized = plain.mean.indices.filter { abs(plain.mean[$0]) <= 0.101 && (0.499...1.001).contains(plain.deviation[$0]) }
        #expect(normalized.count < plain.mean.count, "uncalibrated, \(normalized.count) of \(plain.mean.count) channels look normalized")
    }

    @Test func aCalibratedClassifierRecognisesItsCalibrationItems() throws {
        // Class k leans on calibration image k: each image's top class is its own index.
        let outputs = try Self.lastConvStatistics(try Self.makeModel(calibrated: true)).outputs
        for (index, output) in outputs.enumerated() {
            let top = output.indices.max { output[$0] < output[$1] }!
            #expect(top == index, "calibration image \(index) is classed \(top): \(output)")
        }
    }

    @Test func seededImagesAreRepeatableBoundedAndDiffer() {
        let shape: Shape = [1, 3, 32, 32]
        let a = Zoo.seededImage(shape: shape, seed: 1).array
        #expect(a == Zoo.seededImage(shape: shape, seed: 1).array)
        #expect(a.allSatisfy { (-1...1).contains($0) })
        // Two seeds differ as pictures do: in each channel's average, not only pixel by pixel.
        let b = Zoo.seededImage(shape: shape, seed: 2).array
        let plane = 32 * 32
        let averages = { (values: [Float]) in (0..<3).map { c in values[(c * plane)..<((c + 1) * plane)].reduce(0, +) / Float(plane) } }
        let gap = zip(averages(a), averages(b)).map { abs($0 - $1) }.max()!
        #expect(gap > 0.05, "channel averages differ by at most \(gap)")
    }
}
