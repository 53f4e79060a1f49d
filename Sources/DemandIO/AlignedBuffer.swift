import CURing
import Synchronization

/// A page-aligned block of memory for O_DIRECT reads.
///
/// Ownership and lifetime: the buffer owns `byteCount` bytes starting at
/// `base`, aligned to 4096 bytes, from `init` until it is released; views
/// into it (`bytes`, pointers handed to an IO engine) must not outlive it,
/// and a read in flight into it must complete before the last reference goes.
/// The contents start undefined (large allocations come zeroed from the
/// kernel, but nothing promises it) and are not touched here, so the pages are
/// only committed when first written.
///
/// Buffers of 2 MiB or more are mapped at a 2 MiB boundary with transparent
/// huge pages asked for (`dl_map_buffer`): a read into them reaches the disk
/// as a few large contiguous segments rather than hundreds of 4 KiB ones,
/// which on our virtio test disk made reads 2-3x faster. Where the kernel has
/// THP off, they are ordinary pages and nothing else changes.
///
/// Threads: the buffer itself has no mutable state; who may write its bytes
/// when is up to the owner (the session's ring says which stage holds which
/// region). The process-wide counters are atomic.
///
/// The counters exist so tests can prove that the steady state allocates no
/// weight memory: read `allocationCount` after a session opens and again after
/// it has run.
public final class AlignedBuffer: @unchecked Sendable {
    /// The alignment of `base`: one page, and what O_DIRECT needs everywhere.
    public static let alignment = 4096

    /// The first byte, aligned as asked.
    public let base: UnsafeMutableRawPointer
    /// The buffer's size in bytes.
    public let byteCount: Int
    /// Bytes mapped by `dl_map_buffer` (0: allocated from the heap).
    private let mappedBytes: Int

    /// Buffers at least this large are mapped on huge-page boundaries.
    public static let hugePageBytes = 2 << 20

    /// Allocates `byteCount` bytes (at least one page is reserved when
    /// `byteCount` is 0, so `base` is always a valid aligned address).
    /// Running out of address space traps, like every Swift allocation.
    public init(byteCount: Int) {
        precondition(byteCount >= 0, "negative byte count \(byteCount)")
        self.byteCount = byteCount
        var mapped = 0
        if byteCount >= Self.hugePageBytes, let address = dl_map_buffer(byteCount, &mapped) {
            self.base = address
        } else {
            self.base = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, Self.alignment), alignment: Self.alignment)
        }
        self.mappedBytes = mapped
        Self.counters.allocations.add(1, ordering: .relaxed)
        Self.counters.allocatedBytes.add(byteCount, ordering: .relaxed)
        Self.counters.live.add(1, ordering: .relaxed)
        Self.counters.liveBytes.add(byteCount, ordering: .relaxed)
    }

    deinit {
        if mappedBytes > 0 { dl_unmap_buffer(base, mappedBytes) } else { base.deallocate() }
        Self.counters.live.subtract(1, ordering: .relaxed)
        Self.counters.liveBytes.subtract(byteCount, ordering: .relaxed)
    }

    /// The whole buffer.
    public var bytes: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: base, count: byteCount)
    }

    // MARK: Process-wide counters

    private final class Counters: Sendable {
        let allocations = Atomic<Int>(0)
        let allocatedBytes = Atomic<Int>(0)
        let live = Atomic<Int>(0)
        let liveBytes = Atomic<Int>(0)
    }

    private static let counters = Counters()

    /// Buffers allocated since the process started.
    public static var allocationCount: Int { counters.allocations.load(ordering: .relaxed) }
    /// Bytes allocated since the process started.
    public static var allocatedByteCount: Int { counters.allocatedBytes.load(ordering: .relaxed) }
    /// Buffers alive now.
    public static var liveCount: Int { counters.live.load(ordering: .relaxed) }
    /// Bytes in buffers alive now.
    public static var liveByteCount: Int { counters.liveBytes.load(ordering: .relaxed) }
}
