import DemandFormat
import DemandTensor
import Foundation

/// What one model costs on this machine, layer by layer: the figures the
/// planner plans a byte budget with (`SessionOptions.budgetBytes`).
///
/// Measured by `measure` (a short profiling run: the model is run a few times
/// under the budget, then read once without executing) and saved as
/// `profile.json` in the model directory, so later sessions plan at once. A
/// saved profile is used only for the model it was measured on (same name
/// and same layer checksums) and the same kernel thread count.
public struct LayerProfile: Codable, Sendable, Equatable {
    /// The file name a profile is saved under, in the model directory.
    public static let fileName = "profile.json"

    /// The model's name.
    public var modelName: String
    /// The CRC-32C of the model's layer checksums, in order: which bytes the figures are for.
    public var modelFingerprint: UInt32
    /// Kernel threads the execute times were measured with.
    public var threadCount: Int
    /// Per layer, the kernel time, in nanoseconds (for a layer run in pieces, summed over them).
    public var executeNanoseconds: [Double]
    /// How fast the session's IO engine read the model, in bytes per second.
    public var readBytesPerSecond: Double
    /// The CPU it was measured on (`model name` in /proc/cpuinfo).
    public var cpu: String

    /// A profile with the given figures for `model`.
    public init(model: Model, threadCount: Int, executeNanoseconds: [Double], readBytesPerSecond: Double, cpu: String = LayerProfile.cpuName()) {
        modelName = model.name
        modelFingerprint = Self.fingerprint(of: model)
        self.threadCount = threadCount
        self.executeNanoseconds = executeNanoseconds
        self.readBytesPerSecond = readBytesPerSecond
        self.cpu = cpu
    }

    /// Whether the profile was measured on `model` with `threadCount` kernel threads.
    public func matches(_ model: Model, threadCount: Int) -> Bool {
        modelName == model.name && modelFingerprint == Self.fingerprint(of: model) && self.threadCount == threadCount
            && executeNanoseconds.count == model.layers.count && readBytesPerSecond > 0
    }

    /// The profile saved in the model directory, if there is one for this model and thread count.
    public static func load(for model: Model, threadCount: Int) -> LayerProfile? {
        guard let data = FileManager.default.contents(atPath: model.path + "/" + fileName),
              let profile = try? JSONDecoder().decode(LayerProfile.self, from: data),
              profile.matches(model, threadCount: threadCount) else { return nil }
        return profile
    }

    /// Saves the profile in the model directory (written to a temporary file, then renamed).
    public func save(for model: Model) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let path = model.path + "/" + Self.fileName
        try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Measures `model` under `options` (its policy is taken as pipelined,
    /// its budget as given, or every layer's bytes if none): runs it once to
    /// warm up and three times timed, taking each layer's median kernel time,
    /// then reads every layer twice without executing, taking the faster.
    public static func measure(_ model: Model, options: SessionOptions) throws(RuntimeError) -> LayerProfile {
        var profiling = options
        profiling.policy = .pipelined
        let budget = options.budgetBytes ?? model.weightByteCount
        profiling.budgetBytes = budget
        // No plan yet: each layer runs whole, as unplanned, unless it is too big for the budget.
        profiling.streamsUnplanned = true
        var inputs: [String: Tensor] = [:]
        for input in model.manifest.inputs { inputs[input.name] = Tensor(zeros: input.shape) }
        var times: [[UInt64]] = Array(repeating: [], count: model.layers.count)
        do {
            let session = try Session(model: model, options: profiling)
            defer { session.close() }
            _ = try session.run(inputs)
            for _ in 0..<3 {
                _ = try session.run(inputs)
                for (index, layer) in session.lastStats!.layers.enumerated() { times[index].append(layer.executeBusyNanoseconds) }
            }
        }
        let probe = try ReadProbe(model: model, options: profiling, ringBytes: budget)   // the same cuts
        let reads = [try probe.run(), try probe.run()]
        let fastest = reads.min { $0.nanoseconds < $1.nanoseconds }!
        return LayerProfile(model: model, threadCount: options.threadCount,
                            executeNanoseconds: times.map { Double($0.sorted()[$0.count / 2]) },
                            readBytesPerSecond: Double(fastest.bytes) / (Double(max(fastest.nanoseconds, 1)) / 1e9))
    }

    /// CRC-32C over the model's file checksums, in layer and file order.
    static func fingerprint(of model: Model) -> UInt32 {
        let sums: [UInt32] = model.layers.flatMap { $0.files.map(\.crc32c) }
        return sums.withUnsafeBytes { CRC32C.checksum($0) }
    }

    /// This CPU's model name, from /proc/cpuinfo ("unknown" where it has none).
    public static func cpuName() -> String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") || line.hasPrefix("CPU part") {
            if let value = line.split(separator: ":", maxSplits: 1).last { return value.trimmingCharacters(in: .whitespaces) }
        }
        return "unknown"
    }
}
