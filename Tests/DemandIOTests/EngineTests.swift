import DemandIO
import Foundation
import Testing

@Suite("IO engines")
struct EngineTests {
    @Test("auto picks io_uring where the kernel allows it")
    func autoPrefersUring() throws {
        let engine = try IOEngines.make(.auto, queueDepth: 8)
        let expected: IOEngineKind = Availability.uring ? .uring : Availability.aio ? .aio : .pread
        #expect(engine.kind == expected)
        #expect(engine.queueDepth == 8)
        if !Availability.uring { print("NOTE: io_uring is refused here, auto chose \(engine.kind)") }
    }

    @Test("a queue depth outside 1...4096 is invalidArgument, not a trap", arguments: IOEngineChoice.allCases)
    func invalidQueueDepth(choice: IOEngineChoice) {
        for depth in [0, 4097] {
            do {
                _ = try IOEngines.make(choice, queueDepth: depth)
                Issue.record("\(choice) accepted a queue depth of \(depth)")
            } catch {
                #expect(error.code == .invalidArgument)
            }
        }
    }

    @Test("a 10 MiB file and a padded odd-sized file read back byte for byte", arguments: IOEngineKind.allCases)
    func readsFilesExactly(kind: IOEngineKind) throws {
        guard let engine = try makeEngine(kind) else { return }
        let direct = opensDirect(kind) && TestFiles.directIOWorks
        let directory = TestDirectory()
        let bigBytes = 10 << 20
        let oddBytes = 3 * (1 << 20) + 12_345                     // content
        let oddPadded = (oddBytes + 4095) / 4096 * 4096           // on disk
        let big = try DirectFile(path: directory.file("big.bin", byteCount: bigBytes, seed: 1), direct: direct)
        let odd = try DirectFile(path: directory.file("odd.bin", byteCount: oddBytes, paddedTo: oddPadded, seed: 2), direct: direct)
        #expect(big.isDirect == direct)

        let arena = poisonedBuffer(byteCount: bigBytes + oddPadded)
        try engine.register(arena: arena.bytes)
        if let uring = engine as? UringEngine {
            #expect(uring.usesRegisteredBuffers == (uring.registrationError == nil))
            if let refusal = uring.registrationError { print("NOTE: registered buffers refused here: \(refusal)") }
        }
        let scheduler = ReadScheduler(engine: engine, chunkBytes: 1 << 20)
        try scheduler.readAll([
            ReadExtent(id: 0, fd: big.fd, path: big.path, offsetBytes: 0, byteCount: bigBytes, destination: arena.base),
            ReadExtent(id: 1, fd: odd.fd, path: odd.path, offsetBytes: 0, byteCount: oddPadded, destination: arena.base + bigBytes),
        ])
        #expect(matchesPattern(UnsafeRawBufferPointer(start: arena.base, count: bigBytes), offset: 0, seed: 1))
        #expect(matchesPattern(UnsafeRawBufferPointer(start: arena.base + bigBytes, count: oddBytes), offset: 0, seed: 2))
        let padding = UnsafeRawBufferPointer(start: arena.base + bigBytes + oddBytes, count: oddPadded - oddBytes)
        #expect(padding.allSatisfy { $0 == 0 })
        #expect(scheduler.inFlightRequestCount == 0)
    }

    @Test("io_uring registers the arena for READ_FIXED and reads outside it as plain reads",
          .enabled(if: Availability.uring, "io_uring is refused on this machine; the aio and pread engines are tested instead"),
          .enabled(if: TestFiles.directIOWorks, TestFiles.directIOSkipReason))
    func uringRegisteredAndPlain() throws {
        let engine = try UringEngine(queueDepth: 8)
        let directory = TestDirectory()
        let file = try DirectFile(path: directory.file("a.bin", byteCount: 1 << 20, seed: 5))
        let arena = poisonedBuffer(byteCount: 512 << 10)
        let outside = poisonedBuffer(byteCount: 512 << 10)
        try engine.register(arena: arena.bytes)
        if engine.registrationError == nil {
            #expect(engine.usesRegisteredBuffers)
        } else {
            print("NOTE: registered buffers refused here: \(engine.registrationError!)")
        }
        try engine.submit([
            ReadRequest(fd: file.fd, offsetBytes: 0, byteCount: 512 << 10, destination: arena.base, tag: 7),
            ReadRequest(fd: file.fd, offsetBytes: 512 << 10, byteCount: 512 << 10, destination: outside.base, tag: 9),
        ])
        var completions: [ReadCompletion] = []
        while completions.count < 2 { completions += try engine.waitCompletions(minimum: 1) }
        #expect(Set(completions.map(\.tag)) == [7, 9])
        #expect(completions.allSatisfy { $0.result == 512 << 10 })
        #expect(matchesPattern(UnsafeRawBufferPointer(arena.bytes), offset: 0, seed: 5))
        #expect(matchesPattern(UnsafeRawBufferPointer(outside.bytes), offset: 512 << 10, seed: 5))
        #expect(try engine.waitCompletions(minimum: 1).isEmpty, "nothing outstanding: returns at once")
    }

    @Test("io_uring falls back to plain reads when the kernel refuses the registration",
          .enabled(if: Availability.uring, "io_uring is refused on this machine; the aio and pread engines are tested instead"))
    func uringRegistrationRefused() throws {
        let engine = try UringEngine(queueDepth: 4)
        // Memory that cannot be pinned (PROT_NONE): the kernel refuses it as it would refuse an arena over the memlock limit.
        let byteCount = 1 << 20
        let mapping = try #require(mmap(nil, byteCount, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        #expect(mapping != MAP_FAILED)
        defer { munmap(mapping, byteCount) }
        try engine.register(arena: UnsafeMutableRawBufferPointer(start: mapping, count: byteCount))
        #expect(!engine.usesRegisteredBuffers)
        let refusal = try #require(engine.registrationError)
        #expect(refusal.code == .registrationFailed)
        #expect(refusal.errno != nil)

        let directory = TestDirectory()
        let path = directory.file("a.bin", byteCount: 256 << 10, seed: 3)
        let file = try DirectFile(path: path, direct: TestFiles.directIOWorks)
        let buffer = poisonedBuffer(byteCount: 256 << 10)
        try ReadScheduler(engine: engine, chunkBytes: 64 << 10).readAll([
            ReadExtent(id: 0, fd: file.fd, path: path, offsetBytes: 0, byteCount: 256 << 10, destination: buffer.base),
        ])
        #expect(matchesPattern(UnsafeRawBufferPointer(buffer.bytes), offset: 0, seed: 3))
    }

    @Test("a read on a bad descriptor completes with -EBADF instead of throwing", arguments: IOEngineKind.allCases)
    func badDescriptorCompletesWithError(kind: IOEngineKind) throws {
        guard let engine = try makeEngine(kind, queueDepth: 2) else { return }
        let buffer = poisonedBuffer(byteCount: 4096)
        try engine.submit([ReadRequest(fd: 987_654, offsetBytes: 0, byteCount: 4096, destination: buffer.base, tag: 42)])
        let completions = try engine.waitCompletions(minimum: 1)
        #expect(completions == [ReadCompletion(tag: 42, result: -Int(EBADF))])
    }
}
