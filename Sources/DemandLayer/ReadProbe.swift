import DemandFormat
import DemandIO

/// Reads every layer of a model through an IO engine into a ring, releasing
/// each as soon as it is in, without restoring or executing: how fast storage
/// alone can feed the model (`io_only` in the bench).
///
/// Owns its files, engine and ring for its lifetime; one thread at a time.
public final class ReadProbe {
    public let model: Model
    public let ioEngine: IOEngineKind
    public let isDirect: Bool
    private let ring: BufferRing
    private let scheduler: ReadScheduler
    private let files: [[DirectFile]]

    public init(model: Model, options: SessionOptions) throws(RuntimeError) {
        self.model = model
        let layerBytes = model.layers.map(\.byteCount)
        var pipelined = options
        pipelined.policy = .pipelined
        let plan = try Session.plan(model: model, options: pipelined, layerBytes: layerBytes)
        let opened = try Session.openFilesForEngine(model, choice: options.io)
        files = opened.files
        isDirect = opened.direct
        let engine: any IOEngine
        do { engine = try IOEngines.make(opened.choice, queueDepth: options.queueDepth) } catch {
            throw RuntimeError(.ioEngineUnavailable, "\(error)")
        }
        ioEngine = engine.kind
        ring = BufferRing(capacityBytes: plan.capacity, maxHeldRegions: plan.maxHeldRegions)
        do { try engine.register(arena: ring.arenaBuffer) } catch { throw RuntimeError(.ioEngineUnavailable, "\(error)") }
        scheduler = ReadScheduler(engine: engine, chunkBytes: options.requestBytes)
    }

    deinit { for layerFiles in files { for file in layerFiles { file.close() } } }

    /// Reads the whole model once; returns (nanoseconds, bytes read).
    public func run() throws(RuntimeError) -> (nanoseconds: UInt64, bytes: Int) {
        let layers = model.layers
        ring.reset()
        let start = Clock.now()
        var regions: [BufferRing.Region] = []
        var filesLeft = [Int](repeating: 0, count: layers.count)
        var nextToIssue = 0
        var nextToRelease = 0
        var bytes = 0
        while nextToRelease < layers.count {
            while nextToIssue < layers.count {
                let mustWait = nextToIssue == nextToRelease
                guard let region = ring.acquire(layerIndex: nextToIssue, byteCount: layers[nextToIssue].byteCount, wait: mustWait, abandon: { false }) else { break }
                regions.append(region)
                var offset = region.offsetBytes
                for (fileIndex, file) in layers[nextToIssue].files.enumerated() {
                    scheduler.enqueue(ReadExtent(id: nextToIssue << 8 | fileIndex, fd: files[nextToIssue][fileIndex].fd,
                                                 path: model.filePath(file), offsetBytes: 0, byteCount: file.byteCount,
                                                 destination: ring.base + offset))
                    offset += file.byteCount
                }
                filesLeft[nextToIssue] = layers[nextToIssue].files.count
                nextToIssue += 1
            }
            do throws(IOError) {
                try scheduler.submitPending()
                if scheduler.pendingExtentCount > 0 {
                    for result in try scheduler.waitForCompletedExtents() {
                        if let error = result.error {
                            throw error
                        }
                        filesLeft[result.id >> 8] -= 1
                    }
                }
            } catch {
                while scheduler.pendingExtentCount > 0 { _ = try? scheduler.waitForCompletedExtents() }
                for region in regions[nextToRelease...] { ring.release(region) }
                throw RuntimeError(.readFailed, error.message, path: error.path, offsetBytes: error.offsetBytes)
            }
            while nextToRelease < nextToIssue && filesLeft[nextToRelease] == 0 {
                ring.release(regions[nextToRelease])
                bytes += layers[nextToRelease].byteCount
                nextToRelease += 1
            }
        }
        return (Clock.now() - start, bytes)
    }
}
