@testable import DemandIO
import Glibc
import Testing

/// `auto` moves past an engine the kernel refuses (as containers refuse
/// io_uring with EPERM or ENOSYS) and stops at any other failure.
@Suite("auto engine fallback")
struct EngineFallbackTests {
    /// Makes real engines, except that the kinds in `refused` fail with `code`.
    func make(refusing refused: Set<IOEngineKind>, with code: Int32) -> (IOEngineKind) throws(IOError) -> any IOEngine {
        { kind throws(IOError) in
            if refused.contains(kind) { throw IOError(.engineUnavailable, "refused", errno: Errno(rawValue: code)) }
            switch kind {
            case .uring: return try UringEngine(queueDepth: 4)
            case .aio: return try AioEngine(queueDepth: 4)
            case .pread: return PreadEngine(queueDepth: 4)
            }
        }
    }

    @Test("io_uring refused with EPERM, ENOSYS, EACCES or ENOMEM: libaio is used", arguments: [EPERM, ENOSYS, EACCES, ENOMEM])
    func uringRefused(code: Int32) throws {
        let engine = try IOEngines.firstAvailable([.uring, .aio, .pread], make: make(refusing: [.uring], with: code))
        #expect(engine.kind == .aio)
    }

    @Test("io_uring and libaio both refused: pread is used")
    func bothRefused() throws {
        let engine = try IOEngines.firstAvailable([.uring, .aio, .pread], make: make(refusing: [.uring, .aio], with: EPERM))
        #expect(engine.kind == .pread)
    }

    @Test("a failure that is not a refusal is reported, not skipped")
    func realFailureIsThrown() {
        #expect(throws: IOError.self) {
            _ = try IOEngines.firstAvailable([.uring, .aio, .pread], make: make(refusing: [.uring], with: EIO))
        }
    }
}
