import Glibc

/// A POSIX error number, as the kernel reports it.
///
/// Every system call in DemandIO goes through `Errno.retryingInterrupts`,
/// which retries EINTR so no caller ever sees it. The CURing shims retry
/// EINTR themselves and report failure as -errno; `Errno(negated:)` reads
/// those.
public struct Errno: RawRepresentable, Error, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32

    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// The error of a CURing result that is -errno (`result` must be negative).
    init(negated result: some BinaryInteger) {
        precondition(result < 0, "not a negated errno: \(result)")
        self.rawValue = Int32(-Int64(result))
    }

    /// The calling thread's `errno`.
    public static var current: Errno { Errno(rawValue: errno) }

    /// EPERM
    public static let notPermitted = Errno(rawValue: EPERM)
    /// ENOENT
    public static let noSuchFile = Errno(rawValue: ENOENT)
    /// EINTR
    public static let interrupted = Errno(rawValue: EINTR)
    /// EIO
    public static let ioError = Errno(rawValue: EIO)
    /// EBADF
    public static let badFileDescriptor = Errno(rawValue: EBADF)
    /// EAGAIN
    public static let resourceTemporarilyUnavailable = Errno(rawValue: EAGAIN)
    /// ENOMEM
    public static let outOfMemory = Errno(rawValue: ENOMEM)
    /// EACCES
    public static let permissionDenied = Errno(rawValue: EACCES)
    /// EFAULT
    public static let badAddress = Errno(rawValue: EFAULT)
    /// EBUSY
    public static let busy = Errno(rawValue: EBUSY)
    /// EINVAL
    public static let invalidArgument = Errno(rawValue: EINVAL)
    /// EMFILE
    public static let tooManyOpenFiles = Errno(rawValue: EMFILE)
    /// ENOSYS
    public static let noFunction = Errno(rawValue: ENOSYS)
    /// EOPNOTSUPP
    public static let notSupported = Errno(rawValue: EOPNOTSUPP)

    /// The symbolic name (`EIO`) where known.
    public var name: String? {
        switch rawValue {
        case EPERM: "EPERM"
        case ENOENT: "ENOENT"
        case EINTR: "EINTR"
        case EIO: "EIO"
        case ENXIO: "ENXIO"
        case EBADF: "EBADF"
        case EAGAIN: "EAGAIN"
        case ENOMEM: "ENOMEM"
        case EACCES: "EACCES"
        case EFAULT: "EFAULT"
        case EBUSY: "EBUSY"
        case EEXIST: "EEXIST"
        case ENODEV: "ENODEV"
        case ENOTDIR: "ENOTDIR"
        case EISDIR: "EISDIR"
        case EINVAL: "EINVAL"
        case ENFILE: "ENFILE"
        case EMFILE: "EMFILE"
        case EFBIG: "EFBIG"
        case ENOSPC: "ENOSPC"
        case ESPIPE: "ESPIPE"
        case EROFS: "EROFS"
        case E2BIG: "E2BIG"
        case ENOSYS: "ENOSYS"
        case EOPNOTSUPP: "EOPNOTSUPP"
        case ECANCELED: "ECANCELED"
        case ETIMEDOUT: "ETIMEDOUT"
        case ESTALE: "ESTALE"
        default: nil
        }
    }

    /// `strerror` text and the symbolic name: "Input/output error (EIO)".
    public var description: String {
        let text = String(cString: strerror(rawValue))
        return "\(text) (\(name ?? "errno \(rawValue)"))"
    }
}

extension Errno {
    /// Calls `call`, a libc function that fails by returning -1 and setting
    /// `errno`, again for as long as it fails with EINTR.
    @inline(__always)
    static func retryingInterrupts<Result: FixedWidthInteger>(_ call: () -> Result) throws(Errno) -> Result {
        while true {
            let result = call()
            if result != -1 { return result }
            let error = Errno.current
            if error != .interrupted { throw error }
        }
    }

    /// Calls `call`, a function that fails by returning its error number
    /// itself (positive, like posix_fadvise, or negated, like the CURing
    /// shims), again for as long as that number is EINTR.
    @inline(__always)
    static func retryingInterrupts(returningError call: () -> Int32) throws(Errno) {
        while true {
            let result = call()
            if result == 0 { return }
            let error = Errno(rawValue: abs(result))
            if error != .interrupted { throw error }
        }
    }
}
