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

    /// Reads every `resident` layer whole (checking its checksum) and the held
    /// bytes of every layer in `splits`.
    static func load(_ model: Model, resident: [Int], splits: [LayerSplit], gathers: [RowGather] = [], scheduler: ReadScheduler, fds: [[Int32]],
                     chunkBytes: Int) throws(RuntimeError) -> HeldWeights {
        var units = resident.map { ReadUnit.whole(model, layer: $0) }
        for split in splits {
            let extents = [split.head, split.tail].filter { !$0.isEmpty }.map { ReadUnit.Extent(file: 0, offsetBytes: $0.lowerBound, byteCount: $0.count) }
            units.append(ReadUnit(layer: split.layer, piece: 0, pieceCount: 1, rows: nil, extents: extents, isResident: true))
        }
        let firstGather = units.count
        for gather in gathers {
            let extents = gather.held.map { ReadUnit.Extent(file: 0, offsetBytes: $0.lowerBound, byteCount: $0.count) }
            units.append(ReadUnit(layer: gather.layer, piece: 0, pieceCount: 1, rows: nil, extents: extents, isResident: true))
        }
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
            guard ready.index >= resident.count else {
                if let mismatch = Pipeline.verify(model, layer: unit.layer, files: ready.files, summed: ready.fileChecksums) { throw mismatch }
                views[unit.layer] = Pipeline.views(of: layer, files: ready.files)
                continue
            }
            if ready.index >= firstGather {
                // A row-gathered layer's other weights, in whole checksummed chunks.
                let gather = gathers[ready.index - firstGather]
                if let mismatch = gather.verify(model, extents: unit.extents, buffers: ready.files) { throw mismatch }
                var layerViews: [String: Tensor] = [:]
                for weight in layer.weights where weight.name != gather.tableName {
                    let part = unit.extents.firstIndex { $0.offsetBytes <= weight.offsetBytes && weight.offsetBytes + weight.byteCount <= $0.offsetBytes + $0.byteCount }!
                    let address = ready.files[part].baseAddress! + (weight.offsetBytes - unit.extents[part].offsetBytes)
                    layerViews[weight.name] = Tensor(shape: weight.shape, borrowing: address.bindMemory(to: Float.self, capacity: weight.shape.elementCount))
                }
                views[unit.layer] = layerViews
                continue
            }
            let split = splits[ready.index - resident.count]
            // The held parts, in file order: head (if any), then tail.
            var parts = ready.files[...]
            let head = split.head.isEmpty ? nil : parts.popFirst()
            let tail = split.tail.isEmpty ? nil : parts.popFirst()
            var layerViews: [String: Tensor] = [:]
            for weight in layer.weights where weight.name != split.weightName {
                let (part, start) = weight.offsetBytes < split.head.upperBound ? (head!, split.head.lowerBound) : (tail!, split.tail.lowerBound)
                let address = part.baseAddress! + (weight.offsetBytes - start)
                layerViews[weight.name] = Tensor(shape: weight.shape, borrowing: address.bindMemory(to: Float.self, capacity: weight.shape.elementCount))
            }
            views[unit.layer] = layerViews
            let tailSkip = split.streamed.upperBound - split.tail.lowerBound
            let tailBytes = split.tail.count - tailSkip
            checksums[unit.layer] = SplitChecksums(
                head: head.map { CRC32C.checksum(UnsafeRawBufferPointer($0)) } ?? 0,
                tail: tail.map { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[tailSkip...])) } ?? 0,
                tailBytes: max(0, tailBytes))
        }
        return HeldWeights(views: views, splitChecksums: checksums, ring: ring)
    }
}
