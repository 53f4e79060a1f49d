import Dispatch
import Foundation
import Synchronization

/// Runs `body(i)` for i in 0..<count on `count` threads at once and waits for all.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        Thread.detachNewThread {
            body(index)
            group.leave()
        }
    }
    group.wait()
}

/// Values appended from several threads at once. The lock sits inside a class:
/// a `Mutex` captured directly by closures that run concurrently is a
/// variable several threads access at once, which ThreadSanitizer reports.
final class Collected<Value: Sendable>: Sendable {
    private let items = Mutex<[Value]>([])
    func append(_ value: Value) { items.withLock { $0.append(value) } }
    var values: [Value] { items.withLock { $0 } }
}
