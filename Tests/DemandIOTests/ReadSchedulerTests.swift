import DemandIO
import DemandTestSupport
import Foundation
import Testing

@Suite("ReadScheduler")
struct ReadSchedulerTests {
    /// Files under a fresh directory, opened for `kind`.
    final class Fixture {
        let directory = TestDirectory()
        var files: [DirectFile] = []

        func open(_ name: String, byteCount: Int, seed: UInt64, direct: Bool) throws -> DirectFile {
            let file = try DirectFile(path: directory.file(name, byteCount: byteCount, seed: seed), direct: direct)
            files.append(file)
            return file
        }
    }

    @Test("many extents of several files in flight, split into chunks, issued in order", arguments: IOEngineKind.allCases)
    func manyExtentsInFlight(kind: IOEngineKind) throws {
        guard let inner = try makeEngine(kind, queueDepth: 8) else { return }
        let direct = opensDirect(kind) && TestFiles.directIOWorks
        let fixture = Fixture()
        let fileBytes = 4 << 20
        let files = try (0..<3).map { try fixture.open("f\($0).bin", byteCount: fileBytes, seed: UInt64($0 + 10), direct: direct) }

        // 48 extents of 4 KiB ... 300 KiB at page offsets, laid out back to back in one arena.
        var generator = SplitMix(state: 99)
        var plan: [(file: Int, offset: Int, byteCount: Int, at: Int)] = []
        var arenaBytes = 0
        for _ in 0..<48 {
            let byteCount = Int.random(in: 1...75, using: &generator) * 4096
            let offset = Int.random(in: 0...(fileBytes - byteCount) / 4096, using: &generator) * 4096
            plan.append((Int.random(in: 0..<3, using: &generator), offset, byteCount, arenaBytes))
            arenaBytes += byteCount
        }
        let arena = poisonedBuffer(byteCount: arenaBytes)
        let engine = FaultInjectingEngine(inner)
        try engine.register(arena: arena.bytes)
        let chunkBytes = 64 << 10
        let scheduler = ReadScheduler(engine: engine, chunkBytes: chunkBytes)
        for (id, item) in plan.enumerated() {
            scheduler.enqueue(ReadExtent(id: id, fd: files[item.file].fd, path: files[item.file].path, offsetBytes: Int64(item.offset),
                                         byteCount: item.byteCount, destination: arena.base + item.at))
        }
        #expect(scheduler.pendingExtentCount == 48)
        var reported: [Int] = []
        var mostExtentsInFlight = 0
        while scheduler.pendingExtentCount > 0 {
            try scheduler.submitPending()
            let extentsInFlight = Set(engine.outstanding.values.map { request in
                plan.lastIndex { arena.base + $0.at <= request.destination }!
            })
            mostExtentsInFlight = max(mostExtentsInFlight, extentsInFlight.count)
            for result in try scheduler.waitForCompletedExtents() {
                #expect(result.error == nil, "extent \(result.id): \(result.error.map { "\($0)" } ?? "")")
                reported.append(result.id)
            }
        }
        #expect(reported.sorted() == Array(0..<48))
        for (id, item) in plan.enumerated() {
            let bytes = UnsafeRawBufferPointer(start: arena.base + item.at, count: item.byteCount)
            #expect(matchesPattern(bytes, offset: item.offset, seed: UInt64(item.file + 10)), "extent \(id)")
        }
        #expect(engine.mostOutstanding == 8, "the queue depth is kept full")
        #expect(mostExtentsInFlight > 1, "several extents are in flight at once")
        #expect(engine.submitted.allSatisfy { $0.byteCount <= chunkBytes })
        #expect(engine.submitted.count == plan.reduce(0) { $0 + ($1.byteCount + chunkBytes - 1) / chunkBytes })
        // First-pass chunks go out in FIFO order: destinations only move forward.
        let destinations = engine.submitted.map(\.destination)
        #expect(zip(destinations, destinations.dropFirst()).allSatisfy { $0 < $1 })
        #expect(engine.outstanding.isEmpty && scheduler.inFlightRequestCount == 0)
    }

