import DemandFormat
import DemandIO
import DemandLayer
import DemandTensor
import Foundation

struct Measurement {
    let policy: Policy
    /// Unplanned pipelined rows: the prefetch depth; nil otherwise.
    let depth: Int?
    /// Planned rows: the budget asked for; other rows: the read arena's bytes (0 for mmap).
    let budgetBytes: Int
    /// How a planned row's session spent its budget; nil for unplanned rows.
    let plan: StreamPlan?
    /// Bytes held for good outside the ring (resident layers, split layers' held parts).
    let heldBytes: Int
    let latenciesMilliseconds: [Double]
    let peakResidentBytes: Int
    /// The kernels' own scratch at its peak (outside the budget; part of peak RSS).
    let peakKernelScratchBytes: Int
    let peakWeightBytes: Int
    let bytesRead: Int
    let readActiveNanoseconds: UInt64
    let ioEngine: IOEngineKind?
    let isDirect: Bool
    let outputs: [String: [Float]]
    let lastStats: InferenceStats
    /// Per run: time the restore stage spent on the layers (checksums, and
    /// widening float16 weights), summed over layers.
    let restoreMilliseconds: [Double]
    /// The CPUs execute and read+restore were pinned to, nil if unpinned.
    let pinnedCPUs: (execute: Int, stages: Int)?

    var medianMilliseconds: Double { median(latenciesMilliseconds) }
    var label: String {
        if let plan { return "pipelined budget \(formatMiB(plan.budgetBytes))" }
        return depth.map { "pipelined depth \($0)" } ?? policy.rawValue
    }
    /// The plan's predicted latency, in milliseconds.
    var predictedMilliseconds: Double? { plan.map { $0.predictedNanoseconds / 1e6 } }
    /// Bytes read ÷ time with a read in flight, in GB/s; nil when nothing was read.
    var readGigabytesPerSecond: Double? {
        guard bytesRead > 0, readActiveNanoseconds > 0 else { return nil }
        return Double(bytesRead) / Double(readActiveNanoseconds)
    }
}

struct ReadOnlyMeasurement {
    let medianMilliseconds: Double
    let engine: IOEngineKind
    let isDirect: Bool
}

/// The bench's figures, as a table or as JSON with a fixed set of keys.
struct BenchReport {
    let model: Model
    let measurements: [Measurement]
    let ioOnly: ReadOnlyMeasurement
    let firstDepth: Int
    /// The first --budget, when pipelined rows are planned: the row the summary compares.
    let firstBudget: Int?

    private func first(_ policy: Policy) -> Measurement? {
        measurements.first { m in
            guard m.policy == .pipelined else { return m.policy == policy }
            guard policy == .pipelined else { return false }
            if let firstBudget { return m.plan?.budgetBytes == firstBudget }
            return m.depth == firstDepth
        }
    }

    /// The pipelined row the summary's efficiency and overhead refer to.
    private var firstPipelinedLabel: String {
        firstBudget.map { "pipelined budget \(formatMiB($0))" } ?? "pipelined at depth \(firstDepth)"
    }

    /// The memory-delay curve, one line per planned row: the plan's prediction
    /// against the measured median, and the efficiency at that budget.
    var curveLines: [String] {
        let bound = summary.bound
        return measurements.compactMap { m in
            guard let predicted = m.predictedMilliseconds else { return nil }
            let off = (m.medianMilliseconds - predicted) / predicted * 100
            let efficiency = bound.map { String(format: "%.3f", $0 / m.medianMilliseconds) } ?? "n/a (needs resident)"
            return String(format: "budget %@: predicted %.1f ms, measured median %.1f ms (%+.1f%% off), efficiency %@",
                          formatMiB(m.budgetBytes), predicted, m.medianMilliseconds, off, efficiency)
        }
    }

    struct Summary {
        var ioOnly: Double
        var bound: Double?
        var efficiency: Double?
        var overheadPercent: Double?
        var memoryReductionPercent: Double?
        var hiddenPercent: Double?
    }

