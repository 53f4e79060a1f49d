import ArgumentParser
import DemandFormat
import DemandZoo
import Foundation

struct ZooCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zoo",
        abstract: "List and make the built-in models (real architectures, seeded random weights).",
        subcommands: [List.self, Make.self, Compare.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the built-in models.")
        func run() {
            for entry in Zoo.entries { print("\(entry.name.padding(toLength: 10, withPad: " ", startingAt: 0))  \(entry.summary)") }
        }
    }

    struct Make: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a built-in model as NAME.dlm with seeded random weights.",
            discussion: "The same name and seed always give the same bytes on one machine (resnet152, calibrated on 8 seeded images as it is made, takes about 6 s and 380 MB to make; its statistics come from this CPU's kernels, whose last bits can differ between AVX-512, AVX2 and NEON). The model is written to a temporary directory and renamed into place at the end, so an interrupted make leaves nothing behind."
        )

        @Argument(help: "The model to make (see `demandlayer zoo list`).")
        var name: String

        @Option(name: .long, help: ArgumentHelp("The directory to write NAME.dlm into.", valueName: "dir"))
        var out: String = "."

        @Option(name: .long, help: "The seed for the random weights.")
        var seed: UInt64 = Zoo.defaultSeed

        @Option(name: .long, help: ArgumentHelp("How weights are stored: fp32, fp16 (half the bytes read; widened to fp32 by the restore stage), or int8 (a quarter: per-output-channel symmetric, dequantized by the restore stage; biases fp32).", valueName: "fp32|fp16|int8"))
        var dtype: String = "fp32"

        /// The stored weight type `--dtype` names.
        var weightDType: DType { ["fp16": .float16, "int8": .int8][dtype] ?? .float32 }

        func validate() throws {
            guard Zoo.entry(named: name) != nil else {
                throw ValidationError("no built-in model named '\(name)'; choose one of: \(Zoo.entries.map(\.name).joined(separator: ", "))")
            }
            guard ["fp32", "fp16", "int8"].contains(dtype) else {
                throw ValidationError("--dtype is fp32, fp16 or int8 (got '\(dtype)')")
            }
        }

        func run() throws {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let path = "\(out)/\(name)\(dtype == "fp32" ? "" : "-" + dtype).dlm"
            let bar = ProgressBar(label: "making \(name)")
            let model = try Zoo.make(name, at: path, seed: seed, weightDType: weightDType) { bar.update(done: $0, total: $1) }
            bar.finish(note: "\(model.layers.count) layers, \(formatMiB(model.weightByteCount))")
            print(path)
        }
    }
}
