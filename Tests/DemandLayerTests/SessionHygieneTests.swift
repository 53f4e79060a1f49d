import DemandFormat
@testable import DemandLayer
import DemandTestSupport
import Foundation
import Testing

/// Opening and closing many sessions leaves nothing behind: file
/// descriptors, threads and memory come back to where they were.
///
/// Other suites run in the same process at the same time, so the counts are
/// process-wide and move a little on their own; the bounds leave room for
/// that but not for one leaked descriptor, thread or arena per session.
@Suite struct SessionHygieneTests {
    static func count(_ directory: String) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: directory).count) ?? 0
    }

    /// Resident set size from /proc/self/statm, in bytes.
    static func residentBytes() -> Int {
        let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
        let pages = statm.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Whether the AddressSanitizer runtime is linked in (`--sanitize=address`).
    static let underAddressSanitizer = dlsym(nil, "__asan_init") != nil

    @Test func aThousandSessionsOpenedAndClosedLeakNothing() throws {
        let model = try Model.open(Scratch.tinyModelPath)
        let policies = Policy.allCases
        let sessionCount = 1000
        let inputs = tinyInputs()
        func cycle(_ index: Int) throws {
            let session = try Session(model: model, options: .init(policy: policies[index % policies.count], threadCount: 1))
            if index % 50 == 0 { _ = try session.run(inputs) }
            session.close()
        }
        for index in 0..<20 { try cycle(index) }   // warm up allocator caches and lazy runtime state
        let fileDescriptors = Self.count("/proc/self/fd")
        let threads = Self.count("/proc/self/task")
        let resident = Self.residentBytes()
        for index in 0..<sessionCount { try cycle(index) }
        let fileDescriptorsAfter = Self.count("/proc/self/fd")
        let threadsAfter = Self.count("/proc/self/task")
        let residentAfter = Self.residentBytes()
        // One leaked descriptor per session would be 1000 (a layer's files: ~10 000).
        #expect(fileDescriptorsAfter < fileDescriptors + 50, "file descriptors \(fileDescriptors) → \(fileDescriptorsAfter)")
        // Three stage threads per session would be 3000.
        #expect(threadsAfter < threads + 20, "threads \(threads) → \(threadsAfter)")
        // Resident and bulk fill an arena of all the weights: leaking those 400
        // arenas would add 400 × the model's bytes, and every session's
        // activation arena more. The bound leaves room for what the suites
        // running beside this one allocate meanwhile.
        // AddressSanitizer keeps freed memory in quarantine, so RSS grows there
        // regardless; its LeakSanitizer checks the same property at exit instead.
        let activationBytes = try Session(model: model, options: .init(policy: .linear, threadCount: 1)).activationBytes
        let smallestLeak = 400 * model.weightByteCount + sessionCount * activationBytes
        // Three quarters of the smallest leak: suites running meanwhile have
        // grown RSS by over 100 MiB in loaded CI runs, never by 200.
        let bound = smallestLeak * 3 / 4
        #expect(bound > 150 << 20, "a leak of \(smallestLeak >> 20) MiB would stand out above the bound")
        if !Self.underAddressSanitizer {
            #expect(residentAfter < resident + bound, "RSS \(resident >> 20) MiB → \(residentAfter >> 20) MiB (bound +\(bound >> 20) MiB)")
        }
        print("hygiene: smallest leak \(smallestLeak >> 20) MiB; \(sessionCount) sessions: fds \(fileDescriptors) → \(fileDescriptorsAfter), threads \(threads) → \(threadsAfter), RSS \(resident >> 20) → \(residentAfter >> 20) MiB")
    }
}
