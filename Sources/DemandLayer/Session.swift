import DemandFormat
import DemandIO
import DemandTensor
import Foundation
import Synchronization

/// A model opened for inference under one policy: its weight memory, its IO
/// engine and its three stage threads.
///
/// Lifetime: everything a session needs is set up in `init`: the files are
/// opened, the arena is allocated (and, for `resident`, filled), the threads
/// are started, the activations are planned into their own arena. `run`
/// allocates no weight or activation memory (only the returned outputs are
/// new tensors). `close()` (or releasing the session) stops and joins the
/// threads and closes the files.
///
/// Threads: `run` may be called from any thread. Calls on one session are
/// serialized: a second caller waits until the first inference is done.
/// Different sessions run independently. `cancel()` may be called from any
/// thread, at any time.
///
/// See `Docs/LifetimeAndThreading.md` for the rules in full.
public final class Session: @unchecked Sendable {
    /// The model this session runs; the session keeps it alive.
    public let model: Model
    /// The options the session was made with.
    public let options: SessionOptions
    /// The engine that reads the layer files, or nil for the mmap policy.
    public let ioEngine: IOEngineKind?
    /// Whether reads bypass the page cache (O_DIRECT).
    public let isDirect: Bool
    /// Bytes of the weight arenas that layer files are read into (0 for mmap,
    /// which maps the files instead): the ring, and for deepeye the arena of
    /// the fully connected part too.
    public let arenaBytes: Int
    /// Bytes of the arena float16 and quantized weights are widened into (0 when the model
    /// stores none): two layers' worth, or every layer's for resident and bulk.
    public let wideningBytes: Int
    /// Bytes of the activation arena: every intermediate tensor, planned at open.
    public var activationBytes: Int { pipeline.activationArena.byteCount }
    /// The CPUs the execute stage and the read and restore stages are pinned
    /// to (`options.placement` resolved), or nil when they are not pinned.
    public let pinnedCPUs: (execute: Int, stages: Int)?
    /// How the budget is spent (ring, resident layers, split layers, predicted
    /// latency), for a pipelined session given `budgetBytes`; nil otherwise.
    public let streamPlan: StreamPlan?
    /// Bytes of weights held for good outside the ring by a planned session:
    /// its resident layers and the held parts of its split layers.
    public var heldBytes: Int { pipeline.held.byteCount }
    /// The execute CPU this session claimed (automatic placement), given back on close.
    private let claimedCPU: Int?

    let pipeline: Pipeline
    private let files: [[DirectFile]]
    private let runLock = NSLock()
    private var closed = false
    private var lastStatsStorage: InferenceStats?
    /// The inference in flight, for `cancel()` (which does not take `runLock`).
    private let inFlight = Mutex<Job?>(nil)

    /// Statistics of the most recent successful inference.
    public var lastStats: InferenceStats? {
        runLock.lock(); defer { runLock.unlock() }
        return lastStatsStorage
    }

    /// Opens `model` for inference under `options`: opens the layer files,
    /// allocates the weight ring (and, for `deepeye`, the fully connected
    /// part's arena and its reader's engine) and the activation arena, starts
    /// the stage threads and, for `resident`, reads every layer. Pipelined with
    /// `budgetBytes`, it first plans the budget (`streamPlan`; measuring the
    /// model's profile if none is given or saved) and reads the weights the
    /// plan holds. Throws when an option is out of range, the budget is below
    /// the least the model runs in (the message says how much that is), or a
    /// file cannot be opened or read.
    public convenience init(model: Model, options: SessionOptions = SessionOptions()) throws(RuntimeError) {
        try self.init(model: model, options: options, share: nil)
    }

