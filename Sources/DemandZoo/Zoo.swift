import DemandFormat
import DemandTensor
import Foundation

/// Built-in model architectures with seeded random weights: real topologies
/// and sizes, for benchmarks and tests. The same name and seed always write
/// the same bytes, except that a calibrated model (one with
/// `calibrationImages`) measures its statistics with this machine's kernels,
/// whose last bits can differ between CPU paths (AVX-512, AVX2, NEON).
public enum Zoo {
    public struct Entry: Sendable {
        public let name: String
        public let summary: String
        /// How many seeded images (`seededImage`) calibrate the model's
        /// BatchNorms and classifier while it is made (0: none; see `GraphBuilder`).
        public var calibrationImages = 0
        let build: @Sendable (GraphBuilder) throws(FormatError) -> Void
    }

    public static let entries: [Entry] = [
        Entry(name: "resnet152", summary: "ResNet-152 v1.5, 224x224, ~219 MiB, largest layer ~9 MiB, compute-heavy, calibrated on 8 seeded images",
              calibrationImages: 8, build: resNet152),
        Entry(name: "yolov3", summary: "YOLOv3 (Darknet-53 + 3 heads), 416x416, ~236 MiB, largest layer 18 MiB", build: yoloV3),
        Entry(name: "vgg16", summary: "VGG-16, 224x224, ~528 MiB, one ~392 MiB fully-connected layer", build: vgg16),
        Entry(name: "tiny", summary: "a 32x32 toy with every operator, ~0.3 MiB, for tests", build: tiny),
        Entry(name: "splitnet", summary: "a 32x32 toy whose 2.6 MiB conv and 2.3 and 7.8 MiB fully-connected layers stream in pieces, ~13 MiB, for tests", build: splitNet),
    ]

    public static let defaultSeed: UInt64 = 0x5EED
    public static func entry(named name: String) -> Entry? { entries.first { $0.name == name } }

    /// Weight bytes and layer count of a model, without generating it.
    public static func measure(_ name: String) throws(FormatError) -> (weightBytes: Int, layers: Int) {
        let builder = try dryRun(name)
        return (builder.weightByteCount, builder.layerCount)
    }

    /// The model built without weights: sizes, inputs and use counts.
    static func dryRun(_ name: String) throws(FormatError) -> GraphBuilder {
        guard let entry = entry(named: name) else { throw unknown(name) }
        let builder = GraphBuilder(writer: nil, seed: defaultSeed)
        try entry.build(builder)
        _ = try builder.finish()
        return builder
    }

    /// Seeds of the calibration images: far from the small seeds commands use for inputs.
    static let calibrationSeed: UInt64 = 0xCA11_B000_0000

    /// A seeded stand-in for a photo, values in [-1, 1]: for (1, C, H, W), a
    /// per-channel brightness, a few smooth waves, a few discs of solid colour
    /// and a little grain, so that two seeds differ the way two pictures do (in
    /// colour, layout and texture) and not only pixel by pixel; other shapes
    /// get uniform noise. The same seed gives the same values on every machine.
    public static func seededImage(shape: Shape, seed: UInt64) -> Tensor {
        let image = Tensor(zeros: shape)
        fillImage(image.buffer, shape: shape, seed: seed)
        return image
    }

    static func fillImage(_ values: UnsafeMutableBufferPointer<Float>, shape: Shape, seed: UInt64) {
        var random = SeededRandom(seed: seed)
        guard shape.rank == 4, shape[0] == 1, shape[2] > 1, shape[3] > 1 else {
            random.fill(values, bound: 1)
            return
        }
        let (channels, height, width) = (shape[1], shape[2], shape[3])
        let brightness = (0..<channels).map { _ in random.next(in: -0.6, 0.6) }
        // Waves: (cycles across x, cycles down y, phase, an amplitude per channel).
        let waves = (0..<3).map { _ in
            (random.next(in: -3, 3), random.next(in: -3, 3), random.next(in: 0, 2 * Float.pi),
             (0..<channels).map { _ in random.next(in: -0.3, 0.3) })
        }
        let side = Float(min(height, width))
        let discs = (0..<4).map { _ in
            (random.next(in: 0, Float(width)), random.next(in: 0, Float(height)), random.next(in: 0.05, 0.3) * side,
             (0..<channels).map { _ in random.next(in: -1, 1) })
        }
        for y in 0..<height {
            for x in 0..<width {
                let (u, v) = (Float(x) / Float(width), Float(y) / Float(height))
                let disc = discs.last { (cx, cy, radius, _) in
                    let (dx, dy) = (Float(x) - cx, Float(y) - cy)
                    return dx * dx + dy * dy < radius * radius
                }
                for channel in 0..<channels {
                    var value = brightness[channel]
                    for (fx, fy, phase, amplitude) in waves {
                        value += amplitude[channel] * sinf(2 * Float.pi * (fx * u + fy * v) + phase)
                    }
                    if let disc { value = disc.3[channel] }
                    value += random.next(in: -0.05, 0.05)
                    values[(channel * height + y) * width + x] = min(max(value, -1), 1)
                }
            }
        }
    }

