import DemandFormat
import DemandIO
@testable import DemandLayer
import DemandTensor
import DemandTestSupport
import DemandZoo
import Foundation
import Synchronization
import Testing

/// The deepeye and partial policies on two models with convolutions then
/// fully connected (Gemm) layers: `tiny` and `splitnet` (whose fully
/// connected layers, 2.3 and 7.8 MiB, outweigh its convolutions). Each gives
/// resident's output bit for bit, holds the weights it says it holds, reads
/// when it says it reads, and survives a failed read.
@Suite struct DeepEyeAndPartialTests {
    static let models = [Scratch.tinyModelPath, SplitSessionTests.modelPath]

    static func inputs(for model: Model) -> [String: Tensor] {
        var random = SeededRandom(seed: 7)
        let input = Tensor(zeros: model.manifest.inputs[0].shape)
        random.fill(input.buffer, bound: 1)
        return ["input": input]
    }

    @Test(arguments: models, [Policy.deepeye, .partial])
    func outputIsResidentsBitForBit(path: String, policy: Policy) throws {
        let model = try Model.open(path)
        let inputs = Self.inputs(for: model)
        let expected = try Session(model: model, options: .init(policy: .resident)).run(inputs)
        let session = try Session(model: model, options: .init(policy: policy))
        for _ in 0..<3 {
            #expect(bitIdentical(try session.run(inputs), expected))
            #expect(session.lastStats!.bytesRead == model.weightByteCount, "every layer is read each run")
        }
    }

    @Test func theFullyConnectedPartStartsAtTheFirstGemmWithAWeight() throws {
        for path in Self.models {
            let model = try Model.open(path)
            let start = try #require(BackgroundReader.fullyConnectedStart(of: model))
            #expect(model.layers[start].nodes.contains { $0.op == "Gemm" })
            #expect(model.layers[..<start].allSatisfy { $0.nodes.allSatisfy { $0.op != "Gemm" && $0.op != "MatMul" } })
            #expect(model.layers[start...].count == 2, "\(model.name): two dense layers, the softmax riding in the last")
        }
        // A transformer: from the first MatMul with a weight (attention's projections), not its activation-only MatMuls.
        let encoder = try TransformerBlockTests.makeModel()
        #expect(BackgroundReader.fullyConnectedStart(of: encoder) == 1, "the embedding layer before attention is the only other part")
    }

    @Test(arguments: models)
    func deepeyeHoldsTheLargestConvolutionAndEveryFullyConnectedLayer(path: String) throws {
        let model = try Model.open(path)
        let start = try #require(BackgroundReader.fullyConnectedStart(of: model))
        let convolutional = model.layers[..<start].map(\.byteCount).max()!
        let fullyConnected = model.layers[start...].reduce(0) { $0 + $1.byteCount }
        let session = try Session(model: model, options: .init(policy: .deepeye))
        #expect(session.arenaBytes == convolutional + fullyConnected, "layer files are 4 KiB multiples: both arenas exact")
        _ = try session.run(Self.inputs(for: model))
        let deepeye = session.lastStats!.peakWeightBytes
        #expect(deepeye == convolutional + fullyConnected)
        #expect(deepeye >= fullyConnected)
        let bulk = try Session(model: model, options: .init(policy: .bulk))
        _ = try bulk.run(Self.inputs(for: model))
        #expect(deepeye < bulk.lastStats!.peakWeightBytes, "less than bulk: the convolutions are held one at a time")
        #expect(Set(session.pipeline.threadIDs.compactMap(threadName)) == ["dl-read", "dl-restore", "dl-exec", "dl-read-fc"])
    }

    @Test func deepeyeViewsEveryWeightInPlaceInItsTwoArenas() throws {
        let model = try Model.open(SplitSessionTests.modelPath)
        let session = try Session(model: model, options: .init(policy: .deepeye))
        let arenas = try [session.pipeline.ring, session.pipeline.background?.ring].map { try #require($0) }.map { ring in
            UInt(bitPattern: ring.base)..<(UInt(bitPattern: ring.base) + UInt(ring.capacityBytes))
        }
        let addresses = Locked<[UInt]>([])
        session.pipeline.weightObserver = { weights in addresses.withLock { $0 += weights.values.map { UInt(bitPattern: $0.data) } } }
        for _ in 0..<3 { _ = try session.run(Self.inputs(for: model)) }
        let seen = addresses.withLock { $0 }
        #expect(seen.count == 3 * model.layers.reduce(0) { $0 + $1.weights.count })
        #expect(seen.allSatisfy { address in arenas.contains { $0.contains(address) } }, "no weight was copied or read elsewhere")
    }

