import DemandIO
import Foundation

/// How a session loads and runs a model.
public struct SessionOptions: Sendable {
    /// How weights get from storage to the kernels (default `pipelined`).
    public var policy: Policy
    /// Pipelined: how many layers are sure to fit in the ring ahead of the one
    /// executing, at every point of the model (at least 1). It sets the default
    /// budget; within the budget the ring admits layers by bytes, so where
    /// layers are small more of them load ahead. This is the memory-delay knob.
    public var depth: Int
    /// Pipelined: the weight memory budget in bytes, everything included
    /// (the read ring, layers held resident, the held parts of split layers).
    /// The session plans how to spend it (`Session.streamPlan`): which layers
    /// stay resident, how big the ring is, which large layers are read and
    /// run in pieces. nil: no plan; the ring is the smallest that lets
    /// `depth` layers be ahead, and every layer is read whole.
    public var budgetBytes: Int?
    /// Pipelined with a budget: the per-layer costs to plan with. nil: the
    /// profile saved in the model directory for this thread count, else one
    /// measured when the session opens (and saved there, if it is writable).
    public var profile: LayerProfile?
    /// Which IO engine reads the layer files.
    public var io: IOEngineChoice
    /// Threads the kernels use; the stage threads are extra. The default
    /// leaves one core to the read and restore stages. The kernels' pool keeps
    /// one thread count per process: the session opened last sets it.
    /// (OpenBLAS, where it is the GEMM, runs on one thread: see `BLAS.setThreadCount`.)
    public var threadCount: Int

    /// All cores but one, and at least one.
    public static var defaultThreadCount: Int { max(1, ProcessInfo.processInfo.activeProcessorCount - 1) }
    /// Which CPUs the stage threads run on (default `.automatic`).
    public var placement: ThreadPlacement = .automatic
    /// Resident: the most bytes of transformed weights kept from run to run
    /// (default 32 MiB; 0: none). The Winograd form of a 3x3 convolution's
    /// weights is 16/9 of them (F(2x2, 3x3)) or 4 times them (F(4x4, 3x3), for
    /// up to 128 input channels on larger images); a layer whose form is kept
    /// is not transformed again at every run (layers taken in the order they
    /// run, until the next would pass the limit). Counted as kernel scratch,
    /// outside the weights. ResNet-50's take 32.5 MiB, of which the first 28.5
    /// are kept; the earlier F(2x2, 3x3) forms alone made its runs about 2%
    /// faster (one thread, Zen 4). The other policies transform at every run.
    public var transformedWeightBytes = 32 << 20
    /// Largest single read request; a larger layer is split into several in
    /// flight. The default, 512 KiB (16 in flight: 8 MiB), measured best on
    /// ResNet-152 side by side with 256 KiB to 4 MiB and 16 to 64 in flight: a
    /// smaller request lets a read start as soon as that much of the ring is
    /// free, and finishes a layer with less waiting on its slowest request.
    public var requestBytes: Int
    /// Most read requests in flight at once.
    public var queueDepth: Int
    /// Wraps the IO engine the session makes, once, before any read: for the
    /// package's tests that inject faults into reads or watch them (nil: the
    /// engine is used as made). The returned engine is used by the session's
    /// read thread only, like any engine. Not used by the mmap policy. Package
    /// access: the engine protocol is not part of the library's public API.
    package var engineWrapper: (@Sendable (any IOEngine) -> any IOEngine)?
    /// With a budget: skip the planner and stream every layer whole, but for
    /// those larger than half the budget, read in pieces of at most a quarter
    /// of it; nothing resident. What `LayerProfile.measure` times kernels
    /// with, so each layer runs as it would unplanned, cut only where it must be.
    package var streamsUnplanned = false

    /// Options with the given values; every default is what `bench` and the
    /// C API's `dl_session_options_init` use.
    public init(policy: Policy = .pipelined, depth: Int = 2, budgetBytes: Int? = nil, io: IOEngineChoice = .auto,
                threadCount: Int = SessionOptions.defaultThreadCount, requestBytes: Int = 512 << 10, queueDepth: Int = 16) {
        self.policy = policy
        self.depth = depth
        self.budgetBytes = budgetBytes
        self.io = io
        self.threadCount = threadCount
        self.requestBytes = requestBytes
        self.queueDepth = queueDepth
    }
}
