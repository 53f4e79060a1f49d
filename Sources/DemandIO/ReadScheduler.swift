import Glibc

/// A byte range of a file to read into memory, whole.
///
/// The range must lie within the file: a read that meets the end of the file
/// first is `.unexpectedEndOfFile`. For a file opened with O_DIRECT,
/// `destination`, `offsetBytes` and `byteCount` must be multiples of 4096
/// (pad files to a multiple of 4096 when writing them).
public struct ReadExtent {
    /// The caller's name for the extent, returned in its `ExtentResult`.
    public var id: Int
    /// The file to read.
    public var fd: Int32
    /// The file's path, for error messages.
    public var path: String
    /// Where the range starts in the file.
    public var offsetBytes: Int64
    /// The range's length in bytes.
    public var byteCount: Int
    /// Where the bytes go; the scheduler's until the extent's result is returned.
    public var destination: UnsafeMutableRawPointer

    /// An extent named `id`: `byteCount` bytes at `offsetBytes` of `fd` (`path`) into `destination`.
    public init(id: Int, fd: Int32, path: String, offsetBytes: Int64, byteCount: Int, destination: UnsafeMutableRawPointer) {
        self.id = id
        self.fd = fd
        self.path = path
        self.offsetBytes = offsetBytes
        self.byteCount = byteCount
        self.destination = destination
    }
}

/// An extent that has finished: all of its bytes are in (`error` is nil), or
/// it failed. Either way no read into its destination is in flight any more.
public struct ExtentResult: Sendable {
    /// The extent's `id`.
    public var id: Int
    /// Why the extent failed, or nil when all of its bytes are in.
    public var error: IOError?

    /// The result of extent `id`.
    public init(id: Int, error: IOError?) {
        self.id = id
        self.error = error
    }
}

/// Reads whole extents through an `IOEngine`, as requests of at most
/// `chunkBytes`, keeping up to the engine's queue depth in flight.
///
/// Order: extents are issued in the order they were enqueued (FIFO), chunk by
/// chunk; when the head extent is fully issued the next one starts, so
/// several extents are in flight at once. They finish in whatever order the
/// storage completes them. A short read is resubmitted for the rest of its
/// range before any new chunk is issued.
///
/// Failure: the first error of an extent (the one at the lowest offset, if
/// several) is kept; its unissued chunks are dropped, and the extent is
/// reported only once every other request of it has completed, since the
/// caller will reuse the memory as soon as it hears. Other extents go on. A
/// read returning 0 bytes, or a short read ending where `fstat` says the file
/// ends, is `.unexpectedEndOfFile` at the offset where the file ends.
/// If the engine itself fails (it throws), the scheduler drops every extent
/// and rethrows that error from then on: the engine's deinit waits for what
/// the kernel still holds, so drop the engine before the memory.
///
/// Tags: each request's `tag` (the io_uring user_data) packs
///   bits 0–31   the index of its request slot, 0 ..< engine.queueDepth
///   bits 32–63  the slot's generation, bumped each time the slot is reused,
/// so a completion maps straight back to its extent and range, and a stale or
/// duplicated completion is caught as a precondition failure.
///
/// Ownership and threads: the scheduler owns its engine and is used by one
/// thread at a time (the session's read thread). Extent destinations belong
/// to the scheduler from `enqueue` until their `ExtentResult` is returned.
/// Reading allocates no weight memory: bytes go straight into the caller's
/// destinations; the only allocations are the small completion and result
/// arrays (and error messages).
public final class ReadScheduler: @unchecked Sendable {
    /// The engine the scheduler reads through (it owns it).
    public let engine: any IOEngine
    /// The largest request issued, in bytes.
    public let chunkBytes: Int

    /// Extents enqueued and not yet returned by `waitForCompletedExtents`.
    public private(set) var pendingExtentCount = 0
    /// Requests handed to the engine and not yet completed.
    public private(set) var inFlightRequestCount = 0
    /// Requests resubmitted after a short read, since the scheduler was made.
    public private(set) var resubmittedRequestCount = 0

    private struct Extent {
        var extent: ReadExtent
        /// Bytes from the start handed out as first-pass chunks.
        var issuedBytes = 0
        var inFlight = 0
        /// Rests of short reads waiting to be resubmitted.
        var retriesWaiting = 0
        var error: IOError?

        var isFinished: Bool {
            inFlight == 0 && (error != nil || (issuedBytes == extent.byteCount && retriesWaiting == 0))
        }
    }

