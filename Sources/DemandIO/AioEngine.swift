import CURing

/// Reads through Linux native AIO (the CURing `dl_aio` shim over libaio).
///
/// Reads are asynchronous only for files opened with O_DIRECT; for buffered
/// files the kernel performs each read inside io_submit. There are no
/// registered buffers: `register(arena:)` does nothing.
///
/// Ownership and threads: owns one AIO context from `init` to deinit and is
/// used by one thread at a time (the read thread). Deinit waits for every
/// read still in flight.
public final class AioEngine: IOEngine, @unchecked Sendable {
    /// Always `.aio`.
    public let kind = IOEngineKind.aio
    public let queueDepth: Int
    public let usesRegisteredBuffers = false

    private let context: OpaquePointer
    private var outstanding = 0
    private var tags: [UInt64]
    private var results: [Int64]

    /// Creates a context for `queueDepth` reads (dl_aio_create, io_setup).
    /// - Throws: `.engineUnavailable` with the kernel's reason, or
    ///   `.invalidArgument` for a depth outside `IOEngines.queueDepthRange`.
    public init(queueDepth: Int) throws(IOError) {
        try IOEngines.validate(queueDepth: queueDepth)
        var handle: OpaquePointer?
        let status = dl_aio_create(UInt32(queueDepth), &handle)
        guard status == 0, let handle else {
            let error = Errno(negated: status)
            let remedy: String? = switch error {
            case .resourceTemporarilyUnavailable:
                "the system-wide AIO limit is used up; raise /proc/sys/fs/aio-max-nr or lower the queue depth"
            case .noFunction, .notPermitted: "native AIO is unavailable here (kernel or seccomp); use the pread engine"
            default: nil
            }
            throw IOError(.engineUnavailable, "cannot create a libaio context for \(queueDepth) requests", errno: error, remedy: remedy)
        }
        self.context = handle
        self.queueDepth = queueDepth
        self.tags = Array(repeating: 0, count: queueDepth)
        self.results = Array(repeating: 0, count: queueDepth)
    }

    deinit { dl_aio_destroy(context) }

    public func register(arena: UnsafeMutableRawBufferPointer) throws(IOError) {}

    public func submit(_ requests: [ReadRequest]) throws(IOError) {
        guard !requests.isEmpty else { return }
        for request in requests {
            precondition(outstanding < queueDepth, "more than \(queueDepth) requests outstanding")
            precondition(request.byteCount >= 0, "request of \(request.byteCount) bytes")
            let status = dl_aio_prep_read(context, request.fd, request.destination, request.byteCount, request.offsetBytes, request.tag)
            precondition(status == 0, "dl_aio_prep_read refused a request within the queue depth: \(status)")
            outstanding += 1
        }
        // Rejected reads complete with their error (see curing.h).
        _ = dl_aio_submit(context)
    }

    public func waitCompletions(minimum: Int) throws(IOError) -> [ReadCompletion] {
        let wanted = UInt32(min(max(minimum, 0), outstanding))
        let count = tags.withUnsafeMutableBufferPointer { tags in
            results.withUnsafeMutableBufferPointer { results in
                dl_aio_wait(context, wanted, UInt32(queueDepth), tags.baseAddress, results.baseAddress)
            }
        }
        guard count >= 0 else {
            throw IOError(.engineFailed, "waiting for libaio completions failed", errno: Errno(negated: count))
        }
        outstanding -= Int(count)
        return (0..<Int(count)).map { ReadCompletion(tag: tags[$0], result: Int(results[$0])) }
    }
}
