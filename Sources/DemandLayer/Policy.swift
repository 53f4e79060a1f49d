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
    /// Convolutional part linear, fully connected part read in the background:
    /// the layers from the first one whose Gemm or MatMul reads a weight to the
    /// end are read from the start of each run, by a reader thread of their own,
    /// into an arena of their own, while the layers before them are read, run
    /// and released one at a time as under `linear`. Holds the largest layer
    /// before the fully connected part plus the whole fully connected part
    /// (see `BackgroundReader`).
    case deepeye
    /// Every layer read greedily at the start of each run into an arena for
    /// the whole model (every region taken and every read queued at once),
    /// while execute runs each layer as soon as its bytes are in: bulk's
    /// memory with the pipeline's overlap. Its several readers are the
    /// requests the one IO engine keeps in flight (`queueDepth`, across
    /// layers): on one SSD, reader threads would buy no more than that queue
    /// does and would take a core from the kernels (`pread` reads one at a time).
    case partial
    /// Read, restore and execute overlap on three threads, with up to `depth`
    /// layers loaded ahead of the one executing, inside `budget` bytes.
    case pipelined
    /// Map the layer files and let page faults load them, as mmap-based loaders
    /// do; each file's page cache is dropped (posix_fadvise) before each run.
    case mmap

    /// The policy's name, as the CLI spells it (`pipelined`).
    public var description: String { rawValue }
}
