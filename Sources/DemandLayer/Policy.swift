/// How a session gets weights from disk to the kernels. Every policy runs the
/// same kernels in the same order, so all give bit-identical outputs.
public enum Policy: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Weights read and verified once when the session opens, then held: pure
    /// compute per inference, the lower bound on latency and the upper bound on memory.
    case resident
    /// Read every layer, then execute every layer: all weights held at once.
    case bulk
    /// Read a layer, run it, release it, read the next: least memory, no overlap.
    case linear
    /// Read, restore and execute overlap on three threads, with up to `depth`
    /// layers loaded ahead of the one executing, inside `budget` bytes.
    case pipelined
    /// Map the layer files and let page faults load them, as mmap-based loaders
    /// do; each file's page cache is dropped (posix_fadvise) before each run.
    case mmap

    /// The policy's name, as the CLI spells it (`pipelined`).
    public var description: String { rawValue }
}
