import DemandFormat
import DemandIO

/// Reads every layer of a model through an IO engine into a ring, releasing
/// each as soon as it is in, without restoring or executing: how fast storage
/// alone can feed the model (`io_only` in the bench).
///
/// Owns its files, engine and ring for its lifetime; one thread at a time.
package final class ReadProbe {
    package let model: Model
    package let ioEngine: IOEngineKind
    package let isDirect: Bool
    private let ring: BufferRing
    private let scheduler: ReadScheduler
    private let files: [[DirectFile]]
    private let requestBytes: Int

    private let units: [ReadUnit]

    /// A probe reading every layer whole, into the ring a pipelined session
    /// with `options` would have.
    package convenience init(model: Model, options: SessionOptions) throws(RuntimeError) {
        var pipelined = options
        pipelined.policy = .pipelined
        pipelined.budgetBytes = options.budgetBytes.map { max($0, model.largestLayerByteCount) }
        let size = try Session.arenaSize(model: model, options: pipelined, layerBytes: model.layers.map(\.byteCount))
        try self.init(model: model, options: options, units: ReadUnit.wholeLayers(model), ringBytes: size.capacity)
    }

    /// A probe reading through a ring of about `ringBytes`: layers larger than
    /// half of it are read in pieces of at most a quarter of it, where they can be split.
    package convenience init(model: Model, options: SessionOptions, ringBytes: Int) throws(RuntimeError) {
        let simple = Session.simpleStreaming(model, budget: ringBytes)
        try self.init(model: model, options: options, units: simple.streaming.units, ringBytes: simple.ringBytes)
    }

    private init(model: Model, options: SessionOptions, units: [ReadUnit], ringBytes: Int) throws(RuntimeError) {
        self.model = model
        self.units = units
        let opened = try Session.openFilesForEngine(model, choice: options.io)
        files = opened.files
        isDirect = opened.direct
        let engine: any IOEngine
        do { engine = try IOEngines.make(opened.choice, queueDepth: options.queueDepth) } catch {
            throw RuntimeError(.ioEngineUnavailable, "\(error)")
        }
        ioEngine = engine.kind
        ring = BufferRing(capacityBytes: ringBytes)
        do { try engine.register(arena: ring.arenaBuffer) } catch { throw RuntimeError(.ioEngineUnavailable, "\(error)") }
        scheduler = ReadScheduler(engine: engine, chunkBytes: options.requestBytes)
        requestBytes = options.requestBytes
    }

    deinit { for layerFiles in files { for file in layerFiles { file.close() } } }

    /// Reads the whole model once; returns (nanoseconds, bytes read).
    package func run() throws(RuntimeError) -> (nanoseconds: UInt64, bytes: Int) {
        let start = Clock.now()
        var reader = RingReader(model: model, units: units, ring: ring, scheduler: scheduler, fileDescriptors: files.map { $0.map(\.fd) },
                                chunkBytes: requestBytes)
        var bytes = 0
        var firstError: IOError?
        while !reader.isFinished {
            do {
                let step = try reader.step(issueNew: firstError == nil, abandon: { false })
                firstError = firstError ?? step.failures.first?.error
                for ready in step.ready {
                    ring.release(ready.region)
                    bytes += ready.region.byteCount
                }
            } catch {
                firstError = firstError ?? error
                reader.giveUpOnHeldLayers()
            }
            if let firstError, !reader.hasLayersHeld {
                throw RuntimeError(.readFailed, firstError.message, path: firstError.path, offsetBytes: firstError.offsetBytes)
            }
        }
        return (Clock.now() - start, bytes)
    }
}
