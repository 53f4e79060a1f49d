import DemandTensor
import Foundation

/// A `Runtime`'s requests, from the call to the outputs: which waits, which is
/// dispatched next, and the order inferences execute in.
///
/// A request waits in `waiting` until it is dispatched: it gets the next
/// ticket and its model's read stage starts reading it into the shared ring.
/// The next one is dispatched when that read stage has taken its last region
/// (`readFinished`) and fewer than two dispatched requests are unfinished: so
/// reads reach the disk one request at a time, in ticket order, and the ring's
/// regions are taken in ticket order. Execute stages take their turn in ticket
/// order too (`waitForTurn`), so regions are released in the order they were
/// taken, and one inference at a time uses the shared activation storage.
///
/// Threads: callers of `submit` (any), and the models' read and execute
/// threads (the `ExecutionTurns` calls). All state is behind `condition`'s lock;
/// dispatching only sends a message, so no call blocks under it.
final class Scheduler: ExecutionTurns, @unchecked Sendable {
    let ring: BufferRing
    let activations = ActivationStorage()
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
    /// The dispatched request whose read stage has not taken its last region yet.
    private var reading: Job?
    /// Dispatched requests not finished.
    private var unfinished = 0
    private var nextTicket = 0
    /// The ticket whose turn it is to execute.
    private var serving = 0
    private var heldTotal = 0
    private var activationTotal = 0
    /// Models taken out: their waiting requests fail, new ones are refused.
    private var retired: Set<ObjectIdentifier> = []

    init(ring: BufferRing, scheduling: Runtime.Scheduling) {
        self.ring = ring
        self.scheduling = scheduling
    }

    var heldBytes: Int { condition.withLock { heldTotal } }
    var activationBytes: Int { condition.withLock { activationTotal } }
    var peakWeightBytes: Int {
        let ringPeak = ring.byteCounts.peak
        return ringPeak + heldBytes
    }

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
        condition.withLock {
            guard !retired.contains(ObjectIdentifier(member)) else {
                outcome.error = RuntimeError(.sessionClosed, "model '\(member.name)' has been removed from the runtime")
                return
            }
            waiting.append(Request(member: member, inputs: inputs, priority: priority, arrival: arrivals, submittedNanoseconds: now,
                                   deadlineNanoseconds: timeoutNanoseconds.map { now + $0 },
                                   predictedNanoseconds: member.streamPlan.predictedNanoseconds, done: outcome))
            arrivals += 1
            dispatchLocked()
        }
        if outcome.error == nil { outcome.ready.wait() }
        if let error = outcome.error { throw error }
        let job = outcome.job!
        if let error = job.error { throw error }
        var stats = job.stats(policy: .pipelined)
        let end = Clock.now()
        stats.latencyNanoseconds = end - job.startNanoseconds
        return Runtime.Completion(outputs: job.outputs, waitNanoseconds: job.turnNanoseconds - now,
                                  serviceNanoseconds: end - job.turnNanoseconds, stats: stats, sequenceNumber: job.ticket)
    }

    /// Fails `member`'s waiting requests and refuses new ones; returns once
    /// none of its requests is dispatched and unfinished.
    func retire(_ member: RuntimeModel) {
        condition.lock()
        retired.insert(ObjectIdentifier(member))
        let mine = waiting.filter { $0.member === member }
        waiting.removeAll { $0.member === member }
        condition.unlock()
        for request in mine {
            request.done.error = RuntimeError(.sessionClosed, "model '\(member.name)' was removed from the runtime before this request ran")
            request.done.ready.signal()
        }
        condition.lock()
        while inFlight.contains(where: { $0 === member }) { condition.wait() }
        condition.unlock()
    }

    /// The members of the dispatched, unfinished requests.
    private var inFlight: [RuntimeModel] = []

    /// Dispatches waiting requests while the disk is free and fewer than two are unfinished.
    private func dispatchLocked() {
        while reading == nil && unfinished < 2 && !waiting.isEmpty {
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
            job.ticket = nextTicket
            nextTicket += 1
            reading = job
            unfinished += 1
            inFlight.append(request.member)
            request.done.job = job
            let done = request.done
            let member = request.member
            completions[ObjectIdentifier(job)] = (member, done)
            member.session.pipeline.readInbox.send(.run(job))
        }
    }

    /// Each dispatched job's member and where its caller waits.
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
            if reading === job { reading = nil }
            dispatchLocked()
        }
    }

    func waitForTurn(_ job: Job, activationBytes: Int) {
        condition.withLock {
            while serving != job.ticket { condition.wait() }
            activationTotal = max(activationTotal, activationBytes)
        }
        // Only the turn's holder touches the storage.
        activations.reserve(byteCount: activationBytes)
        job.turnNanoseconds = Clock.now()
    }

    func executeFinished(_ job: Job) {
        let entry: (member: RuntimeModel, done: Outcome)? = condition.withLock {
            serving += 1
            unfinished -= 1
            let entry = completions.removeValue(forKey: ObjectIdentifier(job))
            if let member = entry?.member, let index = inFlight.firstIndex(where: { $0 === member }) { inFlight.remove(at: index) }
            condition.broadcast()
            dispatchLocked()
            return entry
        }
        entry?.done.ready.signal()
    }
}