    /// A batch of `count` calibration images for each input of `builder`.
    static func calibrationInputs(of builder: GraphBuilder, count: Int) -> [String: Tensor] {
        var batches: [String: Tensor] = [:]
        for (index, input) in builder.inputs.enumerated() {
            let one = Shape([1] + input.shape.dims.dropFirst())
            let batch = Tensor(zeros: Shape([count] + input.shape.dims.dropFirst()))
            for item in 0..<count {
                let seed = calibrationSeed &+ UInt64(index << 16) &+ UInt64(item)
                fillImage(UnsafeMutableBufferPointer(rebasing: batch.buffer[(item * one.elementCount)...].prefix(one.elementCount)),
                          shape: one, seed: seed)
            }
            batches[input.name] = batch
        }
        return batches
    }

    /// Writes model `name` to `destination` (a `NAME.dlm` path that must not
    /// exist), with weights stored as `weightDType` (float32, float16, or int8:
    /// per-output-channel symmetric, biases float32).
    /// `progress` receives (bytes generated, total bytes), counted as float32.
    @discardableResult
    public static func make(_ name: String, at destination: String, seed: UInt64 = defaultSeed, weightDType: DType = .float32,
                            progress: ((Int, Int) -> Void)? = nil) throws(FormatError) -> Model {
        guard let entry = entry(named: name) else { throw unknown(name) }
        let dry = try dryRun(name)
        let total = dry.weightByteCount
        let calibration = entry.calibrationImages > 0
            ? GraphBuilder.Calibration(inputs: calibrationInputs(of: dry, count: entry.calibrationImages), useCounts: dry.useCounts) : nil
        let writer = try ModelWriter(destination: destination, name: name)
        let builder = GraphBuilder(writer: writer, seed: seed, weightDType: weightDType, calibration: calibration)
        builder.progress = { progress?($0, total) }
        do {
            try entry.build(builder)
            return try builder.finish()!
        } catch {
            writer.abandon()
            throw error
        }
    }

    static func unknown(_ name: String) -> FormatError {
        FormatError(.invalidGraph, "no built-in model named '\(name)'; built-in models: \(entries.map(\.name).joined(separator: ", "))")
    }

    // MARK: Architectures

    /// Calibrated (`calibrationImages`): its BatchNorms hold the statistics of
    /// 8 seeded images, and its classifier scores how much an input resembles
    /// each of them (classes 0-7) or random mixes of them (the rest), so its
    /// top class depends on the input with a margin, as a trained one's does.
    static func resNet152(_ b: GraphBuilder) throws(FormatError) {
        b.input("input", shape: [1, 3, 224, 224])
        var x = try b.conv("input", 64, kernel: 7, stride: 2, pad: 3)
        x = try b.maxPool(x, kernel: 3, stride: 2, pad: 1)
        for (stage, (width, blocks)) in [(64, 3), (128, 8), (256, 36), (512, 3)].enumerated() {
            for block in 0..<blocks {
                let stride = block == 0 && stage > 0 ? 2 : 1
                let a = try b.conv(x, width, kernel: 1)
                let c = try b.conv(a, width, kernel: 3, stride: stride)
                // The last BatchNorm of each residual branch is small (gamma at most 0.1),
                // as zero-init-gamma training starts it: the sum of 50 branches keeps a sane
                // scale, and rounding errors (of fp16 or int8 weights) do not compound
                // through the branches.
                // The shortcut Add and its ReLU ride in the block's last conv (its residual input).
                if block == 0 {
                    let e = try b.conv(c, width * 4, kernel: 1, activation: .none, gammaScale: 0.1)
                    x = try b.conv(x, width * 4, kernel: 1, stride: stride, activation: .relu, residual: e, name: "downsample")
                } else {
                    x = try b.conv(c, width * 4, kernel: 1, activation: .relu, gammaScale: 0.1, residual: x)
                }
            }
        }
        x = try b.globalAveragePool(x)
        x = try b.flatten(x)
        x = try b.dense(x, 1000, fromCalibration: true, name: "fc")
        try b.output(try b.softmax(x))
    }

