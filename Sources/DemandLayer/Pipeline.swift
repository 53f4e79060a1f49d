import DemandFormat
import DemandIO
import DemandTensor
import Foundation

/// The bytes of one layer as they pass from read to restore to execute.
struct LoadedLayer: @unchecked Sendable {
    /// The layer's index in the model.
    let index: Int
    /// The read unit's index in `Pipeline.units` (the layer's, unless the session is planned).
    var unit: Int
    /// The ring region holding the layer (ring policies), released by execute.
    let region: BufferRing.Region?
    /// Each of the layer's files, in manifest order.
    let files: [UnsafeMutableRawBufferPointer]
    /// Each file's CRC-32C as summed by the read stage while its chunks
    /// landed; nil: restore sums the bytes itself.
    var fileChecksums: [UInt32]? = nil
    /// The widening-ring region holding its float16 and quantized weights as float32, if
    /// any; taken by restore, released by execute.
    var widened: BufferRing.Region? = nil
}

enum StageMessage: @unchecked Sendable {
    case run(Job)
    case layer(Job, LoadedLayer, weights: [String: Tensor])
    case end(Job)
    case stop
}

extension StageMessage {
    /// The inference the message belongs to (nil for stop).
    var job: Job? {
        switch self {
        case .run(let job), .layer(let job, _, _), .end(let job): job
        case .stop: nil
        }
    }
}

/// Where a policy's weight bytes come from.
enum WeightSource {
    /// Read through the IO engine into the ring (bulk, linear, deepeye, partial, pipelined).
    case ring(BufferRing, ReadScheduler)
    /// Read once at open and held; the views are made once.
    case resident(BufferRing, views: [[String: Tensor]], files: [[UnsafeMutableRawBufferPointer]])
    /// Mapped from the files at run time.
    case mapped(fds: [[Int32]])
}

/// The three stage threads and what they share.
///
/// Ownership and threads: the read thread owns the IO engine and the read
/// scheduler; the restore thread owns nothing but its inbox; the execute thread
/// owns the kernel workspace and the activations of the running inference, and
/// is the only one that releases ring regions. Stages talk only through their
/// inboxes. A deepeye session has a fourth thread, `dl-read-fc`, which owns
/// the background reader's engine and talks only to the read thread
/// (`BackgroundReader`). `stop()` sends each stage a stop message and joins them all.
final class Pipeline: @unchecked Sendable {
    let model: Model
    let policy: Policy
    let source: WeightSource
    let fileDescriptors: [[Int32]]
    /// Bytes per read request: a layer's region is taken once this much of it is free.
    let requestBytes: Int
    /// Where every node's output lives (execute thread only).
    let activationArena: ActivationArena
    /// Where float16 and quantized weights are widened; nil when the model has none.
    let widening: Widening?
    /// What the read stage reads, in order: every layer whole, or (for a
    /// planned session) resident layers, whole layers and pieces of split ones.
    let units: [ReadUnit]
    /// The split of each layer read in pieces, by layer.
    let splits: [Int: LayerSplit]
    /// Embedding tables read in the rows each run asks for, by layer.
    let gathers: [Int: RowGather]
    /// Each row-gathered table with the index of its unit in `units`.
    let gatherUnits: [(unit: Int, gather: RowGather)]
    /// Weights held for good: resident layers, and split layers' held bytes.
    let held: HeldWeights
    /// Deepeye: the reader of the fully connected part, with its own arena; nil otherwise.
    let background: BackgroundReader?

    let readInbox = Channel<StageMessage>()
    let restoreInbox = Channel<StageMessage>()
    let executeInbox = Channel<StageMessage>()
    private var threads: [StageThread] = []
    let workspace = Workspace()
    /// The runtime whose ring and activation storage this pipeline shares
    /// with other models' pipelines (nil: the session's own). Its inferences
    /// read only once the runtime dispatches them, and execute only in their
    /// turn. Set once, before the first run.
    weak var turns: (any ExecutionTurns)?
    /// Tests only: sees each layer's weight views on the execute thread. Set before `run`.
    var weightObserver: (@Sendable ([String: Tensor]) -> Void)?
    /// Resident: per layer and node, whether the node's weight is its own (see init); empty otherwise.
    private(set) var exclusiveWeights: [[Bool]] = []

