import CURing
import Foundation

/// Which CPUs a session's stage threads run on.
///
/// The execute stage does nearly all the CPU work; the read and restore
/// stages wake for each completed read and checksum what arrived. Kept apart,
/// the kernels are not interrupted by them, and keeping read and restore on
/// the CPU that takes the disk's completion interrupts spares a cross-CPU
/// wake-up per read. On the 2-vCPU test machine that took pipelined ResNet-152
/// from 150-153 ms to 145-147 ms, while the reverse placement was slower than
/// none (`bench` side by side; see the README).
public enum ThreadPlacement: Sendable, Equatable {
    /// When the kernels' threads leave a usable CPU free (`threadCount` below
    /// the usable CPUs): read and restore on the CPU that takes most of the
    /// block devices' interrupts (else the last usable one), execute on the
    /// first other usable CPU that no other open session's execute thread is
    /// pinned to (extra kernel threads are not pinned). Otherwise no pinning:
    /// the kernels need every CPU, or every such CPU already runs a session's
    /// kernels (two sessions' execute threads never share a CPU by default).
    case automatic
    /// No pinning: the kernel's scheduler places the threads.
    case unpinned
    /// Execute on `execute`, read and restore on `stages` (CPU numbers as in
    /// /proc/cpuinfo; both must be in the process's affinity mask).
    case cpus(execute: Int, stages: Int)

    /// The CPUs chosen, or nil for no pinning; an explicit choice outside the
    /// usable CPUs is an error naming them. An automatic choice claims its
    /// execute CPU (`claimed`), to be given back with `ExecuteCPUClaims.release`.
    func resolve(threadCount: Int) throws(RuntimeError) -> (cpus: (execute: Int, stages: Int), claimed: Bool)? {
        let allowed = Self.allowedCPUs()
        switch self {
        case .unpinned:
            return nil
        case .cpus(let execute, let stages):
            for cpu in [execute, stages] where !allowed.contains(cpu) {
                throw RuntimeError(.invalidOption, "CPU \(cpu) is not one this process may run on (allowed: \(allowed.map(String.init).joined(separator: ",")))")
            }
            return ((execute, stages), false)
        case .automatic:
            guard let choice = Self.automaticChoice(allowed: allowed, interrupts: Self.blockInterruptCounts(), threadCount: threadCount),
                  let execute = ExecuteCPUClaims.claim(from: choice.executeCandidates) else { return nil }
            return ((execute, choice.stages), true)
        }
    }

    /// Automatic placement's choice before claims: the stage CPU (most block
    /// interrupts, ties to the higher number) and the execute candidates in
    /// order; nil when the kernels' threads leave no CPU free.
    static func automaticChoice(allowed: [Int], interrupts: [Int: Int], threadCount: Int) -> (stages: Int, executeCandidates: [Int])? {
        guard allowed.count >= 2, threadCount < allowed.count else { return nil }
        let stages = allowed.max { (interrupts[$0] ?? 0, $0) < (interrupts[$1] ?? 0, $1) }!
        return (stages, allowed.filter { $0 != stages })
    }

    static func allowedCPUs() -> [Int] {
        var cpus = [Int32](repeating: 0, count: 1024)
        let count = Int(dl_allowed_cpus(&cpus, Int32(cpus.count)))
        return cpus.prefix(count).map(Int.init)
    }

    /// Interrupts taken so far per CPU by block devices (virtio-blk request
    /// queues, NVMe queues), from /proc/interrupts; empty where it cannot be read.
    static func blockInterruptCounts(_ text: String? = try? String(contentsOfFile: "/proc/interrupts", encoding: .utf8)) -> [Int: Int] {
        guard let text else { return [:] }
        let lines = text.split(separator: "\n")
        guard let header = lines.first else { return [:] }
        let columns = header.split(separator: " ").compactMap { $0.hasPrefix("CPU") ? Int($0.dropFirst(3)) : nil }
        var counts: [Int: Int] = [:]
        for line in lines.dropFirst() where line.contains("-req.") || line.contains("nvme") {
            let fields = line.split(separator: " ").dropFirst()   // "NN:" label
            for (column, field) in zip(columns, fields) {
                guard let value = Int(field) else { break }
                counts[column, default: 0] += value
            }
        }
        return counts
    }
}

/// The CPUs that open sessions' execute threads were automatically pinned to,
/// process-wide, so a second session does not put its kernels on the same CPU.
enum ExecuteCPUClaims {
    // An NSLock (a pthread mutex, which ThreadSanitizer understands) rather
    // than Synchronization.Mutex, whose futex the sanitizer cannot see.
    private static let lock = NSLock()
    nonisolated(unsafe) private static var held: Set<Int> = []

    /// Claims the first of `candidates` no session holds; nil if all are held.
    static func claim(from candidates: [Int]) -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard let cpu = candidates.first(where: { !held.contains($0) }) else { return nil }
        held.insert(cpu)
        return cpu
    }

    static func release(_ cpu: Int) {
        lock.lock(); defer { lock.unlock() }
        held.remove(cpu)
    }
}