    static func yoloV3(_ b: GraphBuilder) throws(FormatError) {
        let leaky = Activation.leakyRelu(alpha: 0.1)
        func darknetConv(_ x: String, _ channels: Int, _ kernel: Int, stride: Int = 1) throws(FormatError) -> String {
            try b.conv(x, channels, kernel: kernel, stride: stride, activation: leaky)
        }
        b.input("images", shape: [1, 3, 416, 416])
        var x = try darknetConv("images", 32, 3)
        var routes: [String] = []
        for (channels, blocks) in [(64, 1), (128, 2), (256, 8), (512, 8), (1024, 4)] {
            x = try darknetConv(x, channels, 3, stride: 2)
            for _ in 0..<blocks {
                let a = try darknetConv(x, channels / 2, 1)
                let c = try b.conv(a, channels, kernel: 3, activation: leaky, gammaScale: 0.3)
                x = try b.add(x, c)
            }
            routes.append(x)
        }
        var outputs: [String] = []
        var trunk = x
        for (scale, channels) in [(0, 512), (1, 256), (2, 128)] {
            if scale > 0 {
                let lateral = try darknetConv(trunk, channels, 1)
                trunk = try b.concat([try b.upsample(lateral, scale: 2), routes[4 - scale]])
            }
            for _ in 0..<2 {
                trunk = try darknetConv(trunk, channels, 1)
                trunk = try darknetConv(trunk, channels * 2, 3)
            }
            trunk = try darknetConv(trunk, channels, 1)
            let head = try darknetConv(trunk, channels * 2, 3)
            outputs.append(try b.conv(head, 255, kernel: 1, activation: .none, batchNorm: false, name: "detect"))
        }
        for output in outputs { try b.output(output) }
    }

    static func vgg16(_ b: GraphBuilder) throws(FormatError) {
        b.input("input", shape: [1, 3, 224, 224])
        var x = "input"
        for (channels, count) in [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)] {
            for _ in 0..<count { x = try b.conv(x, channels, kernel: 3, batchNorm: false) }
            x = try b.maxPool(x, kernel: 2, stride: 2)
        }
        x = try b.flatten(x)
        x = try b.dense(x, 4096, activation: .relu, name: "fc")
        x = try b.dense(x, 4096, activation: .relu, name: "fc")
        x = try b.dense(x, 1000, name: "fc")
        try b.output(try b.softmax(x))
    }

    /// Small enough for unit tests, with every operator and an uneven spread of
    /// layer sizes so the ring wraps.
    /// Small, but with layers a small budget must split: a 3x3 conv to 288
    /// channels (2.6 MiB), then fully connected layers of 2.3 and 7.8 MiB, with
    /// a max pool and a softmax riding in their layers.
    static func splitNet(_ b: GraphBuilder) throws(FormatError) {
        b.input("input", shape: [1, 3, 32, 32])
        var x = try b.conv("input", 64, kernel: 3, activation: .relu)
        x = try b.conv(x, 256, kernel: 3, stride: 2, activation: .relu)
        x = try b.conv(x, 288, kernel: 3, activation: .relu, name: "wide")
        x = try b.maxPool(x, kernel: 2, stride: 2)
        x = try b.globalAveragePool(x)
        x = try b.flatten(x)
        x = try b.dense(x, 2048, activation: .relu)
        x = try b.dense(x, 1000)
        try b.output(try b.softmax(x))
    }

    static func tiny(_ b: GraphBuilder) throws(FormatError) {
        b.input("input", shape: [1, 3, 32, 32])
        let stem = try b.conv("input", 16, kernel: 3, activation: .relu)
        var x = try b.maxPool(stem, kernel: 3, stride: 2, pad: 1)
        let depthwise = try b.conv(x, 16, kernel: 3, groups: 16, activation: .silu, name: "depthwise")
        let wide = try b.conv(depthwise, 64, kernel: 3, dilation: 2, activation: .leakyRelu(alpha: 0.1))
        let narrow = try b.conv(wide, 16, kernel: 1, activation: .none, gammaScale: 0.5)
        x = try b.add(narrow, x, activation: .clip(min: 0, max: 6))
        let down = try b.conv(x, 32, kernel: 3, stride: 2, activation: .sigmoid)
        let up = try b.upsample(down, scale: 2)
        x = try b.concat([up, x])
        x = try b.averagePool(x, kernel: 2, stride: 2)
        x = try b.conv(x, 128, kernel: 3, activation: .relu, name: "wide")
        x = try b.globalAveragePool(x)
        x = try b.flatten(x)
        x = try b.dense(x, 256, activation: .relu)
        x = try b.dense(x, 10)
        try b.output(try b.softmax(x))
    }
}
