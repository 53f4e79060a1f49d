import DemandTensor

/// A quantized weight as a writer stores it: the packed integers, their
/// scales and zero points, and the scheme that maps them back to float32
/// (item 9 of the format, at the top of Manifest.swift).
public struct QuantizedTensor: Sendable, Equatable {
    /// `int8`, `uint8` or `uint4`.
    public var dtype: DType
    /// The logical shape (of the dequantized float32 tensor).
    public var shape: Shape
    /// The values, packed: one byte each, or for uint4 two per byte, low nibble first.
    public var bytes: [UInt8]
    /// The dimension the scales vary along; nil: one scale.
    public var axis: Int?
    /// Consecutive indices along `axis` sharing a scale; nil: one each.
    public var blockSize: Int?
    /// The scales, laid out as item 9 says.
    public var scales: [Float]
    /// The zero points, one byte each (the bit pattern of an int8); nil: all 0.
    public var zeroPoints: [UInt8]?

    /// A quantized tensor of `shape` from its packed `bytes` and the scheme
    /// (`axis`, `blockSize`) its `scales` and `zeroPoints` follow; the byte
    /// and zero-point counts must fit (a programming error otherwise).
    public init(dtype: DType, shape: Shape, bytes: [UInt8], axis: Int?, blockSize: Int? = nil, scales: [Float], zeroPoints: [UInt8]? = nil) {
        precondition(dtype.isQuantized, "\(dtype) is not a quantized type")
        precondition(bytes.count == dtype.byteCount(elementCount: shape.elementCount), "\(bytes.count) bytes for \(shape) of \(dtype)")
        precondition(zeroPoints == nil || zeroPoints!.count == scales.count, "one zero point per scale")
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
        self.axis = axis
        self.blockSize = blockSize
        self.scales = scales
        self.zeroPoints = zeroPoints
    }

    /// `values` (of `shape`) quantized to int8, symmetric (zero point 0), one
    /// scale per index of `axis`: scale = max |value| / 127 over that index
    /// (1 when all are 0), q = value / scale rounded half to even, in -127...127.
    public static func symmetricInt8(_ values: UnsafeBufferPointer<Float>, shape: Shape, axis: Int) -> QuantizedTensor {
        precondition(values.count == shape.elementCount && shape.dims.indices.contains(axis), "values and axis fit the shape")
        let length = shape[axis]
        let inner = shape.dims[(axis + 1)...].reduce(1, *)
        let outer = shape.elementCount / (length * inner)
        var maxima = [Float](repeating: 0, count: length)
        for o in 0..<outer {
            for a in 0..<length {
                let base = (o * length + a) * inner
                var largest = maxima[a]
                for i in 0..<inner { largest = max(largest, abs(values[base + i])) }
                maxima[a] = largest
            }
        }
        let scales = maxima.map { $0 > 0 && $0.isFinite ? $0 / 127 : 1 }
        var bytes = [UInt8](repeating: 0, count: values.count)
        for o in 0..<outer {
            for a in 0..<length {
                let base = (o * length + a) * inner
                let scale = scales[a]
                for i in 0..<inner {
                    let q = (values[base + i] / scale).rounded(.toNearestOrEven)
                    bytes[base + i] = UInt8(bitPattern: Int8(min(127, max(-127, q))))
                }
            }
        }
        return QuantizedTensor(dtype: .int8, shape: shape, bytes: bytes, axis: axis, scales: scales)
    }

    /// For each element in row-major order, the index of its scale (item 9).
    public func scaleIndices() -> [Int] {
        let count = shape.elementCount
        let length = axis.map { shape[$0] } ?? 1
        let inner = axis.map { shape.dims[($0 + 1)...].reduce(1, *) } ?? count
        let blocks = blockSize.map { (length + $0 - 1) / $0 }
        return (0..<count).map { index in
            let a = (index / inner) % length
            if axis == nil { return 0 }
            if let blockSize, let blocks {
                let o = index / (inner * length)
                return (o * blocks + a / blockSize) * inner + index % inner
            }
            return a
        }
    }

    /// The float32 values the runtime restores: (q - zeroPoint) * scale per
    /// item 9, computed plainly (the reference the restore kernels are tested against).
    public func dequantized() -> [Float] {
        let count = shape.elementCount
        var result = [Float](repeating: 0, count: count)
        let indices = scaleIndices()
        for index in 0..<count {
            let scaleIndex = indices[index]
            let q: Int
            switch dtype {
            case .int8: q = Int(Int8(bitPattern: bytes[index]))
            case .uint8: q = Int(bytes[index])
            default: q = Int(index % 2 == 0 ? bytes[index / 2] & 0x0F : bytes[index / 2] >> 4)
            }
            let zero = zeroPoints.map { dtype == .int8 ? Int(Int8(bitPattern: $0[scaleIndex])) : Int($0[scaleIndex]) } ?? 0
            result[index] = Float(q - zero) * scales[scaleIndex]
        }
        return result
    }
}
