import ArgumentParser
import DemandFormat
import DemandIO
import DemandLayer
import DemandTensor
import DemandZoo
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time the loading policies side by side on one model, in one run.",
        discussion: """
            Runs every policy on the same input, one round at a time, and prints one row
            per policy: latency (min/median/max over the rounds), the process's peak RSS
            while that policy ran (the mark is reset before each), the most bytes the
            kernels' own scratch held at once (packing and transform buffers, per thread;
            outside the budget, inside the RSS), the most weight bytes
            held at once (both arenas: the read ring and, for float16 weights, the
            widening ring), bytes read per run, the read bandwidth while reads were in
            flight, and the restore stage's time per run (checking checksums, widening
            float16 weights to float32; the read stage sums each chunk's CRC-32C as it
            lands, so restore mostly joins sums). Then a summary:

              io_only_ms    read every layer through the same engine, no execution
              bound_ms      max(resident median, io_only): no pipeline can beat it
              efficiency    bound / pipelined median (1.0: loading fully hidden)
              hidden_pct    (linear - pipelined) / min(resident, io_only)
              overhead_pct  pipelined median against resident median
              memory_reduction_pct
                            1 - pipelined peak weight bytes / bulk's

            With --budget, each budget gets its own pipelined row, planned (see
            `demandlayer plan --help`): the budget counts every weight byte held (ring +
            resident layers + held parts of split layers). One profile is measured before
            the rounds and every budget plans with it; `pred ms` is the plan's predicted
            latency (a lower bound), and the summary ends with the memory-delay curve:
            per budget, predicted against measured median, and efficiency. The summary's
            efficiency and overhead compare the first budget (else the first depth).

            Policies:
              resident   weights read once when the session opens: pure compute
              bulk       read every layer, then run every layer
              linear     read one layer, run it, then the next: no overlap
              deepeye    the layers before the first fully connected one (Gemm or
                         MatMul with a weight) as linear; that layer and the rest
                         read from the start of the run by a second reader into
                         their own arena
              partial    every layer queued for reading at the start (up to the
                         queue depth in flight), into an arena for the whole
                         model; each layer runs as soon as it is in
              pipelined  this runtime: read, restore and execute overlap
              mmap       map the files; their page cache is dropped before each run

            With --models A,B,C and one --budget, the bench serves several models at once
            instead: client threads (--clients) send requests (--arrivals: a closed loop,
            or poisson:R/s) for --duration under each setup (--setups): 'alone' (each
            model by itself, planned with the whole budget: the baseline), 'shared' (one
            Runtime: the models share the budget's ring, a scheduler picks the next
            request, --scheduling), 'separate' (a planned session per model, each with
            budget/N) and 'resident' (every weight held). Per setup and model: requests,
            latency p50/p95/p99 from arrival to outputs, service p50 (shared: from the
            request's turn to execute to its outputs), both over the model's p50 alone,
            and throughput; per setup, peak weight bytes, peak RSS and the kernels' peak
            scratch. Every output must
            equal the resident one (else alone's) bit for bit.
              demandlayer bench --models resnet152,yolov3,vgg16 --budget 128MiB \
                  --clients 4 --arrivals poisson:1/s --duration 30s

            Every policy must give bit-identical outputs; the bench checks, and fails if
            not. Progress goes to standard error; standard output carries only the table
            or the JSON.
            """
    )

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: ArgumentHelp("Prefetch depth for unplanned pipelined rows: the ring is sized to hold the executing layer and at least this many ahead, every layer read whole. A list sweeps: 1,2,4,8. Default 2, or none when --budget is given (give both to compare unplanned and planned side by side).", valueName: "n[,n...]"))
    var depth: String?

    @Option(name: .long, help: ArgumentHelp("Whole weight budget for pipelined (suffixes K, M, G, KiB, MiB, GiB): ring + layers held resident + held parts of split layers. Each budget is planned (see `demandlayer plan --help`) and gets its own pipelined row; a list sweeps the memory-delay curve: 16MiB,32MiB,64MiB. Without it, pipelined is unplanned: a ring for --depth layers ahead, every layer read whole.", valueName: "bytes[,bytes...]"))
    var budget: String?

    @Option(name: .long, help: "Rounds: in each, every policy opens a session, runs once to warm up, runs once timed, and closes; the order rotates between rounds.")
    var runs: Int = 5

    @Option(name: .long, help: ArgumentHelp("Policies to run, comma-separated: resident, bulk, linear, deepeye, partial, pipelined, mmap (all by default).", valueName: "list"))
    var policies: String = "resident,bulk,linear,deepeye,partial,pipelined,mmap"

    @OptionGroup var engineOptions: EngineOptions

    @OptionGroup(title: "Several models at once") var workload: WorkloadOptions

    @Option(name: .long, help: ArgumentHelp("Largest single read request (suffixes K, M); a larger layer is split into several in flight.", valueName: "bytes"))
    var requestSize: String = "512K"

    @Option(name: .long, help: "Most read requests in flight at once.")
    var queueDepth: Int = 16

    @Flag(name: .long, help: "Print one JSON object instead of the table.")
    var json = false

    @Option(name: .long, help: ArgumentHelp("Write a Chrome/Perfetto trace of the last run of each policy.", valueName: "file"))
    var trace: String?

    /// The --depth list; [2] when neither --depth nor --budget is given.
    var depths: [Int] { (depth ?? "2").split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }
    /// Unplanned pipelined rows, one per depth: asked for, or the default when no budget is.
    var unplannedDepths: [Int] { depth != nil || budget == nil ? depths : [] }
    /// The --budget list in bytes; empty without --budget. Valid once `validate()` has passed.
    var budgets: [Int] { (try? Self.budgetList(budget)) ?? [] }

    static func budgetList(_ text: String?) throws -> [Int] {
        guard let text else { return [] }
        return try text.split(separator: ",").map { try parseBytes(String($0).trimmingCharacters(in: .whitespaces)) }
    }
    var policyList: [Policy] { policies.split(separator: ",").compactMap { Policy(rawValue: $0.trimmingCharacters(in: .whitespaces)) } }

    func validate() throws {
        guard !depths.isEmpty, depths.count == (depth ?? "2").split(separator: ",").count else {
            throw ValidationError("--depth takes whole numbers separated by commas, e.g. 2 or 1,2,4 (got '\(depth ?? "")')")
        }
        guard depths.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--depth must be at least 1: it is how many layers load ahead of the one executing (for no overlap, the linear policy is already in the table)")
        }
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
        let names = policies.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        for name in names where Policy(rawValue: name) == nil {
            throw ValidationError("unknown policy '\(name)'; choose from \(Policy.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let budget {
            let list = try Self.budgetList(budget)
            guard !list.isEmpty, list.allSatisfy({ $0 > 0 }) else {
                throw ValidationError("--budget takes positive byte counts separated by commas, e.g. 64MiB or 16M,32M,64M (got '\(budget)')")
            }
        }
        let request = try parseBytes(requestSize)
        guard request >= 4096, request % 4096 == 0 else { throw ValidationError("--request-size must be a multiple of 4096 bytes (got \(requestSize))") }
        guard (1...1024).contains(queueDepth) else { throw ValidationError("--queue-depth must be between 1 and 1024") }
        try workload.validate(budgets: budgets)
    }

    func run() throws {
        if workload.models != nil { return try serveWorkload() }
        let model = try ModelLocator.open(modelOptions.model, cache: modelOptions.cache)
        var options = SessionOptions(io: engineOptions.engine, threadCount: engineOptions.threads,
                                     requestBytes: try parseBytes(requestSize), queueDepth: queueDepth)
        options.placement = engineOptions.placement
        let budgets = policyList.contains(.pipelined) ? self.budgets : []
        let inputs = Self.seededInputs(for: model)
        var traceFile = trace.map { _ in Trace() }

        // Every configuration, plus the read-only probe, runs once per round; the
        // order rotates each round, so drift on a shared machine spreads evenly
        // instead of landing on whichever policy ran last.
        let configurations = try Self.configurations(model, options: options, policies: policyList, depths: unplannedDepths, budgets: budgets)
        var accumulators = configurations.map { Accumulator(options: $0) }
        var probeOptions = options
        probeOptions.depth = depths[0]
        probeOptions.budgetBytes = budgets.first
        var ioOnlyTimes: [Double] = []
        var ioOnlyEngine: (IOEngineKind, Bool)?
        for round in 0..<runs {
            status("round \(round + 1)/\(runs)")
            let order = Array(0...configurations.count)
            for slot in order[(round % order.count)...] + order[..<(round % order.count)] {
                if slot == configurations.count {
                    let probe = try ReadProbe(model: model, options: probeOptions)
                    _ = try probe.run()
                    ioOnlyTimes.append(Double(try probe.run().nanoseconds) / 1e6)
                    ioOnlyEngine = (probe.ioEngine, probe.isDirect)
                    status("  io_only: \(String(format: "%.1f", ioOnlyTimes.last!)) ms")
                } else {
                    try accumulators[slot].runOnce(model, inputs: inputs, round: round)
                }
            }
        }
        let measurements = accumulators.map { $0.measurement }
        for measurement in measurements {
            traceFile?.append(measurement.lastStats, model: model, label: measurement.label)
        }
        let ioOnly = ReadOnlyMeasurement(medianMilliseconds: median(ioOnlyTimes), engine: ioOnlyEngine!.0, isDirect: ioOnlyEngine!.1)
        let report = BenchReport(model: model, measurements: measurements, ioOnly: ioOnly, firstDepth: depths[0], firstBudget: budgets.first)
        if let trace, let traceFile {
            try traceFile.write(to: trace)
            status("trace written to \(trace)")
        }
        if json { print(try report.json()) } else { print(report.table()) }
        if let mismatch = report.outputMismatch {
            throw CommandFailure("outputs differ between policies: \(mismatch)")
        }
    }

    /// One session configuration per row: each policy once, except pipelined,
    /// which gets one row per depth (unplanned: a ring for that many layers
    /// ahead) and one per budget (planned), depths first. Planned sessions share one profile measured now, so
    /// their predictions use this minute's figures and no session profiles on
    /// opening; each budget is opened once here, so a budget below the
    /// model's least is refused before any round.
    static func configurations(_ model: Model, options: SessionOptions, policies: [Policy], depths: [Int], budgets: [Int]) throws -> [SessionOptions] {
        var profile: LayerProfile?
        if !budgets.isEmpty {
            status("profiling \(model.name) for the planner (once, under \(formatMiB(budgets.max()!)); not saved)")
            profile = try PlannerProfile.measure(model, options: options, budgetBytes: budgets.max()!)
            status("  read \(String(format: "%.2f", profile!.readBytesPerSecond / 1e9)) GB/s, kernels \(String(format: "%.1f", profile!.executeNanoseconds.reduce(0, +) / 1e6)) ms")
        }
        var configurations: [SessionOptions] = []
        for policy in policies {
            var policyOptions = options
            policyOptions.policy = policy
            policyOptions.depth = depths.first ?? 2
            guard policy == .pipelined else { configurations.append(policyOptions); continue }
            for depth in depths {
                policyOptions.depth = depth
                configurations.append(policyOptions)
            }
            if !budgets.isEmpty {
                policyOptions.profile = profile
                for budgetBytes in budgets {
                    policyOptions.budgetBytes = budgetBytes
                    let session = try Session(model: model, options: policyOptions)
                    session.close()
                    configurations.append(policyOptions)
                }
            }
        }
        return configurations
    }

    /// Time during which at least one read was in flight (the union of the layers' read spans).
    /// For mmap the reads happen as page faults while restore checksums the
    /// mapped bytes, so its restore spans stand for its reads.
    static func readActiveNanoseconds(_ stats: InferenceStats) -> UInt64 {
        let spans = stats.layers.map { stats.policy == .mmap ? $0.restore : $0.read }.filter { $0.endNanoseconds > $0.startNanoseconds }
            .sorted { $0.startNanoseconds < $1.startNanoseconds }
        var total: UInt64 = 0
        var current: (UInt64, UInt64)?
        for span in spans {
            if let (start, end) = current, span.startNanoseconds <= end {
                current = (start, max(end, span.endNanoseconds))
            } else {
                if let (start, end) = current { total += end - start }
                current = (span.startNanoseconds, span.endNanoseconds)
            }
        }
        if let (start, end) = current { total += end - start }
        return total
    }

    /// Deterministic inputs, the same for every policy: float inputs uniform
    /// in [-1, 1); integer inputs (token ids, masks) whole numbers in
    /// [0, bound), where bound is the smallest weight table a Gather indexes
    /// with the input, else 2. One SplitMix64 draw per element, seed 42, inputs in
    /// manifest order (Tools/bench_vs_onnxruntime.py makes the same).
    static func seededInputs(for model: Model) -> [String: Tensor] {
        var random = SeededRandom(seed: 42)
        var inputs: [String: Tensor] = [:]
        for input in model.manifest.inputs {
            let tensor = Tensor(zeros: input.shape)
            random.fill(tensor.buffer, bound: 1)
            if input.dtype == .int64 || input.dtype == .int32 {
                let bound = Float(integerBound(of: input.name, in: model))
                for index in tensor.buffer.indices {
                    tensor.buffer[index] = min((tensor.buffer[index] * 0.5 + 0.5) * bound, bound - 1).rounded(.down)
                }
            }
            inputs[input.name] = tensor
        }
        return inputs
    }

    /// The smallest dimension of a weight a Gather indexes with `name`, else 2.
    static func integerBound(of name: String, in model: Model) -> Int {
        var bound: Int?
        for layer in model.manifest.layers {
            for node in layer.nodes where node.op == "Gather" && node.inputs.count > 1 && node.inputs[1] == name {
                guard let data = layer.weights.first(where: { $0.name == node.inputs[0] })?.shape else { continue }
                var axis = 0
                if case .int(let value) = node.attributes["axis"] { axis = value }
                if axis < 0 { axis += data.rank }
                guard data.dims.indices.contains(axis) else { continue }
                bound = min(bound ?? .max, data[axis])
            }
        }
        return max(bound ?? 2, 1)
    }
}

