import CKernels
import CURing
import DemandTensor
import DemandTestSupport
@testable import DemandLayer
import Foundation
import Testing

@Suite struct ThreadPlacementTests {
    let model = try! Model.open(Scratch.tinyModelPath)

    /// Counts only the block devices' lines (virtio-blk request queues, NVMe
    /// queues), per CPU column, and stops at a line's first non-number.
    @Test func interruptCountsComeFromBlockDeviceLinesOnly() {
        let text = """
                       CPU0       CPU1       CPU2
              1:          9          0          0   IO-APIC   1-edge      i8042
             34:        343          0          0   PCI-MSIX-0000:00:05.0   1-edge      virtio4-input.0
             36:          0   12872985          7   PCI-MSIX-0000:00:02.0   1-edge      virtio1-req.0
             40:        100          0        250   PCI-MSI 1-edge      nvme0q1
             41:          5
            LOC:    1000000    2000000    3000000   Local timer interrupts
            """
        #expect(ThreadPlacement.blockInterruptCounts(text) == [0: 100, 1: 12_872_985, 2: 257])
        #expect(ThreadPlacement.blockInterruptCounts("") == [:])
    }

    /// Automatic placement: read and restore where the disk's interrupts go,
    /// execute elsewhere; nothing when the kernels want every CPU.
    @Test func automaticChoiceFollowsTheDiskInterrupts() {
        let choice = ThreadPlacement.automaticChoice(allowed: [0, 1, 2, 3], interrupts: [2: 900, 0: 10], threadCount: 1)
        #expect(choice?.stages == 2 && choice?.executeCandidates == [0, 1, 3])
        #expect(ThreadPlacement.automaticChoice(allowed: [0, 1], interrupts: [:], threadCount: 1)?.stages == 1, "no interrupts seen: the last CPU")
        #expect(ThreadPlacement.automaticChoice(allowed: [0, 1], interrupts: [:], threadCount: 2) == nil)
        #expect(ThreadPlacement.automaticChoice(allowed: [3], interrupts: [3: 5], threadCount: 1) == nil)
    }

    /// Claims are exclusive until released (CPU numbers no session uses).
    @Test func executeCPUClaimsAreExclusive() {
        #expect(ExecuteCPUClaims.claim(from: [1000, 1001]) == 1000)
        #expect(ExecuteCPUClaims.claim(from: [1000, 1001]) == 1001)
        #expect(ExecuteCPUClaims.claim(from: [1000, 1001]) == nil)
        ExecuteCPUClaims.release(1000)
        #expect(ExecuteCPUClaims.claim(from: [1000, 1001]) == 1000)
        ExecuteCPUClaims.release(1000)
        ExecuteCPUClaims.release(1001)
    }

