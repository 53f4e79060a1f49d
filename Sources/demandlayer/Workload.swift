import ArgumentParser
import DemandFormat
import DemandLayer
import DemandTensor
import DemandZoo
import Foundation
import Synchronization

/// `bench --models`: several models serving requests from several client
/// threads at once, under one shared budget and, for comparison, under the
/// setups a user would otherwise reach for.
struct WorkloadOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Serve several models at once instead of timing policies: built-in names or model paths, comma-separated (e.g. resnet152,yolov3,vgg16). Needs one --budget; see the discussion above.",
        valueName: "list"))
    var models: String?

    @Option(name: .long, help: ArgumentHelp(
        "How requests arrive: 'closed' (each client sends its next request as soon as the last returns) or 'poisson:R/s' (R requests a second in all, at seeded random times, each to a model chosen at random; a request's latency counts from its arrival).",
        valueName: "closed|poisson:R/s"))
    var arrivals: String = "closed"

    @Option(name: .long, help: ArgumentHelp("How long each setup serves requests (s or ms suffix).", valueName: "time"))
    var duration: String = "20s"

    @Option(name: .long, help: "Client threads sending requests.")
    var clients: Int = 4

    @Option(name: .long, help: ArgumentHelp("Which waiting request the shared runtime runs next: fifo, priority (each model's priority is its position in --models, the first highest), or shortest (the shortest predicted latency first).", valueName: "policy"))
    var scheduling: String = "fifo"

    @Option(name: .long, help: ArgumentHelp("How many requests the shared runtime executes at once, each in its own share of the ring (1: the whole ring for the one running). A list gives one shared setup per value, side by side: 1,2.", valueName: "n[,n...]"))
    var lanes: String = "1"

    /// The --lanes list; valid once `validate` has passed.
    var laneList: [Int] { lanes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    @Option(name: .long, help: ArgumentHelp("Setups to serve the workload under, in order: alone (each model by itself, one request at a time, planned with the whole budget: the baseline), shared (one runtime, one budget), separate (a planned session per model, each with budget/N), resident (a resident session per model: every weight held).", valueName: "list"))
    var setups: String = "alone,shared,separate,resident"

    @Option(name: .long, help: "Seed for the arrival times and model choices.")
    var seed: UInt64 = 1

    var modelList: [String] { (models ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
    var setupList: [Workload.Setup] { setups.split(separator: ",").compactMap { Workload.Setup(rawValue: $0.trimmingCharacters(in: .whitespaces)) } }
    /// Requests a second for poisson arrivals; nil for a closed loop. Valid once `validate()` has passed.
    var poissonRate: Double? {
        guard arrivals.hasPrefix("poisson:") else { return nil }
        var text = arrivals.dropFirst("poisson:".count)
        if text.hasSuffix("/s") { text = text.dropLast(2) }
        return Double(text)
    }
    var durationSeconds: Double {
        if duration.hasSuffix("ms") { return (Double(duration.dropLast(2)) ?? -1) / 1000 }
        return Double(duration.hasSuffix("s") ? String(duration.dropLast()) : duration) ?? -1
    }

    func validate(budgets: [Int]) throws {
        guard models != nil else { return }
        guard !modelList.isEmpty else { throw ValidationError("--models takes model names or paths separated by commas, e.g. resnet152,yolov3,vgg16") }
        guard budgets.count == 1 else { throw ValidationError("--models needs exactly one --budget: the weight budget the models share (e.g. --budget 128MiB)") }
        guard arrivals == "closed" || (poissonRate ?? 0) > 0 else {
            throw ValidationError("--arrivals takes 'closed' or 'poisson:R/s' with R > 0, e.g. poisson:2/s (got '\(arrivals)')")
        }
        guard durationSeconds > 0 else { throw ValidationError("--duration takes a time such as 30s or 500ms (got '\(duration)')") }
        guard clients >= 1 else { throw ValidationError("--clients must be at least 1") }
        guard laneList.count == lanes.split(separator: ",").count, !laneList.isEmpty, laneList.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--lanes takes whole numbers of at least 1 separated by commas, e.g. 1 or 1,2 (got '\(lanes)')")
        }
        guard Runtime.Scheduling(rawValue: scheduling) != nil else {
            throw ValidationError("unknown --scheduling '\(scheduling)'; choose from \(Runtime.Scheduling.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let names = setups.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        for name in names where Workload.Setup(rawValue: name) == nil {
            throw ValidationError("unknown setup '\(name)'; choose from \(Workload.Setup.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard !names.isEmpty else { throw ValidationError("--setups needs at least one of \(Workload.Setup.allCases.map(\.rawValue).joined(separator: ", "))") }
    }
}

/// One mixed workload served under each setup in turn.
struct Workload {
    enum Setup: String, CaseIterable {
        case alone, shared, separate, resident
    }

    /// What each request did, as its client saw it.
    struct Sample {
        var model: Int
        var latencyNanoseconds: UInt64
        var serviceNanoseconds: UInt64
        /// The most weight bytes held at once, as the setup counts them when the
        /// request finished: the model's own session (alone, separate), its
        /// weights (resident), or the whole runtime's (shared).
        var peakWeightBytes = 0
        var failed: RuntimeError?
        var outputs: [String: Tensor]?
    }

    /// One setup's figures.
    struct Result {
        var setup: Setup
        /// The shared runtime's lanes (1 for the other setups).
        var lanes = 1
        /// The setup's name in the report: its own, or "shared-Nlanes" for N lanes.
        var label: String { lanes > 1 ? "\(setup.rawValue)-\(lanes)lanes" : setup.rawValue }
        var samples: [Sample]
        var wallNanoseconds: UInt64
        var peakWeightBytes: Int
        var peakResidentBytes: Int
        /// The kernels' own scratch at its peak (outside the budget; part of peak RSS).
        var peakKernelScratchBytes = ProcessMemory.peakKernelScratchBytes
        var detail: String
    }

    let models: [Model]
    let names: [String]
    let inputs: [[String: Tensor]]
    let budgetBytes: Int
    let options: WorkloadOptions
    let sessionOptions: SessionOptions

    /// The arrivals of one setup: (seconds from the start, model), seeded.
    func arrivalTimes() -> [(Double, Int)] {
        guard let rate = options.poissonRate else { return [] }
        var random = SeededRandom(seed: options.seed)
        var times: [(Double, Int)] = []
        var clock = 0.0
        while true {
            clock += -log(max(1 - (Double(random.next() >> 11) / 9007199254740992.0), 1e-12)) / rate
            guard clock < options.durationSeconds else { return times }
            times.append((clock, min(Int((Double(random.next() >> 11) / 9007199254740992.0) * Double(models.count)), models.count - 1)))
        }
    }

    /// Serves the workload with `serve(model, inputs)` (which returns the outputs and the service time) from the client threads.
    func drive(_ serve: @escaping @Sendable (Int, [String: Tensor]) throws(RuntimeError) -> ([String: Tensor], UInt64, Int)) -> (samples: [Sample], wall: UInt64) {
        let samples = Mutex<[Sample]>([])
        let start = DispatchTime.now().uptimeNanoseconds
        let end = start + UInt64(options.durationSeconds * 1e9)
        let arrivals = arrivalTimes()
        let next = Mutex(0)
        let group = DispatchGroup()
        let inputs = self.inputs
        let count = models.count
        let closed = options.poissonRate == nil
        for client in 0..<options.clients {
            group.enter()
            Thread.detachNewThread {
                var round = 0
                while true {
                    let model: Int
                    let submitted: UInt64
                    if closed {
                        submitted = DispatchTime.now().uptimeNanoseconds
                        guard submitted < end else { break }
                        model = (client + round) % count
                        round += 1
                    } else {
                        let index = next.withLock { value -> Int in defer { value += 1 }; return value }
                        guard index < arrivals.count else { break }
                        submitted = start + UInt64(arrivals[index].0 * 1e9)
                        model = arrivals[index].1
                        let now = DispatchTime.now().uptimeNanoseconds
                        if submitted > now { usleep(useconds_t((submitted - now) / 1000)) }
                    }
                    var sample = Sample(model: model, latencyNanoseconds: 0, serviceNanoseconds: 0)
                    do throws(RuntimeError) {
                        let (outputs, service, peak) = try serve(model, inputs[model])
                        sample.outputs = outputs
                        sample.serviceNanoseconds = service
                        sample.peakWeightBytes = peak
                    } catch {
                        sample.failed = error
                    }
                    sample.latencyNanoseconds = DispatchTime.now().uptimeNanoseconds - submitted
                    samples.withLock { $0.append(sample) }
                }
                group.leave()
            }
        }
        group.wait()
        return (samples.withLock { $0 }, DispatchTime.now().uptimeNanoseconds - start)
    }

    /// Serves the workload under `setup` (`lanes`: the shared runtime's).
    func run(_ setup: Setup, lanes: Int = 1) throws -> Result {
        ProcessMemory.resetPeak()
        switch setup {
        case .alone:
            // Each model by itself, planned with the whole budget, one request at a time.
            var samples: [Sample] = []
            var peak = 0
            let start = DispatchTime.now().uptimeNanoseconds
            let rounds = max(3, Int(options.durationSeconds * 1e9 / Double(max(models.count, 1)) / 1e9))
            for (index, model) in models.enumerated() {
                var sessionOptions = self.sessionOptions
                sessionOptions.budgetBytes = budgetBytes
                let session = try Session(model: model, options: sessionOptions)
                defer { session.close() }
                _ = try session.run(inputs[index])
                for _ in 0..<min(max(rounds, 5), 9) {
                    let outputs = try session.run(inputs[index])
                    let latency = session.lastStats!.latencyNanoseconds
                    samples.append(Sample(model: index, latencyNanoseconds: latency, serviceNanoseconds: latency,
                                          peakWeightBytes: session.lastStats!.peakWeightBytes, outputs: outputs))
                    peak = max(peak, session.lastStats!.peakWeightBytes)
                }
                status("  alone \(names[index]): \(String(format: "%.1f", Double(Self.percentile(samples.filter { $0.model == index }.map(\.latencyNanoseconds), 50)) / 1e6)) ms")
            }
            return Result(setup: setup, samples: samples, wallNanoseconds: DispatchTime.now().uptimeNanoseconds - start, peakWeightBytes: peak,
                          peakResidentBytes: ProcessMemory.peakResidentBytes, detail: "one model at a time, each planned with the whole budget")
        case .shared:
            var runtimeOptions = Runtime.Options(budgetBytes: budgetBytes, scheduling: Runtime.Scheduling(rawValue: options.scheduling)!, lanes: lanes,
                                                 io: sessionOptions.io, threadCount: sessionOptions.threadCount, placement: sessionOptions.placement,
                                                 requestBytes: sessionOptions.requestBytes, queueDepth: sessionOptions.queueDepth)
            runtimeOptions.heldReserveBytes = nil
            let runtime = try Runtime(options: runtimeOptions)
            defer { runtime.close() }
            let members = try models.indices.map { try runtime.add(models[$0], name: names[$0]) }
            for (index, member) in members.enumerated() { _ = try member.run(inputs[index]) }   // warm
            runtime.resetPeak()
            let priorities = models.indices.map { models.count - $0 }
            let served = drive { model, inputs throws(RuntimeError) in
                let done = try members[model].perform(inputs, priority: priorities[model])
                return (done.outputs, done.serviceNanoseconds, done.stats.peakWeightBytes)
            }
            let rings = lanes == 1 ? "ring \(formatMiB(runtime.ringBytes))" : "\(lanes) lanes, a ring of \(formatMiB(runtime.ringBytes)) each"
            let detail = "one runtime: \(rings), held \(formatMiB(runtime.heldBytes)) of a \(formatMiB(runtime.heldReserveBytes)) reserve, activations \(formatMiB(runtime.activationBytes)), scheduling \(options.scheduling)"
            return Result(setup: setup, lanes: lanes, samples: served.samples, wallNanoseconds: served.wall, peakWeightBytes: runtime.peakWeightBytes,
                          peakResidentBytes: ProcessMemory.peakResidentBytes, detail: detail)
        case .separate, .resident:
            var sessionOptions = self.sessionOptions
            if setup == .separate {
                sessionOptions.budgetBytes = budgetBytes / models.count
            } else {
                sessionOptions.policy = .resident
            }
            // Two sessions' execute threads never share a CPU by default; these run side by side.
            sessionOptions.placement = .unpinned
            let sessions = try models.map { try Session(model: $0, options: sessionOptions) }
            defer { for session in sessions { session.close() } }
            for (index, session) in sessions.enumerated() { _ = try session.run(inputs[index]) }
            let served = drive { model, inputs throws(RuntimeError) in
                // A session serializes its runs; service is not told apart from waiting here.
                let outputs = try sessions[model].run(inputs)
                let peak = setup == .resident ? models[model].weightByteCount : sessions[model].lastStats?.peakWeightBytes ?? 0
                return (outputs, 0, peak)
            }
            let peak = setup == .resident ? models.reduce(0) { $0 + $1.weightByteCount }
                : sessions.reduce(0) { $0 + ($1.lastStats?.peakWeightBytes ?? 0) }
            let detail = setup == .resident ? "a resident session per model: every weight held"
                : "a planned session per model, each with \(formatMiB(budgetBytes / models.count)) (budget / \(models.count))"
            return Result(setup: setup, samples: served.samples, wallNanoseconds: served.wall, peakWeightBytes: peak,
                          peakResidentBytes: ProcessMemory.peakResidentBytes, detail: detail)
        }
    }

    /// The nearest-rank percentile of `values` (0 when empty).
    static func percentile(_ values: [UInt64], _ p: Double) -> UInt64 {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }
}

extension Bench {
    /// `bench --models`: serves the workload under each setup in turn and prints the report.
    func serveWorkload() throws {
        let models = try workload.modelList.map { try ModelLocator.open($0, cache: modelOptions.cache) }
        let names = zip(workload.modelList, models).map { text, model in text.contains("/") || text.hasSuffix(".dlm") ? model.name : text }
        var options = SessionOptions(io: engineOptions.engine, threadCount: engineOptions.threads,
                                     requestBytes: try parseBytes(requestSize), queueDepth: queueDepth)
        options.placement = engineOptions.placement
        let served = Workload(models: models, names: names, inputs: models.map(Bench.seededInputs), budgetBytes: budgets[0],
                              options: workload, sessionOptions: options)
        var results: [Workload.Result] = []
        for setup in workload.setupList {
            for lanes in setup == .shared ? workload.laneList : [1] {
                status("serving under '\(setup.rawValue)'\(lanes > 1 ? " with \(lanes) lanes" : "") (\(workload.duration))")
                results.append(try served.run(setup, lanes: lanes))
            }
        }
        let report = WorkloadReport(workload: served, results: results)
        print(json ? try report.json() : report.table())
        let check = report.mismatches()
        if !check.different.isEmpty {
            throw CommandFailure("\(check.different.count) of \(check.compared) outputs differ from \(report.referenceName)'s: \(Set(check.different).sorted().joined(separator: ", "))")
        }
        let failed = results.flatMap { result in result.samples.compactMap { $0.failed.map { (result.label, $0) } } }
        if let (setup, error) = failed.first {
            throw CommandFailure("\(failed.count) requests failed; the first, under '\(setup)': \(error)")
        }
    }
}
