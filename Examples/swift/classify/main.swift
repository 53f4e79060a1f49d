// classify-swift: runs a model through the Swift API on a seeded input and
// prints the top-5 of its first output and the inference's statistics.
//
//   swift run demandlayer zoo make tiny --out /tmp/dl
//   swift run classify-swift /tmp/dl/tiny.dlm [--policy pipelined] [--depth 2] [--runs 3]
//
// The input is the same seeded sequence Examples/c/classify.c makes, so the
// two print the same top-5.
import DemandLayer
import Foundation

struct Arguments {
    var modelPath = ""
    var options = SessionOptions()
    var runs = 3

    init(_ arguments: [String]) throws {
        var rest = arguments.dropFirst()
        while let argument = rest.popFirst() {
            switch argument {
            case "--policy":
                guard let value = rest.popFirst(), let policy = Policy(rawValue: value) else { throw usage("--policy takes one of \(Policy.allCases)") }
                options.policy = policy
            case "--depth":
                guard let value = rest.popFirst(), let depth = Int(value) else { throw usage("--depth takes a number") }
                options.depth = depth
            case "--io":
                guard let value = rest.popFirst(), let io = IOEngineChoice(rawValue: value) else { throw usage("--io takes one of \(IOEngineChoice.allCases)") }
                options.io = io
            case "--runs":
                guard let value = rest.popFirst(), let runs = Int(value), runs >= 1 else { throw usage("--runs takes a number >= 1") }
                self.runs = runs
            default:
                guard modelPath.isEmpty, !argument.hasPrefix("-") else { throw usage("unexpected argument '\(argument)'") }
                modelPath = argument
            }
        }
        guard !modelPath.isEmpty else { throw usage("no model given") }
    }
}

struct UsageError: Error, CustomStringConvertible { var description: String }
func usage(_ problem: String) -> UsageError {
    UsageError(description: "\(problem)\nusage: classify-swift MODEL.dlm [--policy NAME] [--depth N] [--io ENGINE] [--runs N]")
}

/// The seeded input both examples use: splitmix64, top 24 bits mapped to [-1, 1).
func seededValues(count: Int, seed: UInt64 = 42) -> [Float] {
    var state = seed
    return (0..<count).map { _ in
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Float(z >> 40) * (2.0 / 16_777_216.0) - 1
    }
}

func main() throws {
    let arguments = try Arguments(CommandLine.arguments)
    let model = try Model.open(arguments.modelPath)
    let session = try Session(model: model, options: arguments.options)
    defer { session.close() }

    var inputs: [String: Tensor] = [:]
    for input in model.inputs {
        inputs[input.name] = Tensor(shape: input.shape, values: seededValues(count: input.shape.elementCount))
    }
    var outputs: [String: Tensor] = [:]
    for _ in 0..<arguments.runs { outputs = try session.run(inputs) }

    let first = model.outputs[0]
    let values = outputs[first.name]!.array
    print("model \(model.name): inputs \(model.inputs.map(\.description).joined(separator: ", ")), session arena \(session.arenaBytes) bytes")
    print("top-5 of '\(first.name)' (\(values.count) values):")
    for (index, value) in values.enumerated().sorted(by: { $0.element > $1.element || ($0.element == $1.element && $0.offset < $1.offset) }).prefix(5) {
        print(String(format: "  class %4d  %.6f", index, value))
    }

    guard let stats = session.lastStats else { return }
    print(String(format: "stats: latency %.2f ms, read %d bytes, peak weights %d bytes, execute stalled %.2f ms",
                 stats.latencyMilliseconds, stats.bytesRead, stats.peakWeightBytes, Double(stats.executeStallNanoseconds) / 1e6))
    let slowest = stats.layers.indices.sorted { stats.layers[$0].stallNanoseconds > stats.layers[$1].stallNanoseconds }.prefix(3)
    for index in slowest {
        let times = stats.layers[index]
        let name = model.layerNames[index].padding(toLength: max(24, model.layerNames[index].count), withPad: " ", startingAt: 0)
        print(String(format: "  layer %3d ", index) + name + String(format: " read %.3f ms, restore %.3f ms, execute %.3f ms, stall %.3f ms",
                     Double(times.read.durationNanoseconds) / 1e6, Double(times.restore.durationNanoseconds) / 1e6,
                     Double(times.execute.durationNanoseconds) / 1e6, Double(times.stallNanoseconds) / 1e6))
    }
}

do {
    try main()
} catch {
    FileHandle.standardError.write(Data("classify-swift: \(error)\n".utf8))
    exit(1)
}