    init(model: Model, policy: Policy, source: WeightSource, widening: Widening?, fileDescriptors: [[Int32]], requestBytes: Int,
         units: [ReadUnit]? = nil, splits: [Int: LayerSplit] = [:], gathers: [Int: RowGather] = [:], held: HeldWeights = .none,
         activationStorage: ActivationStorage? = nil, background: BackgroundReader? = nil, transformedWeightBytes: Int = 0) {
        self.model = model
        let units = units ?? ReadUnit.wholeLayers(model)
        self.units = units
        self.splits = splits
        self.gathers = gathers
        gatherUnits = units.indices.compactMap { index in gathers[units[index].layer].map { (index, $0) } }
        self.held = held
        self.background = background
        self.widening = widening
        self.fileDescriptors = fileDescriptors
        self.requestBytes = requestBytes
        self.policy = policy
        self.source = source
        // A fused residual Conv writes over its residual where its kernel reads each element's residual first.
        self.activationArena = ActivationArena(model: model, shared: activationStorage) { layerIndex, nodeIndex in
            let node = model.layers[layerIndex].nodes[nodeIndex]
            return model.operators[layerIndex][nodeIndex].mayWriteOverResidual(inputs: node.inputs.map { model.shapes[$0]! },
                                                                               output: model.shapes[node.outputs[0]]!)
        }
        var scratchFloats = 0
        for (layerIndex, layer) in model.layers.enumerated() {
            for (nodeIndex, node) in layer.nodes.enumerated() {
                let inputs = node.inputs.map { model.shapes[$0]! }
                scratchFloats = max(scratchFloats, model.operators[layerIndex][nodeIndex].workspaceFloatCount(inputs: inputs))
            }
        }
        workspace.reserve(floatCount: scratchFloats)
        // A resident session's weights stay where they were read for the session's life: their transformed
        // forms (Winograd's U) are made once, at the first run, and kept with them (up to SessionOptions.transformedWeightBytes).
        if policy == .resident && transformedWeightBytes > 0 {
            workspace.preparedWeights = PreparedWeights(limitBytes: transformedWeightBytes)
            // Per node: whether its weight (second input) is read by no other node, so that it may be kept
            // rearranged in place (PreparedWeights.slicedWeights).
            exclusiveWeights = model.layers.map { layer in
                let names = Set(layer.weights.map(\.name))
                var readers: [String: Int] = [:]
                for node in layer.nodes { for input in node.inputs where names.contains(input) { readers[input, default: 0] += 1 } }
                return layer.nodes.map { $0.inputs.count > 1 && readers[$0.inputs[1]] == 1 }
            }
        }
    }

    /// Starts the three stage threads (and deepeye's background reader), or
    /// none: if one cannot start, those already running are stopped and
    /// joined. With `cpus`, execute is pinned to one CPU and the others to the other.
    func start(cpus: (execute: Int, stages: Int)?) throws(RuntimeError) {
        var bodies: [(String, Int?, () -> Void)] = [
            ("dl-exec", cpus?.execute, { [self] in executeLoop() }),
            ("dl-restore", cpus?.stages, { [self] in restoreLoop() }),
            ("dl-read", cpus?.stages, { [self] in readLoop() }),
        ]
        if let background { bodies.append(("dl-read-fc", cpus?.stages, { [self] in backgroundLoop(background) })) }
        for (name, cpu, body) in bodies {
            do {
                threads.append(try StageThread(name: name, cpu: cpu, body: body))
            } catch {
                // Each stage passes `stop` on to the next, so stop from the first one running.
                switch threads.count {
                case 1: executeInbox.send(.stop)
                case 2: restoreInbox.send(.stop)
                case 3: readInbox.send(.stop)
                default: break
                }
                for thread in threads { thread.join() }
                threads = []
                throw error
            }
        }
    }

    /// The stage threads' kernel ids, while they run.
    var threadIDs: [Int32] { threads.map(\.threadID) }

    func stop() {
        readInbox.send(.stop)
        for thread in threads { thread.join() }
        threads = []
    }

    var ring: BufferRing? {
        switch source {
        case .ring(let ring, _), .resident(let ring, _, _): ring
        case .mapped: nil
        }
    }

    func layerPlace(_ index: Int) -> (index: Int, name: String) { (index, model.layers[index].name) }
}
