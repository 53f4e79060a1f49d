import DemandIO

/// How a session loads and runs a model.
public struct SessionOptions: Sendable {
    public var policy: Policy
    /// Layers that may be loaded ahead of the one executing (pipelined; at least 1).
    public var depth: Int
    /// Arena bytes; nil picks the smallest that lets `depth` layers be ahead.
    public var budgetBytes: Int?
    /// Which IO engine reads the layer files.
    public var io: IOEngineChoice
    /// Threads the kernels (OpenBLAS) use; the stage threads are extra.
    public var threadCount: Int
    /// Largest single read request; a larger layer is split into several in flight.
    public var requestBytes: Int
    /// Most read requests in flight at once.
    public var queueDepth: Int

    public init(policy: Policy = .pipelined, depth: Int = 2, budgetBytes: Int? = nil, io: IOEngineChoice = .auto,
                threadCount: Int = 2, requestBytes: Int = 2 << 20, queueDepth: Int = 16) {
        self.policy = policy
        self.depth = depth
        self.budgetBytes = budgetBytes
        self.io = io
        self.threadCount = threadCount
        self.requestBytes = requestBytes
        self.queueDepth = queueDepth
    }
}
