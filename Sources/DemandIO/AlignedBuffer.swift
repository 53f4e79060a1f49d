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

    /// Allocates `byteCount` bytes (at least one page is reserved when
    /// `byteCount` is 0, so `base` is always a valid aligned address).
    /// Running out of address space traps, like every Swift allocation.
    public init(byteCount: Int) {
        precondition(byteCount >= 0, "negative byte count \(byteCount)")
        self.byteCount = byteCount
        self.base = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, Self.alignment), alignment: Self.alignment)
        Self.counters.allocations.add(1, ordering: .relaxed)
        Self.counters.allocatedBytes.add(byteCount, ordering: .relaxed)
        Self.counters.live.add(1, ordering: .relaxed)
        Self.counters.liveBytes.add(byteCount, ordering: .relaxed)
    }

    deinit {
        base.deallocate()
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
