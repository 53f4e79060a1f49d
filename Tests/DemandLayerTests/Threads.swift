import Dispatch
import Foundation

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

/// Values appended from several threads at once, under an NSLock:
/// ThreadSanitizer does not see `Synchronization.Mutex`'s futex, and reported
/// appends from the runtime tests' client threads as races.
final class Collected<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Value] = []
    func append(_ value: Value) { lock.withLock { items.append(value) } }
    var values: [Value] { lock.withLock { items } }
}

/// A value behind an NSLock, with `Synchronization.Mutex`'s `withLock`: for
/// state the tests share with the runtime's threads, which ThreadSanitizer
/// must see synchronized (it does not model `Mutex`'s futex, and reported a
/// counter guarded by one as raced).
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