/// "64M", "1.5G", "4096" → bytes.
func parseBytes(_ text: String) throws -> Int {
    let units: [Character: Double] = ["K": 1024, "M": 1_048_576, "G": 1_073_741_824]
    var number = text.uppercased()
    if number.hasSuffix("IB") || number.hasSuffix("B") { number = String(number.dropLast(number.hasSuffix("IB") ? 2 : 1)) }
    var scale = 1.0
    if let last = number.last, let unit = units[last] { scale = unit; number.removeLast() }
    guard let value = Double(number), value > 0 else {
        throw ValidationError("'\(text)' is not a byte count; write e.g. 33554432, 32M or 1.5G")
    }
    return Int(value * scale)
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// One policy's figures, gathered one round at a time.
struct Accumulator {
    let options: SessionOptions
    var latencies: [Double] = []
    var restoreTimes: [Double] = []
    var peakResidentBytes = 0
    var peakKernelScratchBytes = 0
    var peakWeightBytes = 0
    var arenaBytes = 0
    var plan: StreamPlan?
    var heldBytes = 0
    var outputs: [String: [Float]] = [:]
    var stats: InferenceStats?
    var engine: IOEngineKind?
    var isDirect = false
    var pinnedCPUs: (execute: Int, stages: Int)?

    init(options: SessionOptions) { self.options = options }

    var label: String {
        guard options.policy == .pipelined else { return options.policy.rawValue }
        return options.budgetBytes.map { "pipelined budget \(formatMiB($0))" } ?? "pipelined (depth \(options.depth))"
    }

    /// Opens a session (not timed), runs once to warm up, once timed, and closes it.
    mutating func runOnce(_ model: Model, inputs: [String: Tensor], round: Int) throws {
        ProcessMemory.resetPeak()
        let session = try Session(model: model, options: options)
        defer { session.close() }
        let warmOutputs = try session.run(inputs)
        if round == 0 { outputs = warmOutputs.mapValues(\.array) }
        _ = try session.run(inputs)
        let stats = session.lastStats!
        latencies.append(stats.latencyMilliseconds)
        restoreTimes.append(Double(stats.layers.reduce(0) { $0 + $1.restore.durationNanoseconds }) / 1e6)
        peakWeightBytes = max(peakWeightBytes, stats.peakWeightBytes)
        peakResidentBytes = max(peakResidentBytes, ProcessMemory.peakResidentBytes)
        peakKernelScratchBytes = max(peakKernelScratchBytes, ProcessMemory.peakKernelScratchBytes)
        arenaBytes = session.arenaBytes
        plan = session.streamPlan
        heldBytes = session.heldBytes
        engine = session.ioEngine
        isDirect = session.isDirect
        pinnedCPUs = session.pinnedCPUs
        self.stats = stats
        status("  \(label): \(String(format: "%.1f", stats.latencyMilliseconds)) ms")
    }

    var measurement: Measurement {
        Measurement(
            policy: options.policy, depth: options.policy == .pipelined && plan == nil ? options.depth : nil,
            budgetBytes: plan?.budgetBytes ?? arenaBytes, plan: plan, heldBytes: heldBytes, latenciesMilliseconds: latencies,
            peakResidentBytes: peakResidentBytes, peakKernelScratchBytes: peakKernelScratchBytes, peakWeightBytes: peakWeightBytes,
            bytesRead: stats!.bytesRead, readActiveNanoseconds: Bench.readActiveNanoseconds(stats!),
            ioEngine: engine, isDirect: isDirect, outputs: outputs, lastStats: stats!, restoreMilliseconds: restoreTimes, pinnedCPUs: pinnedCPUs)
    }
}
