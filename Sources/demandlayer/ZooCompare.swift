import ArgumentParser
import DemandFormat
import DemandLayer
import DemandTensor
import DemandZoo
import Foundation

extension ZooCommand {
    /// A built-in model stored as float32 and as fp16 or int8, run side by
    /// side: bytes read per run, and how often the top-1 class agrees.
    struct Compare: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare a built-in model stored as fp32 with the same model stored as fp16 or int8.",
            discussion: """
            Makes NAME.dlm and NAME-DTYPE.dlm in --out (reusing them when they are there: the same \
            seed gives the same bytes), reads each once with the pipelined policy to count the bytes \
            read per run, then runs --inputs seeded images (`Zoo.seededImage`, seed --seed + i: a \
            brightness per channel, smooth waves, discs of solid colour and grain, in [-1, 1]) \
            through both, held resident, and prints: bytes read per run and their ratio; how many \
            inputs get the same top-1 class; how many distinct classes the float32 model picks (a \
            check on inputs that all land on one class says little); the float32 model's median gap \
            between its top two outputs and the median largest |difference| between the two \
            models' outputs (the check means something when the gap is not far above the \
            difference). resnet152 is calibrated on 8 other seeded images when it is made, so \
            its top class depends on the input with a margin; the other built-in models are not, \
            and with plain random weights the outputs are near uniform. \
            Exits non-zero when --min-agreement, --min-classes or --max-bytes-ratio is not met.
            """
        )

        @Argument(help: "The built-in model (see `demandlayer zoo list`).")
        var name: String = "resnet152"

        @Option(name: .long, help: ArgumentHelp("The directory holding (or to hold) the two models.", valueName: "dir"))
        var out: String = "."

        @Option(name: .long, help: ArgumentHelp("The stored type compared with fp32.", valueName: "fp16|int8"))
        var dtype: String = "int8"

        @Option(name: .long, help: "How many seeded inputs to run.")
        var inputs: Int = 100

        @Option(name: .long, help: "The first input's seed.")
        var seed: UInt64 = 1

        @Option(name: .customLong("min-agreement"), help: "Fail when fewer inputs than this agree on the top-1 class.")
        var minimumAgreement: Int?

        @Option(name: .customLong("min-classes"), help: "Fail when the float32 model picks fewer distinct top-1 classes than this over the inputs (agreement on inputs that all land on one class says little).")
        var minimumClasses: Int?

        @Option(name: .customLong("max-bytes-ratio"), help: "Fail when DTYPE's bytes read per run exceed this fraction of fp32's.")
        var maximumBytesRatio: Double?

        func validate() throws {
            guard Zoo.entry(named: name) != nil else {
                throw ValidationError("no built-in model named '\(name)'; choose one of: \(Zoo.entries.map(\.name).joined(separator: ", "))")
            }
            guard dtype == "fp16" || dtype == "int8" else { throw ValidationError("--dtype is fp16 or int8 (got '\(dtype)')") }
            guard inputs > 0 else { throw ValidationError("--inputs must be positive") }
        }

        func run() throws {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let full = try Self.model(name, at: "\(out)/\(name).dlm", weightDType: .float32)
            let stored = try Self.model(name, at: "\(out)/\(name)-\(dtype).dlm", weightDType: dtype == "fp16" ? .float16 : .int8)
            let fullBytes = try Self.bytesReadPerRun(full)
            let storedBytes = try Self.bytesReadPerRun(stored)
            let ratio = Double(storedBytes) / Double(fullBytes)
            print(String(format: "bytes read per run: fp32 %@ (%d), %@ %@ (%d): %.1f%% of fp32's",
                         formatMiB(fullBytes), fullBytes, dtype, formatMiB(storedBytes), storedBytes, ratio * 100))

            let fullSession = try Session(model: full, options: .init(policy: .resident))
            defer { fullSession.close() }
            let storedSession = try Session(model: stored, options: .init(policy: .resident))
            defer { storedSession.close() }
            let input = full.manifest.inputs[0]
            let output = full.manifest.outputs[0].name
            var agreeing = 0
            var classes = Set<Int>()
            var gaps: [Float] = []
            var differences: [Float] = []
            for index in 0..<inputs {
                let tensor = Zoo.seededImage(shape: input.shape, seed: seed &+ UInt64(index))
                let expected = try fullSession.run([input.name: tensor])[output]!.array
                let actual = try storedSession.run([input.name: tensor])[output]!.array
                let ranked = expected.indices.sorted { expected[$0] > expected[$1] }
                let top = ranked[0]
                classes.insert(top)
                if actual.indices.max(by: { actual[$0] < actual[$1] }) == top { agreeing += 1 }
                gaps.append(expected[ranked[0]] - expected[ranked[1]])
                differences.append(zip(expected, actual).map { abs($0 - $1) }.max()!)
            }
            print("top-1 agreement: \(agreeing) of \(inputs) inputs; the fp32 model picks \(classes.count) distinct classes")
            // Where the top two are further apart than twice the largest difference, the
            // stored model cannot pick another class: those inputs test nothing.
            let decided = zip(gaps, differences).filter { $0 > 2 * $1 }.count
            print("inputs whose fp32 top-1 gap exceeds twice the largest |\(dtype) - fp32| (their top-1 cannot change): \(decided) of \(inputs)")
            print(String(format: "fp32 top-1 minus top-2 output: median %.3e (smallest %.3e); largest |%@ - fp32| per input: median %.3e (largest %.3e)",
                         Self.median(gaps), gaps.min()!, dtype, Self.median(differences), differences.max()!))
            var failures: [String] = []
            if let minimumAgreement, agreeing < minimumAgreement {
                failures.append("top-1 agreement \(agreeing) of \(inputs) is below \(minimumAgreement)")
            }
            if let minimumClasses, classes.count < minimumClasses {
                failures.append("the fp32 model picks \(classes.count) distinct classes, fewer than \(minimumClasses)")
            }
            if let maximumBytesRatio, ratio > maximumBytesRatio {
                failures.append(String(format: "bytes read per run are %.1f%% of fp32's, above %.1f%%", ratio * 100, maximumBytesRatio * 100))
            }
            guard failures.isEmpty else { throw CommandFailure("\(name) \(dtype): " + failures.joined(separator: "; ")) }
        }

        /// The model at `path`, made first when it is not there.
        static func model(_ name: String, at path: String, weightDType: DType) throws -> Model {
            if FileManager.default.fileExists(atPath: path) { return try Model.open(path) }
            let bar = ProgressBar(label: "making \(path)")
            let model = try Zoo.make(name, at: path, weightDType: weightDType) { bar.update(done: $0, total: $1) }
            bar.finish(note: "\(model.layers.count) layers, \(formatMiB(model.weightByteCount))")
            return model
        }

        /// Bytes one pipelined run reads (zero inputs: the bytes do not depend on them).
        static func bytesReadPerRun(_ model: Model) throws -> Int {
            let session = try Session(model: model, options: .init(policy: .pipelined))
            defer { session.close() }
            let inputs = Dictionary(uniqueKeysWithValues: model.manifest.inputs.map { ($0.name, Tensor(zeros: $0.shape)) })
            _ = try session.run(inputs)
            return session.lastStats!.bytesRead
        }

        static func median(_ values: [Float]) -> Float { values.sorted()[values.count / 2] }
    }
}
