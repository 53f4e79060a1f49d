import CURing
import DemandIO
import Foundation
import Testing

/// Where the tests put their files, and how they fill them.
///
/// O_DIRECT needs a disk filesystem, so the files must not land on tmpfs.
/// The directory is `$DEMANDIO_TEST_DIR` if set; else the system temporary
/// directory unless that is in memory (tmpfs /tmp on many CI images); else
/// `.build/test-io` inside the package, which is on the clone's filesystem.
enum TestFiles {
    static let root: String = {
        if let chosen = ProcessInfo.processInfo.environment["DEMANDIO_TEST_DIR"] { return chosen }
        let temporary = NSTemporaryDirectory()
        if !isInMemory(temporary) { return temporary.hasSuffix("/") ? String(temporary.dropLast()) : temporary }
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return package.appendingPathComponent(".build/test-io").path
    }()

    /// Whether files under `directory` are in memory (tmpfs or ramfs).
    static func isInMemory(_ directory: String) -> Bool {
        let fd = open(directory, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var type: Int64 = 0
        guard dl_filesystem_type(fd, &type) == 0 else { return false }
        return type == 0x0102_1994 || type == 0x8584_58F6
    }

    /// Whether O_DIRECT works under `root` (it does on ext4, xfs, btrfs).
    static let directIOWorks: Bool = {
        let directory = TestDirectory()
        let path = directory.file("probe", byteCount: 8192)
        return (try? DirectFile(path: path, direct: true)) != nil
    }()

    static let directIOSkipReason: Comment = "O_DIRECT is refused under \(root); set DEMANDIO_TEST_DIR to a directory on a disk filesystem"

    /// The expected byte at `offset` of a file written with `seed`: eight
    /// bytes of a SplitMix64 hash per 8-byte word, so a page read into the
    /// wrong place cannot match.
    static func pattern(offset: Int, byteCount: Int, seed: UInt64) -> [UInt8] {
        precondition(offset % 8 == 0)
        var bytes = [UInt8](repeating: 0, count: byteCount)
        bytes.withUnsafeMutableBytes { raw in
            var word = offset / 8
            var position = 0
            while position < byteCount {
                var value = splitmix(UInt64(word) ^ (seed << 40))
                for _ in 0..<8 where position < byteCount {
                    raw[position] = UInt8(truncatingIfNeeded: value)
                    value >>= 8
                    position += 1
                }
                word += 1
            }
        }
        return bytes
    }

    static func splitmix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A fresh directory under `TestFiles.root`, removed with everything in it
/// when the object goes away.
final class TestDirectory {
    let path: String

    init(under root: String = TestFiles.root) {
        path = root + "/demandio-\(getpid())-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `byteCount` pattern bytes (then zeros up to `paddedTo`, if
    /// given) to a new file and returns its path. The file is fsynced and its
    /// page cache dropped, so reads come from the disk.
    @discardableResult
    func file(_ name: String, byteCount: Int, paddedTo padded: Int? = nil, seed: UInt64 = 1) -> String {
        let filePath = path + "/" + name
        var bytes = TestFiles.pattern(offset: 0, byteCount: byteCount, seed: seed)
        if let padded { bytes += [UInt8](repeating: 0, count: padded - byteCount) }
        let fd = open(filePath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0, "cannot create \(filePath)")
        bytes.withUnsafeBytes { raw in
            var written = 0
            while written < raw.count {
                let count = write(fd, raw.baseAddress! + written, raw.count - written)
                precondition(count > 0, "write to \(filePath) failed")
                written += count
            }
        }
        fsync(fd)
        _ = dl_fadvise_dontneed(fd)
        close(fd)
        return filePath
    }
}

/// Whether `bytes` hold the pattern of `seed` from file offset `offset`.
func matchesPattern(_ bytes: UnsafeRawBufferPointer, offset: Int, seed: UInt64 = 1) -> Bool {
    let expected = TestFiles.pattern(offset: offset, byteCount: bytes.count, seed: seed)
    return expected.withUnsafeBytes { memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0 }
}

enum Availability {
    /// Whether this kernel lets the process create an io_uring.
    static let uring: Bool = (try? UringEngine(queueDepth: 1)) != nil
    static let aio: Bool = (try? AioEngine(queueDepth: 1)) != nil

    static func works(_ kind: IOEngineKind) -> Bool {
        switch kind {
        case .uring: uring
        case .aio: aio
        case .pread: true
        }
    }
}

/// Makes an engine of `kind`, or records why the test is skipped and returns nil.
func makeEngine(_ kind: IOEngineKind, queueDepth: Int = 32) throws -> (any IOEngine)? {
    let made: Result<any IOEngine, IOError> = Result { () throws(IOError) in
        try IOEngines.make(IOEngineChoice(rawValue: kind.rawValue)!, queueDepth: queueDepth)
    }
    switch made {
    case .success(let engine):
        return engine
    case .failure(let error):
        guard error.code == .engineUnavailable else { throw error }
        print("SKIP: the \(kind) engine is unavailable here: \(error)")
        return nil
    }
}

/// Whether files for `kind` are opened O_DIRECT in these tests: io_uring and
/// libaio read O_DIRECT, pread reads buffered (the combinations a session uses).
func opensDirect(_ kind: IOEngineKind) -> Bool { kind != .pread }

/// A buffer filled with 0xA5, so bytes a read failed to write cannot pass for
/// file contents (recycled memory may hold another test's pattern).
func poisonedBuffer(byteCount: Int) -> AlignedBuffer {
    let buffer = AlignedBuffer(byteCount: byteCount)
    buffer.bytes.initializeMemory(as: UInt8.self, repeating: 0xA5)
    return buffer
}