    @Test("reading past the end of the file is unexpectedEndOfFile at the offset where the file ends",
          arguments: IOEngineKind.allCases)
    func endOfFile(kind: IOEngineKind) throws {
        guard let engine = try makeEngine(kind, queueDepth: 8) else { return }
        let direct = opensDirect(kind) && TestFiles.directIOWorks
        let fixture = Fixture()
        let padded = try fixture.open("padded.bin", byteCount: 8192, seed: 1, direct: direct)
        let unpadded = try fixture.open("unpadded.bin", byteCount: 10_000, seed: 1, direct: direct)
        let buffer = poisonedBuffer(byteCount: 64 << 10)
        for chunkBytes in [4096, 64 << 10] {
            let scheduler = ReadScheduler(engine: engine, chunkBytes: chunkBytes)
            for (file, end) in [(padded, 8192), (unpadded, 10_000)] {
                do {
                    try scheduler.readAll([ReadExtent(id: 0, fd: file.fd, path: file.path, offsetBytes: 0, byteCount: 16_384, destination: buffer.base)])
                    Issue.record("\(kind): read 16384 bytes of a \(end)-byte file")
                } catch {
                    #expect(error.code == .unexpectedEndOfFile, "\(kind), chunks of \(chunkBytes): \(error)")
                    #expect(error.path == file.path)
                    #expect(error.offsetBytes == Int64(end))
                    #expect(error.description.contains(file.path) && error.description.contains("offset \(end)"))
                }
                #expect(scheduler.inFlightRequestCount == 0)
            }
        }
    }

    @Test("short reads are resubmitted for the rest", arguments: IOEngineKind.allCases)
    func shortReadsResubmitted(kind: IOEngineKind) throws {
        guard let inner = try makeEngine(kind, queueDepth: 6) else { return }
        let direct = opensDirect(kind) && TestFiles.directIOWorks
        let fixture = Fixture()
        let byteCount = 3 << 20
        let file = try fixture.open("a.bin", byteCount: byteCount, seed: 4, direct: direct)
        // Every other request comes back short: by whole pages under O_DIRECT
        // (so the rest stays aligned), by an odd count for buffered files.
        let shortBy = direct ? 3 * 4096 : 1001
        let engine = FaultInjectingEngine(inner) { request, number in
            number % 2 == 0 && request.byteCount > shortBy ? .short(by: shortBy) : .none
        }
        engine.deliversOneAtATimeNewestFirst = true
        let buffer = poisonedBuffer(byteCount: byteCount)
        try engine.register(arena: buffer.bytes)
        let scheduler = ReadScheduler(engine: engine, chunkBytes: 256 << 10)
        try scheduler.readAll([
            ReadExtent(id: 0, fd: file.fd, path: file.path, offsetBytes: 0, byteCount: byteCount / 2, destination: buffer.base),
            ReadExtent(id: 1, fd: file.fd, path: file.path, offsetBytes: Int64(byteCount / 2), byteCount: byteCount / 2,
                       destination: buffer.base + byteCount / 2),
        ])
        #expect(engine.faultsInjected > 3)
        #expect(scheduler.resubmittedRequestCount == engine.faultsInjected)
        #expect(matchesPattern(UnsafeRawBufferPointer(buffer.bytes), offset: 0, seed: 4))
        #expect(engine.outstanding.isEmpty)
    }

    @Test("EIO fails only its extent, names path and offset, and is reported after the extent's other requests",
          arguments: IOEngineKind.allCases)
    func ioErrorReportedAfterSiblings(kind: IOEngineKind) throws {
        guard let inner = try makeEngine(kind, queueDepth: 8) else { return }
        let direct = opensDirect(kind) && TestFiles.directIOWorks
        let fixture = Fixture()
        let extentBytes = 1 << 20
        let file = try fixture.open("a.bin", byteCount: 3 * extentBytes, seed: 6, direct: direct)
        let chunkBytes = 128 << 10
        let failingOffset = extentBytes + 2 * chunkBytes                     // third chunk of extent 1
        let engine = FaultInjectingEngine(inner) { request, _ in
            request.offsetBytes == Int64(failingOffset) ? .error(.ioError) : .none
        }
        let buffer = poisonedBuffer(byteCount: 3 * extentBytes)
        let scheduler = ReadScheduler(engine: engine, chunkBytes: chunkBytes)
        for id in 0..<3 {
            scheduler.enqueue(ReadExtent(id: id, fd: file.fd, path: file.path, offsetBytes: Int64(id * extentBytes),
                                         byteCount: extentBytes, destination: buffer.base + id * extentBytes))
        }
        var errors: [Int: IOError] = [:]
        var succeeded: [Int] = []
        while scheduler.pendingExtentCount > 0 {
            for result in try scheduler.waitForCompletedExtents() {
                let extentMemory = UnsafeMutableRawBufferPointer(start: buffer.base + result.id * extentBytes, count: extentBytes)
                #expect(engine.outstandingCount(into: extentMemory) == 0, "extent \(result.id) reported with requests in flight")
                if let error = result.error { errors[result.id] = error } else { succeeded.append(result.id) }
            }
        }
        #expect(succeeded.sorted() == [0, 2])
        let error = try #require(errors[1])
        #expect(error.code == .readFailed)
        #expect(error.errno == .ioError)
        #expect(error.path == file.path)
        #expect(error.offsetBytes == Int64(failingOffset))
        #expect(error.description.contains("offset \(failingOffset)") && error.description.contains(file.path))
        #expect(engine.outstanding.isEmpty && scheduler.inFlightRequestCount == 0, "no request left in flight")
        #expect(matchesPattern(UnsafeRawBufferPointer(start: buffer.base, count: extentBytes), offset: 0, seed: 6))
        #expect(matchesPattern(UnsafeRawBufferPointer(start: buffer.base + 2 * extentBytes, count: extentBytes), offset: 2 * extentBytes, seed: 6))
        // The failed extent's later chunks were not issued after the failure was seen.
        let issuedAfter = engine.submitted.filter { $0.offsetBytes > Int64(failingOffset) && $0.offsetBytes < Int64(2 * extentBytes) }
        #expect(issuedAfter.count < (2 * extentBytes - failingOffset) / chunkBytes)
    }

