import CURing
import Glibc

/// A file opened read-only for O_DIRECT reads (or buffered ones where the
/// filesystem has no direct IO).
///
/// Ownership and lifetime: the object owns the descriptor `fd` from `init`
/// until `close()` or deinit, whichever comes first. Reads of `fd` go through
/// an IO engine; every read in flight must have completed before the file is
/// closed. Threads: `fd`, `path` and `isDirect` may be read from any thread;
/// `close()` must not race with a read or another `close()`.
///
/// What counts as direct: open(2) with O_DIRECT, then, unless the filesystem
/// is one known to do direct IO (ext2/3/4, xfs, btrfs, f2fs), a probe read of
/// the first 4096 bytes into an aligned scratch page (about 70 µs), because
/// some filesystems (FUSE without direct_io, older overlayfs) accept the flag
/// at open and refuse it with EINVAL at the first read. tmpfs and ramfs count
/// as having no direct IO even though Linux 6.6 and later accept the flag
/// there: with no device under the page cache there is nothing to bypass, and
/// older kernels refuse it with EINVAL, so treating them alike keeps behavior
/// independent of the kernel version.
public final class DirectFile: @unchecked Sendable {
    /// The path the file was opened with, for error messages.
    public let path: String
    /// Whether reads bypass the page cache (O_DIRECT). Reads of a direct file
    /// need buffer, offset and length aligned to 4096 bytes.
    public let isDirect: Bool
    /// The descriptor, or -1 once closed.
    public private(set) var fd: Int32

    /// Opens `path` read-only (open(2) with O_RDONLY | O_CLOEXEC, plus
    /// O_DIRECT when `direct`).
    ///
    /// - Parameter fallbackToBuffered: when the filesystem has no direct IO,
    ///   open buffered instead (`isDirect` is then false) rather than throw
    ///   `.directIONotSupported`.
    /// - Throws: `.openFailed` (with errno: ENOENT, EACCES, EMFILE, …) or
    ///   `.directIONotSupported`.
    public init(path: String, direct: Bool = true, fallbackToBuffered: Bool = false) throws(IOError) {
        self.path = path
        guard direct else {
            fd = try Self.open(path, flags: O_RDONLY | O_CLOEXEC)
            isDirect = false
            return
        }
        let refusal: String
        do {
            let directFd = try Self.open(path, flags: O_RDONLY | O_CLOEXEC | dl_o_direct_flag())
            if let reason = Self.directIORefusal(fd: directFd) {
                Glibc.close(directFd)
                refusal = reason
            } else {
                fd = directFd
                isDirect = true
                return
            }
        } catch let error where error.errno == .invalidArgument {
            refusal = "open with O_DIRECT failed: \(Errno.invalidArgument)"
        }
        guard fallbackToBuffered else {
            throw IOError(.directIONotSupported, "the filesystem does not support O_DIRECT (\(refusal))", path: path,
                          remedy: "open the file buffered, or keep it on a disk filesystem such as ext4 or xfs")
        }
        fd = try Self.open(path, flags: O_RDONLY | O_CLOEXEC)
        isDirect = false
    }

    deinit { close() }

    /// Closes the descriptor (close(2)); later calls do nothing. EINTR from
    /// close is not retried: on Linux the descriptor is released regardless.
    public func close() {
        guard fd >= 0 else { return }
        Glibc.close(fd)
        fd = -1
    }

    /// The file's size in bytes (fstat(2)).
    public var byteCount: Int64 {
        get throws(IOError) {
            precondition(fd >= 0, "byteCount of a closed file")
            var info = stat()
            do { _ = try Errno.retryingInterrupts { fstat(fd, &info) } } catch {
                throw IOError(.statFailed, "fstat failed", errno: error, path: path)
            }
            return Int64(info.st_size)
        }
    }

    /// Drops the file's clean pages from the page cache
    /// (posix_fadvise(POSIX_FADV_DONTNEED) over the whole file), so the next
    /// buffered read or mmap comes from storage.
    public func fadviseDontNeed() throws(IOError) {
        precondition(fd >= 0, "fadviseDontNeed of a closed file")
        do { try Errno.retryingInterrupts(returningError: { dl_fadvise_dontneed(fd) }) } catch {
            throw IOError(.adviceFailed, "posix_fadvise(DONTNEED) failed", errno: error, path: path)
        }
    }

    // MARK: Opening

    private static func open(_ path: String, flags: Int32) throws(IOError) -> Int32 {
        do {
            return try Errno.retryingInterrupts { Glibc.open(path, flags) }
        } catch {
            let remedy: String? = switch error {
            case .noSuchFile: "check the path"
            case .permissionDenied: "the file must be readable by this user"
            case .tooManyOpenFiles: "raise the open-file limit (`ulimit -n`)"
            default: nil
            }
            throw IOError(.openFailed, "cannot open for reading", errno: error, path: path, remedy: remedy)
        }
    }

    // fstatfs(2) f_type magic numbers (linux/magic.h).
    private static let inMemoryFilesystems: Set<Int64> = [0x0102_1994 /* tmpfs */, 0x8584_58F6 /* ramfs */]
    private static let directFilesystems: Set<Int64> = [
        0xEF53 /* ext2/3/4 */, 0x5846_5342 /* xfs */, 0x9123_683E /* btrfs */, 0xF2F5_2010 /* f2fs */,
    ]

    /// Why `fd`, opened with O_DIRECT, cannot really read direct, or nil if it can.
    private static func directIORefusal(fd: Int32) -> String? {
        var type: Int64 = 0
        if (try? Errno.retryingInterrupts(returningError: { dl_filesystem_type(fd, &type) })) != nil {
            if inMemoryFilesystems.contains(type) { return "tmpfs and ramfs keep files in memory" }
            if directFilesystems.contains(type) { return nil }
        }
        let page = AlignedBuffer.alignment
        let probe = UnsafeMutableRawPointer.allocate(byteCount: page, alignment: page)
        defer { probe.deallocate() }
        do {
            _ = try Errno.retryingInterrupts { pread(fd, probe, page, 0) }
        } catch {
            if error == .invalidArgument { return "a read with O_DIRECT failed: \(error)" }
            // Another error (EIO, …) will surface again, with its place, when the file is read.
        }
        return nil
    }
}
