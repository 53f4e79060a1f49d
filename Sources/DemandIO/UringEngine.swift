import CURing

/// Reads through io_uring (the CURing `dl_uring` shim).
///
/// Ownership and threads: owns one ring from `init` to deinit and is used by
/// one thread at a time (the read thread). Deinit waits for every read still
/// in flight before tearing the ring down, so destinations stay valid only
/// as long as the engine does not outlive them by surprise: drop the engine
/// before the memory it reads into.
///
/// Registered buffers: `register(arena:)` registers the arena for
/// IORING_OP_READ_FIXED, which spares the kernel pinning the destination pages
/// on every read. Registration pins the whole arena at once and counts it
/// against RLIMIT_MEMLOCK (`ulimit -l`) unless the process has CAP_IPC_LOCK;
/// when the kernel refuses (ENOMEM), reads go out as plain IORING_OP_READ,
/// `usesRegisteredBuffers` is false and `registrationError` says why. Reads
/// whose destination lies outside the arena are always plain reads.
///
/// user_data: each SQE carries the request's `tag` unchanged; the engine
/// itself packs nothing into it.
public final class UringEngine: IOEngine, @unchecked Sendable {
    /// Always `.uring`.
    public let kind = IOEngineKind.uring
    public let queueDepth: Int
    public private(set) var usesRegisteredBuffers = false
    /// Why the arena is not registered, when registration was refused.
    public private(set) var registrationError: IOError?

    private let ring: OpaquePointer
    private var outstanding = 0
    private var tags: [UInt64]
    private var results: [Int32]

    /// Creates a ring with `queueDepth` submission entries (dl_uring_create).
    /// - Throws: `.engineUnavailable` with the kernel's reason, or
    ///   `.invalidArgument` for a depth outside `IOEngines.queueDepthRange`.
    public init(queueDepth: Int) throws(IOError) {
        try IOEngines.validate(queueDepth: queueDepth)
        var handle: OpaquePointer?
        let status = dl_uring_create(UInt32(queueDepth), &handle)
        guard status == 0, let handle else {
            let error = Errno(negated: status)
            let remedy: String? = switch error {
            case .noFunction: "this kernel has no io_uring (Linux 5.1 or later); use the aio or pread engine"
            case .notPermitted, .permissionDenied:
                "io_uring is disabled (sysctl kernel.io_uring_disabled) or blocked by a seccomp profile (containers); use the aio or pread engine"
            case .outOfMemory: "the rings need more locked memory than `ulimit -l` allows; raise it or lower the queue depth"
            default: nil
            }
            throw IOError(.engineUnavailable, "cannot create an io_uring with \(queueDepth) entries", errno: error, remedy: remedy)
        }
        self.ring = handle
        self.queueDepth = queueDepth
        self.tags = Array(repeating: 0, count: queueDepth)
        self.results = Array(repeating: 0, count: queueDepth)
    }

    deinit { dl_uring_destroy(ring) }

    public func register(arena: UnsafeMutableRawBufferPointer) throws(IOError) {
        precondition(outstanding == 0, "register the arena before reading")
        guard let base = arena.baseAddress, arena.count > 0 else { return }
        let status = dl_uring_register_buffer(ring, base, arena.count)
        if status == 0 {
            usesRegisteredBuffers = true
            registrationError = nil
            return
        }
        usesRegisteredBuffers = false
        let error = Errno(negated: status)
        let remedy: String? = switch error {
        case .outOfMemory:
            "registration pins the arena and counts it against the locked-memory limit; raise `ulimit -l` to at least \(arena.count / 1024) KiB (or grant CAP_IPC_LOCK) to use registered buffers"
        default: nil
        }
        registrationError = IOError(.registrationFailed, "cannot register the \(arena.count)-byte arena with io_uring; reading without registered buffers",
                                    errno: error, remedy: remedy)
    }

    public func submit(_ requests: [ReadRequest]) throws(IOError) {
        guard !requests.isEmpty else { return }
        let fixed: Int32 = usesRegisteredBuffers ? 1 : 0
        for request in requests {
            precondition(outstanding < queueDepth, "more than \(queueDepth) requests outstanding")
            precondition(request.byteCount >= 0 && request.byteCount <= Int(UInt32.max), "request of \(request.byteCount) bytes")
            let status = dl_uring_prep_read(ring, request.fd, request.destination, UInt32(request.byteCount),
                                            UInt64(request.offsetBytes), request.tag, fixed)
            precondition(status == 0, "dl_uring_prep_read refused a request within the queue depth: \(status)")
            outstanding += 1
        }
        // A refusal from the kernel turns into completions carrying the error
        // (see curing.h), so there is nothing to throw here.
        _ = dl_uring_submit(ring)
    }

    public func waitCompletions(minimum: Int) throws(IOError) -> [ReadCompletion] {
        let wanted = UInt32(min(max(minimum, 0), outstanding))
        let count = tags.withUnsafeMutableBufferPointer { tags in
            results.withUnsafeMutableBufferPointer { results in
                dl_uring_wait(ring, wanted, UInt32(queueDepth), tags.baseAddress, results.baseAddress)
            }
        }
        guard count >= 0 else {
            throw IOError(.engineFailed, "waiting for io_uring completions failed", errno: Errno(negated: count))
        }
        outstanding -= Int(count)
        return (0..<Int(count)).map { ReadCompletion(tag: tags[$0], result: Int(results[$0])) }
    }
}
