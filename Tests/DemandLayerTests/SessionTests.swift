import DemandFormat
import DemandIO
@testable import DemandLayer
@testable import DemandTensor
import DemandTestSupport
import DemandZoo
import Foundation
import Synchronization
import Testing

func tinyInputs(seed: UInt64 = 1) -> [String: Tensor] {
    var random = SeededRandom(seed: seed)
    let input = Tensor(zeros: [1, 3, 32, 32])
    random.fill(input.buffer, bound: 1)
    return ["input": input]
}

@Suite struct SessionTests {
    let model = try! Model.open(Scratch.tinyModelPath)

    @Test func pipelinedMatchesThePlainReference() throws {
        let session = try Session(model: model, options: .init(policy: .pipelined, depth: 2))
        let outputs = try session.run(tinyInputs())
        let expected = try GraphReference.run(model, inputs: tinyInputs())
        let closeness = Closeness(actual: outputs["softmax0.out"]!, expected: expected["softmax0.out"]!)
        #expect(closeness.passes(tolerance: 1e-4), "\(closeness.describe(tolerance: 1e-4))")
        let sum = outputs["softmax0.out"]!.array.reduce(0, +)
        #expect(abs(sum - 1) < 1e-5, "softmax sums to \(sum)")
    }

    @Test func everyPolicyGivesBitIdenticalOutputs() throws {
        var results: [(Policy, Int, [String: Tensor])] = []
        for policy in Policy.allCases {
            for depth in policy == .pipelined ? [1, 2, 3, 8] : [1] {
                let session = try Session(model: model, options: .init(policy: policy, depth: depth))
                results.append((policy, depth, try session.run(tinyInputs())))
                #expect(bitIdentical(try session.run(tinyInputs()), results.last!.2), "\(policy) is not repeatable")
            }
        }
        for (policy, depth, outputs) in results.dropFirst() {
            #expect(bitIdentical(outputs, results[0].2), "\(policy) depth \(depth) differs from \(results[0].0)")
        }
    }

    @Test(arguments: [IOEngineChoice.uring, .aio, .pread])
    func eachEngineReadsRealFilesWithDirectIO(engine: IOEngineChoice) throws {
        let reference = try Session(model: model, options: .init(policy: .resident)).run(tinyInputs())
        let session = try Session(model: model, options: .init(policy: .pipelined, io: engine))
        #expect(session.ioEngine?.rawValue == engine.rawValue)
        #expect(session.isDirect, "the scratch directory is on a disk filesystem, so O_DIRECT must be in use")
        #expect(bitIdentical(try session.run(tinyInputs()), reference))
        #expect(session.lastStats!.bytesRead == model.weightByteCount)
    }

    @Test func pipelinedHoldsNoMoreThanItsBudget() throws {
        let layerBytes = model.layers.map(\.byteCount)
        for depth in [1, 2, 4] {
            let session = try Session(model: model, options: .init(policy: .pipelined, depth: depth))
            _ = try session.run(tinyInputs())
            let stats = session.lastStats!
            #expect(session.arenaBytes == BufferRing.minimumCapacity(layerBytes: layerBytes, depth: depth))
            #expect(stats.peakWeightBytes <= session.arenaBytes)
            #expect(stats.peakWeightBytes < model.weightByteCount)
        }
        let linear = try Session(model: model, options: .init(policy: .linear))
        _ = try linear.run(tinyInputs())
        #expect(linear.lastStats!.peakWeightBytes == model.largestLayerByteCount)
    }

    @Test func noWeightMemoryIsAllocatedAfterOpen() throws {
        let session = try Session(model: model, options: .init(policy: .pipelined, depth: 2))
        let arenaBytes = session.arenaBytes
        let scratchAllocations = session.pipeline.workspace.allocationCount
        let arena = UInt(bitPattern: session.pipeline.ring!.base)
        let addresses = Locked<[UInt]>([])
        session.pipeline.weightObserver = { weights in
            addresses.withLock { $0 += weights.values.map { UInt(bitPattern: $0.data) } }
        }
        for _ in 0..<3 { _ = try session.run(tinyInputs()) }
        #expect(session.arenaBytes == arenaBytes)
        #expect(session.pipeline.workspace.allocationCount == scratchAllocations, "the kernel workspace was reserved at open")
        // Every weight the kernels saw is a view into the arena: restored in place, not copied.
        let seen = addresses.withLock { $0 }
        #expect(seen.count == 3 * model.layers.reduce(0) { $0 + $1.weights.count })
        for address in seen {
            #expect(address >= arena && address < arena + UInt(session.arenaBytes))
        }
    }

