import DemandTensor
import Foundation
import Synchronization

/// One inference as it passes through the three stages.
///
/// Threads: created by the caller of `Session.run`, then touched by the read,
/// restore and execute threads in turn. Each stage writes only its own span
/// array; `outputs` is written by the execute thread only. The caller reads
/// them after `finished` is signalled, which orders every write before.
/// The first failure wins; later stages see `isFailed` and skip their work but
/// still pass every layer along so the execute stage can release its region.
final class Job: @unchecked Sendable {
    let inputs: [String: Tensor]
    let startNanoseconds: UInt64
    let deadlineNanoseconds: UInt64?
    let layerCount: Int

    let readSpans: UnsafeMutableBufferPointer<InferenceStats.Span>
    let restoreSpans: UnsafeMutableBufferPointer<InferenceStats.Span>
    let executeSpans: UnsafeMutableBufferPointer<InferenceStats.Span>
    let executeStalls: UnsafeMutableBufferPointer<UInt64>   // execute thread, per layer
    let executeBusy: UnsafeMutableBufferPointer<UInt64>     // execute thread, per layer: kernel time, summed over pieces
    var bytesRead = 0                    // read thread
    var executeStallNanoseconds: UInt64 = 0   // execute thread
    var peakWeightBytes = 0              // execute thread, at the end
    var outputs: [String: Tensor] = [:]  // execute thread
    /// The rows' extents each row-gathered layer reads in this run (read thread
    /// writes before sending the layer on; restore and execute read after).
    var gatherExtents: [Int: [ReadUnit.Extent]] = [:]
    var mappings: [UnsafeMutableRawBufferPointer] = []  // read thread maps, execute thread unmaps (mmap policy)
    /// In a `Runtime`: the job's place in the order its lane's inferences
    /// read and execute (set before it is dispatched), and when its turn to
    /// execute came (execute thread).
    var ticket = 0
    var turnNanoseconds: UInt64 = 0
    /// In a `Runtime`: the lane it runs in, and its place in the order of every lane's dispatches.
    var lane = 0
    var sequence = 0

    private let failed = Atomic<Bool>(false)
    private let failure = Mutex<RuntimeError?>(nil)
    let finished = DispatchSemaphore(value: 0)

    init(inputs: [String: Tensor], layerCount: Int, timeoutNanoseconds: UInt64?) {
        self.inputs = inputs
        self.layerCount = layerCount
        let start = Clock.now()
        self.startNanoseconds = start
        self.deadlineNanoseconds = timeoutNanoseconds.map { start + $0 }
        readSpans = .allocate(capacity: layerCount)
        restoreSpans = .allocate(capacity: layerCount)
        executeSpans = .allocate(capacity: layerCount)
        executeStalls = .allocate(capacity: layerCount)
        executeBusy = .allocate(capacity: layerCount)
        executeBusy.initialize(repeating: 0)
        for spans in [readSpans, restoreSpans, executeSpans] { spans.initialize(repeating: .init()) }
        executeStalls.initialize(repeating: 0)
    }

    deinit {
        readSpans.deallocate()
        restoreSpans.deallocate()
        executeSpans.deallocate()
        executeStalls.deallocate()
        executeBusy.deallocate()
    }

    var isFailed: Bool {
        if failed.load(ordering: .acquiring) { return true }
        if let deadline = deadlineNanoseconds, Clock.now() > deadline {
            let milliseconds = Double(deadline - startNanoseconds) / 1e6
            fail(RuntimeError(.timedOut, "the inference passed its deadline of \(milliseconds) ms and was stopped; the session is ready for the next run"))
            return true
        }
        return false
    }

    /// Records the first failure; later ones are dropped.
    func fail(_ error: RuntimeError) {
        failure.withLock { if $0 == nil { $0 = error } }
        failed.store(true, ordering: .releasing)
    }

    var error: RuntimeError? { failure.withLock { $0 } }

    /// Nanoseconds since the inference started.
    func elapsed() -> UInt64 { Clock.now() - startNanoseconds }

    func stats(policy: Policy) -> InferenceStats {
        var stats = InferenceStats(policy: policy, layerCount: layerCount)
        for index in 0..<layerCount {
            stats.layers[index] = .init(read: readSpans[index], restore: restoreSpans[index], execute: executeSpans[index],
                                        stallNanoseconds: executeStalls[index], executeBusyNanoseconds: executeBusy[index])
        }
        stats.bytesRead = bytesRead
        stats.peakWeightBytes = peakWeightBytes
        stats.executeStallNanoseconds = executeStallNanoseconds
        return stats
    }
}
