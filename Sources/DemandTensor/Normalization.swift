#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// ONNX LRN: y = x / (bias + alpha/size · Σ x²)^beta, the sum over channels
/// c − ⌊(size − 1)/2⌋ ... c + ⌈(size − 1)/2⌉ that exist.
public struct LRNParameters: Hashable, Sendable {
    /// Channels in the window, centred on the channel normalized.
    public var size: Int
    /// Scale of the window's sum of squares (divided by `size`).
    public var alpha: Float
    /// Exponent of the divisor.
    public var beta: Float
    /// Added to the scaled sum before the exponent.
    public var bias: Float

    /// Parameters with ONNX's defaults for anything not given.
    public init(size: Int, alpha: Float = 1e-4, beta: Float = 0.75, bias: Float = 1) {
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.bias = bias
    }
}

/// Normalization kernels: LayerNormalization (each row of the normalized
/// axes, two passes over contiguous memory), InstanceNormalization (the same
/// for each (n, c) plane, with per-channel scale and shift), GroupNormalization
/// (the same for each (n, group) block of channels), inference
/// BatchNormalization (one multiply-add per value with per-channel
/// constants) and LRN.
enum Normalization {
    /// X viewed as (outer, D) with D the product of dims[axis...]; Scale and B
    /// each hold D values or one.
    static func layer(_ x: Tensor, scale: Tensor, bias: Tensor?, axis: Int, epsilon: Float, output: Tensor) {
        let length = x.shape.dims[axis...].reduce(1, *)
        let rows = x.elementCount / length
        let scaleStride = scale.elementCount == 1 ? 0 : 1
        let inverseLength = 1 / Float(length)
        for row in 0..<rows {
            let source = x.data + row * length
            let destination = output.data + row * length
            let mean = sum(source, count: length) * inverseLength
            let variance = sumOfSquaredDeviations(source, count: length, mean: mean) * inverseLength
            let inverse = 1 / (variance + epsilon).squareRoot()
            switch (scaleStride, bias.map { $0.elementCount == 1 ? 0 : 1 }) {
            case (1, 1?):
                let (gamma, beta) = (scale.data, bias!.data)
                for i in 0..<length { destination[i] = (source[i] - mean) * inverse * gamma[i] + beta[i] }
            case (1, nil):
                let gamma = scale.data
                for i in 0..<length { destination[i] = (source[i] - mean) * inverse * gamma[i] }
            default:
                // A single-value Scale or B: strides of 0 (no B reads a zero).
                var zero: Float = 0
                let biasStride = bias.map { $0.elementCount == 1 ? 0 : 1 } ?? 0
                withUnsafePointer(to: &zero) { zero in
                    let beta = bias.map { UnsafePointer($0.data) } ?? zero
                    for i in 0..<length {
                        destination[i] = (source[i] - mean) * inverse * scale.data[i * scaleStride] + beta[i * biasStride]
                    }
                }
            }
        }
    }

