import DemandFormat
import DemandIO
@testable import DemandLayer
import DemandTestSupport
import Dispatch
import Foundation
import Synchronization

/// Which reads a session's engine should spoil, changeable between runs from
/// the test thread. `wrapper` goes into `SessionOptions.engineWrapper`; the
/// engines it makes ask the plan about each request on the read thread.
final class FaultPlan: Sendable {
    enum Target: Sendable {
        case nothing
        /// The read of `fd` starting at `offsetBytes` fails with `errno`.
        case fail(fd: Int32, offsetBytes: Int64, errno: Errno)
        /// Every other request of two pages or more comes back one page short.
        case shortReads
        /// The first read of `fd` is held back this long; `stalled` is signalled as it is submitted.
        case stall(fd: Int32, nanoseconds: UInt64)
    }

    private let target = Locked<Target>(.nothing)
    private let engines = Locked<[FaultInjectingEngine]>([])
    /// Signalled on the read thread each time a stall is injected.
    let stalled = DispatchSemaphore(value: 0)

    func set(_ new: Target) { target.withLock { $0 = new } }

    /// Faults injected so far by every engine the plan made. Read it after
    /// `run` returns: the inference's end orders the read thread's counts.
    var faultsInjected: Int { engines.withLock { $0.reduce(0) { $0 + $1.faultsInjected } } }
    /// The most requests any one engine the plan made had outstanding at once (read it as `faultsInjected`).
    var mostOutstanding: Int { engines.withLock { $0.map(\.mostOutstanding).max() ?? 0 } }

    var wrapper: @Sendable (any IOEngine) -> any IOEngine {
        { [self] inner in
            // Weak: the plan keeps its engines, so a strong capture would be a cycle.
            let engine = FaultInjectingEngine(inner) { [weak self] request, number in
                self?.decide(request, number: number) ?? .none
            }
            engines.withLock { $0.append(engine) }
            return engine
        }
    }

    private func decide(_ request: ReadRequest, number: Int) -> FaultInjectingEngine.Fault {
        switch target.withLock({ $0 }) {
        case .nothing:
            return .none
        case .fail(let fd, let offsetBytes, let errno):
            return request.fd == fd && request.offsetBytes == offsetBytes ? .error(errno) : .none
        case .shortReads:
            return number % 2 == 0 && request.byteCount >= 2 * 4096 ? .short(by: 4096) : .none
        case .stall(let fd, let nanoseconds):
            guard request.fd == fd && request.offsetBytes == 0 else { return .none }
            stalled.signal()
            return .stall(nanoseconds: nanoseconds)
        }
    }
}

extension Session {
    /// Ring bytes held right now, deepeye's fully connected arena included (0 for mmap).
    var ringBytesHeld: Int { (pipeline.ring?.byteCounts.held ?? 0) + (pipeline.background?.ring.byteCounts.held ?? 0) }

    /// Read requests the schedulers (deepeye's background one too) still have in the kernel.
    var readsInFlight: Int {
        var count = pipeline.background.map { $0.scheduler.inFlightRequestCount + $0.scheduler.pendingExtentCount } ?? 0
        if case .ring(_, let scheduler) = pipeline.source { count += scheduler.inFlightRequestCount + scheduler.pendingExtentCount }
        return count
    }

    /// Whether the stage threads (three, or deepeye's four) are the ones started at open, all alive.
    func stageThreadsAlive(_ expected: [Int32]) -> Bool {
        pipeline.threadIDs == expected && expected.allSatisfy { FileManager.default.fileExists(atPath: "/proc/self/task/\($0)") }
    }
}

extension Model {
    /// The largest layer's index: the one with the most read requests.
    var largestLayerIndex: Int { layers.indices.max { layers[$0].byteCount < layers[$1].byteCount }! }
}
