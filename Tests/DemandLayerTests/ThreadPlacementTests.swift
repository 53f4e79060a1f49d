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

    @Test func automaticPinsExecuteApartFromReadAndRestore() throws {
        let allowed = ThreadPlacement.allowedCPUs()
        let session = try Session(model: model, options: SessionOptions(policy: .pipelined))
        defer { session.close() }
        guard allowed.count >= 2 else {
            #expect(session.pinnedCPUs.map { "\($0)" } == nil, "one usable CPU: nothing to keep apart")
            return
        }
        let cpus = try #require(session.pinnedCPUs)
        #expect(cpus.execute != cpus.stages)
        #expect(allowed.contains(cpus.execute) && allowed.contains(cpus.stages))
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

    @Test func aCPUOutsideTheAffinityMaskIsRefusedByNumber() throws {
        var options = SessionOptions(policy: .pipelined)
        options.placement = .cpus(execute: 4000, stages: 0)
        let error = try #require(throws: RuntimeError.self) { try Session(model: model, options: options) }
        #expect(error.code == .invalidOption)
        #expect(error.message.contains("CPU 4000"), "\(error.message)")
    }
}