    @Test func stageThreadsAreNamedAndJoinedOnClose() throws {
        func name(of thread: Int32) -> String? {
            (try? String(contentsOfFile: "/proc/self/task/\(thread)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        /// The thread's start time (field 22 of its stat): a thread id reused
        /// by a newer thread (other tests start many) has a different one.
        func startTime(of thread: Int32) -> String? {
            guard let stat = try? String(contentsOfFile: "/proc/self/task/\(thread)/stat", encoding: .utf8),
                  let afterName = stat.range(of: ") ", options: .backwards) else { return nil }
            let fields = stat[afterName.upperBound...].split(separator: " ")
            return fields.count > 19 ? String(fields[19]) : nil
        }
        let session = try Session(model: model)
        let threads = session.pipeline.threadIDs
        #expect(Set(threads.compactMap(name)) == ["dl-read", "dl-restore", "dl-exec"])
        let started = threads.map(startTime)
        session.close()
        // A joined thread's /proc entry can outlive pthread_join by a moment (the kernel reaps it after the
        // join's futex wake; seen once under ThreadSanitizer): look again for up to a second.
        var stillRunning = zip(threads, started).filter { thread, start in start != nil && startTime(of: thread) == start }
        for _ in 0..<100 where !stillRunning.isEmpty {
            usleep(10_000)
            stillRunning = stillRunning.filter { thread, start in startTime(of: thread) == start }
        }
        #expect(stillRunning.isEmpty, "every stage thread has exited once close() returns")
    }

    @Test func statsCoverEveryLayer() throws {
        let session = try Session(model: model, options: .init(policy: .pipelined, depth: 2))
        _ = try session.run(tinyInputs())
        let stats = session.lastStats!
        #expect(stats.layers.count == model.layers.count)
        for (index, layer) in stats.layers.enumerated() {
            #expect(layer.execute.endNanoseconds >= layer.execute.startNanoseconds && layer.execute.endNanoseconds > 0, "layer \(index)")
            if !model.layers[index].files.isEmpty {
                #expect(layer.read.startNanoseconds < layer.read.endNanoseconds, "layer \(index): the read span covers the read")
                #expect(layer.read.endNanoseconds <= layer.restore.startNanoseconds, "layer \(index) restored before read")
                #expect(layer.restore.endNanoseconds <= layer.execute.startNanoseconds, "layer \(index) ran before restore")
            }
        }
        #expect(stats.latencyNanoseconds >= stats.layers.last!.execute.endNanoseconds)
    }
}

@Suite struct ActivationArenaTests {
    @Test func valuesAliveAtTheSameTimeNeverShareBytes() throws {
        let model = try Model.open(Scratch.tinyModelPath)
        let plan = ActivationArena.plan(model)
        var step = 0
        var first: [String: Int] = [:]
        var last: [String: Int] = [:]
        for layer in model.layers {
            for node in layer.nodes {
                for input in node.inputs where first[input] != nil { last[input] = step }
                first[node.outputs[0]] = step
                last[node.outputs[0]] = step
                step += 1
            }
        }
        for output in model.manifest.outputs { last[output.name] = step }
        let names = Array(first.keys)
        for a in names {
            for b in names where a < b && first[a]! <= last[b]! && first[b]! <= last[a]! {
                let aRange = plan.offsets[a]!..<(plan.offsets[a]! + model.shapes[a]!.elementCount)
                let bRange = plan.offsets[b]!..<(plan.offsets[b]! + model.shapes[b]!.elementCount)
                #expect(!aRange.overlaps(bRange), "\(a) and \(b) are alive together but share bytes")
            }
        }
        let everything = names.reduce(0) { $0 + model.shapes[$1]!.elementCount }
        #expect(plan.floatCount < everything, "planning reuses memory")
    }

    /// A stack of residual blocks: `a` and `c` are read for the last time by 1x1 Convs with a fused
    /// residual (K = 16, one slice: they may write over them); `g`'s residual Conv has K = 288 (it may not).
    static let residualModelPath: String = {
        let path = Scratch.directory("residual") + "/residual.dlm"
        let b = GraphBuilder(writer: try! ModelWriter(destination: path, name: "residual"), seed: 21)
        b.input("input", shape: [1, 8, 12, 12])
        let a = try! b.conv("input", 16, kernel: 3, name: "a")
        let bb = try! b.conv(a, 16, kernel: 1, name: "b")
        let c = try! b.conv(bb, 16, kernel: 1, residual: a, name: "c")
        let d = try! b.conv(c, 16, kernel: 1, name: "d")
        let e = try! b.conv(d, 16, kernel: 1, residual: c, name: "e")
        let f = try! b.conv(e, 32, kernel: 1, name: "f")
        let g = try! b.conv(f, 16, kernel: 3, residual: e, name: "g")
        var x = try! b.globalAveragePool(g)
        x = try! b.flatten(x)
        try! b.output(try! b.softmax(try! b.dense(x, 10)))
        _ = try! b.finish()
        return path
    }()

    @Test func aResidualConvWritesOverItsResidualOnlyWhereItsKernelAllowsIt() throws {
        let model = try Model.open(Self.residualModelPath)
        let mayShare: (Int, Int) -> Bool = { layerIndex, nodeIndex in
            let node = model.layers[layerIndex].nodes[nodeIndex]
            return model.operators[layerIndex][nodeIndex].mayWriteOverResidual(inputs: node.inputs.map { model.shapes[$0]! },
                                                                               output: model.shapes[node.outputs[0]]!)
        }
        let plan = ActivationArena.plan(model, sharesResidual: mayShare)
        let alone = ActivationArena.plan(model)
        let conv = { (name: String) in model.layers.flatMap(\.nodes).first { $0.outputs[0].hasPrefix(name) && $0.op == "Conv" }! }
        let (a, c, e, g) = (conv("a").outputs[0], conv("c").outputs[0], conv("e").outputs[0], conv("g").outputs[0])
        if BLAS.Path.best.isa != nil {
            #expect(plan.offsets[c] == plan.offsets[a] && plan.offsets[e] == plan.offsets[c], "c over a, e over c")
            #expect(plan.offsets[g] != plan.offsets[e], "g's K of 288 is summed in two slices: it may not write over e")
            #expect(plan.floatCount <= alone.floatCount, "sharing never grows the arena")
        } else {
            #expect(plan.offsets == alone.offsets, "without CKernels' GEMM nothing shares")
        }
        #expect(alone.offsets[c] != alone.offsets[a], "without the predicate nothing shares")
        // The session (sharing) against the same kernels on separate buffers, bit for bit, on 1 and 2 threads.
        var random = SeededRandom(seed: 3)
        let input = Tensor(zeros: [1, 8, 12, 12])
        random.fill(input.buffer, bound: 1)
        var values: [String: Tensor] = ["input": input]
        let workspace = Workspace()
        for (layerIndex, layer) in model.layers.enumerated() {
            let weights = try GraphReference.weights(model, layer: layerIndex)
            values.merge(weights) { old, _ in old }
            for (nodeIndex, node) in layer.nodes.enumerated() {
                let output = Tensor(zeros: model.shapes[node.outputs[0]]!)
                try model.operators[layerIndex][nodeIndex].execute(inputs: node.inputs.map { values[$0]! }, output: output,
                                                                   workspace: workspace)
                values[node.outputs[0]] = output
            }
        }
        let expected = Dictionary(uniqueKeysWithValues: model.manifest.outputs.map { ($0.name, values[$0.name]!) })
        for threads in [1, 2] {
            let session = try Session(model: model, options: .init(policy: .resident, threadCount: threads))
            #expect(bitIdentical(try session.run(["input": input]), expected), "\(threads) thread(s)")
        }
    }

    @Test func outputsSurviveTheNextInference() throws {
        let session = try Session(model: try Model.open(Scratch.tinyModelPath))
        let first = try session.run(tinyInputs(seed: 1))
        let kept = first["softmax0.out"]!.array
        let second = try session.run(tinyInputs(seed: 2))
        #expect(first["softmax0.out"]!.array == kept, "a returned output was overwritten by the next run")
        #expect(second["softmax0.out"]!.array != kept)
        #expect(bitIdentical(try session.run(tinyInputs(seed: 1)), first), "the reused arena gives the same answer")
    }
}
