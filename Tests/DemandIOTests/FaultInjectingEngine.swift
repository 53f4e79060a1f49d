import DemandIO

/// Wraps an engine to misbehave on purpose, and records what went through it.
///
/// `fault` decides, per request (numbered from 0 in submission order), whether
/// it fails with an errno (the inner engine never sees it), comes back short
/// (the inner engine reads fewer bytes), or passes untouched. Completions can
/// be delivered one per wait, newest first (`deliversOneAtATimeNewestFirst`),
/// so the scheduler sees them out of order and while other requests of the
/// same extent are still outstanding. Like every engine, one thread at a time.
final class FaultInjectingEngine: IOEngine {
    enum Fault {
        case none
        /// Read `byteCount - shortBy` bytes instead.
        case short(by: Int)
        /// Complete with -errno without reading.
        case error(Errno)
    }

    let inner: any IOEngine
    var fault: (_ request: ReadRequest, _ number: Int) -> Fault
    var deliversOneAtATimeNewestFirst = false
    /// Makes `waitCompletions` throw, as a broken engine would.
    var failsWaiting: IOError?

    private(set) var submitted: [ReadRequest] = []
    private(set) var outstanding: [UInt64: ReadRequest] = [:]
    private(set) var mostOutstanding = 0
    private(set) var faultsInjected = 0
    private var injected: [ReadCompletion] = []
    private var held: [ReadCompletion] = []

    init(_ inner: any IOEngine, fault: @escaping (_ request: ReadRequest, _ number: Int) -> Fault = { _, _ in .none }) {
        self.inner = inner
        self.fault = fault
    }

    var kind: IOEngineKind { inner.kind }
    var queueDepth: Int { inner.queueDepth }
    var usesRegisteredBuffers: Bool { inner.usesRegisteredBuffers }

    func register(arena: UnsafeMutableRawBufferPointer) throws(IOError) {
        try inner.register(arena: arena)
    }

    func submit(_ requests: [ReadRequest]) throws(IOError) {
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
            }
        }
        mostOutstanding = max(mostOutstanding, outstanding.count)
        precondition(outstanding.count <= queueDepth, "the scheduler exceeded the queue depth")
        try inner.submit(passed)
    }

    func waitCompletions(minimum: Int) throws(IOError) -> [ReadCompletion] {
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
        for completion in result { outstanding[completion.tag] = nil }
        return result
    }

    /// Requests outstanding whose destination lies in `range`.
    func outstandingCount(into range: UnsafeMutableRawBufferPointer) -> Int {
        outstanding.values.filter { request in
            request.destination >= range.baseAddress! && request.destination < range.baseAddress! + range.count
        }.count
    }
}
