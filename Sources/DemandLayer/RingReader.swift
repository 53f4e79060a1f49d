import DemandFormat
import DemandIO

/// Reads a model's read units (whole layers, or pieces of split layers; see
/// `ReadUnit`), in order, into regions of a buffer ring, and hands back the
/// units whose bytes are all in, in unit order. The read stage, the resident
/// loader and `ReadProbe` all read through it. Below, "layer" means unit.
///
/// A unit's region is reserved as soon as its first chunk is free; the rest
/// is read chunk by chunk as older units give their bytes back, so a large
/// unit starts loading before the whole of its region is free.
///
/// Owned by one thread at a time (it drives the scheduler, which drives the
/// engine). It never releases regions: whoever receives a layer does.
struct RingReader {
    struct Ready {
        /// The unit's index in `units`.
        let index: Int
        let region: BufferRing.Region
        /// Each of the unit's extents (for a whole layer: its files, in
        /// manifest order), inside the region.
        let files: [UnsafeMutableRawBufferPointer]
        /// Each extent's CRC-32C, joined from its chunks' sums (with
        /// `checksumsChunks`, when every chunk was read); nil otherwise.
        let fileChecksums: [UInt32]?
    }

    /// What one `step` did.
    struct Step {
        /// Layers whose reads all completed (successfully or not).
        var finished: [Int] = []
        /// Layers handed on, in order.
        var ready: [Ready] = []
        /// Failed reads, with their layer.
        var failures: [(layer: Int, error: IOError)] = []
    }

    let model: Model
    /// What to read, in order.
    let units: [ReadUnit]
    let ring: BufferRing
    let scheduler: ReadScheduler
    let fileDescriptors: [[Int32]]
    /// Bytes read per request, and the least free space a layer's region needs to be taken.
    let chunkBytes: Int
    /// Sum each chunk's CRC-32C as it lands, so the restore stage only joins
    /// the sums: the checksum is then off the critical path except for the
    /// last chunk of a layer.
    let checksumsChunks: Bool
    /// Read the first layer on its own before queueing any other: this disk
    /// (a virtio block device) completes the requests queued together at
    /// once, so a first layer queued with 8 MiB of others arrives with the
    /// last of them (about 1.3 ms into a ResNet-152 run) instead of after
    /// about 0.2 ms, and the execute stage waits that long to start.
    let firstLayerAlone: Bool
    /// Take regions after those already held (a `Runtime`'s shared ring)
    /// instead of starting from an empty ring at offset 0.
    let continuesRing: Bool
    private var regions: [BufferRing.Region?]
    private var issuedBytes: [Int]        // bytes of each layer queued for reading so far
    private var pendingBytes: [Int]       // queued but not yet complete
    private var extents: [Int: (layer: Int, position: Int, byteCount: Int)] = [:]
    /// Each held layer's completed chunks: position in the layer, length, CRC-32C.
    private var chunkSums: [[(position: Int, byteCount: Int, crc: UInt32)]]
    /// Chunks that completed but were not summed (a failure): no joined checksums.
    private var unsummed: [Bool]
    private var nextExtentID = 0
    private let unitBytes: [Int]
    /// Layers whose region has been taken, and layers handed on.
    private(set) var issuedCount = 0
    private(set) var handedOnCount = 0

    init(model: Model, units: [ReadUnit]? = nil, ring: BufferRing, scheduler: ReadScheduler, fileDescriptors: [[Int32]], chunkBytes: Int,
         checksumsChunks: Bool = false, firstLayerAlone: Bool = false, continuesRing: Bool = false) {
        self.model = model
        let units = units ?? ReadUnit.wholeLayers(model)
        self.units = units
        self.checksumsChunks = checksumsChunks
        self.firstLayerAlone = firstLayerAlone
        self.continuesRing = continuesRing
        chunkSums = Array(repeating: [], count: units.count)
        unsummed = Array(repeating: !checksumsChunks, count: units.count)
        unitBytes = units.map(\.byteCount)
        self.ring = ring
        self.scheduler = scheduler
        self.fileDescriptors = fileDescriptors
        self.chunkBytes = chunkBytes
        regions = Array(repeating: nil, count: units.count)
        issuedBytes = Array(repeating: 0, count: units.count)
        pendingBytes = Array(repeating: 0, count: units.count)
        // A ring shared by a runtime's models may still hold the inference
        // before this one (executing): placement goes on after it.
        if !continuesRing { ring.reset() }
    }

    var layerCount: Int { units.count }
    /// Every layer has been handed on.
    var isFinished: Bool { handedOnCount == layerCount }
    /// Some layer has its region but has not been handed on yet.
    var hasLayersHeld: Bool { handedOnCount < issuedCount }