    @Test func readAllThrowsTheFirstErrorAfterEverythingFinished() throws {
        let fixture = Fixture()
        let file = try fixture.open("a.bin", byteCount: 1 << 20, seed: 8, direct: false)
        let engine = FaultInjectingEngine(PreadEngine(queueDepth: 4)) { request, _ in
            request.offsetBytes == 4096 ? .error(.ioError) : .none
        }
        let buffer = poisonedBuffer(byteCount: 1 << 20)
        let scheduler = ReadScheduler(engine: engine, chunkBytes: 4096)
        do {
            try scheduler.readAll((0..<4).map { id in
                ReadExtent(id: id, fd: file.fd, path: file.path, offsetBytes: Int64(id * (256 << 10)), byteCount: 256 << 10,
                           destination: buffer.base + id * (256 << 10))
            })
            Issue.record("readAll succeeded despite EIO")
        } catch {
            #expect(error.code == .readFailed && error.offsetBytes == 4096)
        }
        #expect(scheduler.pendingExtentCount == 0 && engine.outstanding.isEmpty)
        #expect(matchesPattern(UnsafeRawBufferPointer(start: buffer.base + (256 << 10), count: 3 * (256 << 10)), offset: 256 << 10, seed: 8))
    }

    @Test func emptyExtentsAndNothingPending() throws {
        let scheduler = ReadScheduler(engine: PreadEngine(queueDepth: 2))
        #expect(try scheduler.waitForCompletedExtents().isEmpty)
        let buffer = poisonedBuffer(byteCount: 4096)
        scheduler.enqueue(ReadExtent(id: 5, fd: -1, path: "/nowhere", offsetBytes: 0, byteCount: 0, destination: buffer.base))
        let results = try scheduler.waitForCompletedExtents()
        #expect(results.map(\.id) == [5] && results[0].error == nil)
        #expect(scheduler.pendingExtentCount == 0)
    }

    @Test("a broken engine: the error is thrown, every extent dropped, and it keeps being thrown")
    func engineFailure() throws {
        let fixture = Fixture()
        let file = try fixture.open("a.bin", byteCount: 1 << 20, seed: 9, direct: false)
        let engine = FaultInjectingEngine(PreadEngine(queueDepth: 4))
        engine.failsWaiting = IOError(.engineFailed, "the ring is gone", errno: .badFileDescriptor)
        let buffer = poisonedBuffer(byteCount: 1 << 20)
        let scheduler = ReadScheduler(engine: engine, chunkBytes: 64 << 10)
        scheduler.enqueue(ReadExtent(id: 0, fd: file.fd, path: file.path, offsetBytes: 0, byteCount: 1 << 20, destination: buffer.base))
        #expect(throws: IOError.self) { try scheduler.waitForCompletedExtents() }
        #expect(scheduler.pendingExtentCount == 0 && scheduler.inFlightRequestCount == 0)
        scheduler.enqueue(ReadExtent(id: 1, fd: file.fd, path: file.path, offsetBytes: 0, byteCount: 4096, destination: buffer.base))
        do {
            try scheduler.submitPending()
            Issue.record("a scheduler with a broken engine accepted work")
        } catch {
            #expect(error.code == .engineFailed)
        }
        #expect(scheduler.pendingExtentCount == 0)
    }
}
