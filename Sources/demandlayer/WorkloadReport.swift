import DemandFormat
import DemandLayer
import DemandTensor
import Foundation

/// A served workload's figures, per model and per setup, as a table or JSON.
struct WorkloadReport {
    let workload: Workload
    let results: [Workload.Result]

    struct ModelFigures: Encodable {
        var requests: Int
        var failed: Int
        var p50Milliseconds: Double
        var p95Milliseconds: Double
        var p99Milliseconds: Double
        /// From the request's turn to execute to its outputs (shared runtime only).
        var serviceP50Milliseconds: Double?
        var requestsPerSecond: Double
        /// The most weight bytes held at once (see `Workload.Sample.peakWeightBytes`).
        var peakWeightBytes: Int
        /// p50 (latency, and service where known) ÷ the model's p50 alone.
        var p50OverAlone: Double?
        var serviceP50OverAlone: Double?

        enum CodingKeys: String, CodingKey {
            case requests, failed
            case p50Milliseconds = "p50_ms", p95Milliseconds = "p95_ms", p99Milliseconds = "p99_ms"
            case serviceP50Milliseconds = "service_p50_ms", requestsPerSecond = "requests_per_s", peakWeightBytes = "peak_weight_bytes"
            case p50OverAlone = "p50_over_alone", serviceP50OverAlone = "service_p50_over_alone"
        }
    }

    private func ms(_ nanoseconds: UInt64) -> Double { Double(nanoseconds) / 1e6 }

    private var alone: Workload.Result? { results.first { $0.setup == .alone } }

    func figures(_ result: Workload.Result, model: Int?) -> ModelFigures {
        let samples = result.samples.filter { model == nil || $0.model == model }
        let good = samples.filter { $0.failed == nil }
        let latencies = good.map(\.latencyNanoseconds)
        let services = good.map(\.serviceNanoseconds).filter { $0 > 0 }
        var figures = ModelFigures(
            requests: samples.count, failed: samples.count - good.count,
            p50Milliseconds: ms(Workload.percentile(latencies, 50)), p95Milliseconds: ms(Workload.percentile(latencies, 95)),
            p99Milliseconds: ms(Workload.percentile(latencies, 99)),
            serviceP50Milliseconds: services.isEmpty ? nil : ms(Workload.percentile(services, 50)),
            requestsPerSecond: Double(good.count) / (Double(result.wallNanoseconds) / 1e9),
            peakWeightBytes: model == nil ? result.peakWeightBytes : good.map(\.peakWeightBytes).max() ?? 0)
        if let model, let alone, result.setup != .alone {
            let baseline = ms(Workload.percentile(alone.samples.filter { $0.model == model }.map(\.latencyNanoseconds), 50))
            if baseline > 0 {
                figures.p50OverAlone = figures.p50Milliseconds / baseline
                figures.serviceP50OverAlone = figures.serviceP50Milliseconds.map { $0 / baseline }
            }
        }
        return figures
    }

    /// The reference each model's outputs are checked against: resident's if it ran, else alone's, else the first seen.
    var referenceName: String {
        results.contains { $0.setup == .resident } ? "resident" : results.contains { $0.setup == .alone } ? "alone" : results.first.map { $0.label } ?? "-"
    }

    /// Outputs that differ from the reference, as "setup model" strings, and how many were compared.
    func mismatches() -> (different: [String], compared: Int) {
        // Resident's outputs first, then alone's: the first a model shows is its reference.
        func rank(_ result: Workload.Result) -> Int { result.setup == .resident ? 0 : result.setup == .alone ? 1 : 2 }
        let order = results.sorted { rank($0) < rank($1) }
        var reference: [Int: [String: Tensor]] = [:]
        var different: [String] = []
        var compared = 0
        for result in order {
            for sample in result.samples {
                guard let outputs = sample.outputs else { continue }
                guard let expected = reference[sample.model] else { reference[sample.model] = outputs; continue }
                compared += 1
                let same = expected.keys.sorted() == outputs.keys.sorted() && expected.allSatisfy { name, tensor in
                    tensor.array.withUnsafeBytes { a in outputs[name]!.array.withUnsafeBytes { b in a.elementsEqual(b) } }
                }
                if !same { different.append("\(result.label) \(workload.names[sample.model])") }
            }
        }
        return (different, compared)
    }

    var arrivalsText: String {
        workload.options.poissonRate.map { String(format: "poisson %.2f requests/s, each to a random model", $0) }
            ?? "closed loop: each client sends its next request when the last returns"
    }

