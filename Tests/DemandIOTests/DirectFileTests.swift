import CURing
import DemandIO
import Foundation
import Testing

@Suite("Errno, IOError and AlignedBuffer")
struct BasicsTests {
    @Test func errnoDescribesItself() {
        #expect(Errno.ioError.description == "Input/output error (EIO)")
        #expect(Errno(rawValue: 4095).description.contains("errno 4095"))
    }

    @Test func ioErrorNamesPathAndOffset() {
        let error = IOError(.readFailed, "read failed", errno: .ioError, path: "/m/layers/0001.bin", offsetBytes: 8192)
        #expect(error.description == "/m/layers/0001.bin, offset 8192: read failed: Input/output error (EIO)")
        let withRemedy = IOError(.engineUnavailable, "no ring", remedy: "use pread")
        #expect(withRemedy.description == "no ring; use pread")
        #expect(withRemedy.remedy == "use pread")
    }

    @Test func alignedBufferIsPageAlignedAndCounted() {
        let allocationsBefore = AlignedBuffer.allocationCount
        let bytesBefore = AlignedBuffer.allocatedByteCount
        do {
            let buffer = AlignedBuffer(byteCount: 3 * 4096 + 5)
            #expect(Int(bitPattern: buffer.base) % 4096 == 0)
            #expect(buffer.bytes.count == 3 * 4096 + 5)
            buffer.bytes.initializeMemory(as: UInt8.self, repeating: 0xAB)
            #expect(AlignedBuffer.liveCount >= 1)
            #expect(AlignedBuffer.liveByteCount >= 3 * 4096 + 5)
            let empty = AlignedBuffer(byteCount: 0)
            #expect(Int(bitPattern: empty.base) % 4096 == 0)
        }
        // Other suites allocate concurrently, so the counters only give lower bounds.
        #expect(AlignedBuffer.allocationCount >= allocationsBefore + 2)
        #expect(AlignedBuffer.allocatedByteCount >= bytesBefore + 3 * 4096 + 5)
    }
}

@Suite("DirectFile")
struct DirectFileTests {
    @Test(.enabled(if: TestFiles.directIOWorks, TestFiles.directIOSkipReason))
    func opensDirectOnADiskFilesystem() throws {
        let directory = TestDirectory()
        let path = directory.file("a.bin", byteCount: 10_000)
        let file = try DirectFile(path: path)
        #expect(file.isDirect)
        #expect(try file.byteCount == 10_000)
        #expect(file.fd >= 0)
        file.close()
        #expect(file.fd == -1)
        file.close()
    }

    @Test("a file on /dev/shm (tmpfs): directIONotSupported, or buffered with the fallback",
          .enabled(if: FileManager.default.isWritableFile(atPath: "/dev/shm"), "/dev/shm is not writable here"))
    func tmpfsRefusesDirect() throws {
        let directory = TestDirectory(under: "/dev/shm")
        let path = directory.file("a.bin", byteCount: 3 * 4096 + 100)
        do {
            _ = try DirectFile(path: path)
            Issue.record("O_DIRECT on tmpfs should be reported as unsupported")
        } catch {
            #expect(error.code == .directIONotSupported)
            #expect(error.path == path)
            #expect(error.description.contains(path))
        }
        let file = try DirectFile(path: path, fallbackToBuffered: true)
        #expect(!file.isDirect)
        #expect(try file.byteCount == 3 * 4096 + 100)
        // The buffered file reads through every engine that works here.
        for kind in IOEngineKind.allCases where Availability.works(kind) {
            let engine = try #require(try makeEngine(kind))
            let buffer = poisonedBuffer(byteCount: 4 * 4096)
            let scheduler = ReadScheduler(engine: engine)
            try scheduler.readAll([ReadExtent(id: 0, fd: file.fd, path: path, offsetBytes: 0, byteCount: 3 * 4096 + 100,
                                              destination: buffer.base)])
            #expect(matchesPattern(UnsafeRawBufferPointer(start: buffer.base, count: 3 * 4096 + 100), offset: 0), "\(kind)")
        }
    }

    @Test func missingFileIsOpenFailedWithPath() {
        let path = TestFiles.root + "/does-not-exist-\(getpid())"
        do {
            _ = try DirectFile(path: path)
            Issue.record("opened a missing file")
        } catch {
            #expect(error.code == .openFailed)
            #expect(error.errno == .noSuchFile)
            #expect(error.description.hasPrefix(path + ": "))
        }
    }

    @Test("fadviseDontNeed drops the file's pages from the page cache")
    func fadviseDropsPages() throws {
        let directory = TestDirectory()
        let byteCount = 64 * 4096
        let path = directory.file("a.bin", byteCount: byteCount)
        let file = try DirectFile(path: path, direct: false)
        let buffer = poisonedBuffer(byteCount: byteCount)
        #expect(pread(file.fd, buffer.base, byteCount, 0) == byteCount)
        #expect(residentPages(of: file.fd, byteCount: byteCount) == 64)
        try file.fadviseDontNeed()
        #expect(residentPages(of: file.fd, byteCount: byteCount) == 0)
    }

    /// Pages of the file in the page cache (mincore over a mapping).
    private func residentPages(of fd: Int32, byteCount: Int) -> Int {
        guard let mapping = mmap(nil, byteCount, PROT_READ, MAP_SHARED, fd, 0), mapping != MAP_FAILED else { return -1 }
        defer { munmap(mapping, byteCount) }
        var vector = [UInt8](repeating: 0, count: byteCount / 4096)
        guard mincore(mapping, byteCount, &vector) == 0 else { return -1 }
        return vector.filter { $0 & 1 != 0 }.count
    }
}