    /// Opens `model` alone (`share` nil), or as one of a `Runtime`'s models:
    /// pipelined, planned against the runtime's shared ring with nothing
    /// resident, its activations in the runtime's storage, its inferences
    /// executed when the runtime's scheduler gives them the turn.
    init(model: Model, options: SessionOptions, share: RuntimeShare?) throws(RuntimeError) {
        self.model = model
        self.options = options
        let layerBytes = model.layers.map(\.byteCount)
        let streaming: Streaming
        let capacity: Int
        let maxHeldRegions: Int
        if let share {
            try Self.checkCommon(options)
            streaming = try Self.streaming(model, budget: share.ring.capacityBytes, profile: share.profile, allowsResident: false)
            (capacity, maxHeldRegions) = (share.ring.capacityBytes, .max)
        } else if Self.isPlanned(options) && options.streamsUnplanned {
            try Self.checkCommon(options)
            let simple = Self.simpleStreaming(model, budget: options.budgetBytes!)
            (streaming, capacity, maxHeldRegions) = (simple.streaming, simple.ringBytes, .max)
        } else if Self.isPlanned(options) {
            try Self.checkCommon(options)
            let profile = try Self.profile(for: model, options: options)
            streaming = try Self.streaming(model, budget: options.budgetBytes!, profile: profile,
                                           wideningBytes: Widening.ringBytes(of: model, policy: options.policy))
            capacity = max(streaming.plan!.ringBytes, Layout.fileAlignment)
            maxHeldRegions = .max
        } else {
            let size = try Self.arenaSize(model: model, options: options, layerBytes: layerBytes)
            (streaming, capacity, maxHeldRegions) = (.whole(model), size.capacity, size.maxHeldRegions)
        }
        streamPlan = streaming.plan
        // Resolved first, so a bad CPU is refused before any work. An
        // automatic claim is given back if anything fails before the session
        // is whole; after that, a failure runs deinit, whose close() gives it back.
        let placement: (cpus: (execute: Int, stages: Int), claimed: Bool)?
        if let share {
            placement = share.cpus.map { (cpus: $0, claimed: false) }
        } else {
            placement = try options.placement.resolve(threadCount: options.threadCount)
        }
        let claimed = placement?.claimed == true ? placement?.cpus.execute : nil
        var whole = false
        defer { if !whole, let claimed { ExecuteCPUClaims.release(claimed) } }
        pinnedCPUs = placement?.cpus
        claimedCPU = claimed
        BLAS.setThreadCount(options.threadCount)

        let source: WeightSource
        let fds: [[Int32]]
        var held = HeldWeights.none
        var background: BackgroundReader?
        let widening = Widening(model: model, policy: options.policy)
        wideningBytes = widening?.ring.capacityBytes ?? 0
        if options.policy == .mmap {
            files = try Self.openFiles(model, direct: false)
            fds = files.map { $0.map(\.fd) }
            source = .mapped(fds: fds)
            ioEngine = nil
            isDirect = false
            arenaBytes = 0
        } else {
            let opened = try Self.openFilesForEngine(model, choice: options.io)
            files = opened.files
            fds = files.map { $0.map(\.fd) }
            isDirect = opened.direct
            var engine: any IOEngine
            do { engine = try IOEngines.make(opened.choice, queueDepth: options.queueDepth) } catch {
                throw RuntimeError(.ioEngineUnavailable, "\(error)")
            }
            if let wrap = options.engineWrapper { engine = wrap(engine) }
            ioEngine = engine.kind
            let ring = share?.ring ?? BufferRing(capacityBytes: capacity, maxHeldRegions: maxHeldRegions)
            do { try engine.register(arena: ring.arenaBuffer) } catch {
                throw RuntimeError(.ioEngineUnavailable, "\(error)")
            }
            if options.policy == .deepeye {
                background = try BackgroundReader(model: model, engine: opened.choice, options: options)
            }
            arenaBytes = capacity + (background?.ring.capacityBytes ?? 0)
            let scheduler = ReadScheduler(engine: engine, chunkBytes: options.requestBytes)
            if options.policy == .resident {
                let loaded = try Self.loadResident(model, ring: ring, widening: widening, scheduler: scheduler, fds: fds, chunkBytes: options.requestBytes)
                source = .resident(ring, views: loaded.views, files: loaded.files)
            } else {
                source = .ring(ring, scheduler)
            }
            if streaming.plan != nil || !streaming.splits.isEmpty {
                held = try HeldWeights.load(model, resident: streaming.plan?.residentLayers ?? [],
                                            splits: streaming.splits.values.sorted { $0.layer < $1.layer },
                                            gathers: streaming.gathers.values.sorted { $0.layer < $1.layer },
                                            scheduler: scheduler, fds: fds, chunkBytes: options.requestBytes)
            }
        }
        pipeline = Pipeline(model: model, policy: options.policy, source: source, widening: widening,
                            fileDescriptors: fds, requestBytes: options.requestBytes,
                            units: streaming.units, splits: streaming.splits, gathers: streaming.gathers, held: held,
                            activationStorage: share?.activations, background: background,
                            transformedWeightBytes: options.transformedWeightBytes)
        pipeline.turns = share?.turns
        whole = true
        try pipeline.start(cpus: pinnedCPUs)
    }

