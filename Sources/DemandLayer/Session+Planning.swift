import DemandFormat
import DemandIO

extension Session {
    /// What a session streams: its read units, the layers split into pieces
    /// and, when the session was given a byte budget, the plan behind them.
    struct Streaming {
        var units: [ReadUnit]
        var splits: [Int: LayerSplit]
        var plan: StreamPlan?
        /// Embedding tables read in the rows each run asks for, by layer.
        var gathers: [Int: RowGather] = [:]

        /// Every layer read whole, unplanned.
        static func whole(_ model: Model) -> Streaming { Streaming(units: ReadUnit.wholeLayers(model), splits: [:], plan: nil) }
    }

    /// Whether `options` ask for a planned session: pipelined with a byte budget.
    static func isPlanned(_ options: SessionOptions) -> Bool {
        options.policy == .pipelined && options.budgetBytes != nil
    }

    /// Each layer's split, where it has one (see `LayerSplit.make`).
    static func splits(of model: Model) -> [Int: LayerSplit] {
        var splits: [Int: LayerSplit] = [:]
        for index in model.layers.indices { splits[index] = LayerSplit.make(model, layer: index) }
        return splits
    }

    /// Each layer's row gather, where it has one (see `RowGather.make`).
    static func gathers(of model: Model) -> [Int: RowGather] {
        var gathers: [Int: RowGather] = [:]
        for index in model.layers.indices { gathers[index] = RowGather.make(model, layer: index) }
        return gathers
    }

    /// The planner's view of each layer, with execute times from `profile`.
    /// A row-gathered table counts the most a run reads, and is not held
    /// resident; its layer's other weights are held outside the plan (`heldOutsidePlan`).
    /// Without `allowsResident` (a session inside a `Runtime`, whose ring the
    /// other models share), no layer may be held resident.
    static func costs(of model: Model, splits: [Int: LayerSplit], gathers: [Int: RowGather] = [:], profile: LayerProfile,
                      allowsResident: Bool = true) -> [LayerCost] {
        model.layers.indices.map { index in
            if let gather = gathers[index] {
                var cost = LayerCost(byteCount: gather.worstCaseBytes, executeNanoseconds: profile.executeNanoseconds[index])
                cost.canBeResident = false
                return cost
            }
            var cost = LayerCost(byteCount: model.layers[index].byteCount, executeNanoseconds: profile.executeNanoseconds[index],
                                 split: splits[index]?.cost)
            cost.canBeResident = allowsResident && Widening.widenedBytes(of: model.layers[index]) == 0
            return cost
        }
    }

    /// The smallest budget `model` runs in, planned with `profile`'s costs
    /// (with the widening ring of a pipelined session unless `countsWidening`
    /// is false: a runtime's sessions hold theirs in its held reserve).
    package static func minimumBudget(_ model: Model, profile: LayerProfile, allowsResident: Bool = true, countsWidening: Bool = true) -> Int {
        let gathers = gathers(of: model)
        return Planner.minimumBudget(costs(of: model, splits: splits(of: model), gathers: gathers, profile: profile, allowsResident: allowsResident))
            + heldOutsidePlan(gathers) + (countsWidening ? Widening.ringBytes(of: model, policy: .pipelined) : 0)
    }

    /// Bytes row-gathered layers hold besides their tables (held from open, outside the plan's own count).
    static func heldOutsidePlan(_ gathers: [Int: RowGather]) -> Int {
        gathers.values.reduce(0) { total, gather in total + gather.held.reduce(0) { $0 + $1.count } }
    }

    /// The plan for `budget`, or the error naming the smallest budget.
    static func streaming(_ model: Model, budget: Int, profile: LayerProfile, allowsResident: Bool = true,
                          wideningBytes: Int = 0) throws(RuntimeError) -> Streaming {
        let splits = splits(of: model)
        let gathers = gathers(of: model)
        let costs = costs(of: model, splits: splits, gathers: gathers, profile: profile, allowsResident: allowsResident)
        // Held outside the read ring the planner sizes: the row-gathered tables'
        // other weights, and the ring float16 and quantized weights are widened into.
        let outside = heldOutsidePlan(gathers) + wideningBytes
        guard budget > outside, var plan = Planner.plan(costs, budgetBytes: budget - outside, readBytesPerNanosecond: profile.readBytesPerSecond / 1e9) else {
            let minimum = Planner.minimumBudget(costs) + outside
            var largest = ""
            if let index = model.layers.indices.filter({ splits[$0] == nil && gathers[$0] == nil }).max(by: { model.layers[$0].byteCount < model.layers[$1].byteCount }) {
                largest = "; the largest layer that cannot be split is layer \(index) '\(model.layers[index].name)' (\(model.layers[index].byteCount) bytes)"
            }
            throw RuntimeError(.budgetTooSmall, "a budget of \(budget) bytes is below the smallest budget this model runs in: \(minimum) bytes (\(ByteText.mebibytes(minimum)))\(largest)")
        }
        plan.budgetBytes = budget
        plan.weightBytes += outside
        var units: [ReadUnit] = []
        var used: [Int: LayerSplit] = [:]
        for index in model.layers.indices {
            if let gather = gathers[index] {
                units.append(gather.plannedUnit)
            } else if plan.resident[index] {
                units.append(.resident(layer: index))
            } else if plan.pieces[index] > 1, let split = splits[index] {
                units += split.units(pieces: plan.pieces[index])
                used[index] = split
            } else {
                units.append(.whole(model, layer: index))
            }
        }
        return Streaming(units: units, splits: used, plan: plan, gathers: gathers)
    }

    /// Every layer whole, but those larger than half of `budget` in pieces of
    /// at most a quarter of it (where they can be split); no plan.
    static func simpleStreaming(_ model: Model, budget: Int) -> (streaming: Streaming, ringBytes: Int) {
        let splits = splits(of: model)
        let pieceBytes = max(budget / 4, 1)
        var units: [ReadUnit] = []
        var used: [Int: LayerSplit] = [:]
        for index in model.layers.indices {
            if let split = splits[index], model.layers[index].byteCount > budget / 2 {
                let pieces = max(2, min(split.cost.granuleCount, (split.streamed.count + pieceBytes - 1) / pieceBytes))
                units += split.units(pieces: pieces)
                used[index] = split
            } else {
                units.append(.whole(model, layer: index))
            }
        }
        let largest = units.map(\.byteCount).max() ?? 0
        let ring = max(Layout.roundUp(budget, to: Layout.fileAlignment), largest, Layout.fileAlignment)
        return (Streaming(units: units, splits: used, plan: nil), ring)
    }

    /// The profile a planned session plans with: the one in its options, else
    /// the one saved beside the model (if it is for this model and thread
    /// count), else one measured now and saved there (if the directory is writable).
    static func profile(for model: Model, options: SessionOptions) throws(RuntimeError) -> LayerProfile {
        if let profile = options.profile { return profile }
        if let saved = LayerProfile.load(for: model, threadCount: options.threadCount) { return saved }
        let measured = try LayerProfile.measure(model, options: options)
        try? measured.save(for: model)
        return measured
    }
}

/// Byte counts as people read them.
enum ByteText {
    static func mebibytes(_ bytes: Int) -> String {
        let value = Double(bytes) / Double(1 << 20)
        return value >= 100 ? String(format: "%.0f MiB", value) : String(format: "%.1f MiB", value)
    }
}
