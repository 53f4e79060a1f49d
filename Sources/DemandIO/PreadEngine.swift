import Glibc

/// Reads with pread(2), synchronously: `submit` performs each read before it
/// returns and queues its completion; `waitCompletions` hands the queue over.
/// Works on any file and filesystem; no overlap between reads.
///
/// Ownership and threads: holds only its completion queue; used by one thread
/// at a time (the read thread).
public final class PreadEngine: IOEngine, @unchecked Sendable {
    /// Always `.pread`.
    public let kind = IOEngineKind.pread
    public let queueDepth: Int
    public let usesRegisteredBuffers = false

    private var completed: [ReadCompletion] = []

    /// An engine that accepts up to `queueDepth` requests and reads them one by one.
    public init(queueDepth: Int) {
        precondition(queueDepth >= 1, "queue depth \(queueDepth) is below 1")
        self.queueDepth = queueDepth
        completed.reserveCapacity(queueDepth)
    }

    public func register(arena: UnsafeMutableRawBufferPointer) throws(IOError) {}

    public func submit(_ requests: [ReadRequest]) throws(IOError) {
        for request in requests {
            precondition(completed.count < queueDepth, "more than \(queueDepth) requests outstanding")
            let result: Int
            do {
                result = try Errno.retryingInterrupts {
                    pread(request.fd, request.destination, request.byteCount, off_t(request.offsetBytes))
                }
            } catch {
                result = -Int(error.rawValue)
            }
            completed.append(ReadCompletion(tag: request.tag, result: result))
        }
    }

    public func waitCompletions(minimum: Int) throws(IOError) -> [ReadCompletion] {
        defer { completed.removeAll(keepingCapacity: true) }
        return completed
    }
}
