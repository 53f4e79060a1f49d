import DemandFormat
import DemandIO
import DemandTensor

/// The weights a planned session holds for good: whole layers the plan keeps
/// resident, and the small parts of split layers every piece needs (a bias,
/// anything stored before the split weight). Read once, through the
/// session's IO engine, when the session opens.
///
/// Ownership and threads: made by the opening thread, then only read (by the
/// restore and execute threads). Its arena lives as long as the session.
final class HeldWeights: @unchecked Sendable {
    /// The CRC-32C of a split layer's held bytes that lie outside its pieces:
    /// everything before the split weight, and everything after the last
    /// piece's end. Restore joins them with the pieces' sums.
    struct SplitChecksums {
        let head: UInt32
        let tail: UInt32
        let tailBytes: Int
    }

    /// Views of a resident layer's weights, or of a split layer's held ones, by layer.
    let views: [Int: [String: Tensor]]
    let splitChecksums: [Int: SplitChecksums]
    /// Bytes of the arena (what the held weights take).
    let byteCount: Int
    private let ring: BufferRing?

    private init(views: [Int: [String: Tensor]], splitChecksums: [Int: SplitChecksums], ring: BufferRing?) {
        self.views = views
        self.splitChecksums = splitChecksums
        self.ring = ring
        byteCount = ring?.capacityBytes ?? 0
    }

    /// Nothing held.
    static let none = HeldWeights(views: [:], splitChecksums: [:], ring: nil)

    /// Reads every `resident` layer whole (checking its checksum), the held
    /// bytes of every layer in `splits`, and the other weights of every
    /// row-gathered layer (checking their chunks).
    static func load(_ model: Model, resident: [Int], splits: [LayerSplit], gathers: [RowGather] = [], scheduler: ReadScheduler, fds: [[Int32]],
                     chunkBytes: Int) throws(RuntimeError) -> HeldWeights {
        // What each unit read at open is for.
        enum Role { case resident, split(LayerSplit), gather(RowGather) }
        var units = resident.map { ReadUnit.whole(model, layer: $0) }
        var roles = [Role](repeating: .resident, count: units.count)
        func hold(_ layer: Int, _ ranges: [Range<Int>], as role: Role) {
            let extents = ranges.filter { !$0.isEmpty }.map { ReadUnit.Extent(file: 0, offsetBytes: $0.lowerBound, byteCount: $0.count) }
            units.append(ReadUnit(layer: layer, piece: 0, pieceCount: 1, rows: nil, extents: extents, isResident: true))
            roles.append(role)
        }
        for split in splits { hold(split.layer, [split.head, split.tail], as: .split(split)) }
        for gather in gathers { hold(gather.layer, gather.held, as: .gather(gather)) }
        let total = units.reduce(0) { $0 + $1.byteCount }
        guard total > 0 else { return .none }
        let ring = BufferRing(capacityBytes: Layout.roundUp(total, to: Layout.fileAlignment))
        var reader = RingReader(model: model, units: units, ring: ring, scheduler: scheduler, fileDescriptors: fds,
                                chunkBytes: chunkBytes, checksumsChunks: true)
        var loaded: [RingReader.Ready] = []
        var failure: RuntimeError?
        while !reader.isFinished {
            do {
                let step = try reader.step(issueNew: failure == nil, abandon: { false })
                if failure == nil, let (unit, error) = step.failures.first {
                    let layer = units[unit].layer
                    failure = RuntimeError(.readFailed, error.message, layer: (layer, model.layers[layer].name), path: error.path, offsetBytes: error.offsetBytes)
                }
                loaded += step.ready
            } catch {
                failure = failure ?? RuntimeError(.readFailed, error.message, path: error.path, offsetBytes: error.offsetBytes)
                reader.giveUpOnHeldLayers()
            }
            if let failure, !reader.hasLayersHeld { throw failure }
        }
        var views: [Int: [String: Tensor]] = [:]
        var checksums: [Int: SplitChecksums] = [:]
        for ready in loaded {
            let unit = units[ready.index]
            let layer = model.layers[unit.layer]
            switch roles[ready.index] {
            case .resident:
                if let mismatch = Pipeline.verify(model, layer: unit.layer, files: ready.files, summed: ready.fileChecksums) { throw mismatch }
                views[unit.layer] = Pipeline.views(of: layer, files: ready.files)
            case .gather(let gather):
                // A row-gathered layer's other weights, in whole checksummed chunks.
                if let mismatch = gather.verify(model, extents: unit.extents, buffers: ready.files) { throw mismatch }
                views[unit.layer] = heldViews(of: layer, except: gather.tableName, extents: unit.extents, buffers: ready.files)
            case .split(let split):
                views[unit.layer] = heldViews(of: layer, except: split.weightName, extents: unit.extents, buffers: ready.files)
                // The held parts, in file order: head (if any), then tail.
                var parts = ready.files[...]
                let head = split.head.isEmpty ? nil : parts.popFirst()
                let tail = split.tail.isEmpty ? nil : parts.popFirst()
                let tailSkip = split.streamed.upperBound - split.tail.lowerBound
                checksums[unit.layer] = SplitChecksums(
                    head: head.map { CRC32C.checksum(UnsafeRawBufferPointer($0)) } ?? 0,
                    tail: tail.map { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[tailSkip...])) } ?? 0,
                    tailBytes: max(0, split.tail.count - tailSkip))
            }
        }
        return HeldWeights(views: views, splitChecksums: checksums, ring: ring)
    }

    /// Views of `layer`'s weights but `except`, each inside the extent (read into `buffers`) that holds it.
    private static func heldViews(of layer: Manifest.Layer, except: String, extents: [ReadUnit.Extent],
                                  buffers: [UnsafeMutableRawBufferPointer]) -> [String: Tensor] {
        var views: [String: Tensor] = [:]
        for weight in layer.weights where weight.name != except {
            let part = extents.firstIndex { $0.offsetBytes <= weight.offsetBytes && weight.offsetBytes + weight.byteCount <= $0.offsetBytes + $0.byteCount }!
            let address = buffers[part].baseAddress! + (weight.offsetBytes - extents[part].offsetBytes)
            views[weight.name] = Tensor(shape: weight.shape, borrowing: address.bindMemory(to: Float.self, capacity: weight.shape.elementCount))
        }
        return views
    }
}
