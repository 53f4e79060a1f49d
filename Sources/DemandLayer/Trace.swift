import DemandFormat
import Foundation

/// Chrome / Perfetto trace of inferences: one track per stage thread
/// (dl-read, dl-restore, dl-exec), one span per layer per stage.
/// Open the file in ui.perfetto.dev or chrome://tracing.
public struct Trace {
    private var events: [[String: Any]] = []
    private var offsetMicroseconds: Double = 0

    /// An empty trace with the three stage tracks named.
    public init() {
        for (tid, name) in [(1, "dl-read"), (2, "dl-restore"), (3, "dl-exec")] {
            events.append(["name": "thread_name", "ph": "M", "pid": 1, "tid": tid, "args": ["name": name]])
        }
    }

    /// Appends one inference's spans, placed after the previous one's.
    public mutating func append(_ stats: InferenceStats, model: Model, label: String) {
        for (index, times) in stats.layers.enumerated() {
            let layer = model.layers[index]
            for (tid, stage, span) in [(1, "read", times.read), (2, "restore", times.restore), (3, "execute", times.execute)]
            where span.endNanoseconds > span.startNanoseconds || (stage == "read" && span.startNanoseconds > 0) {
                events.append([
                    "name": "\(stage) \(index) \(layer.name)", "cat": stage, "ph": "X", "pid": 1, "tid": tid,
                    "ts": offsetMicroseconds + Double(span.startNanoseconds) / 1000,
                    "dur": Double(span.durationNanoseconds) / 1000,
                    "args": ["layer": index, "bytes": layer.byteCount, "run": label],
                ])
            }
        }
        offsetMicroseconds += Double(stats.latencyNanoseconds) / 1000 + 1000
    }

    /// Writes the trace as JSON to `path`, replacing any file there.
    public func write(to path: String) throws {
        let data = try JSONSerialization.data(withJSONObject: ["traceEvents": events, "displayTimeUnit": "ms"], options: [])
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
