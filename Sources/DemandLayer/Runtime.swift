import DemandFormat
import DemandIO
import DemandTensor
import Foundation

/// Several models sharing one weight budget: one read ring all of them
/// stream through, one activation storage, and a scheduler deciding which
/// request runs next.
///
/// How the budget is spent: the budget is the ring plus a reserve for the
/// weights models hold for good (the small held parts of split layers, a
/// row-gathered table's other weights, a float16 model's widening arena);
/// nothing is held resident. Each model is planned against the whole ring,
/// so whichever request is running has all of it. Requests execute one at a
/// time, in the order they were dispatched, and their reads go to the disk
/// one request after another, so two models never compete for the disk or
/// the ring. A request is dispatched (its reads start) as soon as the one
/// before it has taken its last region: its first layers load into the bytes
/// the running request gives back, while that request finishes executing.
/// At most one request is dispatched ahead of the one executing, so the
/// scheduler chooses as late as it can. With `lanes` above one, the ring is
/// cut into that many, each model is opened once per lane, and that many
/// requests execute at once (more requests a second where one model's kernels
/// leave cores idle; each lane's ring is smaller, and each has its own
/// activation storage).
///
/// Lifetime: `init` allocates the ring and claims the CPUs; `add` opens a
/// model (its files, its held weights, its IO engine and three stage
/// threads; a profile is measured the first time, see `add`); `remove`
/// closes one; `close()` (or releasing the runtime) closes them all.
///
/// Threads: every method may be called from any thread, and `run` from many
/// at once: each caller blocks until its request is done. `add` and `remove`
/// may be called while requests run.
public final class Runtime: @unchecked Sendable {
    /// Which waiting request the scheduler dispatches next.
    public enum Scheduling: String, Sendable, CaseIterable, CustomStringConvertible {
        /// In the order the requests arrived.
        case fifo
        /// Highest `priority` first; among equals, the earliest deadline, then arrival.
        case priority
        /// The shortest predicted latency first (the planner's prediction for
        /// each model); among equals, arrival. Lowest mean latency; a long
        /// model waits while shorter requests keep arriving.
        case shortest

        /// The name, as the CLI spells it.
        public var description: String { rawValue }
    }

    /// How a runtime is set up.
    public struct Options: Sendable {
        /// All the weight memory the runtime's models may hold at once, in bytes:
        /// the shared ring plus `heldReserveBytes`.
        public var budgetBytes: Int
        /// Of the budget, the bytes kept for what models hold outside the ring
        /// (nil: a sixteenth of the budget, at least 64 KiB).
        public var heldReserveBytes: Int?
        /// Which waiting request runs next.
        public var scheduling: Scheduling
        /// How many requests may execute at once, each in its own share of the
        /// ring (default 1: the whole ring for the one running).
        public var lanes: Int
        /// Which IO engine reads the layer files.
        public var io: IOEngineChoice
        /// Threads the kernels use (process-wide, as for `SessionOptions`).
        public var threadCount: Int
        /// Where the stage threads run: resolved once for all the models, whose
        /// inferences execute one at a time.
        public var placement: ThreadPlacement
        /// Largest single read request.
        public var requestBytes: Int
        /// Most read requests in flight at once.
        public var queueDepth: Int
        /// Tests: wraps each model's IO engine (see `SessionOptions.engineWrapper`),
        /// given the model's name.
        package var engineWrapper: (@Sendable (String, any IOEngine) -> any IOEngine)?

        /// Options with the given budget; every other default is a session's.
        public init(budgetBytes: Int, heldReserveBytes: Int? = nil, scheduling: Scheduling = .fifo, lanes: Int = 1, io: IOEngineChoice = .auto,
                    threadCount: Int = SessionOptions.defaultThreadCount, placement: ThreadPlacement = .automatic,
                    requestBytes: Int = 512 << 10, queueDepth: Int = 16) {
            self.budgetBytes = budgetBytes
            self.heldReserveBytes = heldReserveBytes
            self.scheduling = scheduling
            self.lanes = lanes
            self.io = io
            self.threadCount = threadCount
            self.placement = placement
            self.requestBytes = requestBytes
            self.queueDepth = queueDepth
        }
    }

    /// The options the runtime was made with.
    public let options: Options
    /// Bytes of the ring a request streams through: the budget less the held
    /// reserve, divided among the lanes (`lanes × ringBytes + heldReserveBytes ≤ budgetBytes`).
    public var ringBytes: Int { scheduler.lanes[0].ring.capacityBytes }
    /// Bytes of the budget kept for what models hold outside the ring.
    public let heldReserveBytes: Int
    /// The CPUs the execute stage and the read and restore stages are pinned to, or nil.
    public let pinnedCPUs: (execute: Int, stages: Int)?

    let scheduler: Scheduler
    private let claimedCPU: Int?
    private let lock = NSLock()
    private var members: [RuntimeModel] = []
    private var closed = false

