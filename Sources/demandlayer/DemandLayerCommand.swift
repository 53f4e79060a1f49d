import ArgumentParser
import DemandIO
import DemandLayer

@main
struct DemandLayerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demandlayer",
        abstract: "Run neural networks whose weights do not fit in memory, streaming them from storage layer by layer.",
        discussion: """
            A model is a directory NAME.dlm/ with a manifest and one weight file per
            layer. Built-in models (resnet152, yolov3, vgg16, tiny) are made on first
            use, with seeded random weights.

            Start here:
              demandlayer bench                compare loading policies on resnet152
              demandlayer bench --depth 1,2,4  sweep the prefetch depth
              demandlayer zoo list             the built-in models
              demandlayer inspect resnet152    layers, sizes, ring size per depth
              demandlayer plan vgg16 --budget 64MiB
                                               how a weight budget would be spent
              demandlayer bench --budget 32M,64M,128M
                                               the memory-delay curve, planned
              demandlayer convert m.onnx m.dlm import an ONNX model
              demandlayer run M.dlm --input x=x.npy --output out/
                                               run once on .npy inputs
            """,
        subcommands: [Bench.self, PlanCommand.self, RunCommand.self, ZooCommand.self, Inspect.self, ConvertCommand.self]
    )
}

/// Options every command that opens a model shares.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "A built-in model name or a path to a NAME.dlm directory.",
        discussion: "Built-in models are made on first use into the cache directory.",
        valueName: "name|path"))
    var model: String = "resnet152"

    @Option(name: .long, help: ArgumentHelp(
        "Where built-in models are kept (default: $DEMANDLAYER_CACHE, else ~/.cache/demandlayer). Must be on a disk filesystem for O_DIRECT.",
        valueName: "dir"))
    var cache: String?
}

/// The IO engine and kernel threads, shared by every command that opens a session.
struct EngineOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("IO engine: auto (io_uring, else libaio, else pread), uring, aio, pread.", valueName: "engine"))
    var io: String = "auto"

    @Option(name: .long, help: "Kernel threads (OpenBLAS), the same for every policy. Default: all cores but one, which the read and restore stages use.")
    var threads: Int = SessionOptions.defaultThreadCount

    @Option(name: .long, help: ArgumentHelp("Stage threads' CPUs: auto (execute on one CPU; read and restore on the one taking the disk's interrupts), none, or EXEC,STAGES (two CPU numbers).", valueName: "auto|none|e,s"))
    var pin: String = "auto"

    /// The engine `--io` names; valid once `validate()` has passed.
    var engine: IOEngineChoice { IOEngineChoice(rawValue: io)! }

    /// The placement `--pin` names; valid once `validate()` has passed.
    var placement: ThreadPlacement { Self.placement(pin)! }

    /// `auto`, `none` or `EXEC,STAGES` as a placement; nil for anything else.
    static func placement(_ text: String) -> ThreadPlacement? {
        switch text {
        case "auto": return .automatic
        case "none": return .unpinned
        default:
            let cpus = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard cpus.count == 2, let execute = cpus[0], let stages = cpus[1], execute >= 0, stages >= 0 else { return nil }
            return .cpus(execute: execute, stages: stages)
        }
    }

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard Self.placement(pin) != nil else {
            throw ValidationError("--pin takes auto, none, or two CPU numbers EXEC,STAGES such as 0,1 (got '\(pin)')")
        }
        guard IOEngineChoice(rawValue: io) != nil else {
            throw ValidationError("unknown --io '\(io)'; choose from \(IOEngineChoice.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }
}
