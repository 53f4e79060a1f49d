import ArgumentParser
import DemandFormat
import DemandIO
import DemandLayer
import DemandTensor
import Foundation

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a model once on inputs from .npy files and write its outputs as .npy files.",
        discussion: """
            Each graph input is given as NAME=FILE.npy; the file's shape must be the
            input's shape, and its type must match: float32, float16 or float64 for a
            float input, int64, int32 or bool for an integer one (token ids, say).
            Each graph output is written as DIR/<output name>.npy in its declared dtype
            (float32, or int64/int32/bool as <i8/<i4/|b1), with any
            '/' in the name written as '_'. `demandlayer inspect MODEL` lists the
            inputs and outputs.

            Examples:
              demandlayer run resnet152 --input input=cat.npy --output out/
              demandlayer run minilm.dlm --input input_ids=ids.npy --output out/ --depth 4

            Statistics of the run (latency, bytes read, peak weight bytes, the
            execute thread's stall) go to standard error.
            """
    )

    @Argument(help: ArgumentHelp("A NAME.dlm model directory, or a built-in model name.", valueName: "model"))
    var model: String

    @Option(name: .long, help: ArgumentHelp("A graph input and the .npy file that holds it; repeat for each input.", valueName: "name=file.npy"))
    var input: [String] = []

    @Option(name: .long, help: ArgumentHelp("Directory for the outputs (made if missing).", valueName: "dir"))
    var output: String

    @Option(name: .long, help: "Prefetch depth: layers loaded ahead of the one executing.")
    var depth: Int = 2

    @Option(name: .long, help: ArgumentHelp("Pipelined: the whole weight budget (suffixes K, M, G, KiB, MiB, GiB): read ring + layers held resident + held parts of split layers. The session plans how to spend it (see `demandlayer plan --help`), with the model's saved profile.json, else one measured when the session opens; --depth then plays no part. Default: no plan, a ring that lets --depth layers be ahead.", valueName: "bytes"))
    var budget: String?

    @Option(name: .long, help: ArgumentHelp("Loading policy: resident, bulk, linear, deepeye, partial, pipelined, mmap.", valueName: "policy"))
    var policy: String = "pipelined"

    @OptionGroup var engineOptions: EngineOptions

    @Option(name: .long, help: ArgumentHelp("Where built-in models are kept (default: $DEMANDLAYER_CACHE, else ~/.cache/demandlayer).", valueName: "dir"))
    var cache: String?

    func validate() throws {
        guard depth >= 1 else { throw ValidationError("--depth must be at least 1") }
        guard Policy(rawValue: policy) != nil else {
            throw ValidationError("unknown --policy '\(policy)'; choose from \(Policy.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        for pair in input where !pair.contains("=") {
            throw ValidationError("--input takes NAME=FILE.npy (got '\(pair)')")
        }
        if let budget { _ = try parseBytes(budget) }
    }

    func run() throws {
        let model = try ModelLocator.open(self.model, cache: cache)
        let inputs = try Self.readInputs(input, for: model.manifest)
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        guard access(output, W_OK) == 0 else {
            throw CommandFailure("\(output): the output directory is not writable")
        }
        var options = SessionOptions(policy: Policy(rawValue: policy)!, depth: depth,
                                     io: engineOptions.engine, threadCount: engineOptions.threads)
        options.budgetBytes = try budget.map(parseBytes)
        options.placement = engineOptions.placement
        let session = try Session(model: model, options: options)
        defer { session.close() }
        let outputs = try session.run(inputs)
        for declared in model.manifest.outputs {
            let path = output + "/" + declared.name.replacingOccurrences(of: "/", with: "_") + ".npy"
            let value = outputs[declared.name]!
            try Npy.write(path: path, shape: value.shape, values: value.array, dtype: declared.dtype)
            let type = declared.dtype == .float32 ? "" : " \(declared.dtype.rawValue)"
            FileHandle.standardError.write(Data("wrote \(path) (\(declared.shape)\(type))\n".utf8))
        }
        if let stats = session.lastStats {
            let line = String(format: "%@: %.1f ms, %@ read, peak weights %@, execute stalled %.1f ms (policy %@, engine %@)\n",
                              model.manifest.name, stats.latencyMilliseconds, formatMiB(stats.bytesRead),
                              formatMiB(stats.peakWeightBytes), Double(stats.executeStallNanoseconds) / 1e6,
                              policy, session.ioEngine.map { "\($0)" } ?? "mmap")
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    /// Reads NAME=FILE.npy pairs and checks each against the model's inputs.
    static func readInputs(_ pairs: [String], for manifest: Manifest) throws -> [String: Tensor] {
        var inputs: [String: Tensor] = [:]
        for pair in pairs {
            let separator = pair.firstIndex(of: "=")!
            let name = String(pair[..<separator])
            let path = String(pair[pair.index(after: separator)...])
            guard let declared = manifest.inputs.first(where: { $0.name == name }) else {
                throw CommandFailure("'\(name)' is not an input of \(manifest.name); its inputs are \(manifest.inputs.map { "'\($0.name)' \($0.dtype.rawValue) \($0.shape)" }.joined(separator: ", "))")
            }
            let array = try Npy.read(path: path)
            let declaredIsInteger = declared.dtype == .int64 || declared.dtype == .int32
            let fileIsInteger = array.dtype == .int64 || array.dtype == .int32
            guard declaredIsInteger == fileIsInteger else {
                throw CommandFailure("input '\(name)': \(path) holds \(array.dtype.rawValue); the model expects \(declared.dtype.rawValue)")
            }
            guard array.shape == declared.shape else {
                throw CommandFailure("input '\(name)': \(path) has shape \(array.shape); the model expects \(declared.shape)")
            }
            guard inputs.updateValue(array.tensor, forKey: name) == nil else {
                throw CommandFailure("input '\(name)' is given twice")
            }
        }
        for declared in manifest.inputs where inputs[declared.name] == nil {
            throw CommandFailure("input '\(declared.name)' (\(declared.dtype.rawValue) \(declared.shape)) is missing; give it with --input \(declared.name)=FILE.npy")
        }
        return inputs
    }
}