    /// Σ values, eight lanes at a time.
    @inline(__always)
    static func sum(_ values: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            lanes += UnsafeRawPointer(values + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        var total = lanes.sum()
        while i < count {
            total += values[i]
            i += 1
        }
        return total
    }

    /// Σ (values − mean)², eight lanes at a time.
    @inline(__always)
    private static func sumOfSquaredDeviations(_ values: UnsafePointer<Float>, count: Int, mean: Float) -> Float {
        var lanes = SIMD8<Float>()
        let center = SIMD8<Float>(repeating: mean)
        var i = 0
        while i + 8 <= count {
            let d = UnsafeRawPointer(values + i).loadUnaligned(as: SIMD8<Float>.self) - center
            lanes += d * d
            i += 8
        }
        var total = lanes.sum()
        while i < count {
            let d = values[i] - mean
            total += d * d
            i += 1
        }
        return total
    }

    /// Each (n, c) plane of X (N, C, spatial...) normalized by its own mean and
    /// variance, then y = x̂ · scale[c] + B[c], as y = (x − mean)·a + B[c]
    /// (the mean taken out first, so a large mean cancels exactly).
    static func instance(_ x: Tensor, scale: Tensor, bias: Tensor, epsilon: Float, output: Tensor) {
        let channels = x.shape[1]
        let plane = x.shape.dims[2...].reduce(1, *)
        let inverseLength = 1 / Float(plane)
        for planeIndex in 0..<(x.shape[0] * channels) {
            let c = planeIndex % channels
            let source = x.data + planeIndex * plane
            let destination = output.data + planeIndex * plane
            let mean = sum(source, count: plane) * inverseLength
            let variance = sumOfSquaredDeviations(source, count: plane, mean: mean) * inverseLength
            let a = scale.data[c] / (variance + epsilon).squareRoot()
            let b = bias.data[c]
            for i in 0..<plane { destination[i] = (source[i] - mean) * a + b }
        }
    }

    /// X (N, C, spatial...) with its C channels in `groupCount` runs of C/G:
    /// each (n, group) block (contiguous in NCHW) normalized by its own mean
    /// and variance, then y = (x − mean)·a + B per channel, a = scale / √(var + ε).
    /// Scale and B hold C values (per channel) or G (per group).
    static func group(_ x: Tensor, scale: Tensor, bias: Tensor, groupCount: Int, epsilon: Float, output: Tensor) {
        let channels = x.shape[1]
        let channelsPerGroup = channels / groupCount
        let plane = x.shape.dims[2...].reduce(1, *)
        let block = channelsPerGroup * plane
        let inverseLength = 1 / Float(block)
        // A parameter's index for channel c: c itself, or c's group when it holds one value per group.
        let scaleDivisor = scale.elementCount == channels ? 1 : channelsPerGroup
        let biasDivisor = bias.elementCount == channels ? 1 : channelsPerGroup
        for blockIndex in 0..<(x.shape[0] * groupCount) {
            let source = x.data + blockIndex * block
            let destination = output.data + blockIndex * block
            let mean = sum(source, count: block) * inverseLength
            let variance = sumOfSquaredDeviations(source, count: block, mean: mean) * inverseLength
            let inverse = 1 / (variance + epsilon).squareRoot()
            let firstChannel = (blockIndex % groupCount) * channelsPerGroup
            for k in 0..<channelsPerGroup {
                let c = firstChannel + k
                let a = scale.data[c / scaleDivisor] * inverse
                let b = bias.data[c / biasDivisor]
                let offset = k * plane
                for i in 0..<plane { destination[offset + i] = (source[offset + i] - mean) * a + b }
            }
        }
    }

    /// y = (x − mean) / √(var + ε) · scale + B per channel (axis 1), folded
    /// into y = x·a + b.
    static func batch(_ x: Tensor, scale: Tensor, bias: Tensor, mean: Tensor, variance: Tensor, epsilon: Float, output: Tensor) {
        let channels = x.shape[1]
        let plane = x.shape.dims[2...].reduce(1, *)
        for n in 0..<x.shape[0] {
            for c in 0..<channels {
                let a = scale.data[c] / (variance.data[c] + epsilon).squareRoot()
                let b = bias.data[c] - mean.data[c] * a
                let source = x.data + (n * channels + c) * plane
                let destination = output.data + (n * channels + c) * plane
                for i in 0..<plane { destination[i] = source[i] * a + b }
            }
        }
    }

    static func localResponseWorkspaceFloatCount(input: Shape) -> Int { input.dims[2...].reduce(1, *) }

    /// For each channel, the window's squares are summed into one plane of
    /// workspace, then the channel is scaled by it.
    static func localResponse(_ p: LRNParameters, input: Tensor, output: Tensor, workspace: Workspace) {
        let channels = input.shape[1]
        let plane = input.shape.dims[2...].reduce(1, *)
        let squares = workspace.floats(plane)
        let (below, above) = ((p.size - 1) / 2, p.size / 2)
        let coefficient = p.alpha / Float(p.size)
        for n in 0..<input.shape[0] {
            let image = input.data + n * channels * plane
            for c in 0..<channels {
                squares.update(repeating: 0, count: plane)
                for neighbour in max(0, c - below)...min(channels - 1, c + above) {
                    let source = image + neighbour * plane
                    for i in 0..<plane { squares[i] += source[i] * source[i] }
                }
                let source = image + c * plane
                let destination = output.data + (n * channels + c) * plane
                for i in 0..<plane { destination[i] = source[i] / powf(p.bias + coefficient * squares[i], p.beta) }
            }
        }
    }
}
