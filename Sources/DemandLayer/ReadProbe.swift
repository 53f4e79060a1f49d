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

    package init(model: Model, options: SessionOptions) throws(RuntimeError) {
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
        requestBytes = options.requestBytes
    }

    deinit { for layerFiles in files { for file in layerFiles { file.close() } } }

    /// Reads the whole model once; returns (nanoseconds, bytes read).
    package func run() throws(RuntimeError) -> (nanoseconds: UInt64, bytes: Int) {
        let start = Clock.now()
        var reader = RingReader(model: model, ring: ring, scheduler: scheduler, fileDescriptors: files.map { $0.map(\.fd) },
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