    deinit { close() }

    /// Stops and joins the stage threads and closes the files. Idempotent.
    public func close() {
        runLock.lock(); defer { runLock.unlock() }
        guard !closed else { return }
        closed = true
        pipeline.stop()
        if let claimedCPU { ExecuteCPUClaims.release(claimedCPU) }
        for layerFiles in files { for file in layerFiles { file.close() } }
    }

    /// Runs one inference. `inputs` must name every graph input with its
    /// declared shape (see `Model.inputs`); the result maps every graph output
    /// name to a new tensor that owns its floats. The session copies nothing
    /// out of `inputs` and reads them only until `run` returns. A failed
    /// inference leaves the session usable.
    ///
    /// With `timeoutNanoseconds`, an inference still running that long after
    /// it started ends with a `.timedOut` error. The stages check the deadline
    /// between layers and between reads, so the error comes within about one
    /// layer's work of it (a read already in the kernel completes first).
    public func run(_ inputs: [String: Tensor], timeoutNanoseconds: UInt64? = nil) throws(RuntimeError) -> [String: Tensor] {
        try validate(inputs)
        runLock.lock(); defer { runLock.unlock() }
        guard !closed else { throw RuntimeError(.sessionClosed, "the session is closed") }
        let job = Job(inputs: inputs, layerCount: model.layers.count, timeoutNanoseconds: timeoutNanoseconds)
        inFlight.withLock { $0 = job }
        // The kernels' pool threads sleep between inferences: wake them now, while the job passes through
        // the read and restore stages, rather than at the first layer.
        BLAS.wakeThreads()
        pipeline.readInbox.send(.run(job))
        job.finished.wait()
        inFlight.withLock { $0 = nil }
        if let error = job.error { throw error }
        var stats = job.stats(policy: options.policy)
        stats.latencyNanoseconds = job.elapsed()
        lastStatsStorage = stats
        return job.outputs
    }

    /// Ends the inference in flight, if there is one, with a `.cancelled`
    /// error thrown from its `run`: the stages skip the layers not yet run
    /// (reads already in the kernel complete first, and every ring region is
    /// released), and the session is ready for the next `run`. Returns whether
    /// an inference was in flight. Any thread; a `run` that starts after this
    /// call is not affected.
    @discardableResult
    public func cancel() -> Bool {
        guard let job = inFlight.withLock({ $0 }) else { return false }
        job.fail(RuntimeError(.cancelled, "the inference was cancelled; the session is ready for the next run"))
        pipeline.ring?.wakeAll()
        pipeline.background?.ring.wakeAll()
        return true
    }

    func validate(_ inputs: [String: Tensor]) throws(RuntimeError) {
        for declared in model.manifest.inputs {
            guard let tensor = inputs[declared.name] else {
                throw RuntimeError(.invalidInput, "input '\(declared.name)' (\(declared.shape)) is missing; the model's inputs are \(model.manifest.inputs.map { "'\($0.name)' \($0.shape)" }.joined(separator: ", "))")
            }
            guard tensor.shape == declared.shape else {
                throw RuntimeError(.invalidInput, "input '\(declared.name)' has shape \(tensor.shape); the model expects \(declared.shape)")
            }
        }
        for name in inputs.keys where !model.manifest.inputs.contains(where: { $0.name == name }) {
            throw RuntimeError(.invalidInput, "'\(name)' is not an input of the model; its inputs are \(model.manifest.inputs.map { "'\($0.name)'" }.joined(separator: ", "))")
        }
    }
}
