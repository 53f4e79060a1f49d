import DemandTensor
import Foundation

/// A `Runtime`'s requests, from the call to the outputs: which waits, which is
/// dispatched next, and the order inferences execute in.
///
/// The budget's ring is cut into `lanes` (one by default), each with its own
/// ring, activation storage and order. A request waits in `waiting` until it
/// is dispatched to a lane: it gets the lane's next ticket and its model's
/// read stage for that lane starts reading it into the lane's ring. A lane
/// takes the next request when its read stage has taken its last region
/// (`readFinished`) and fewer than two of its requests are unfinished: so in a
/// lane, reads reach the disk one request at a time, in ticket order, and the
/// ring's regions are taken in ticket order. Execute stages take their turn in
/// ticket order too (`waitForTurn`), so regions are released in the order they
/// were taken, and one inference at a time uses the lane's activation storage.
/// An idle lane is preferred, so with two lanes two requests execute at once.
///
/// Threads: callers of `submit` (any), and the models' read and execute
/// threads (the `ExecutionTurns` calls). All state is behind `condition`'s lock;
/// dispatching only sends a message, so no call blocks under it.
final class Scheduler: ExecutionTurns, @unchecked Sendable {
    /// One lane: a ring, an activation storage, and the order of its requests.
    /// Its `var`s are behind the scheduler's lock.
    final class Lane: @unchecked Sendable {
        let index: Int
        let ring: BufferRing
        let activations = ActivationStorage()
        /// The dispatched request whose read stage has not taken its last region yet.
        var reading: Job?
        /// Dispatched requests not finished.
        var unfinished = 0
        var nextTicket = 0
        /// The ticket whose turn it is to execute.
        var serving = 0
        var activationBytes = 0

        init(index: Int, ringBytes: Int) {
            self.index = index
            ring = BufferRing(capacityBytes: ringBytes)
        }
    }

    let lanes: [Lane]
    let scheduling: Runtime.Scheduling

    private struct Request {
        let member: RuntimeModel
        let inputs: [String: Tensor]
        let priority: Int
        let arrival: Int
        let submittedNanoseconds: UInt64
        let deadlineNanoseconds: UInt64?
        let predictedNanoseconds: Double
        let done: Outcome
    }

    /// Where a request's result is left for its caller.
    private final class Outcome: @unchecked Sendable {
        let ready = DispatchSemaphore(value: 0)
        var job: Job?
        var error: RuntimeError?
    }

    private let condition = NSCondition()
    private var waiting: [Request] = []
    private var arrivals = 0
    /// Requests dispatched so far, in every lane.
    private var dispatched = 0
    private var heldTotal = 0

    init(lanes: Int, ringBytes: Int, scheduling: Runtime.Scheduling) {
        self.lanes = (0..<lanes).map { Lane(index: $0, ringBytes: ringBytes) }
        self.scheduling = scheduling
    }

    var heldBytes: Int { condition.withLock { heldTotal } }
    var activationBytes: Int { condition.withLock { lanes.reduce(0) { $0 + $1.activationBytes } } }
    /// Every lane's ring peak (each at most its ring) plus every model's held bytes.
    var peakWeightBytes: Int { lanes.reduce(0) { $0 + $1.ring.byteCounts.peak } + heldBytes }
    /// Bytes held in the lanes' rings right now.
    var ringBytesHeld: Int { lanes.reduce(0) { $0 + $1.ring.byteCounts.held } }
    func resetPeak() { for lane in lanes { lane.ring.resetPeak() } }

    /// Counts `bytes` against the held reserve, if they fit under `limit`.
    func reserveHeld(_ bytes: Int, limit: Int) -> Bool {
        condition.withLock {
            guard heldTotal + bytes <= limit else { return false }
            heldTotal += bytes
            return true
        }
    }

    func releaseHeld(_ bytes: Int) { condition.withLock { heldTotal -= bytes } }

    /// Queues a request and blocks until it is done.
    func submit(_ member: RuntimeModel, inputs: [String: Tensor], priority: Int, timeoutNanoseconds: UInt64?) throws(RuntimeError) -> Runtime.Completion {
        let now = Clock.now()
        let outcome = Outcome()
        let refused = condition.withLock { () -> Bool in
            guard !member.isRetired else { return true }
            waiting.append(Request(member: member, inputs: inputs, priority: priority, arrival: arrivals, submittedNanoseconds: now,
                                   deadlineNanoseconds: timeoutNanoseconds.map { now + $0 },
                                   predictedNanoseconds: member.streamPlan.predictedNanoseconds, done: outcome))
            arrivals += 1
            dispatchLocked()
            return false
        }
        if refused { throw RuntimeError(.sessionClosed, "model '\(member.name)' has been removed from the runtime (or the runtime closed)") }
        // Every path that takes the request out of `waiting` signals it: finished, timed out, or its model removed.
        outcome.ready.wait()
        if let error = outcome.error { throw error }
        let job = outcome.job!
        if let error = job.error { throw error }
        var stats = job.stats(policy: .pipelined)
        let end = Clock.now()
        stats.latencyNanoseconds = end - job.startNanoseconds
        return Runtime.Completion(outputs: job.outputs, waitNanoseconds: job.turnNanoseconds - now,
                                  serviceNanoseconds: end - job.turnNanoseconds, stats: stats, sequenceNumber: job.sequence, lane: job.lane)
    }

