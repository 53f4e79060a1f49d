import CURing
import DemandFormat
import DemandTensor

/// Where float16 and quantized weights become float32.
///
/// A model stored with float16 weights reads half the bytes, with int8 a
/// quarter, with uint4 an eighth (plus scales); the restore stage widens each
/// layer's float16 weights and dequantizes its quantized ones
/// (`Widening+Dequantize.swift`) into a ring of its own (float32 views then
/// point there, float32 weights still point into the read ring), and the
/// execute stage gives the region back once the layer has run.
///
/// Ownership and threads: the widening ring is allocated when a session opens
/// and never grown. Regions are taken in layer order by the restore thread (by
/// the opening thread for the resident policy, which keeps them) and released
/// in the same order by the execute thread. For every policy but resident and
/// bulk the ring holds two layers' widened weights (the one executing and the
/// one being restored): restore widens a layer just before execute needs it,
/// even where its bytes were read long before (deepeye's fully connected
/// part, partial); bulk holds every layer until it runs them all.
final class Widening: @unchecked Sendable {
    let ring: BufferRing
    /// Per layer, the float32 bytes its float16 and quantized weights take once widened (0: none).
    private let layerBytes: [Int]

    /// The widening a policy needs, or nil when the model has no float16 or quantized weights.
    init?(model: Model, policy: Policy) {
        layerBytes = model.layers.map(Self.widenedBytes(of:))
        let capacity = Self.ringBytes(widenedBytes: layerBytes, policy: policy)
        guard capacity > 0 else { return nil }
        ring = BufferRing(capacityBytes: capacity)
    }

    /// Bytes of the widening ring a policy needs for `model` (0: the model has
    /// no float16 or quantized weights), without allocating it: the planner
    /// takes them out of a budget before it plans the read ring.
    static func ringBytes(of model: Model, policy: Policy) -> Int {
        ringBytes(widenedBytes: model.layers.map(widenedBytes(of:)), policy: policy)
    }

    private static func ringBytes(widenedBytes: [Int], policy: Policy) -> Int {
        let needed = widenedBytes.filter { $0 > 0 }
        guard !needed.isEmpty else { return 0 }
        switch policy {
        case .resident, .bulk:
            return needed.reduce(0, +)
        case .linear, .deepeye, .partial, .pipelined, .mmap:
            return BufferRing.minimumCapacity(layerBytes: needed, depth: 1)
        }
    }

    /// Float32 bytes the layer's float16 and quantized weights take once
    /// widened, each starting on a 64-byte boundary; 0 when the layer has none.
    static func widenedBytes(of layer: Manifest.Layer) -> Int {
        var bytes = 0
        for weight in layer.weights where weight.dtype != .float32 {
            bytes = Layout.roundUp(bytes, to: Layout.tensorAlignment) + weight.shape.elementCount * MemoryLayout<Float>.stride
        }
        return Layout.roundUp(bytes, to: Layout.tensorAlignment)
    }

    /// Views over layer `index`'s weights, widening its float16 and quantized ones into a
    /// region taken from the ring (nil when it has none). The caller hands the
    /// region to whoever releases it. Waits for space only if `wait`; the
    /// ring is sized so that, with regions released in order, it never waits forever.
    func restore(layer index: Int, of model: Model, files: [UnsafeMutableRawBufferPointer], wait: Bool) -> (views: [String: Tensor], region: BufferRing.Region?) {
        let layer = model.layers[index]
        guard layerBytes[index] > 0 else { return (Self.views(of: layer, files: files, widenInto: nil), nil) }
        let region = ring.acquire(layerIndex: index, byteCount: layerBytes[index], wait: wait, abandon: { false })!
        return (Self.views(of: layer, files: files, widenInto: ring.bytes(of: region).baseAddress), region)
    }

    /// Tensor views over a layer's weights: float32 ones in place in `files`,
    /// float16 and quantized ones widened into `destination` (at least
    /// `widenedBytes(of:)` bytes; nil only when the layer has none).
    static func views(of layer: Manifest.Layer, files: [UnsafeMutableRawBufferPointer], widenInto destination: UnsafeMutableRawPointer?) -> [String: Tensor] {
        var views: [String: Tensor] = [:]
        views.reserveCapacity(layer.weights.count)
        var widenedOffset = 0
        for weight in layer.weights {
            let address = files[weight.file].baseAddress! + weight.offsetBytes
            let count = weight.shape.elementCount
            switch weight.dtype {
            case .float16:
                widenedOffset = Layout.roundUp(widenedOffset, to: Layout.tensorAlignment)
                let target = (destination! + widenedOffset).bindMemory(to: Float.self, capacity: count)
                dl_widen_f16(address.assumingMemoryBound(to: UInt16.self), target, count)
                widenedOffset += count * MemoryLayout<Float>.stride
                views[weight.name] = Tensor(shape: weight.shape, borrowing: target)
            case .int8, .uint8, .uint4:
                widenedOffset = Layout.roundUp(widenedOffset, to: Layout.tensorAlignment)
                let target = (destination! + widenedOffset).bindMemory(to: Float.self, capacity: count)
                dequantize(weight, file: UnsafeRawPointer(files[weight.file].baseAddress!), into: target)
                widenedOffset += count * MemoryLayout<Float>.stride
                views[weight.name] = Tensor(shape: weight.shape, borrowing: target)
            default:
                views[weight.name] = Tensor(shape: weight.shape, borrowing: address.bindMemory(to: Float.self, capacity: count))
            }
        }
        return views
    }
}
