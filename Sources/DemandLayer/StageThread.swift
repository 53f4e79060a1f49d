import CURing
import Dispatch
import Glibc

/// A named, joinable pthread running one closure: the session's stage threads
/// (`dl-read`, `dl-restore`, `dl-exec`) are these.
final class StageThread: @unchecked Sendable {
    let name: String
    /// The kernel's id for the thread (/proc/self/task/ID).
    private(set) var threadID: Int32 = 0
    private var thread: pthread_t
    private var joined = false

    private final class Box {
        let name: String
        let body: () -> Void
        let cpu: Int?
        let named = DispatchSemaphore(value: 0)
        var threadID: Int32 = 0
        init(name: String, cpu: Int?, body: @escaping () -> Void) { self.name = name; self.cpu = cpu; self.body = body }
    }

    /// Starts the thread, pinned to `cpu` if given; returns once it runs and
    /// has its name. (A failed pin leaves the thread unpinned: the CPU was
    /// checked against the affinity mask when the session opened.)
    init(name: String, cpu: Int? = nil, body: @escaping () -> Void) throws(RuntimeError) {
        self.name = name
        let started = Box(name: name, cpu: cpu, body: body)
        let box = Unmanaged.passRetained(started).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { argument in
            let box = Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue()
            _ = dl_set_current_thread_name(box.name)
            box.threadID = dl_current_thread_id()
            if let cpu = box.cpu { _ = dl_pin_current_thread(Int32(cpu)) }
            box.named.signal()
            box.body()
            return nil
        }, box)
        guard result == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            throw RuntimeError(.openFailed, "cannot start the \(name) thread: \(String(cString: strerror(result)))")
        }
        self.thread = thread
        started.named.wait()   // the thread exists and has its name when init returns
        threadID = started.threadID
    }

    func join() {
        guard !joined else { return }
        joined = true
        pthread_join(thread, nil)
    }
}
