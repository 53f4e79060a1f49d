/// Why a file could not be opened or read, or an IO engine could not be used,
/// and where: the file and the byte offset when the failure concerns one.
///
/// `message` is one sentence for a person: what failed, the kernel's error
/// text, and the remedy when there is one (also in `remedy`). `description`
/// prefixes the place: "/models/m.dlm/layers/0003.bin, offset 8388608: read
/// failed: Input/output error (EIO)".
public struct IOError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure it is.
    public enum Code: String, Sendable {
        /// open(2) failed (missing file, permissions, too many open files).
        case openFailed
        /// fstat(2) failed.
        case statFailed
        /// A read returned an error.
        case readFailed
        /// A read returned 0 bytes (end of file) before the requested range ended.
        case unexpectedEndOfFile
        /// The filesystem refuses O_DIRECT (tmpfs, some network filesystems).
        case directIONotSupported
        /// The requested IO engine cannot be created on this machine.
        case engineUnavailable
        /// Registering buffers with the engine failed.
        case registrationFailed
        /// The engine could not submit or reap requests; nothing more will complete.
        case engineFailed
        /// posix_fadvise failed.
        case adviceFailed
        /// A parameter is out of range (a queue depth of 0, say).
        case invalidArgument
    }

    /// What kind of failure it is.
    public let code: Code
    /// What failed, the errno text, and the remedy if any.
    public let message: String
    /// The kernel's error, when there is one.
    public let errno: Errno?
    /// The file concerned.
    public var path: String?
    /// The byte offset in `path` where the failing read started.
    public var offsetBytes: Int64?
    /// What the user can do about it, when something helps.
    public let remedy: String?

    /// - Parameters:
    ///   - what: what failed, in a few words ("read failed").
    ///   - remedy: what helps, when something does.
    public init(_ code: Code, _ what: String, errno: Errno? = nil, path: String? = nil, offsetBytes: Int64? = nil, remedy: String? = nil) {
        self.code = code
        var message = what
        if let errno { message += ": \(errno)" }
        if let remedy { message += "; \(remedy)" }
        self.message = message
        self.errno = errno
        self.path = path
        self.offsetBytes = offsetBytes
        self.remedy = remedy
    }

    public var description: String {
        var place: [String] = []
        if let path { place.append(path) }
        if let offsetBytes { place.append("offset \(offsetBytes)") }
        return place.isEmpty ? message : place.joined(separator: ", ") + ": " + message
    }
}

extension IOError {
    /// A failed read of `path` at `offsetBytes`, with the remedy for the
    /// errors that have one.
    static func readFailed(_ errno: Errno, path: String?, offsetBytes: Int64) -> IOError {
        let remedy: String? = switch errno {
        case .invalidArgument:
            "O_DIRECT needs the buffer address, file offset and length aligned to 4096 bytes; pad the file to a multiple of 4096, or open it buffered"
        case .resourceTemporarilyUnavailable, .busy:
            "the kernel refused more requests; lower the queue depth"
        case .ioError:
            "the storage reported a hardware or filesystem error; check `dmesg`"
        case .badFileDescriptor:
            "the file was closed while a read was in flight"
        default:
            nil
        }
        return IOError(.readFailed, "read failed", errno: errno, path: path, offsetBytes: offsetBytes, remedy: remedy)
    }

    /// A read that hit the end of `path` at `offsetBytes`, `missingBytes` short
    /// of the requested range.
    static func unexpectedEndOfFile(path: String?, offsetBytes: Int64, missingBytes: Int) -> IOError {
        IOError(.unexpectedEndOfFile, "the file ends here, \(missingBytes) bytes before the end of the requested range",
                path: path, offsetBytes: offsetBytes,
                remedy: "the file is shorter than expected: it was truncated or changed since it was written")
    }
}