    @Test(arguments: models)
    func partialHoldsTheWholeModel(path: String) throws {
        let model = try Model.open(path)
        let session = try Session(model: model, options: .init(policy: .partial))
        #expect(session.arenaBytes == model.weightByteCount)
        _ = try session.run(Self.inputs(for: model))
        #expect(session.lastStats!.peakWeightBytes == model.weightByteCount, "every layer's region is taken at the start of the run")
        #expect(Set(session.pipeline.threadIDs.compactMap(threadName)) == ["dl-read", "dl-restore", "dl-exec"])
    }

    @Test(arguments: models)
    func deepeyeReadsTheFullyConnectedPartFromTheStartAndTheRestLinearly(path: String) throws {
        let model = try Model.open(path)
        let start = try #require(BackgroundReader.fullyConnectedStart(of: model))
        let session = try Session(model: model, options: .init(policy: .deepeye))
        _ = try session.run(Self.inputs(for: model))
        let layers = session.lastStats!.layers
        for index in start..<layers.count {
            #expect(layers[index].read.startNanoseconds < layers[start - 1].execute.endNanoseconds,
                    "layer \(index)'s read started before the convolutional part had run")
            #expect(layers[index].read.endNanoseconds <= layers[index].restore.startNanoseconds)
        }
        for index in 1..<start {
            #expect(layers[index].read.startNanoseconds >= layers[index - 1].execute.endNanoseconds,
                    "layer \(index) is read only after layer \(index - 1) has run and released its region")
        }
    }

    @Test(arguments: models)
    func partialQueuesEveryLayerBeforeTheFirstRuns(path: String) throws {
        let model = try Model.open(path)
        let session = try Session(model: model, options: .init(policy: .partial))
        _ = try session.run(Self.inputs(for: model))
        let layers = session.lastStats!.layers
        for (index, layer) in layers.enumerated() {
            #expect(layer.read.startNanoseconds <= layers[0].execute.startNanoseconds, "layer \(index)'s read started at once")
            #expect(layer.read.endNanoseconds <= layer.restore.startNanoseconds && layer.restore.endNanoseconds <= layer.execute.startNanoseconds)
        }
    }

    /// With the last layer's first read held back 200 ms, partial has run the
    /// first layers long before the last is in (bulk would wait for it), with
    /// the engine's whole queue depth in flight.
    @Test func partialRunsEachLayerAsItLandsWithSeveralReadsInFlight() throws {
        let model = try Model.open(SplitSessionTests.modelPath)
        let plan = FaultPlan()
        var options = SessionOptions(policy: .partial, requestBytes: 64 << 10, queueDepth: 4)
        options.engineWrapper = plan.wrapper
        let session = try Session(model: model, options: options)
        let last = model.layers.count - 1
        plan.set(.stall(fd: session.pipeline.fileDescriptors[last][0], nanoseconds: 200_000_000))
        _ = try session.run(Self.inputs(for: model))
        let layers = session.lastStats!.layers
        #expect(layers[0].execute.endNanoseconds < layers[last].read.endNanoseconds, "the first layer ran while the last was being read")
        #expect(layers[last].read.endNanoseconds - layers[0].execute.endNanoseconds > 100_000_000)
        #expect(plan.mostOutstanding == 4, "the engine's queue depth in flight at once")
    }

    /// EIO in a layer of each part of deepeye (a convolution, read by the
    /// read stage; a fully connected layer, read by the background reader),
    /// and in partial's last layer: the run ends with `readFailed` naming the
    /// layer, the file and the offset; no region stays held, no read stays in
    /// flight, the threads are the same, and the next run is right.
    @Test(arguments: [(Policy.deepeye, false), (.deepeye, true), (.partial, true)], [IOEngineChoice.uring, .aio, .pread])
    func readErrorInEitherPartEndsTheRunAndTheSessionRecovers(policy: (Policy, Bool), io: IOEngineChoice) throws {
        let (policy, inFullyConnectedPart) = policy
        let model = try Model.open(SplitSessionTests.modelPath)
        let inputs = Self.inputs(for: model)
        let expected = try Session(model: model, options: .init(policy: .resident)).run(inputs)
        let plan = FaultPlan()
        var options = SessionOptions(policy: policy, io: io, requestBytes: 64 << 10, queueDepth: 4)
        options.engineWrapper = plan.wrapper
        let session = try Session(model: model, options: options)
        let threads = session.pipeline.threadIDs
        let start = try #require(BackgroundReader.fullyConnectedStart(of: model))
        let layer = inFullyConnectedPart ? model.layers.count - 1 : start - 1
        let file = model.filePath(model.layers[layer].files[0])
        let offset: Int64 = 128 << 10
        for round in 0..<2 {
            plan.set(.fail(fd: session.pipeline.fileDescriptors[layer][0], offsetBytes: offset, errno: .ioError))
            do {
                _ = try session.run(inputs)
                Issue.record("round \(round): the inference succeeded despite EIO")
            } catch {
                #expect(error.code == .readFailed && error.layer?.index == layer, "\(error)")
                #expect(error.path == file && error.offsetBytes == offset, "\(error)")
                #expect(error.description.contains("layer \(layer) '\(model.layers[layer].name)'"), "\(error)")
            }
            #expect(session.ringBytesHeld == 0, "a failed inference left ring bytes held")
            #expect(session.readsInFlight == 0, "a failed inference left reads in flight")
            #expect(session.stageThreadsAlive(threads))
            plan.set(.nothing)
            #expect(bitIdentical(try session.run(inputs), expected), "round \(round): the next inference is right")
            #expect(session.lastStats!.peakWeightBytes > 0)
        }
        #expect(plan.faultsInjected == 2)
    }

    @Test func aFullyConnectedFileOverwrittenInPlaceIsAChecksumMismatchBeforeItRuns() throws {
        let path = Scratch.tinyCopy()
        let model = try Model.open(path)
        let session = try Session(model: model, options: .init(policy: .deepeye))
        let layer = try #require(BackgroundReader.fullyConnectedStart(of: model))
        let file = model.filePath(model.layers[layer].files[0])
        let original = try Data(contentsOf: URL(fileURLWithPath: file))
        let executed = Counter()
        session.pipeline.weightObserver = { _ in executed.add() }
        try Data(repeating: 0x41, count: original.count).write(to: URL(fileURLWithPath: file), options: [])
        do {
            _ = try session.run(tinyInputs())
            Issue.record("an overwritten layer file passed its checksum")
        } catch {
            #expect(error.code == .checksumMismatch && error.layer?.index == layer && error.path == file, "\(error)")
        }
        // Restore finds the mismatch when the read stage forwards the layer, which may be before execute
        // reaches the layers ahead of it: those are then skipped too.
        #expect(executed.value <= layer, "no layer from it on ran (\(executed.value) ran)")
        #expect(session.ringBytesHeld == 0 && session.readsInFlight == 0)
        try original.write(to: URL(fileURLWithPath: file), options: [])
        session.pipeline.weightObserver = nil
        let expected = try Session(model: model, options: .init(policy: .resident)).run(tinyInputs())
        #expect(bitIdentical(try session.run(tinyInputs()), expected))
    }

    @Test func cancelWhileTheBackgroundReaderWaitsLeavesTheSessionUsable() throws {
        let model = try Model.open(SplitSessionTests.modelPath)
        let inputs = Self.inputs(for: model)
        let expected = try Session(model: model, options: .init(policy: .resident)).run(inputs)
        let plan = FaultPlan()
        var options = SessionOptions(policy: .deepeye, requestBytes: 64 << 10, queueDepth: 4)
        options.engineWrapper = plan.wrapper
        let session = try Session(model: model, options: options)
        // The last layer's first read stalls, so the run is still waiting for it when cancelled.
        let last = model.layers.count - 1
        plan.set(.stall(fd: session.pipeline.fileDescriptors[last][0], nanoseconds: 300_000_000))
        let result = Locked<RuntimeError?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            do throws(RuntimeError) { _ = try session.run(inputs) } catch { result.withLock { $0 = error } }
            done.signal()
        }
        #expect(plan.stalled.wait(timeout: .now() + 10) == .success, "the stalled read was issued")
        #expect(session.cancel(), "an inference was in flight")
        #expect(done.wait(timeout: .now() + 10) == .success, "the cancelled run returned")
        #expect(result.withLock { $0 }?.code == .cancelled)
        #expect(session.ringBytesHeld == 0 && session.readsInFlight == 0)
        plan.set(.nothing)
        #expect(bitIdentical(try session.run(inputs), expected))
    }
}

/// A thread's name, from /proc.
func threadName(_ thread: Int32) -> String? {
    (try? String(contentsOfFile: "/proc/self/task/\(thread)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
}