    /// Fails `member`'s waiting requests and refuses new ones; returns once
    /// none of its requests is dispatched and unfinished.
    func retire(_ member: RuntimeModel) {
        condition.lock()
        member.isRetired = true
        let mine = waiting.filter { $0.member === member }
        waiting.removeAll { $0.member === member }
        condition.unlock()
        for request in mine {
            request.done.error = RuntimeError(.sessionClosed, "model '\(member.name)' was removed from the runtime before this request ran")
            request.done.ready.signal()
        }
        condition.lock()
        while completions.values.contains(where: { $0.member === member }) { condition.wait() }
        condition.unlock()
    }

    /// Dispatches waiting requests while some lane is not reading and has fewer than two unfinished.
    private func dispatchLocked() {
        while !waiting.isEmpty,
              let lane = lanes.filter({ $0.reading == nil && $0.unfinished < 2 }).min(by: { ($0.unfinished, $0.index) < ($1.unfinished, $1.index) }) {
            let index = nextIndex()
            let request = waiting.remove(at: index)
            let now = Clock.now()
            if let deadline = request.deadlineNanoseconds, now >= deadline {
                let milliseconds = Double(deadline - request.submittedNanoseconds) / 1e6
                request.done.error = RuntimeError(.timedOut, "the request to model '\(request.member.name)' passed its deadline of \(milliseconds) ms before it could start; nothing was read")
                request.done.ready.signal()
                continue
            }
            let job = Job(inputs: request.inputs, layerCount: request.member.model.layers.count,
                          timeoutNanoseconds: request.deadlineNanoseconds.map { $0 - now })
            job.lane = lane.index
            job.ticket = lane.nextTicket
            job.sequence = dispatched
            lane.nextTicket += 1
            dispatched += 1
            lane.reading = job
            lane.unfinished += 1
            request.done.job = job
            completions[ObjectIdentifier(job)] = (request.member, request.done)
            request.member.sessions[lane.index].pipeline.readInbox.send(.run(job))
        }
    }

    /// Each dispatched, unfinished job's member and where its caller waits.
    private var completions: [ObjectIdentifier: (member: RuntimeModel, done: Outcome)] = [:]

    /// The waiting request the policy picks.
    private func nextIndex() -> Int {
        switch scheduling {
        case .fifo:
            return 0
        case .priority:
            return waiting.indices.min { a, b in
                let (x, y) = (waiting[a], waiting[b])
                if x.priority != y.priority { return x.priority > y.priority }
                let (dx, dy) = (x.deadlineNanoseconds ?? .max, y.deadlineNanoseconds ?? .max)
                return dx != dy ? dx < dy : x.arrival < y.arrival
            }!
        case .shortest:
            return waiting.indices.min { a, b in
                let (x, y) = (waiting[a], waiting[b])
                return x.predictedNanoseconds != y.predictedNanoseconds ? x.predictedNanoseconds < y.predictedNanoseconds : x.arrival < y.arrival
            }!
        }
    }

    // MARK: ExecutionTurns

    func readFinished(_ job: Job) {
        condition.withLock {
            if lanes[job.lane].reading === job { lanes[job.lane].reading = nil }
            dispatchLocked()
        }
    }

    func waitForTurn(_ job: Job, activationBytes: Int) {
        let lane = lanes[job.lane]
        condition.withLock {
            while lane.serving != job.ticket { condition.wait() }
            lane.activationBytes = max(lane.activationBytes, activationBytes)
        }
        // Only the turn's holder touches the lane's storage.
        lane.activations.reserve(byteCount: activationBytes)
        job.turnNanoseconds = Clock.now()
    }

    func executeFinished(_ job: Job) {
        let entry: (member: RuntimeModel, done: Outcome)? = condition.withLock {
            lanes[job.lane].serving += 1
            lanes[job.lane].unfinished -= 1
            let entry = completions.removeValue(forKey: ObjectIdentifier(job))
            condition.broadcast()
            dispatchLocked()
            return entry
        }
        entry?.done.ready.signal()
    }
}
