import DemandFormat
import DemandIO

/// The deepeye policy's second reader: it reads the model's fully connected
/// part from the start of each run, in the background, into an arena of its
/// own, while the read stage reads the convolutional part one layer at a time
/// through the (linear) ring.
///
/// The fully connected part is every layer from the first one with a Gemm or
/// MatMul node that reads one of the layer's weights, to the end of the model:
/// for a CNN, its classifier (VGG-16's three Gemm layers, ResNet-152's last
/// one) with whatever weightless nodes ride in those layers (a Softmax). One
/// cut, not a set of layers, so each part is read in execution order and each
/// arena releases its regions in the order it handed them out. For a model
/// whose layers are MatMuls from the start (a transformer) that is nearly
/// the whole model; for one with no such layer there is no background reader
/// and deepeye runs as linear does.
///
/// Why a thread and an engine of its own rather than the read stage queueing
/// these reads beside the others: under linear the read stage spends most of
/// a run blocked on the ring (it may take the next layer's region only once
/// execute has released the one before), and the read scheduler issues in
/// FIFO order, so background reads queued there would either stall with the
/// read stage or hold the next convolutional layer's reads behind hundreds of
/// MiB. With its own io_uring (or libaio) queue the background part streams
/// at the disk's pace regardless, sharing the disk, not a queue, with the
/// convolutional reads.
///
/// Each run: the read stage sends `.run` to `inbox` first thing; this reader
/// takes a region of `ring` for every background layer at once (the arena
/// holds them all, so it never waits for space), queues all their reads, and
/// sends each layer to `results` as its bytes are in, in layer order, then
/// `.end`. Once the read stage has handed the last convolutional layer on, it
/// forwards those layers to restore unchanged; restore checks their
/// CRC-32Cs (summed per chunk here as they land) as for any layer, and
/// execute releases their regions back to `ring`. After a failure it queues
/// nothing new, waits for what is in flight, and still sends every layer it
/// took a region for, so execute releases them all.
///
/// Ownership, lifetime and threads: made when a deepeye session opens (its
/// engine, scheduler and arena are allocated then and never grown), with the
/// session's pipeline. From then on its thread, `dl-read-fc`, alone uses the
/// engine and scheduler; `inbox` is sent to by the read thread (`.run`,
/// `.stop`), `results` is received by the read thread only; execute releases
/// regions of `ring`, which is locked like any ring.
final class BackgroundReader: @unchecked Sendable {
    /// The first unit (and layer) it reads; it reads every one from there on.
    let firstUnit: Int
    /// The fully connected part's arena: every background layer at once.
    let ring: BufferRing
    /// Reads through the reader's own engine.
    let scheduler: ReadScheduler
    /// `.run(job)` to read the background part for `job`, `.stop` to end the thread.
    let inbox = Channel<StageMessage>()
    /// Each background layer as its bytes are in (`.layer`), in order, then `.end`.
    let results = Channel<StageMessage>()

    /// The reader for `model`'s fully connected part, with an engine made as
    /// the session's is, or nil when the model has no fully connected layer.
    init?(model: Model, engine choice: IOEngineChoice, options: SessionOptions) throws(RuntimeError) {
        guard let first = Self.fullyConnectedStart(of: model) else { return nil }
        firstUnit = first
        let bytes = model.layers[first...].reduce(0) { $0 + $1.byteCount }
        ring = BufferRing(capacityBytes: max(Layout.roundUp(bytes, to: Layout.fileAlignment), Layout.fileAlignment))
        var engine: any IOEngine
        do {
            engine = try IOEngines.make(choice, queueDepth: options.queueDepth)
            if let wrap = options.engineWrapper { engine = wrap(engine) }
            try engine.register(arena: ring.arenaBuffer)
        } catch {
            throw RuntimeError(.ioEngineUnavailable, "the fully connected layers' reader: \(error)")
        }
        scheduler = ReadScheduler(engine: engine, chunkBytes: options.requestBytes)
    }

    /// The index of the first layer with a Gemm or MatMul node reading one
    /// of the layer's weights, or nil if there is none.
    static func fullyConnectedStart(of model: Model) -> Int? {
        model.layers.firstIndex { layer in
            let weights = Set(layer.weights.map(\.name))
            return layer.nodes.contains { node in
                (node.op == "Gemm" || node.op == "MatMul") && node.inputs.contains(where: weights.contains)
            }
        }
    }
}

extension Pipeline {
    /// The `dl-read-fc` thread's loop: reads the background part for each run.
    func backgroundLoop(_ background: BackgroundReader) {
        while true {
            switch background.inbox.receive() {
            case .run(let job):
                readThroughRing(job, ring: background.ring, scheduler: background.scheduler,
                                units: background.firstUnit..<units.count, firstLayerAlone: false) { loaded in
                    background.results.send(.layer(job, loaded, weights: [:]))
                }
                background.results.send(.end(job))
            case .stop:
                return
            case .layer, .end:
                preconditionFailure("the background reader receives only run and stop")
            }
        }
    }

    /// Read thread: hands every layer the background reader sends for this
    /// run on to restore, in order, until it says it is done.
    func forwardBackground(_ background: BackgroundReader, handOn: (LoadedLayer) -> Void) {
        while true {
            switch background.results.receive() {
            case .layer(_, let loaded, _): handOn(loaded)
            case .end: return
            case .run, .stop: preconditionFailure("the background reader sends only layers and end")
            }
        }
    }

    /// The ring a layer's region belongs to.
    func ring(holding loaded: LoadedLayer) -> BufferRing? {
        if let background, loaded.unit >= background.firstUnit { return background.ring }
        return ring
    }
}