    var summary: Summary {
        let resident = first(.resident)?.medianMilliseconds
        let pipelined = first(.pipelined)
        let bound = resident.map { max($0, ioOnly.medianMilliseconds) }
        var summary = Summary(ioOnly: ioOnly.medianMilliseconds, bound: bound)
        if let pipelined {
            summary.efficiency = bound.map { $0 / pipelined.medianMilliseconds }
            summary.overheadPercent = resident.map { (pipelined.medianMilliseconds - $0) / $0 * 100 }
            if let bulk = first(.bulk), bulk.peakWeightBytes > 0 {
                summary.memoryReductionPercent = (1 - Double(pipelined.peakWeightBytes) / Double(bulk.peakWeightBytes)) * 100
            }
            if let linear = first(.linear), let resident {
                summary.hiddenPercent = (linear.medianMilliseconds - pipelined.medianMilliseconds) / min(resident, ioOnly.medianMilliseconds) * 100
            }
        }
        return summary
    }

    /// Nil when every policy produced the same bits; else which ones differ.
    var outputMismatch: String? {
        guard let reference = measurements.first else { return nil }
        for (name, values) in reference.outputs where values.contains(where: { !$0.isFinite }) {
            return "output '\(name)' holds NaN or infinity"
        }
        for measurement in measurements.dropFirst() {
            for (name, values) in reference.outputs {
                guard let other = measurement.outputs[name], other.count == values.count else {
                    return "\(measurement.policy) is missing output '\(name)'"
                }
                let same = values.withUnsafeBytes { a in other.withUnsafeBytes { b in memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0 } }
                if !same {
                    let maxDiff = zip(values, other).map { abs($0 - $1) }.max() ?? 0
                    return "\(measurement.policy) differs from \(reference.policy) on '\(name)' (max |diff| \(maxDiff))"
                }
            }
        }
        return nil
    }

    func table() -> String {
        let engine = ioOnly.engine.rawValue + (ioOnly.isDirect ? " + O_DIRECT" : " (buffered: O_DIRECT refused)")
        var lines = [
            "model \(model.name): \(model.layers.count) layers, \(formatMiB(model.weightByteCount)) of weights, largest layer \(formatMiB(model.largestLayerByteCount))",
            "io    \(engine)",
            "cpus  " + (measurements.first?.pinnedCPUs.map { "execute on \($0.execute), read and restore on \($0.stages)" } ?? "not pinned"),
            "gemm  \(BLAS.Path.best.rawValue) on \(LayerProfile.cpuName())",
            "",
            pad(["policy", "depth", "budget", "pred ms", "min ms", "median ms", "max ms", "peak RSS", "kernel scratch", "peak weights", "read/run", "read GB/s", "restore ms"]),
        ]
        for m in measurements {
            lines.append(pad([
                m.policy.rawValue, m.depth.map(String.init) ?? "-", m.budgetBytes > 0 ? formatMiB(m.budgetBytes) : "-",
                m.predictedMilliseconds.map { String(format: "%.1f", $0) } ?? "-",
                String(format: "%.1f", m.latenciesMilliseconds.min() ?? .nan), String(format: "%.1f", m.medianMilliseconds),
                String(format: "%.1f", m.latenciesMilliseconds.max() ?? .nan),
                formatMiB(m.peakResidentBytes), formatMiB(m.peakKernelScratchBytes), formatMiB(m.peakWeightBytes), formatMiB(m.bytesRead),
                m.readGigabytesPerSecond.map { String(format: "%.2f", $0) } ?? "-",
                m.policy == .resident ? "-" : String(format: "%.1f", median(m.restoreMilliseconds)),
            ]))
        }
        let s = summary
        func f(_ value: Double?, _ format: String) -> String { value.map { String(format: format, $0) } ?? "n/a (needs resident, linear, bulk and pipelined)" }
        lines += [
            "",
            "io_only_ms            \(String(format: "%.1f", s.ioOnly))",
            "bound_ms              \(f(s.bound, "%.1f"))",
            "efficiency            \(f(s.efficiency, "%.3f"))   (\(firstPipelinedLabel))",
            "hidden_pct            \(f(s.hiddenPercent, "%.1f"))",
            "overhead_pct          \(f(s.overheadPercent, "%.1f"))",
            "memory_reduction_pct  \(f(s.memoryReductionPercent, "%.1f"))",
            "outputs               \(outputMismatch ?? "bit-identical across \(measurements.count) runs")",
        ]
        if !curveLines.isEmpty {
            lines += ["", "memory-delay curve (planned pipelined rows)"] + curveLines
        }
        return lines.joined(separator: "\n")
    }