    func table() -> String {
        let totalWeights = workload.models.reduce(0) { $0 + $1.weightByteCount }
        var lines = [
            "models    \(workload.names.joined(separator: ", ")): \(formatMiB(totalWeights)) of weights",
            "budget    \(formatMiB(workload.budgetBytes)) shared (\(String(format: "%.1f", 100 * Double(workload.budgetBytes) / Double(totalWeights)))% of the weights)",
            "workload  \(workload.options.clients) clients, \(arrivalsText), \(workload.options.duration) per setup",
            "cpu       \(LayerProfile.cpuName()), \(workload.sessionOptions.threadCount) kernel thread\(workload.sessionOptions.threadCount == 1 ? "" : "s")",
            "",
        ]
        let labelWidth = (results.map(\.label.count).max() ?? 0) + 2
        for result in results { lines.append(result.label.padding(toLength: labelWidth, withPad: " ", startingAt: 0) + result.detail) }
        lines.append("")
        let header = ["setup", "model", "requests", "failed", "p50 ms", "p95 ms", "p99 ms", "service p50", "p50/alone", "service/alone", "req/s", "peak weights"]
        var rows = [header]
        func f(_ value: Double?, _ format: String = "%.1f") -> String { value.map { String(format: format, $0) } ?? "-" }
        for result in results {
            for model in workload.models.indices {
                let x = figures(result, model: model)
                rows.append([result.label, workload.names[model], "\(x.requests)", "\(x.failed)", f(x.p50Milliseconds), f(x.p95Milliseconds),
                             f(x.p99Milliseconds), f(x.serviceP50Milliseconds), f(x.p50OverAlone, "%.2f"), f(x.serviceP50OverAlone, "%.2f"),
                             f(x.requestsPerSecond, "%.2f"), formatMiB(x.peakWeightBytes)])
            }
            let all = figures(result, model: nil)
            rows.append([result.label, "all", "\(all.requests)", "\(all.failed)", f(all.p50Milliseconds), f(all.p95Milliseconds),
                         f(all.p99Milliseconds), f(all.serviceP50Milliseconds), "-", "-", f(all.requestsPerSecond, "%.2f"), formatMiB(all.peakWeightBytes)])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max()! }
        for row in rows {
            lines.append(row.indices.map { $0 < 2 ? row[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0)
                                                  : String(repeating: " ", count: widths[$0] - row[$0].count) + row[$0] }.joined(separator: "  "))
        }
        lines.append("")
        let memoryHeader = ["setup", "peak weights", "peak RSS", "kernel scratch"]
        var memoryRows = [memoryHeader]
        for result in results {
            memoryRows.append([result.label, formatMiB(result.peakWeightBytes), formatMiB(result.peakResidentBytes), formatMiB(result.peakKernelScratchBytes)])
        }
        let memoryWidths = memoryHeader.indices.map { column in memoryRows.map { $0[column].count }.max()! }
        for row in memoryRows {
            lines.append(row.indices.map { $0 == 0 ? row[$0].padding(toLength: memoryWidths[$0], withPad: " ", startingAt: 0)
                                                  : String(repeating: " ", count: memoryWidths[$0] - row[$0].count) + row[$0] }.joined(separator: "  "))
        }
        let check = mismatches()
        lines.append("")
        lines.append(check.different.isEmpty ? "outputs   bit-identical to \(referenceName) across \(check.compared) requests"
                                              : "outputs   \(check.different.count) of \(check.compared) differ from \(referenceName): \(Set(check.different).sorted().joined(separator: ", "))")
        return lines.joined(separator: "\n")
    }

    func json() throws -> String {
        struct SetupFigures: Encodable {
            var setup: String
            var detail: String
            var peakWeightBytes: Int
            var peakResidentBytes: Int
            var peakKernelScratchBytes: Int
            var all: ModelFigures
            enum CodingKeys: String, CodingKey {
                case setup, detail, all
                case peakWeightBytes = "peak_weight_bytes", peakResidentBytes = "peak_rss_bytes"
                case peakKernelScratchBytes = "peak_kernel_scratch_bytes"
            }
        }
        struct Entry: Encodable {
            var name: String
            var weightBytes: Int
            var setups: [String: ModelFigures]
            enum CodingKeys: String, CodingKey { case name, setups, weightBytes = "weight_bytes" }
        }
        struct Summary: Encodable {
            var budgetBytes: Int
            var clients: Int
            var arrivals: String
            var durationSeconds: Double
            var scheduling: String
            var cpu: String
            var outputsBitIdentical: Bool
            var outputsCompared: Int
            var reference: String
            var setups: [SetupFigures]
            enum CodingKeys: String, CodingKey {
                case clients, arrivals, scheduling, cpu, reference, setups
                case budgetBytes = "budget_bytes", durationSeconds = "duration_s"
                case outputsBitIdentical = "outputs_bit_identical", outputsCompared = "outputs_compared"
            }
        }
        struct Document: Encodable { var models: [Entry]; var summary: Summary }
        let check = mismatches()
        let document = Document(
            models: workload.models.indices.map { model in
                Entry(name: workload.names[model], weightBytes: workload.models[model].weightByteCount,
                      setups: Dictionary(uniqueKeysWithValues: results.map { ($0.label, figures($0, model: model)) }))
            },
            summary: Summary(budgetBytes: workload.budgetBytes, clients: workload.options.clients, arrivals: workload.options.arrivals,
                             durationSeconds: workload.options.durationSeconds, scheduling: workload.options.scheduling, cpu: LayerProfile.cpuName(),
                             outputsBitIdentical: check.different.isEmpty, outputsCompared: check.compared, reference: referenceName,
                             setups: results.map { SetupFigures(setup: $0.label, detail: $0.detail, peakWeightBytes: $0.peakWeightBytes,
                                                                peakResidentBytes: $0.peakResidentBytes,
                                                                peakKernelScratchBytes: $0.peakKernelScratchBytes, all: figures($0, model: nil)) }))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(document), as: UTF8.self)
    }
}
