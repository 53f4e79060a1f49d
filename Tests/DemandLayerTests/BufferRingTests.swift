@testable import DemandLayer
import Foundation
import Synchronization
import Testing

@Suite struct BufferRingTests {
    @Test func smallLayersShareTheSpaceOfOneLargeOne() {
        let ring = BufferRing(capacityBytes: 8 * 4096)
        let regions = (0..<8).compactMap { ring.acquire(layerIndex: $0, byteCount: 4096, wait: false) { false } }
        #expect(regions.count == 8, "admission is by bytes, not by a count of layers")
        #expect(ring.acquire(layerIndex: 8, byteCount: 4096, wait: false) { false } == nil)
    }

    @Test func regionsAreContiguousAndWrapToZero() {
        let ring = BufferRing(capacityBytes: 10 * 4096)
        let a = ring.acquire(layerIndex: 0, byteCount: 4 * 4096, wait: false) { false }!
        let b = ring.acquire(layerIndex: 1, byteCount: 4 * 4096, wait: false) { false }!
        #expect(a.offsetBytes == 0 && b.offsetBytes == 4 * 4096)
        // 3 pages do not fit in the 2 left at the end: the region goes to 0, which `a` still holds.
        #expect(ring.acquire(layerIndex: 2, byteCount: 3 * 4096, wait: false) { false } == nil)
        ring.release(a)
        let c = ring.acquire(layerIndex: 2, byteCount: 3 * 4096, wait: false) { false }!
        #expect(c.offsetBytes == 0)
        #expect(ring.byteCounts.held == 7 * 4096 && ring.byteCounts.peak == 8 * 4096)
        ring.release(b)
        ring.release(c)
        #expect(ring.byteCounts.held == 0)
    }

    @Test func regionCountLimitHolds() {
        let ring = BufferRing(capacityBytes: 100 * 4096, maxHeldRegions: 2)
        let a = ring.acquire(layerIndex: 0, byteCount: 4096, wait: false) { false }!
        _ = ring.acquire(layerIndex: 1, byteCount: 4096, wait: false) { false }!
        #expect(ring.acquire(layerIndex: 2, byteCount: 4096, wait: false) { false } == nil, "at most two regions")
        ring.release(a)
        #expect(ring.acquire(layerIndex: 2, byteCount: 4096, wait: false) { false } != nil)
    }

    /// Runs `body` on a plain thread (not the cooperative pool, which blocking waits would starve).
    func onThread(_ body: @escaping @Sendable () -> BufferRing.Region?) -> () -> BufferRing.Region? {
        let done = DispatchSemaphore(value: 0)
        let result = Locked<BufferRing.Region?>(nil)
        Thread.detachNewThread {
            let region = body()
            result.withLock { $0 = region }
            done.signal()
        }
        return {
            done.wait()
            return result.withLock { $0 }
        }
    }

    @Test func acquireWaitsForRelease() {
        let ring = BufferRing(capacityBytes: 2 * 4096)
        let a = ring.acquire(layerIndex: 0, byteCount: 2 * 4096, wait: false) { false }!
        let waiter = onThread { ring.acquire(layerIndex: 1, byteCount: 4096, wait: true) { false } }
        usleep(50_000)
        ring.release(a)
        #expect(waiter()?.offsetBytes == 0)
    }

    @Test func abandonWakesAWaiter() {
        let ring = BufferRing(capacityBytes: 4096)
        _ = ring.acquire(layerIndex: 0, byteCount: 4096, wait: false) { false }!
        let flag = Flag()
        let waiter = onThread { ring.acquire(layerIndex: 1, byteCount: 4096, wait: true) { flag.value } }
        usleep(50_000)
        flag.value = true
        ring.wakeAll()
        #expect(waiter() == nil)
    }

    @Test(arguments: [1, 2, 4, 8])
    func minimumCapacityIsTightAndSufficient(depth: Int) {
        let page = 4096
        let sizes = [3, 9, 1, 4, 4, 9, 2, 7, 1, 1, 5, 9, 3].map { $0 * page }
        let minimum = BufferRing.minimumCapacity(layerBytes: sizes, depth: depth)
        #expect(BufferRing.fits(layerBytes: sizes, depth: depth, capacity: minimum))
        #expect(!BufferRing.fits(layerBytes: sizes, depth: depth, capacity: minimum - page))
        var windowLargest = 0
        for start in sizes.indices { windowLargest = max(windowLargest, sizes[start..<min(sizes.count, start + depth + 1)].reduce(0, +)) }
        #expect(minimum >= windowLargest)
    }

    /// Simulates a run with the real ring: with the minimum capacity the reader
    /// is never short of space while it is fewer than `depth` layers ahead.
    @Test func minimumCapacityNeverStallsTheReader() {
        let page = 4096
        let sizes = [5, 1, 8, 2, 2, 6, 1, 3, 9, 4].map { $0 * page }
        let depth = 2
        let ring = BufferRing(capacityBytes: BufferRing.minimumCapacity(layerBytes: sizes, depth: depth))
        var held: [BufferRing.Region] = []
        for (index, size) in sizes.enumerated() {
            if held.count == depth + 1 { ring.release(held.removeFirst()) }
            let region = ring.acquire(layerIndex: index, byteCount: size, wait: false) { false }
            #expect(region != nil, "layer \(index) could not be placed with \(held.count) held")
            if let region { held.append(region) }
        }
    }
}

/// A Bool shared between a test and a waiting thread.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var stored = false
    var value: Bool {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