    private func pad(_ cells: [String]) -> String {
        let widths = [10, 5, 10, 8, 8, 9, 8, 10, 12, 10, 9, 10]
        return zip(cells, widths).enumerated().map { index, pair in
            index == 0 ? pair.0.padding(toLength: pair.1, withPad: " ", startingAt: 0)
                : String(repeating: " ", count: max(0, pair.1 - pair.0.count)) + pair.0
        }.joined(separator: "  ")
    }

    // MARK: JSON: exactly the documented keys.

    struct JSON: Encodable {
        struct ModelInfo: Encodable {
            let name: String; let layers: Int; let weight_bytes: Int; let largest_layer_bytes: Int
        }
        struct IOInfo: Encodable { let engine: String; let direct: Bool }
        /// The CPU's model name and the GEMM path the kernels chose on it (`BLAS.Path`: avx512, avx2, neon or openblas).
        struct CPUInfo: Encodable { let name: String; let gemm: String }
        struct Latency: Encodable { let min: Double; let median: Double; let max: Double }
        struct Result: Encodable {
            let policy: String; let depth: Int?; let budget_bytes: Int; let latency_ms: Latency
            let peak_rss_bytes: Int; let peak_kernel_scratch_bytes: Int; let peak_weight_bytes: Int; let bytes_read: Int
            /// Planned rows only: how the budget was spent.
            let plan: PlanJSON?
            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(policy, forKey: .policy)
                try c.encode(depth, forKey: .depth)   // null for policies without a depth
                try c.encode(budget_bytes, forKey: .budget_bytes)
                try c.encode(latency_ms, forKey: .latency_ms)
                try c.encode(peak_rss_bytes, forKey: .peak_rss_bytes)
                try c.encode(peak_kernel_scratch_bytes, forKey: .peak_kernel_scratch_bytes)
                try c.encode(peak_weight_bytes, forKey: .peak_weight_bytes)
                try c.encode(bytes_read, forKey: .bytes_read)
                try c.encodeIfPresent(plan, forKey: .plan)   // absent for unplanned rows
            }
            enum CodingKeys: CodingKey { case policy, depth, budget_bytes, latency_ms, peak_rss_bytes, peak_kernel_scratch_bytes, peak_weight_bytes, bytes_read, plan }
        }
        struct SummaryInfo: Encodable {
            let io_only_ms: Double; let bound_ms: Double?; let efficiency: Double?; let overhead_pct: Double?; let memory_reduction_pct: Double?
            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(io_only_ms, forKey: .io_only_ms)
                try c.encode(bound_ms, forKey: .bound_ms)
                try c.encode(efficiency, forKey: .efficiency)
                try c.encode(overhead_pct, forKey: .overhead_pct)
                try c.encode(memory_reduction_pct, forKey: .memory_reduction_pct)
            }
            enum CodingKeys: CodingKey { case io_only_ms, bound_ms, efficiency, overhead_pct, memory_reduction_pct }
        }
        let model: ModelInfo
        let io: IOInfo
        let cpu: CPUInfo
        let results: [Result]
        let summary: SummaryInfo
    }

    func json() throws -> String {
        let s = summary
        let value = JSON(
            model: .init(name: model.name, layers: model.layers.count, weight_bytes: model.weightByteCount, largest_layer_bytes: model.largestLayerByteCount),
            io: .init(engine: ioOnly.engine.rawValue, direct: ioOnly.isDirect),
            cpu: .init(name: LayerProfile.cpuName(), gemm: BLAS.Path.best.rawValue),
            results: measurements.map { m in
                .init(policy: m.policy.rawValue, depth: m.depth, budget_bytes: m.budgetBytes,
                      latency_ms: .init(min: m.latenciesMilliseconds.min() ?? 0, median: m.medianMilliseconds, max: m.latenciesMilliseconds.max() ?? 0),
                      peak_rss_bytes: m.peakResidentBytes, peak_kernel_scratch_bytes: m.peakKernelScratchBytes,
                      peak_weight_bytes: m.peakWeightBytes, bytes_read: m.bytesRead,
                      plan: m.plan.map { PlanJSON($0, heldBytes: m.heldBytes, includeBudget: false) })
            },
            summary: .init(io_only_ms: s.ioOnly, bound_ms: s.bound, efficiency: s.efficiency, overhead_pct: s.overheadPercent, memory_reduction_pct: s.memoryReductionPercent))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