    /// A part of an extent: `byteCount` bytes from `startInExtent`.
    private struct Piece {
        var extentIndex: Int
        var startInExtent: Int
        var byteCount: Int
    }

    private struct Slot {
        var piece = Piece(extentIndex: 0, startInExtent: 0, byteCount: 0)
        var generation: UInt32 = 0
        var isBusy = false
    }

    private var extents: [Extent?] = []     // indexed by extent index; nil = free
    private var freeExtentIndices: [Int] = []
    private var issueQueue: [Int] = []       // extents with chunks left to issue, FIFO
    private var retryQueue: [Piece] = []     // rests of short reads, FIFO
    private var slots: [Slot]
    private var freeSlots: [Int]
    private var finished: [ExtentResult] = []
    private var batch: [ReadRequest] = []
    private var failure: IOError?

    /// - Parameter chunkBytes: the largest request, a positive multiple of 4096.
    public init(engine: any IOEngine, chunkBytes: Int = 2 << 20) {
        precondition(chunkBytes > 0 && chunkBytes % 4096 == 0, "chunk size \(chunkBytes) is not a positive multiple of 4096")
        self.engine = engine
        self.chunkBytes = chunkBytes
        self.slots = Array(repeating: Slot(), count: engine.queueDepth)
        self.freeSlots = Array((0..<engine.queueDepth).reversed())
        batch.reserveCapacity(engine.queueDepth)
    }

    /// Adds an extent to read; nothing is issued until `submitPending` or
    /// `waitForCompletedExtents`.
    public func enqueue(_ extent: ReadExtent) {
        precondition(extent.byteCount >= 0 && extent.offsetBytes >= 0, "extent \(extent.id): \(extent.byteCount) bytes at \(extent.offsetBytes)")
        pendingExtentCount += 1
        guard extent.byteCount > 0 else {
            finished.append(ExtentResult(id: extent.id, error: nil))
            return
        }
        let index: Int
        if let free = freeExtentIndices.popLast() {
            index = free
            extents[index] = Extent(extent: extent)
        } else {
            index = extents.count
            extents.append(Extent(extent: extent))
        }
        issueQueue.append(index)
    }

    /// Issues as many requests as free queue slots allow: short-read rests
    /// first, then chunks of the enqueued extents in order.
    /// - Throws: the engine's failure (see the type's notes).
    public func submitPending() throws(IOError) {
        if let failure { throw abandonAll(failure) }
        batch.removeAll(keepingCapacity: true)
        while let slotIndex = freeSlots.last, let piece = nextPiece() {
            freeSlots.removeLast()
            slots[slotIndex].piece = piece
            slots[slotIndex].generation &+= 1
            slots[slotIndex].isBusy = true
            extents[piece.extentIndex]!.inFlight += 1
            inFlightRequestCount += 1
            let extent = extents[piece.extentIndex]!.extent
            batch.append(ReadRequest(fd: extent.fd, offsetBytes: extent.offsetBytes + Int64(piece.startInExtent),
                                     byteCount: piece.byteCount, destination: extent.destination + piece.startInExtent,
                                     tag: UInt64(slots[slotIndex].generation) << 32 | UInt64(slotIndex)))
        }
        guard !batch.isEmpty else { return }
        do { try engine.submit(batch) } catch { throw abandonAll(error) }
    }

    /// Waits until at least one extent has finished (successfully or not) and
    /// returns every extent finished so far; returns [] at once when nothing
    /// is pending. Issues more requests as slots free up, before returning too.
    /// - Throws: the engine's failure (see the type's notes).
    public func waitForCompletedExtents() throws(IOError) -> [ExtentResult] {
        if let failure { throw abandonAll(failure) }
        while finished.isEmpty && pendingExtentCount > 0 {
            try submitPending()
            guard finished.isEmpty else { break }
            precondition(inFlightRequestCount > 0, "\(pendingExtentCount) extents pending with nothing in flight")
            let completions: [ReadCompletion]
            do { completions = try engine.waitCompletions(minimum: 1) } catch { throw abandonAll(error) }
            for completion in completions { handle(completion) }
        }
        let results = finished
        finished.removeAll(keepingCapacity: true)
        pendingExtentCount -= results.count
        // Keep the engine busy while the caller looks at the results; a
        // failure here is thrown by the next call.
        do { try submitPending() } catch { failure = error }
        return results
    }