    /// A runtime holding at most `options.budgetBytes` of weights. Throws
    /// when the budget or an option is out of range.
    public init(options: Options) throws(RuntimeError) {
        self.options = options
        let page = Layout.fileAlignment
        guard options.budgetBytes >= 2 * page else {
            throw RuntimeError(.invalidOption, "budget must be at least \(2 * page) bytes (got \(options.budgetBytes))")
        }
        let reserve = Layout.roundUp(options.heldReserveBytes ?? max(options.budgetBytes / 16, 64 << 10), to: page)
        guard reserve >= 0, options.budgetBytes - reserve >= page else {
            throw RuntimeError(.invalidOption, "the held reserve (\(reserve) bytes) leaves no ring in a budget of \(options.budgetBytes) bytes")
        }
        var check = SessionOptions(budgetBytes: options.budgetBytes, threadCount: options.threadCount,
                                   requestBytes: options.requestBytes, queueDepth: options.queueDepth)
        check.placement = options.placement
        try Session.checkCommon(check)
        guard options.lanes >= 1, (options.budgetBytes - reserve) / options.lanes >= page else {
            throw RuntimeError(.invalidOption, "lanes must be at least 1 and leave each lane a ring of at least \(page) bytes (got \(options.lanes) lanes in \(options.budgetBytes - reserve) bytes)")
        }
        heldReserveBytes = reserve
        // Several lanes execute at once: their execute threads must not share one pinned CPU.
        let placement = options.lanes > 1 && options.placement == .automatic ? nil : try options.placement.resolve(threadCount: options.threadCount)
        pinnedCPUs = placement?.cpus
        claimedCPU = placement?.claimed == true ? placement?.cpus.execute : nil
        let ringBytes = (options.budgetBytes - reserve) / options.lanes / page * page
        scheduler = Scheduler(lanes: options.lanes, ringBytes: ringBytes, scheduling: options.scheduling)
    }

    /// A runtime of `budgetBytes` with default options.
    public convenience init(budgetBytes: Int) throws(RuntimeError) {
        try self.init(options: Options(budgetBytes: budgetBytes))
    }

    deinit { close() }

    /// The models added and not removed, in the order they were added.
    public var models: [RuntimeModel] { lock.withLock { members } }

    /// Bytes every model holds outside the ring, together.
    public var heldBytes: Int { scheduler.heldBytes }

    /// Bytes of the lanes' activation storages: in each, the largest arena of the models that have run in it.
    public var activationBytes: Int { scheduler.activationBytes }

    /// The most weight bytes held at once since the runtime opened or since
    /// `resetPeak()`: the shared ring's peak plus every model's held weights.
    public var peakWeightBytes: Int { scheduler.peakWeightBytes }

    /// Forgets the peak: `peakWeightBytes` starts again from what is held now.
    public func resetPeak() { scheduler.resetPeak() }

    /// Opens `model` in the runtime, under `name` (default: the model's own),
    /// once per lane, and plans it against the ring. The plan needs the model's
    /// profile: `profile`, else the one saved beside the model for this thread
    /// count, else one measured now with a ring of at most 32 MiB (outside the
    /// budget, while `add` runs) and saved there. Throws `budgetTooSmall` when
    /// the ring is below the least the model streams through, or its held
    /// weights do not fit what is left of the held reserve (both messages give
    /// the numbers).
    public func add(_ model: Model, name: String? = nil, profile: LayerProfile? = nil) throws(RuntimeError) -> RuntimeModel {
        let name = name ?? model.manifest.name
        var options = SessionOptions(policy: .pipelined, budgetBytes: ringBytes, io: self.options.io, threadCount: self.options.threadCount,
                                     requestBytes: self.options.requestBytes, queueDepth: self.options.queueDepth)
        options.placement = .unpinned
        if let wrap = self.options.engineWrapper { options.engineWrapper = { engine in wrap(name, engine) } }
        // Given, saved, or measured (in a ring of at most 32 MiB) and saved, as a budgeted session's is.
        var profiling = options
        profiling.profile = profile
        profiling.budgetBytes = min(ringBytes, 32 << 20)
        let costs = try Session.profile(for: model, options: profiling)
        let least = Session.minimumBudget(model, profile: costs, allowsResident: false, countsWidening: false)
        guard least <= ringBytes else {
            throw RuntimeError(.budgetTooSmall, "model '\(name)' streams through no ring smaller than \(least) bytes (\(ByteText.mebibytes(least))); this runtime's ring is \(ringBytes) bytes (a budget of \(self.options.budgetBytes) minus a held reserve of \(heldReserveBytes))")
        }
        var sessions: [Session] = []
        for lane in scheduler.lanes {
            let share = RuntimeShare(ring: lane.ring, activations: lane.activations, turns: scheduler, cpus: pinnedCPUs, profile: costs)
            do {
                sessions.append(try Session(model: model, options: options, share: share))
            } catch {
                for session in sessions { session.close() }
                throw error
            }
        }
        let held = sessions.reduce(0) { $0 + $1.heldBytes + $1.wideningBytes }
        let member = RuntimeModel(name: name, sessions: sessions, heldBytes: held, scheduler: scheduler)
        lock.lock()
        guard !closed else {
            lock.unlock()
            for session in sessions { session.close() }
            throw RuntimeError(.sessionClosed, "the runtime is closed")
        }
        guard scheduler.reserveHeld(held, limit: heldReserveBytes) else {
            lock.unlock()
            for session in sessions { session.close() }
            throw RuntimeError(.budgetTooSmall, "model '\(name)' holds \(held) bytes outside the ring (split layers' small tensors, widening), and the runtime's held reserve has \(heldReserveBytes - scheduler.heldBytes) of its \(heldReserveBytes) bytes left: make the runtime with a larger heldReserveBytes")
        }
        members.append(member)
        lock.unlock()
        return member
    }

