// serve-swift: several models in one Runtime, sharing one weight budget,
// called from several threads at once through the Swift API.
//
//   swift run demandlayer zoo make tiny --out /tmp/dl
//   swift run demandlayer zoo make splitnet --out /tmp/dl
//   swift run serve-swift /tmp/dl/tiny.dlm /tmp/dl/splitnet.dlm --budget 6291456 --requests 8
//
// Each model gets two client threads sending --requests requests each, all at
// once. Every model's outputs must be the same across its requests, and equal
// to the model run alone in a session of the same budget; the runtime's peak
// weight bytes must be within the budget. Exits non-zero otherwise.
import DemandLayer
import Foundation

struct Arguments {
    var modelPaths: [String] = []
    var budgetBytes = 64 << 20
    var requests = 4

    init(_ arguments: [String]) throws {
        var rest = arguments.dropFirst()
        while let argument = rest.popFirst() {
            switch argument {
            case "--budget":
                guard let value = rest.popFirst(), let bytes = Int(value), bytes > 0 else { throw usage("--budget takes a number of bytes") }
                budgetBytes = bytes
            case "--requests":
                guard let value = rest.popFirst(), let count = Int(value), count >= 1 else { throw usage("--requests takes a number >= 1") }
                requests = count
            default:
                guard !argument.hasPrefix("-") else { throw usage("unexpected argument '\(argument)'") }
                modelPaths.append(argument)
            }
        }
        guard !modelPaths.isEmpty else { throw usage("no model given") }
    }
}

struct UsageError: Error, CustomStringConvertible { var description: String }
func usage(_ problem: String) -> UsageError {
    UsageError(description: "\(problem)\nusage: serve-swift MODEL.dlm [MODEL.dlm ...] [--budget BYTES] [--requests N]")
}

/// A seeded input for every graph input: splitmix64, top 24 bits mapped to [-1, 1).
func seededInputs(_ model: Model) -> [String: Tensor] {
    var state: UInt64 = 42
    var inputs: [String: Tensor] = [:]
    for input in model.inputs {
        inputs[input.name] = Tensor(shape: input.shape, values: (0..<input.shape.elementCount).map { _ in
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return Float(z >> 40) * (2.0 / 16_777_216.0) - 1
        })
    }
    return inputs
}

func same(_ a: [String: Tensor], _ b: [String: Tensor]) -> Bool {
    a.keys.sorted() == b.keys.sorted() && a.allSatisfy { name, tensor in tensor.array == b[name]!.array }
}

/// What the client threads found, behind a lock.
final class Tally: @unchecked Sendable {
    private let lock = NSLock()
    private var services: [[Double]]
    private(set) var problems: [String] = []
    init(models: Int) { services = Array(repeating: [], count: models) }
    func record(_ model: Int, serviceMilliseconds: Double) { lock.withLock { services[model].append(serviceMilliseconds) } }
    func problem(_ text: String) { lock.withLock { problems.append(text) } }
    func medianService(_ model: Int) -> Double {
        lock.withLock { let sorted = services[model].sorted(); return sorted.isEmpty ? .nan : sorted[sorted.count / 2] }
    }
    func count(_ model: Int) -> Int { lock.withLock { services[model].count } }
}

func main() throws {
    let arguments = try Arguments(CommandLine.arguments)
    let models = try arguments.modelPaths.map { try Model.open($0) }
    let inputs = models.map(seededInputs)
    let runtime = try Runtime(options: Runtime.Options(budgetBytes: arguments.budgetBytes, scheduling: .fifo))
    defer { runtime.close() }
    let members = try models.map { try runtime.add($0) }
    print("runtime: budget \(arguments.budgetBytes) bytes, ring \(runtime.ringBytes), held \(runtime.heldBytes) of a \(runtime.heldReserveBytes)-byte reserve")

    // Each model alone in a session of the same budget: what the runtime must give.
    let expected = try models.indices.map { index in
        try Session(model: models[index], options: SessionOptions(budgetBytes: arguments.budgetBytes)).run(inputs[index])
    }

    let tally = Tally(models: models.count)
    let group = DispatchGroup()
    for (index, member) in members.enumerated() {
        for _ in 0..<2 {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                for _ in 0..<arguments.requests {
                    do {
                        let done = try member.perform(inputs[index])
                        tally.record(index, serviceMilliseconds: Double(done.serviceNanoseconds) / 1e6)
                        if !same(done.outputs, expected[index]) { tally.problem("\(member.name): an output differs from the model run alone") }
                    } catch {
                        tally.problem("\(member.name): \(error)")
                    }
                }
            }
        }
    }
    group.wait()
    for (index, member) in members.enumerated() {
        print("\(member.name): \(tally.count(index)) requests, service p50 \(String(format: "%.1f", tally.medianService(index))) ms, predicted \(String(format: "%.1f", member.streamPlan.predictedNanoseconds / 1e6)) ms")
    }
    print("peak weight bytes \(runtime.peakWeightBytes) of a \(arguments.budgetBytes)-byte budget")
    if runtime.peakWeightBytes > arguments.budgetBytes { tally.problem("peak weight bytes over the budget") }
    for problem in tally.problems { print("error: \(problem)") }
    print(tally.problems.isEmpty ? "outputs: equal to each model alone, across every request" : "\(tally.problems.count) problems")
    if !tally.problems.isEmpty { exit(1) }
}

do { try main() } catch { print("error: \(error)"); exit(1) }
