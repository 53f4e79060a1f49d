/// The kernel interface an engine reads through.
public enum IOEngineKind: String, Sendable, CaseIterable {
    /// io_uring (Linux 5.1+), with registered buffers when memlock allows.
    case uring
    /// Linux native AIO (libaio); asynchronous only for O_DIRECT files.
    case aio
    /// pread(2), synchronously, one request at a time.
    case pread
}

/// Which engine to make: a specific one, or `auto` (the best that works here).
public enum IOEngineChoice: String, Sendable, CaseIterable {
    /// io_uring where it works, else libaio, else pread.
    case auto
    /// io_uring, or fail if it is unavailable.
    case uring
    /// libaio, or fail if it is unavailable.
    case aio
    /// pread(2): always available, no overlap of requests.
    case pread
}

/// One read: `byteCount` bytes at `offsetBytes` of `fd` into `destination`.
/// For a file opened with O_DIRECT, all three of `destination`,
/// `offsetBytes` and `byteCount` must be multiples of 4096.
public struct ReadRequest {
    /// The file to read.
    public var fd: Int32
    /// Where in the file to start.
    public var offsetBytes: Int64
    /// How many bytes to read.
    public var byteCount: Int
    /// Where the bytes go; valid until the completion is returned.
    public var destination: UnsafeMutableRawPointer
    /// Opaque to the engine; returned with the completion.
    public var tag: UInt64

    /// A read of `byteCount` bytes at `offsetBytes` of `fd` into `destination`.
    public init(fd: Int32, offsetBytes: Int64, byteCount: Int, destination: UnsafeMutableRawPointer, tag: UInt64) {
        self.fd = fd
        self.offsetBytes = offsetBytes
        self.byteCount = byteCount
        self.destination = destination
        self.tag = tag
    }
}

/// The outcome of one `ReadRequest`.
public struct ReadCompletion: Sendable, Equatable {
    /// The `tag` of the request that completed.
    public var tag: UInt64
    /// Bytes read (≥ 0; fewer than asked is a short read, 0 is end of file),
    /// or -errno.
    public var result: Int

    /// The completion of the request tagged `tag`.
    public init(tag: UInt64, result: Int) {
        self.tag = tag
        self.result = result
    }
}

/// Reads file ranges into memory, asynchronously where the kernel allows.
///
/// Threads: an engine is used by one thread at a time: the session's read
/// thread (`dl-read`) owns it once the session is open. It may be created on
/// another thread and handed over.
///
/// Contract: every request passed to `submit` yields exactly one completion
/// from `waitCompletions`, in any order, including requests the kernel refused
/// to take (they complete with -errno). The caller keeps at most `queueDepth`
/// requests outstanding (submitted and not yet returned by
/// `waitCompletions`). A destination must stay valid until its completion is
/// returned. Dropping an engine waits for the requests still in flight.
/// An error thrown by `submit` or `waitCompletions` means the engine itself is
/// broken (not one read); nothing more will complete.
public protocol IOEngine: AnyObject {
    /// Which kernel interface this engine uses.
    var kind: IOEngineKind { get }
    /// The most requests outstanding at once.
    var queueDepth: Int { get }
    /// Whether reads into the registered arena use pre-registered buffers
    /// (io_uring READ_FIXED), which saves pinning pages on every read.
    var usesRegisteredBuffers: Bool { get }
    /// Offers the memory that reads will target, once, before any read.
    /// io_uring registers it for READ_FIXED, or reads without registration
    /// if the kernel refuses (memlock too small); the others ignore it.
    func register(arena: UnsafeMutableRawBufferPointer) throws(IOError)
    /// Starts `requests`. The caller keeps the outstanding count ≤ `queueDepth`.
    func submit(_ requests: [ReadRequest]) throws(IOError)
    /// Returns the completions available, waiting until there are at least
    /// `minimum` (lowered to the number outstanding; 0 polls).
    func waitCompletions(minimum: Int) throws(IOError) -> [ReadCompletion]
}

/// Makes engines.
public enum IOEngines {
    /// Makes the engine `choice` names, with room for `queueDepth` requests.
    ///
    /// `auto` tries io_uring, then libaio, then pread, moving on when the
    /// kernel refuses an engine as unavailable or forbidden (ENOSYS, EPERM,
    /// EACCES) or short of memory (ENOMEM: io_uring's rings count against
    /// RLIMIT_MEMLOCK on kernels before 5.12; EAGAIN for libaio: the
    /// system-wide aio-max-nr is used up). A named engine that cannot be
    /// made throws `.engineUnavailable` with the reason and a remedy; a queue
    /// depth outside 1...4096 throws `.invalidArgument`.
    public static func make(_ choice: IOEngineChoice, queueDepth: Int = 32) throws(IOError) -> any IOEngine {
        try validate(queueDepth: queueDepth)
        switch choice {
        case .uring: return try UringEngine(queueDepth: queueDepth)
        case .aio: return try AioEngine(queueDepth: queueDepth)
        case .pread: return PreadEngine(queueDepth: queueDepth)
        case .auto:
            return try firstAvailable([.uring, .aio, .pread]) { kind throws(IOError) in
                switch kind {
                case .uring: try UringEngine(queueDepth: queueDepth)
                case .aio: try AioEngine(queueDepth: queueDepth)
                case .pread: PreadEngine(queueDepth: queueDepth)
                }
            }
        }
    }

    /// Errors that mean "this engine is not allowed or not there here", on
    /// which `auto` moves on to the next engine. libaio also reports EAGAIN
    /// when /proc/sys/fs/aio-max-nr is used up.
    static let refusals: Set<Errno> = [.noFunction, .notPermitted, .permissionDenied, .outOfMemory, .resourceTemporarilyUnavailable]

    /// The first of `kinds` that `make` can make, moving on only past
    /// refusals; any other error is thrown as it is.
    static func firstAvailable(_ kinds: [IOEngineKind], make: (IOEngineKind) throws(IOError) -> any IOEngine) throws(IOError) -> any IOEngine {
        var lastRefusal: IOError?
        for kind in kinds {
            do {
                return try make(kind)
            } catch where error.errno.map(refusals.contains) == true {
                lastRefusal = error
            }
        }
        throw lastRefusal ?? IOError(.engineUnavailable, "no IO engine to try")
    }
}

extension IOEngines {
    /// The queue depths every engine accepts.
    public static let queueDepthRange = 1...4096

    static func validate(queueDepth: Int) throws(IOError) {
        guard queueDepthRange.contains(queueDepth) else {
            throw IOError(.invalidArgument, "a queue depth of \(queueDepth) is outside \(queueDepthRange)",
                          remedy: "choose a depth from 1 to 4096 (16 to 64 is plenty for one SSD)")
        }
    }
}