    /// Reads every extent and returns once all have finished. Nothing else
    /// may be pending. Throws the first failure reported (after every extent
    /// has finished, so no read is left in flight), or the engine's failure.
    public func readAll(_ extents: [ReadExtent]) throws(IOError) {
        precondition(pendingExtentCount == 0, "readAll with \(pendingExtentCount) extents already pending")
        for extent in extents { enqueue(extent) }
        var firstError: IOError?
        while pendingExtentCount > 0 {
            for result in try waitForCompletedExtents() where firstError == nil {
                firstError = result.error
            }
        }
        if let firstError { throw firstError }
    }

    // MARK: Bookkeeping

    /// The next range to read: a short-read rest, else the next chunk of the
    /// oldest extent with chunks left. Failed extents issue nothing more.
    private func nextPiece() -> Piece? {
        while !retryQueue.isEmpty {
            let piece = retryQueue.removeFirst()
            extents[piece.extentIndex]!.retriesWaiting -= 1
            if extents[piece.extentIndex]!.error == nil { return piece }
        }
        while let index = issueQueue.first {
            let state = extents[index]!
            let left = state.extent.byteCount - state.issuedBytes
            guard state.error == nil, left > 0 else {
                issueQueue.removeFirst()
                continue
            }
            let byteCount = min(chunkBytes, left)
            extents[index]!.issuedBytes += byteCount
            if byteCount == left { issueQueue.removeFirst() }
            return Piece(extentIndex: index, startInExtent: state.issuedBytes, byteCount: byteCount)
        }
        return nil
    }

    private func handle(_ completion: ReadCompletion) {
        let slotIndex = Int(completion.tag & 0xFFFF_FFFF)
        let generation = UInt32(completion.tag >> 32)
        precondition(slotIndex < slots.count && slots[slotIndex].isBusy && slots[slotIndex].generation == generation,
                     "completion for a request not in flight (tag \(completion.tag))")
        slots[slotIndex].isBusy = false
        freeSlots.append(slotIndex)
        inFlightRequestCount -= 1
        let piece = slots[slotIndex].piece
        let index = piece.extentIndex
        extents[index]!.inFlight -= 1
        let extent = extents[index]!.extent
        let result = completion.result
        precondition(result <= piece.byteCount, "a read of \(piece.byteCount) bytes returned \(result)")
        let offset = extent.offsetBytes + Int64(piece.startInExtent)
        let extentEnd = extent.offsetBytes + Int64(extent.byteCount)

        if result < 0 {
            record(.readFailed(Errno(rawValue: Int32(-result)), path: extent.path, offsetBytes: offset), in: index)
        } else if result == 0 && piece.byteCount > 0 {
            record(.unexpectedEndOfFile(path: extent.path, offsetBytes: offset, missingBytes: Int(extentEnd - offset)), in: index)
        } else if result < piece.byteCount {
            let reached = offset + Int64(result)
            if let size = fileSize(extent.fd), size <= reached {
                record(.unexpectedEndOfFile(path: extent.path, offsetBytes: size, missingBytes: Int(extentEnd - size)), in: index)
            } else if extents[index]!.error == nil {
                retryQueue.append(Piece(extentIndex: index, startInExtent: piece.startInExtent + result,
                                        byteCount: piece.byteCount - result))
                extents[index]!.retriesWaiting += 1
                resubmittedRequestCount += 1
            }
        }

        guard extents[index]!.isFinished else { return }
        let error = extents[index]!.error
        if error != nil {
            issueQueue.removeAll { $0 == index }
            retryQueue.removeAll { $0.extentIndex == index }
        }
        finished.append(ExtentResult(id: extent.id, error: error))
        extents[index] = nil
        freeExtentIndices.append(index)
    }

    /// Keeps the error at the lowest offset, so the report does not depend
    /// on the order in which the requests completed.
    private func record(_ error: IOError, in index: Int) {
        if let kept = extents[index]!.error, (kept.offsetBytes ?? 0) <= (error.offsetBytes ?? 0) { return }
        extents[index]!.error = error
    }

    private func fileSize(_ fd: Int32) -> Int64? {
        var info = stat()
        guard (try? Errno.retryingInterrupts({ fstat(fd, &info) })) != nil else { return nil }
        return Int64(info.st_size)
    }

    /// Drops every extent after an engine failure and returns the failure.
    private func abandonAll(_ error: IOError) -> IOError {
        failure = error
        extents.removeAll()
        freeExtentIndices.removeAll()
        issueQueue.removeAll()
        retryQueue.removeAll()
        finished.removeAll()
        for index in slots.indices { slots[index].isBusy = false }
        freeSlots = Array((0..<slots.count).reversed())
        inFlightRequestCount = 0
        pendingExtentCount = 0
        return error
    }
}
