import CURing
import DemandFormat
import DemandTensor

/// Quantized weights (int8, uint8, uint4; item 9 of the format) dequantized
/// into the widening ring: value = (q - zeroPoint) * scale.
///
/// The scheme is cut into calls of the C kernels (`dl_dequantize_*`), each over
/// contiguous values: with the tensor seen as (outer, length along the axis,
/// inner), a run of `inner` values shares one scale when inner > 1 (a conv's
/// output channel, a block of rows), and a row of `length` values has one scale
/// each when the axis is the last (a Gemm weight's input features, per column).
extension Widening {
    /// Writes `weight`'s float32 values to `destination` from the bytes of its
    /// file at `file` (the read buffer of the weight's file).
    static func dequantize(_ weight: Manifest.Weight, file: UnsafeRawPointer, into destination: UnsafeMutablePointer<Float>) {
        let quantization = weight.quantization!
        let count = weight.shape.elementCount
        let values = file + weight.offsetBytes
        let scales = (file + quantization.scales.offsetBytes).assumingMemoryBound(to: Float.self)
        let zeroPoints = quantization.zeroPoints.map { (file + $0.offsetBytes).assumingMemoryBound(to: UInt8.self) }
        // `count` values from element `first`, with scales (and zero points) from
        // index `scaleIndex`, shared (step 0) or one per value (step 1).
        func run(first: Int, count: Int, scaleIndex: Int, step: Int) {
            let scale = scales + scaleIndex
            let zero = zeroPoints.map { $0 + scaleIndex }
            let target = destination + first
            switch weight.dtype {
            case .int8:
                dl_dequantize_s8(values.assumingMemoryBound(to: Int8.self) + first, zero.map { UnsafeRawPointer($0).assumingMemoryBound(to: Int8.self) },
                                 scale, step, target, count)
            case .uint8:
                dl_dequantize_u8(values.assumingMemoryBound(to: UInt8.self) + first, zero, scale, step, target, count)
            case .uint4:
                dl_dequantize_u4(values.assumingMemoryBound(to: UInt8.self), first, zero, scale, step, target, count)
            default:
                preconditionFailure("weight \(weight.name): \(weight.dtype) is not quantized")
            }
        }
        guard let axis = quantization.axis else {
            run(first: 0, count: count, scaleIndex: 0, step: 0)
            return
        }
        let length = weight.shape[axis]
        let inner = weight.shape.dims[(axis + 1)...].reduce(1, *)
        let outer = count / (length * inner)
        if let blockSize = quantization.blockSize {
            let blocks = (length + blockSize - 1) / blockSize
            for o in 0..<outer {
                if inner == 1 {
                    // Blocks along the last axis (MatMulNBits): a run per block.
                    for block in 0..<blocks {
                        let start = block * blockSize
                        run(first: o * length + start, count: min(blockSize, length - start), scaleIndex: o * blocks + block, step: 0)
                    }
                } else {
                    for a in 0..<length {
                        run(first: (o * length + a) * inner, count: inner, scaleIndex: (o * blocks + a / blockSize) * inner, step: 1)
                    }
                }
            }
        } else if inner == 1 {
            for o in 0..<outer { run(first: o * length, count: length, scaleIndex: 0, step: 1) }
        } else {
            for o in 0..<outer {
                for a in 0..<length { run(first: (o * length + a) * inner, count: inner, scaleIndex: a, step: 0) }
            }
        }
    }
}
