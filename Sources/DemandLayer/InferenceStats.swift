/// What one inference did, stage by stage. Times are nanoseconds since the
/// inference started (monotonic clock); a stage that did not run for a layer
/// has start == end == 0.
public struct InferenceStats: Sendable {
    public struct Span: Sendable {
        public var startNanoseconds: UInt64 = 0
        public var endNanoseconds: UInt64 = 0
        public var durationNanoseconds: UInt64 { endNanoseconds &- startNanoseconds }
    }

    public struct LayerTimes: Sendable {
        public var read = Span()
        public var restore = Span()
        public var execute = Span()
    }

    public var policy: Policy
    public var layers: [LayerTimes]
    /// Wall time from submission to outputs.
    public var latencyNanoseconds: UInt64 = 0
    /// Weight bytes read from storage by this inference.
    public var bytesRead: Int = 0
    /// Most weight bytes held in memory at once during this inference.
    public var peakWeightBytes: Int = 0
    /// Time the execute thread spent waiting for a layer to be ready.
    public var executeStallNanoseconds: UInt64 = 0

    public var latencyMilliseconds: Double { Double(latencyNanoseconds) / 1e6 }

    init(policy: Policy, layerCount: Int) {
        self.policy = policy
        self.layers = Array(repeating: LayerTimes(), count: layerCount)
    }
}