    /// Pinned stage threads run where they were put, and compute what unpinned ones do.
    @Test(.enabled(if: ThreadPlacement.allowedCPUs().count >= 2, "pinning needs two usable CPUs; this process has one"))
    func pinnedStageThreadsRunWherePut() throws {
        let allowed = ThreadPlacement.allowedCPUs()
        var options = SessionOptions(policy: .pipelined)
        options.placement = .cpus(execute: allowed[0], stages: allowed[1])
        let session = try Session(model: model, options: options)
        defer { session.close() }
        let cpus = try #require(session.pinnedCPUs)
        #expect(cpus.execute == allowed[0] && cpus.stages == allowed[1])
        // Each stage thread's affinity, as the kernel reports it.
        func allowedList(_ thread: Int32) -> String? {
            guard let status = try? String(contentsOfFile: "/proc/self/task/\(thread)/status", encoding: .utf8) else { return nil }
            return status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") }
                .map { $0.dropFirst("Cpus_allowed_list:".count).trimmingCharacters(in: .whitespaces) }
        }
        func name(_ thread: Int32) -> String? {
            (try? String(contentsOfFile: "/proc/self/task/\(thread)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var seen: [String: String] = [:]
        for thread in session.pipeline.threadIDs {
            if let name = name(thread), let list = allowedList(thread) { seen[name] = list }
        }
        #expect(seen == ["dl-exec": "\(cpus.execute)", "dl-read": "\(cpus.stages)", "dl-restore": "\(cpus.stages)"])
        // And the pinned session still computes what an unpinned one does.
        var unpinnedOptions = SessionOptions(policy: .pipelined)
        unpinnedOptions.placement = .unpinned
        let unpinned = try Session(model: model, options: unpinnedOptions)
        defer { unpinned.close() }
        #expect(unpinned.pinnedCPUs.map { "\($0)" } == nil)
        #expect(try session.run(tinyInputs())["softmax0.out"]!.array == unpinned.run(tinyInputs())["softmax0.out"]!.array)
    }

    /// Kernel threads started from a pinned execute thread do not inherit its
    /// pin. (No session here asks for more kernel threads: the OpenBLAS count
    /// is process-wide, and other tests compare outputs made meanwhile.)
    @Test(.enabled(if: ThreadPlacement.allowedCPUs().count >= 2, "pinning needs two usable CPUs; this process has one"),
          .enabled(if: BLAS.Path.best != .openBLAS, "the dl-sgemm pool exists only on CKernels' AVX2, AVX-512 and NEON paths; none is available (CPU or environment)"))
    func kernelThreadsAreNeverConfinedToTheExecuteCPU() throws {
        let allowed = ThreadPlacement.allowedCPUs()
        // A product big enough to use the pool, run from a thread pinned to
        // one CPU, as a pinned execute thread would. The pool and its thread
        // count are process-wide and other tests use them meanwhile (a busy
        // pool runs a product on its caller alone; a session opening resets
        // the count), so it is tried until a kernel thread exists.
        defer { dl_sgemm_set_threads(Int32(SessionOptions.defaultThreadCount)) }
        nonisolated(unsafe) let a = UnsafeMutablePointer<Float>.allocate(capacity: 256 * 256)
        nonisolated(unsafe) let c = UnsafeMutablePointer<Float>.allocate(capacity: 256 * 256)
        defer { a.deallocate(); c.deallocate() }
        a.initialize(repeating: 1, count: 256 * 256)
        let cpu = Int32(allowed[0])
        func kernelThreadMasks() throws -> [(task: String, mask: String?)] {
            try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").compactMap { task in
                let comm = (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
                guard comm == "dl-sgemm", let status = try? String(contentsOfFile: "/proc/self/task/\(task)/status", encoding: .utf8) else { return nil }
                let mask = status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed:") }
                    .map { $0.dropFirst("Cpus_allowed:".count).trimmingCharacters(in: .whitespaces) }
                return (task, mask)
            }
        }
        var masks: [(task: String, mask: String?)] = []
        for _ in 0..<100 where masks.isEmpty {
            dl_sgemm_set_threads(2)
            let finished = DispatchSemaphore(value: 0)
            let thread = Thread {
                _ = dl_pin_current_thread(cpu)
                _ = dl_sgemm(256, 256, 256, a, 256, a, 256, c, 256)
                finished.signal()
            }
            thread.start()
            finished.wait()
            #expect(c[0] == 256)
            masks = try kernelThreadMasks()
        }
        let workers = masks.count
        let everyCPU = allowed.map(String.init).joined(separator: ",")
        for (task, list) in masks {
            #expect(list.map { Self.cpus(inMask: $0) } == allowed, "kernel thread \(task) may run on \(list ?? "?"), not \(everyCPU)")
        }
        #expect(workers >= 1, "the product started no kernel thread")
    }

    /// CPU numbers in a /proc Cpus_allowed hex mask ("3" → [0, 1]; groups of 8 digits split by commas).
    static func cpus(inMask mask: String) -> [Int] {
        let digits = Array(mask.replacingOccurrences(of: ",", with: "").reversed())
        var cpus: [Int] = []
        for (position, digit) in digits.enumerated() {
            guard let value = Int(String(digit), radix: 16) else { continue }
            for bit in 0..<4 where value & (1 << bit) != 0 { cpus.append(position * 4 + bit) }
        }
        return cpus
    }

    /// A second open session does not pin its kernels to a CPU another
    /// session's execute thread holds; closing gives the CPU back.
    @Test(.enabled(if: ThreadPlacement.allowedCPUs().count >= 2, "pinning needs two usable CPUs; this process has one"))
    func openSessionsNeverShareAnExecuteCPU() throws {
        let allowed = ThreadPlacement.allowedCPUs()
        var sessions: [Session] = []
        defer { for session in sessions { session.close() } }
        for _ in 0..<allowed.count {
            var options = SessionOptions(policy: .pipelined)
            options.threadCount = 1
            sessions.append(try Session(model: model, options: options))
        }
        let executeCPUs = sessions.compactMap { $0.pinnedCPUs?.execute }
        #expect(Set(executeCPUs).count == executeCPUs.count, "execute CPUs \(executeCPUs)")
        #expect(executeCPUs.count < sessions.count, "one CPU is left to read and restore, so some session runs unpinned")
        // Outputs do not depend on placement.
        let outputs = try sessions.map { try $0.run(tinyInputs())["softmax0.out"]!.array }
        #expect(Set(outputs.map { $0.map(\.bitPattern) }).count == 1)
    }

    @Test func aCPUOutsideTheAffinityMaskIsRefusedByNumber() throws {
        var options = SessionOptions(policy: .pipelined)
        options.placement = .cpus(execute: 4000, stages: 0)
        let error = try #require(throws: RuntimeError.self) { try Session(model: model, options: options) }
        #expect(error.code == .invalidOption)
        #expect(error.message.contains("CPU 4000"), "\(error.message)")
    }
}
