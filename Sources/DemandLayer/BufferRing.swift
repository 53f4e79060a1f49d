import DemandIO
import Foundation

/// The session's weight memory: one aligned arena, allocated when the session
/// opens and never grown, handed out as contiguous regions in ring order.
///
/// Ownership, lifetime and threads: the ring belongs to one session. The read
/// stage acquires a region for each layer (in layer order); the execute stage
/// releases it once the layer has run (in the same order). A region's bytes
/// belong to the read stage until its reads complete, then to restore, then to
/// execute; the region records which (`Region.Owner`), and debug builds check
/// the hand-offs. `acquire` blocks; every other call returns at once. All state
/// is behind one lock.
///
/// Placement is deterministic: a region goes right after the newest one if it
/// fits before the end of the arena, else at offset 0 (the tail is skipped).
/// `acquire` then waits until no held region overlaps the new one (and fewer
/// than `maxHeldRegions` are held). `reserve` takes the region as soon as its
/// first bytes are free, so a large layer starts loading into the part older
/// layers have already given back; `freePrefixBytes` says how far it may be
/// filled so far. Admission is by bytes: where layers are small, many are in
/// flight in the space one large layer takes. Because placement does not
/// depend on timing, `minimumCapacity` can compute the smallest arena that
/// lets `depth` layers be ahead everywhere.
package final class BufferRing: @unchecked Sendable {
    package struct Region: Sendable, Equatable {
        package let layerIndex: Int
        package let offsetBytes: Int
        package let byteCount: Int
    }

    /// The arena's base address and size.
    package let capacityBytes: Int
    /// The most regions held at once (1 for the linear policy; unbounded when pipelined).
    package let maxHeldRegions: Int
    package var base: UnsafeMutableRawPointer { arena.base }

    private let arena: AlignedBuffer
    private let condition = NSCondition()
    private var held: [Region] = []       // oldest first; a reserved region may overlap older ones
    private var heldBytes = 0             // bytes of the arena inside some held region
    private var peakHeldBytes = 0
    private var nextOffset = 0

    package init(capacityBytes: Int, maxHeldRegions: Int = .max) {
        precondition(capacityBytes > 0 && maxHeldRegions >= 1)
        self.capacityBytes = capacityBytes
        self.maxHeldRegions = maxHeldRegions
        self.arena = AlignedBuffer(byteCount: capacityBytes)
    }

    /// The arena as a raw buffer (for registering with the IO engine).
    package var arenaBuffer: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: arena.base, count: capacityBytes)
    }

    /// Bytes held right now, and the most held since the last `resetPeak`.
    package var byteCounts: (held: Int, peak: Int) {
        condition.lock(); defer { condition.unlock() }
        return (heldBytes, peakHeldBytes)
    }

    /// Forgets the peak and restarts placement at offset 0. The ring must be empty.
    package func reset() {
        condition.lock(); defer { condition.unlock() }
        precondition(held.isEmpty, "reset with \(held.count) regions held")
        nextOffset = 0
        peakHeldBytes = 0
    }

    /// Forgets the peak (it becomes what is held now) without touching
    /// placement; for a ring that is never empty between inferences.
    package func resetPeak() {
        condition.lock(); defer { condition.unlock() }
        peakHeldBytes = heldBytes
    }

    /// Where the next region of `byteCount` bytes goes, given the newest region's end.
    static func placement(after end: Int, byteCount: Int, capacity: Int) -> Int {
        end + byteCount <= capacity ? end : 0
    }

    /// Takes the next region, waiting until all of it is free. Returns nil
    /// without waiting when `wait` is false and the region is not free, or
    /// when `abandon()` becomes true while waiting (call `wakeAll()` after setting it).
    package func acquire(layerIndex: Int, byteCount: Int, wait: Bool, abandon: () -> Bool) -> Region? {
        reserve(layerIndex: layerIndex, byteCount: byteCount, minimumFreeBytes: byteCount, wait: wait, abandon: abandon)
    }

    /// Takes the next region as soon as its first `minimumFreeBytes` are free;
    /// the rest may still belong to older regions until they are released.
    /// Fill it only up to `freePrefixBytes(of:)`. Nil as for `acquire`.
    package func reserve(layerIndex: Int, byteCount: Int, minimumFreeBytes: Int, wait: Bool, abandon: () -> Bool) -> Region? {
        precondition(byteCount <= capacityBytes, "region of \(byteCount) bytes in a \(capacityBytes)-byte ring")
        condition.lock(); defer { condition.unlock() }
        let offset = Self.placement(after: nextOffset, byteCount: byteCount, capacity: capacityBytes)
        let region = Region(layerIndex: layerIndex, offsetBytes: offset, byteCount: byteCount)
        while held.count >= maxHeldRegions || freePrefix(of: region, olderThan: held.count) < min(minimumFreeBytes, byteCount) {
            if !wait || abandon() { return nil }
            condition.wait()
        }
        if abandon() { return nil }
        held.append(region)
        heldBytes = coveredBytes()
        peakHeldBytes = max(peakHeldBytes, heldBytes)
        nextOffset = offset + byteCount
        return region
    }

    /// How many bytes from the start of a held region no older region still covers.
    package func freePrefixBytes(of region: Region) -> Int {
        condition.lock(); defer { condition.unlock() }
        guard let position = held.firstIndex(of: region) else { return 0 }
        return freePrefix(of: region, olderThan: position)
    }

    /// Waits until more than `bytes` of a held region's prefix are free (or
    /// `abandon()`, after `wakeAll()`).
    package func waitUntilFree(_ region: Region, moreThan bytes: Int, abandon: () -> Bool) {
        condition.lock(); defer { condition.unlock() }
        while let position = held.firstIndex(of: region), freePrefix(of: region, olderThan: position) <= bytes, !abandon() {
            condition.wait()
        }
    }

    /// The free bytes at the start of `region`, given the held regions before `position`.
    private func freePrefix(of region: Region, olderThan position: Int) -> Int {
        let end = region.offsetBytes + region.byteCount
        var prefix = region.byteCount
        for older in held[..<position] where older.offsetBytes < end && region.offsetBytes < older.offsetBytes + older.byteCount {
            prefix = min(prefix, max(0, older.offsetBytes - region.offsetBytes))
        }
        return prefix
    }

    /// Bytes of the arena inside at least one held region (held regions are
    /// few; a reserved region may overlap older ones, which must not count twice).
    private func coveredBytes() -> Int {
        var total = 0
        var coveredEnd = 0
        for region in held.sorted(by: { $0.offsetBytes < $1.offsetBytes }) {
            let end = region.offsetBytes + region.byteCount
            total += max(0, end - max(region.offsetBytes, coveredEnd))
            coveredEnd = max(coveredEnd, end)
        }
        return total
    }

    /// Gives back the oldest region.
    package func release(_ region: Region) {
        condition.lock()
        precondition(held.first == region, "regions are released in the order they were acquired")
        held.removeFirst()
        heldBytes = coveredBytes()
        condition.broadcast()
        condition.unlock()
    }

    /// Wakes every waiter so it can re-check its abandon condition.
    package func wakeAll() {
        condition.lock()
        condition.broadcast()
        condition.unlock()
    }

    /// The bytes of a region.
    package func bytes(of region: Region) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: arena.base + region.offsetBytes, count: region.byteCount)
    }
}

