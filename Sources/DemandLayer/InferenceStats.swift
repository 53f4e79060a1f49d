/// What one inference did, stage by stage. Times are nanoseconds since the
/// inference started (monotonic clock); a stage that did not run for a layer
/// has start == end == 0.
public struct InferenceStats: Sendable {
    /// When one stage worked on one layer.
    public struct Span: Sendable {
        /// When the stage started on the layer, in nanoseconds since the inference started.
        public var startNanoseconds: UInt64 = 0
        /// When the stage finished the layer, in nanoseconds since the inference started.
        public var endNanoseconds: UInt64 = 0
        /// `endNanoseconds - startNanoseconds`.
        public var durationNanoseconds: UInt64 { endNanoseconds &- startNanoseconds }
    }

    /// What each stage did for one layer.
    public struct LayerTimes: Sendable {
        /// From taking the layer's ring region to its last byte read (empty for `resident`).
        public var read = Span()
        /// Checksum verification and making the tensor views.
        public var restore = Span()
        /// Running the layer's operators.
        public var execute = Span()
        /// Time the execute thread waited for this layer to be ready, after
        /// finishing the previous one: the stall the pipeline did not hide.
        public var stallNanoseconds: UInt64 = 0
        /// Time the layer's kernels ran: `execute`'s duration, except for a
        /// layer run in pieces, where it is the sum over the pieces (the span
        /// also covers the waits between them).
        public var executeBusyNanoseconds: UInt64 = 0
    }

    /// The policy the session ran under.
    public var policy: Policy
    /// One entry per layer, in execution order (`Model.layerNames`).
    public var layers: [LayerTimes]
    /// Wall time from submission to outputs.
    public var latencyNanoseconds: UInt64 = 0
    /// Weight bytes read from storage by this inference.
    public var bytesRead: Int = 0
    /// Most weight bytes held in memory at once during this inference.
    public var peakWeightBytes: Int = 0
    /// Time the execute thread spent waiting for a layer to be ready (the sum
    /// of every layer's `stallNanoseconds`).
    public var executeStallNanoseconds: UInt64 = 0

    /// `latencyNanoseconds` in milliseconds.
    public var latencyMilliseconds: Double { Double(latencyNanoseconds) / 1e6 }

    init(policy: Policy, layerCount: Int) {
        self.policy = policy
        self.layers = Array(repeating: LayerTimes(), count: layerCount)
    }
}
