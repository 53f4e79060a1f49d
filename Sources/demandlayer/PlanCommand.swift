import ArgumentParser
import DemandFormat
import DemandLayer
import Foundation

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show how a pipelined session would spend a weight budget, without running the model.",
        discussion: """
            A plan is how a pipelined session given --budget spends it on weights:
              resident layers  read once when the session opens and kept for good
                               (the layers whose bytes cost most read time per
                               nanosecond of kernel)
              split layers     large layers read and executed in pieces along their
                               output rows, so no piece needs the whole layer in the
                               ring; each keeps its bias and other small tensors held
              ring             what is left, rounded down to 4096 bytes: every other
                               layer, and every piece, streams through it while
                               earlier layers execute

            An embedding table (a Gather of token ids, in a model written with chunk
            checksums) is read each run only in the 16 KiB chunks its ids touch; the
            ring is sized for the most a run can ask for.

            The budget counts every weight byte the session holds: ring + resident
            layers + the held parts of split layers + for float16 and quantized
            models the widening ring their weights are restored into as float32
            (two layers' worth). (Activations are not in it.) A budget below the least the
            model can run in is refused with that least named.

            The planner chooses with a cost model and no IO: each layer's kernel time
            and the disk's read rate, from the model's profile. The profile is
            MODEL.dlm/profile.json when one was saved for this model and --threads;
            otherwise (or with --profile remeasure) it is measured now (the model runs
            a few times under the largest budget given, then is read once without
            executing) and saved there. The predicted latency is a lower bound for
            comparing plans, not a promise: `demandlayer bench --budget` measures it.

            Examples:
              demandlayer plan vgg16 --budget 64MiB
              demandlayer plan /tmp/m.dlm --budget 16M,32M,64M --json
            """
    )

    @Argument(help: ArgumentHelp("A built-in model name or a path to a NAME.dlm directory.", valueName: "name|path"))
    var model: String

    @Option(name: .long, help: ArgumentHelp("Where built-in models are kept (default: $DEMANDLAYER_CACHE, else ~/.cache/demandlayer).", valueName: "dir"))
    var cache: String?

    @Option(name: .long, help: ArgumentHelp("Whole weight budget (suffixes K, M, G, KiB, MiB, GiB); repeat it or give a comma list for several plans.", valueName: "bytes[,bytes...]"))
    var budget: [String] = []

    @Option(name: .long, help: ArgumentHelp("saved: use MODEL.dlm/profile.json when it matches, else measure; remeasure: measure now and save.", valueName: "saved|remeasure"))
    var profile: ProfileSource = .saved

    @OptionGroup var engineOptions: EngineOptions

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    enum ProfileSource: String, ExpressibleByArgument, CaseIterable {
        case saved, remeasure
    }

    /// Every budget given, in bytes, in the order given.
    func budgets() throws -> [Int] {
        try budget.flatMap { $0.split(separator: ",") }.map { try parseBytes(String($0).trimmingCharacters(in: .whitespaces)) }
    }

    func validate() throws {
        guard !budget.isEmpty else { throw ValidationError("--budget is required: the whole weight budget to plan, e.g. --budget 64MiB") }
        guard try budgets().allSatisfy({ $0 > 0 }) else { throw ValidationError("--budget must be a positive number of bytes") }
    }

    func run() throws {
        let model = try ModelLocator.open(model, cache: cache)
        let budgets = try budgets()
        var options = SessionOptions(policy: .pipelined, io: engineOptions.engine, threadCount: engineOptions.threads)
        options.placement = engineOptions.placement
        let planner = try PlannerProfile.obtain(for: model, options: options, measureBudget: budgets.max()!, remeasure: profile == .remeasure)
        options.profile = planner.profile

        var plans: [PlanReport.Entry] = []
        var refused: [String] = []
        for budgetBytes in budgets {
            options.budgetBytes = budgetBytes
            switch Self.open(model, options: options) {
            case .success(let entry): plans.append(entry)
            case .failure(let error) where error.code == .budgetTooSmall: refused.append(error.description)
            case .failure(let error): throw error
            }
        }
        let report = PlanReport(model: model, profile: planner, plans: plans)
        if json { print(try report.json()) } else if !plans.isEmpty { print(report.text()) }
        if !refused.isEmpty { throw CommandFailure(refused.joined(separator: "\nerror: ")) }
    }
}

extension PlanCommand {
    /// Opens a planned session for its plan and closes it. (A Result rather
    /// than a do/catch on the code: Swift 6.3.1 crashes compiling a typed
    /// `catch where` that rethrows other codes.)
    static func open(_ model: Model, options: SessionOptions) -> Result<PlanReport.Entry, RuntimeError> {
        Result { () throws(RuntimeError) in
            let session = try Session(model: model, options: options)
            defer { session.close() }
            return PlanReport.Entry(plan: session.streamPlan!, heldBytes: session.heldBytes)
        }
    }
}

/// The profile the planner uses, and where it came from.
struct PlannerProfile {
    let profile: LayerProfile
    /// "saved" (MODEL.dlm/profile.json), "measured, saved", "measured, not saved: why" or "measured for this bench".
    let origin: String