    /// Takes new regions (when `issueNew`), queues every chunk whose bytes are
    /// free, and hands on the layers that are complete. When nothing is ready
    /// it first waits: for a read to finish, or, with nothing in flight, for
    /// ring space. Without `issueNew` (after a failure) it only winds down:
    /// once no read is in flight, every held layer is handed on as it is.
    /// `started` is called for each layer as its region is taken, before its reads are queued.
    mutating func step(issueNew: Bool, abandon: () -> Bool, started: (Int) -> Void = { _ in }) throws(IOError) -> Step {
        var step = Step()
        if issueNew {
            while let index = issueNext(abandon: abandon) { started(index) }
            queueFreeChunks()
        }
        try scheduler.submitPending()
        handOn(into: &step)
        guard step.ready.isEmpty, hasLayersHeld else { return step }
        if scheduler.pendingExtentCount > 0 {
            for result in try scheduler.waitForCompletedExtents() {
                let (layer, position, byteCount) = extents.removeValue(forKey: result.id)!
                if let error = result.error {
                    step.failures.append((layer, error))
                    unsummed[layer] = true
                } else if checksumsChunks {
                    let crc = CRC32C.checksum(UnsafeRawBufferPointer(start: ring.base + regions[layer]!.offsetBytes + position, count: byteCount))
                    chunkSums[layer].append((position, byteCount, crc))
                }
                pendingBytes[layer] -= byteCount
                if isComplete(layer) { step.finished.append(layer) }
            }
        } else if issueNew, let waiting = (handedOnCount..<issuedCount).first(where: { issuedBytes[$0] < unitBytes[$0] }) {
            ring.waitUntilFree(regions[waiting]!, moreThan: issuedBytes[waiting], abandon: abandon)
        } else {
            giveUpOnHeldLayers()
        }
        handOn(into: &step)
        return step
    }

    /// After the engine itself failed (nothing more will complete), or after
    /// a failure with nothing in flight: counts every held layer as complete.
    mutating func giveUpOnHeldLayers() {
        for index in handedOnCount..<issuedCount {
            issuedBytes[index] = unitBytes[index]
            pendingBytes[index] = 0
            unsummed[index] = true
        }
        extents.removeAll()
    }

    private func isComplete(_ layer: Int) -> Bool {
        issuedBytes[layer] == unitBytes[layer] && pendingBytes[layer] == 0
    }

    /// Takes the next layer's region once its first chunk is free. Waits for
    /// space only when no layer is held (otherwise there is other work).
    private mutating func issueNext(abandon: () -> Bool) -> Int? {
        guard issuedCount < layerCount else { return nil }
        if firstLayerAlone && issuedCount == 1 && handedOnCount == 0 { return nil }
        let index = issuedCount
        let byteCount = unitBytes[index]
        guard let region = ring.reserve(layerIndex: index, byteCount: byteCount, minimumFreeBytes: chunkBytes,
                                        wait: !hasLayersHeld, abandon: abandon) else { return nil }
        regions[index] = region
        issuedCount += 1
        return index
    }

    /// Queues reads for every held layer's bytes that no older region covers any more.
    private mutating func queueFreeChunks() {
        for index in handedOnCount..<issuedCount where issuedBytes[index] < unitBytes[index] {
            let region = regions[index]!
            let free = ring.freePrefixBytes(of: region)
            let unit = units[index]
            var extentStart = 0
            for extent in unit.extents {
                let extentEnd = extentStart + extent.byteCount
                while issuedBytes[index] < min(free, extentEnd) && issuedBytes[index] >= extentStart {
                    let position = issuedBytes[index]
                    let byteCount = min(chunkBytes, min(free, extentEnd) - position)
                    let id = nextExtentID
                    nextExtentID += 1
                    extents[id] = (index, position, byteCount)
                    scheduler.enqueue(ReadExtent(
                        id: id, fd: fileDescriptors[unit.layer][extent.file], path: model.filePath(model.layers[unit.layer].files[extent.file]),
                        offsetBytes: Int64(extent.offsetBytes + position - extentStart), byteCount: byteCount,
                        destination: ring.base + region.offsetBytes + position))
                    issuedBytes[index] += byteCount
                    pendingBytes[index] += byteCount
                }
                extentStart = extentEnd
            }
            if issuedBytes[index] < unitBytes[index] { break }   // later units lie behind this one
        }
    }

    /// Each extent's CRC-32C from its chunks' sums (chunks never cross an
    /// extent boundary), or nil if some chunk was not summed.
    private func joinedChecksums(of index: Int) -> [UInt32]? {
        guard !unsummed[index] else { return nil }
        let chunks = chunkSums[index].sorted { $0.position < $1.position }
        var sums: [UInt32] = []
        var next = 0
        var fileStart = 0
        for file in units[index].extents {
            var crc: UInt32 = 0
            var position = fileStart
            while next < chunks.count, chunks[next].position < fileStart + file.byteCount {
                guard chunks[next].position == position else { return nil }
                crc = CRC32C.combine(crc, chunks[next].crc, secondByteCount: chunks[next].byteCount)
                position += chunks[next].byteCount
                next += 1
            }
            guard position == fileStart + file.byteCount else { return nil }
            sums.append(crc)
            fileStart += file.byteCount
        }
        return sums
    }

    private mutating func handOn(into step: inout Step) {
        while handedOnCount < issuedCount && isComplete(handedOnCount) {
            let index = handedOnCount
            let region = regions[index]!
            let bytes = ring.bytes(of: region)
            var files: [UnsafeMutableRawBufferPointer] = []
            var offset = 0
            for file in units[index].extents {
                files.append(UnsafeMutableRawBufferPointer(rebasing: bytes[offset..<(offset + file.byteCount)]))
                offset += file.byteCount
            }
            handedOnCount += 1
            step.ready.append(Ready(index: index, region: region, files: files, fileChecksums: joinedChecksums(of: index)))
            chunkSums[index] = []
        }
    }
}
