import DemandFormat

/// What the stages of a session opened inside a `Runtime` tell the runtime,
/// and wait for. The runtime dispatches one inference's reads at a time into
/// its shared ring, and gives the turn to execute in the same order, so the
/// ring's regions are released in the order they were taken.
///
/// Threads: `readFinished` is called on the session's read thread,
/// `waitForTurn` and `executeFinished` on its execute thread.
protocol ExecutionTurns: AnyObject, Sendable {
    /// The read stage has taken its last region for `job` and handed every unit on.
    func readFinished(_ job: Job)
    /// Blocks until `job` may execute (every inference dispatched before it
    /// has finished), then makes the shared activation storage hold at least `activationBytes`.
    func waitForTurn(_ job: Job, activationBytes: Int)
    /// `job` has released all its regions and its outputs are copied out;
    /// called before its caller is woken.
    func executeFinished(_ job: Job)
    /// The most weight bytes held at once so far: the shared ring's peak and every model's held weights.
    var peakWeightBytes: Int { get }
}

/// What a session inside a `Runtime` is given by it when it opens.
struct RuntimeShare {
    /// The one weight ring every model of the runtime streams through.
    let ring: BufferRing
    /// The one activation storage, sized to the largest model's arena.
    let activations: ActivationStorage
    /// The runtime's scheduler (held weakly by the pipeline).
    let turns: any ExecutionTurns
    /// Where every model's execute thread and its read and restore threads run.
    let cpus: (execute: Int, stages: Int)?
    /// The model's costs, for planning its units against the shared ring.
    let profile: LayerProfile
}