    /// The saved profile unless `remeasure` (or none matches); else one
    /// measured under `measureBudget` (as a session opening would) and saved.
    static func obtain(for model: Model, options: SessionOptions, measureBudget: Int, remeasure: Bool) throws -> PlannerProfile {
        if !remeasure, let saved = LayerProfile.load(for: model, threadCount: options.threadCount) {
            return PlannerProfile(profile: saved, origin: "saved")
        }
        let path = model.path + "/" + LayerProfile.fileName
        status("profiling \(model.name) (once; saved to \(path))")
        let measured = try measure(model, options: options, budgetBytes: measureBudget)
        do {
            try measured.save(for: model)
            return PlannerProfile(profile: measured, origin: "measured, saved")
        } catch {
            status("warning: the profile could not be saved to \(path): \(error.localizedDescription)")
            return PlannerProfile(profile: measured, origin: "measured, not saved")
        }
    }

    /// A profile measured now under `budgetBytes`, not saved.
    static func measure(_ model: Model, options: SessionOptions, budgetBytes: Int) throws -> LayerProfile {
        var profiling = options
        profiling.budgetBytes = budgetBytes
        return try LayerProfile.measure(model, options: profiling)
    }
}

/// `plan`'s output, as text or JSON.
struct PlanReport {
    struct Entry {
        let plan: StreamPlan
        /// The session's held arena (resident layers and split layers' held parts), as allocated.
        let heldBytes: Int
    }

    let model: Model
    let profile: PlannerProfile
    let plans: [Entry]

    func text() -> String {
        let p = profile.profile
        var lines = [
            "model      \(model.name) (\(model.path)): \(model.layers.count) layers, \(formatMiB(model.weightByteCount)) of weights, largest layer \(formatMiB(model.largestLayerByteCount))",
            "least      \(formatMiB(Session.minimumBudget(model, profile: p)))  (\(Session.minimumBudget(model, profile: p)) bytes: the smallest budget this model runs in)",
            "profile    read \(String(format: "%.2f", p.readBytesPerSecond / 1e9)) GB/s, kernels \(String(format: "%.1f", p.executeNanoseconds.reduce(0, +) / 1e6)) ms, \(p.threadCount) kernel thread\(p.threadCount == 1 ? "" : "s"), cpu \(p.cpu) (\(profile.origin))",
        ]
        for entry in plans {
            let plan = entry.plan
            let residentBytes = plan.residentLayers.reduce(0) { $0 + model.layers[$1].byteCount }
            let splitHeldBytes = plan.weightBytes - plan.ringBytes - residentBytes
            lines += [
                "",
                "budget     \(formatMiB(plan.budgetBytes))  (\(plan.budgetBytes) bytes)",
                "ring       \(formatMiB(plan.ringBytes))",
                "held       \(formatMiB(entry.heldBytes))  (resident layers \(formatMiB(residentBytes)), split layers' held parts \(formatMiB(splitHeldBytes)))",
                "planned    \(formatMiB(plan.weightBytes)) of the budget",
                "predicted  \(String(format: "%.1f", plan.predictedNanoseconds / 1e6)) ms",
                "resident   \(plan.residentLayers.count) layer\(plan.residentLayers.count == 1 ? "" : "s")",
            ]
            for index in plan.residentLayers { lines.append(row(index, "")) }
            lines.append("split      \(plan.splitLayers.count) layer\(plan.splitLayers.count == 1 ? "" : "s")")
            for index in plan.splitLayers { lines.append(row(index, "  in \(plan.pieces[index]) pieces")) }
        }
        return lines.joined(separator: "\n")
    }

    private func row(_ index: Int, _ note: String) -> String {
        let number = String(repeating: " ", count: max(0, 6 - "\(index)".count)) + "\(index)"
        let size = formatMiB(model.layers[index].byteCount)
        return "\(number)  \(model.layers[index].name.padding(toLength: 18, withPad: " ", startingAt: 0)) \(String(repeating: " ", count: max(0, 10 - size.count)))\(size)\(note)"
    }

    struct JSON: Encodable {
        struct ModelInfo: Encodable { let name: String; let layers: Int; let weight_bytes: Int; let least_budget_bytes: Int }
        struct ProfileInfo: Encodable { let read_bytes_per_second: Double; let cpu: String; let threads: Int; let origin: String }
        let model: ModelInfo
        let profile: ProfileInfo
        let plans: [PlanJSON]
    }

    func json() throws -> String {
        let p = profile.profile
        let value = JSON(
            model: .init(name: model.name, layers: model.layers.count, weight_bytes: model.weightByteCount,
                         least_budget_bytes: Session.minimumBudget(model, profile: p)),
            profile: .init(read_bytes_per_second: p.readBytesPerSecond, cpu: p.cpu, threads: p.threadCount, origin: profile.origin),
            plans: plans.map { PlanJSON($0.plan, heldBytes: $0.heldBytes, includeBudget: true) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

/// A plan as JSON: the same object in `plan --json` and in each planned row of `bench --json`.
struct PlanJSON: Encodable {
    struct Split: Encodable { let layer: Int; let pieces: Int }
    let budget_bytes: Int?
    let resident_layers: [Int]
    let split_layers: [Split]
    let ring_bytes: Int
    let held_bytes: Int
    let predicted_ms: Double

    init(_ plan: StreamPlan, heldBytes: Int, includeBudget: Bool) {
        budget_bytes = includeBudget ? plan.budgetBytes : nil
        resident_layers = plan.residentLayers
        split_layers = plan.splitLayers.map { Split(layer: $0, pieces: plan.pieces[$0]) }
        ring_bytes = plan.ringBytes
        held_bytes = heldBytes
        predicted_ms = plan.predictedNanoseconds / 1e6
    }
}
