import DemandFormat
import DemandIO

/// Reads a model's layers, in order, into regions of a buffer ring: takes each
/// layer's region, queues one read extent per file, and hands back the layers
/// whose files are all in, in layer order. The read stage, the resident loader
/// and `ReadProbe` all read through it.
///
/// Owned by one thread at a time (it drives the scheduler, which drives the
/// engine). It never releases regions: whoever receives a layer does.
struct RingReader {
    struct Ready {
        let index: Int
        let region: BufferRing.Region
        /// Each of the layer's files, in manifest order, inside the region.
        let files: [UnsafeMutableRawBufferPointer]
    }

    let model: Model
    let ring: BufferRing
    let scheduler: ReadScheduler
    let fileDescriptors: [[Int32]]
    private var regions: [BufferRing.Region?]
    private var filesLeft: [Int]
    /// Layers whose region has been taken, and layers handed back by `nextReady`.
    private(set) var issuedCount = 0
    private(set) var handedOnCount = 0

    init(model: Model, ring: BufferRing, scheduler: ReadScheduler, fileDescriptors: [[Int32]]) {
        self.model = model
        self.ring = ring
        self.scheduler = scheduler
        self.fileDescriptors = fileDescriptors
        regions = Array(repeating: nil, count: model.layers.count)
        filesLeft = Array(repeating: 0, count: model.layers.count)
        ring.reset()
    }

    var layerCount: Int { model.layers.count }
    /// Every layer has been handed on.
    var isFinished: Bool { handedOnCount == layerCount }
    /// Some layer has its region but has not been handed on yet.
    var hasLayersHeld: Bool { handedOnCount < issuedCount }

    /// Takes the next layer's region and queues its reads; returns its index.
    /// Waits for ring space only when no layer is held (otherwise there are
    /// reads to reap first); nil when the region is not free or `abandon()`.
    mutating func issueNext(abandon: () -> Bool) -> Int? {
        guard issuedCount < layerCount else { return nil }
        let index = issuedCount
        let layer = model.layers[index]
        guard let region = ring.acquire(layerIndex: index, byteCount: layer.byteCount, wait: !hasLayersHeld, abandon: abandon) else {
            return nil
        }
        regions[index] = region
        var offset = region.offsetBytes
        for (fileIndex, file) in layer.files.enumerated() {
            scheduler.enqueue(ReadExtent(
                id: index << 8 | fileIndex, fd: fileDescriptors[index][fileIndex], path: model.filePath(file),
                offsetBytes: 0, byteCount: file.byteCount, destination: ring.base + offset))
            offset += file.byteCount
        }
        filesLeft[index] = layer.files.count
        issuedCount += 1
        return index
    }

    func submit() throws(IOError) { try scheduler.submitPending() }

    /// The next layer in order whose files are all in, if any.
    mutating func nextReady() -> Ready? {
        guard handedOnCount < issuedCount, filesLeft[handedOnCount] == 0 else { return nil }
        let index = handedOnCount
        let region = regions[index]!
        let bytes = ring.bytes(of: region)
        var files: [UnsafeMutableRawBufferPointer] = []
        var offset = 0
        for file in model.layers[index].files {
            files.append(UnsafeMutableRawBufferPointer(rebasing: bytes[offset..<(offset + file.byteCount)]))
            offset += file.byteCount
        }
        handedOnCount += 1
        return Ready(index: index, region: region, files: files)
    }

    /// Waits for at least one read to finish. Returns the layers whose files
    /// are now all in (a failed read still finishes its layer) and each failure
    /// with its layer. Returns at once when no read is pending.
    mutating func waitForReads() throws(IOError) -> (finished: [Int], failures: [(layer: Int, error: IOError)]) {
        guard scheduler.pendingExtentCount > 0 else { return ([], []) }
        var finished: [Int] = []
        var failures: [(Int, IOError)] = []
        for result in try scheduler.waitForCompletedExtents() {
            let index = result.id >> 8
            if let error = result.error { failures.append((index, error)) }
            filesLeft[index] -= 1
            if filesLeft[index] == 0 { finished.append(index) }
        }
        return (finished, failures)
    }

    /// After a failure: waits out every pending read, so no read still targets
    /// the ring, then counts the held layers as finished.
    mutating func drainPendingReads() {
        while scheduler.pendingExtentCount > 0 {
            do { _ = try waitForReads() } catch { break }
        }
        giveUpOnPendingReads()
    }

    /// After the engine itself failed (nothing more will complete), counts
    /// every held layer as finished so its region can be handed on and released.
    mutating func giveUpOnPendingReads() {
        for index in handedOnCount..<issuedCount { filesLeft[index] = 0 }
    }
}
