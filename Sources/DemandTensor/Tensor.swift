/// A float32 tensor: a shape and a pointer to `shape.elementCount` contiguous
/// floats in row-major order.
///
/// Ownership: a `Tensor` never owns the bytes it points to unless it carries a
/// `TensorStorage`. Weight tensors are views over the session's buffer ring and
/// are valid only while the ring region they point into is held (until the
/// layer that reads them has executed). Activation tensors carry their storage,
/// which keeps the bytes alive as long as any copy of the tensor exists.
public struct Tensor: @unchecked Sendable {
    /// The tensor's dimensions.
    public let shape: Shape
    /// The first of `elementCount` contiguous floats, row-major.
    public let data: UnsafeMutablePointer<Float>
    /// Keeps owned bytes alive; nil for views over memory owned elsewhere.
    package let storage: TensorStorage?

    /// A view over memory owned elsewhere.
    public init(shape: Shape, borrowing data: UnsafeMutablePointer<Float>) {
        self.shape = shape
        self.data = data
        self.storage = nil
    }

    /// A tensor with its own zero-filled, 64-byte-aligned storage.
    public init(zeros shape: Shape) {
        let storage = TensorStorage(elementCount: shape.elementCount)
        self.shape = shape
        self.data = storage.base
        self.storage = storage
    }

    /// A tensor with its own storage holding a copy of `values`.
    public init(shape: Shape, values: [Float]) {
        precondition(values.count == shape.elementCount, "\(values.count) values for shape \(shape)")
        self.init(zeros: shape)
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: values.count) }
    }

    /// How many floats the tensor holds (the product of its dimensions).
    public var elementCount: Int { shape.elementCount }
    /// The tensor's floats, in place (no copy).
    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: data, count: elementCount) }
    /// A copy of the tensor's floats.
    public var array: [Float] { Array(buffer) }

    /// The same bytes seen with another shape of the same element count.
    public func reshaped(_ newShape: Shape) -> Tensor {
        precondition(newShape.elementCount == shape.elementCount, "reshape \(shape) to \(newShape)")
        return Tensor(shape: newShape, data: data, storage: storage)
    }

    init(shape: Shape, data: UnsafeMutablePointer<Float>, storage: TensorStorage?) {
        self.shape = shape
        self.data = data
        self.storage = storage
    }
}

/// Owned, 64-byte-aligned float storage for activations and test tensors.
/// Weight bytes never live here: they live in the session's buffer ring.
public final class TensorStorage: @unchecked Sendable {
    /// The first float, 64-byte aligned.
    public let base: UnsafeMutablePointer<Float>
    /// How many floats the storage holds.
    public let elementCount: Int

    /// Zero-filled storage for `elementCount` floats.
    public init(elementCount: Int) {
        self.elementCount = elementCount
        let byteCount = max(elementCount, 1) * MemoryLayout<Float>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount)
        base = raw.bindMemory(to: Float.self, capacity: max(elementCount, 1))
    }

    deinit { UnsafeMutableRawPointer(base).deallocate() }
}