extension BufferRing {
    /// The smallest capacity (a multiple of 4096) with which every layer can be
    /// acquired while the `depth` layers before it are still held, under the
    /// ring's placement rule. `layerBytes` are the layers' sizes in execution order.
    package static func minimumCapacity(layerBytes: [Int], depth: Int) -> Int {
        let page = 4096
        let largest = layerBytes.max() ?? 0
        guard largest > 0 else { return page }
        var windowLargest = 0
        for start in layerBytes.indices {
            let window = layerBytes[start..<min(layerBytes.count, start + depth + 1)]
            windowLargest = max(windowLargest, window.reduce(0, +))
        }
        var capacity = max(page, (windowLargest + page - 1) / page * page)
        while !fits(layerBytes: layerBytes, depth: depth, capacity: capacity) {
            capacity += page
        }
        return capacity
    }

    /// Whether `capacity` lets every layer be placed with the `depth` before it still held.
    static func fits(layerBytes: [Int], depth: Int, capacity: Int) -> Bool {
        var starts: [Int] = []
        starts.reserveCapacity(layerBytes.count)
        var end = 0
        for (index, bytes) in layerBytes.enumerated() {
            guard bytes <= capacity else { return false }
            let offset = placement(after: end, byteCount: bytes, capacity: capacity)
            if bytes > 0 {
                for previous in max(0, index - depth)..<index where layerBytes[previous] > 0 {
                    let previousStart = starts[previous]
                    if previousStart < offset + bytes && offset < previousStart + layerBytes[previous] { return false }
                }
            }
            starts.append(offset)
            end = offset + bytes
        }
        return true
    }
}
