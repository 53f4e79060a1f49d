import DemandIO
import Glibc

/// Wraps an engine to misbehave on purpose, and records what went through it.
///
/// `fault` decides, per request (numbered from 0 in submission order), whether
/// it fails with an errno (the inner engine never sees it), comes back short
/// (the inner engine reads fewer bytes), stalls (the inner engine reads it, but
/// its completion is held back for a while, as a slow or hung device would),
/// or passes untouched. Completions can be delivered one per wait, newest
/// first (`deliversOneAtATimeNewestFirst`), so the scheduler sees them out of
/// order and while other requests of the same extent are still outstanding.
///
/// Threads: like every engine, used by one thread at a time. A session's
/// engine is made on the opening thread and then used by its read thread
/// only; read the counters after `run` returns (the inference's end orders
/// them), and keep any state the `fault` closure shares behind a lock.
public final class FaultInjectingEngine: IOEngine, @unchecked Sendable {
    public enum Fault: Sendable {
        case none
        /// Read `byteCount - shortBy` bytes instead.
        case short(by: Int)
        /// Complete with -errno without reading.
        case error(Errno)
        /// Read normally, but deliver the completion only after this long.
        case stall(nanoseconds: UInt64)
    }

    public let inner: any IOEngine
    public var fault: (_ request: ReadRequest, _ number: Int) -> Fault
    public var deliversOneAtATimeNewestFirst = false
    /// Makes `waitCompletions` throw, as a broken engine would.
    public var failsWaiting: IOError?

    public private(set) var submitted: [ReadRequest] = []
    public private(set) var outstanding: [UInt64: ReadRequest] = [:]
    public private(set) var mostOutstanding = 0
    public private(set) var faultsInjected = 0
    private var injected: [ReadCompletion] = []
    private var held: [ReadCompletion] = []
    private var stalls: [UInt64: UInt64] = [:]   // tag → nanoseconds to hold its completion

    public init(_ inner: any IOEngine, fault: @escaping (_ request: ReadRequest, _ number: Int) -> Fault = { _, _ in .none }) {
        self.inner = inner
        self.fault = fault
    }

    public var kind: IOEngineKind { inner.kind }
    public var queueDepth: Int { inner.queueDepth }
    public var usesRegisteredBuffers: Bool { inner.usesRegisteredBuffers }

    public func register(arena: UnsafeMutableRawBufferPointer) throws(IOError) {
        try inner.register(arena: arena)
    }

    public func submit(_ requests: [ReadRequest]) throws(IOError) {
        var passed: [ReadRequest] = []
        for request in requests {
            precondition(outstanding[request.tag] == nil, "tag \(request.tag) submitted twice")
            let number = submitted.count
            submitted.append(request)
            outstanding[request.tag] = request
            switch fault(request, number) {
            case .none:
                passed.append(request)
            case .short(let by):
                var shorter = request
                shorter.byteCount = max(request.byteCount - by, 0)
                faultsInjected += 1
                passed.append(shorter)
            case .error(let errno):
                faultsInjected += 1
                injected.append(ReadCompletion(tag: request.tag, result: -Int(errno.rawValue)))
            case .stall(let nanoseconds):
                faultsInjected += 1
                stalls[request.tag] = nanoseconds
                passed.append(request)
            }
        }
        mostOutstanding = max(mostOutstanding, outstanding.count)
        precondition(outstanding.count <= queueDepth, "the scheduler exceeded the queue depth")
        try inner.submit(passed)
    }

    public func waitCompletions(minimum: Int) throws(IOError) -> [ReadCompletion] {
        if let failsWaiting { throw failsWaiting }
        var result: [ReadCompletion]
        if !injected.isEmpty {
            // Injected failures come back first, alone, while the rest are still out.
            result = injected
            injected.removeAll()
        } else if deliversOneAtATimeNewestFirst {
            held += try inner.waitCompletions(minimum: held.isEmpty ? minimum : 0)
            result = held.isEmpty ? [] : [held.removeLast()]
        } else {
            result = try inner.waitCompletions(minimum: minimum)
        }
        for completion in result {
            outstanding[completion.tag] = nil
            if let nanoseconds = stalls.removeValue(forKey: completion.tag) { Self.sleep(nanoseconds) }
        }
        return result
    }

    /// Requests outstanding whose destination lies in `range`.
    public func outstandingCount(into range: UnsafeMutableRawBufferPointer) -> Int {
        outstanding.values.filter { request in
            request.destination >= range.baseAddress! && request.destination < range.baseAddress! + range.count
        }.count
    }

    private static func sleep(_ nanoseconds: UInt64) {
        var time = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        var left = timespec()
        while nanosleep(&time, &left) == -1 && errno == EINTR { time = left }
    }
}