    /// Takes `member` out of the runtime: its waiting requests fail with
    /// `sessionClosed`, the one running (if any) finishes, then its threads
    /// stop, its files close and its held bytes go back to the reserve.
    public func remove(_ member: RuntimeModel) {
        let removed = lock.withLock { () -> Bool in
            guard let index = members.firstIndex(where: { $0 === member }) else { return false }
            members.remove(at: index)
            return true
        }
        guard removed else { return }
        scheduler.retire(member)
        for session in member.sessions { session.close() }
        scheduler.releaseHeld(member.heldBytes)
    }

    /// Removes every model and gives back the runtime's CPU. Idempotent.
    public func close() {
        let all: [RuntimeModel]? = lock.withLock {
            guard !closed else { return nil }
            closed = true
            return members
        }
        guard let all else { return }
        for member in all { remove(member) }
        if let claimedCPU { ExecuteCPUClaims.release(claimedCPU) }
    }
}

/// One model opened in a `Runtime`: run it from any thread.
public final class RuntimeModel: @unchecked Sendable {
    /// The name it was added under.
    public let name: String
    /// The model.
    public var model: Model { session.model }
    /// How it streams through the shared ring: its split layers and the
    /// planner's predicted latency with the whole ring to itself.
    public var streamPlan: StreamPlan { session.streamPlan! }
    /// Bytes it holds outside the ring for as long as it is in the runtime (in every lane together).
    public let heldBytes: Int
    /// Bytes of its activation arena (the runtime's shared storage holds the largest).
    public var activationBytes: Int { session.activationBytes }

    /// The model opened once per lane, in lane order.
    let sessions: [Session]
    var session: Session { sessions[0] }
    /// Taken out of its runtime: its waiting requests fail, new ones are
    /// refused (behind the scheduler's lock).
    var isRetired = false
    /// Its runtime's scheduler, kept alive by the model: a handle used after
    /// its runtime is closed or released gets `sessionClosed`, not a crash.
    private let scheduler: Scheduler

    init(name: String, sessions: [Session], heldBytes: Int, scheduler: Scheduler) {
        self.name = name
        self.sessions = sessions
        self.heldBytes = heldBytes
        self.scheduler = scheduler
    }

    /// Runs one inference once the scheduler gets to it, and returns its
    /// outputs (see `Session.run` for inputs and outputs). `priority` counts
    /// under `.priority` scheduling (higher first). With `timeoutNanoseconds`,
    /// a request still waiting or running that long after this call fails
    /// with `.timedOut`; one whose deadline has passed before it is
    /// dispatched fails without reading anything.
    public func run(_ inputs: [String: Tensor], priority: Int = 0, timeoutNanoseconds: UInt64? = nil) throws(RuntimeError) -> [String: Tensor] {
        try perform(inputs, priority: priority, timeoutNanoseconds: timeoutNanoseconds).outputs
    }

    /// As `run`, with how long the request waited and ran and what its inference did.
    public func perform(_ inputs: [String: Tensor], priority: Int = 0, timeoutNanoseconds: UInt64? = nil) throws(RuntimeError) -> Runtime.Completion {
        try session.validate(inputs)
        return try scheduler.submit(self, inputs: inputs, priority: priority, timeoutNanoseconds: timeoutNanoseconds)
    }
}

extension Runtime {
    /// A finished request.
    public struct Completion: Sendable {
        /// Every graph output, by name.
        public var outputs: [String: Tensor]
        /// From the call to the request's turn to execute: waiting behind other
        /// requests (its reads may start before its turn, into the bytes the
        /// request before it gives back).
        public var waitNanoseconds: UInt64
        /// From its turn to execute to its outputs: the latency of the model itself.
        public var serviceNanoseconds: UInt64
        /// What its inference did; spans are from its dispatch (when its reads started).
        public var stats: InferenceStats
        /// Its place in the order the runtime dispatched requests, from 0.
        public var sequenceNumber: Int
        /// The lane it ran in (0 with one lane).
        public var lane: Int

        /// `waitNanoseconds + serviceNanoseconds`: from the call to the outputs.
        public var latencyNanoseconds: UInt64 { waitNanoseconds + serviceNanoseconds }
    }
}
