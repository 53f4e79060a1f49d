import DemandFormat
import DemandIO
@testable import DemandLayer
import DemandTensor
import DemandTestSupport
import DemandZoo
import Foundation
import Testing

/// Sessions given a byte budget: planned (ring, resident layers, layers split
/// into pieces), on the `splitnet` zoo model, whose 2.6 MiB conv and 2.3 and
/// 7.8 MiB fully connected layers must be split under a small budget. Every
/// planned inference must give the resident output bit for bit; faults inside
/// a piece give the same clear errors as anywhere else and leave the session usable.
@Suite struct SplitSessionTests {
    static let modelPath: String = {
        let path = Scratch.directory("splitnet") + "/splitnet.dlm"
        try! Zoo.make("splitnet", at: path)
        return path
    }()

    let model = try! Model.open(SplitSessionTests.modelPath)
    var inputs: [String: Tensor] {
        var random = SeededRandom(seed: 7)
        let input = Tensor(zeros: [1, 3, 32, 32])
        random.fill(input.buffer, bound: 1)
        return ["input": input]
    }

    /// A profile measured once per process (the same figures for every test).
    static let profile: LayerProfile = {
        let model = try! Model.open(modelPath)
        return try! LayerProfile.measure(model, options: SessionOptions(budgetBytes: model.weightByteCount, threadCount: 1))
    }()

    func options(budget: Int, requestBytes: Int = 64 << 10, plan: FaultPlan? = nil) -> SessionOptions {
        var options = SessionOptions(budgetBytes: budget, threadCount: 1, requestBytes: requestBytes, queueDepth: 4)
        options.profile = Self.profile
        options.engineWrapper = plan?.wrapper
        return options
    }

    var minimum: Int { Planner.minimumBudget(Session.costs(of: model, splits: Session.splits(of: model), profile: Self.profile)) }

    var resident: [String: Tensor] {
        try! Session(model: model, options: SessionOptions(policy: .resident, threadCount: 1)).run(inputs)
    }

    /// The largest layer the plan splits, and its pieces' units.
    func splitUnits(_ session: Session) -> [ReadUnit] {
        let layer = session.streamPlan!.splitLayers.max { model.layers[$0].byteCount < model.layers[$1].byteCount }!
        return session.pipeline.units.filter { $0.layer == layer }
    }

    @Test func piecesGiveTheResidentOutputBitForBit() throws {
        let expected = resident
        let total = model.weightByteCount
        for budget in [minimum, minimum + (1 << 20), total / 2, total] {
            let session = try Session(model: model, options: options(budget: budget))
            let plan = try #require(session.streamPlan)
            for _ in 0..<2 { #expect(bitIdentical(try session.run(inputs), expected), "budget \(budget): planned output differs from resident") }
            let stats = try #require(session.lastStats)
            #expect(stats.peakWeightBytes <= budget, "budget \(budget): \(stats.peakWeightBytes) weight bytes held")
            #expect(plan.weightBytes <= budget)
            if budget < model.largestLayerByteCount {
                #expect(plan.splitLayers.contains(model.largestLayerIndex), "the largest layer, larger than the budget, is split")
                #expect(session.pipeline.units.allSatisfy { $0.byteCount <= session.arenaBytes }, "every unit fits the ring")
            }
        }
    }

    @Test func budgetBelowTheMinimumIsRefusedWithTheMinimum() throws {
        let least = minimum
        #expect(least < model.largestLayerByteCount, "splitting lowers the floor below the largest layer")
        do {
            _ = try Session(model: model, options: options(budget: least - 4096))
            Issue.record("a budget below the minimum was accepted")
        } catch {
            #expect(error.code == .budgetTooSmall)
            #expect(error.message.contains("\(least) bytes"), "'\(error.message)' should state the minimum, \(least) bytes")
        }
        #expect(bitIdentical(try Session(model: model, options: options(budget: least)).run(inputs), resident))
    }

    @Test func budgetHoldingEverythingPlansEverythingResident() throws {
        let session = try Session(model: model, options: options(budget: model.weightByteCount))
        let plan = try #require(session.streamPlan)
        #expect(plan.resident.allSatisfy { $0 } && plan.splitLayers.isEmpty && plan.ringBytes == 0)
        #expect(bitIdentical(try session.run(inputs), resident))
        #expect(session.lastStats!.bytesRead == 0, "an all-resident plan reads nothing per inference")
    }

    @Test(arguments: [IOEngineChoice.uring, .pread])
    func readErrorInsideAPieceNamesLayerFileAndOffset(io: IOEngineChoice) throws {
        let fault = FaultPlan()
        var options = options(budget: minimum, plan: fault)
        options.io = io
        let session = try Session(model: model, options: options)
        let units = splitUnits(session)
        #expect(units.count >= 2)
        let piece = units[1]
        let layer = piece.layer
        let offset = Int64(piece.extents[0].offsetBytes)
        let threads = session.pipeline.threadIDs
        for round in 0..<2 {
            fault.set(.fail(fd: session.pipeline.fileDescriptors[layer][0], offsetBytes: offset, errno: .ioError))
            do {
                _ = try session.run(inputs)
                Issue.record("round \(round): the inference succeeded despite EIO inside piece 1")
            } catch {
                #expect(error.code == .readFailed && error.layer?.index == layer)
                #expect(error.path == model.filePath(model.layers[layer].files[0]) && error.offsetBytes == offset)
            }
            #expect(session.ringBytesHeld == 0 && session.readsInFlight == 0 && session.stageThreadsAlive(threads))
            fault.set(.nothing)
            #expect(bitIdentical(try session.run(inputs), resident), "round \(round): the next inference is right")
        }
    }

    @Test func shortReadsInsidePiecesAreResubmitted() throws {
        let fault = FaultPlan()
        let session = try Session(model: model, options: options(budget: minimum, plan: fault))
        fault.set(.shortReads)
        for _ in 0..<2 { #expect(bitIdentical(try session.run(inputs), resident)) }
        #expect(fault.faultsInjected >= 2)
    }

    @Test func aCorruptPieceFailsTheLayersChecksumAndTheSessionRecovers() throws {
        let directory = Scratch.directory() + "/splitnet.dlm"
        try FileManager.default.copyItem(atPath: Self.modelPath, toPath: directory)
        defer { Scratch.remove(directory) }
        let copy = try Model.open(directory)
        let session = try Session(model: copy, options: options(budget: minimum))
        let units = splitUnits(session)
        let layer = units[0].layer
        let path = copy.filePath(copy.layers[layer].files[0])
        // One byte in the middle of the second piece, changed after the session opened.
        let position = UInt64(units[1].extents[0].offsetBytes + units[1].byteCount / 2)
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        try handle.seek(toOffset: position)
        let original = try #require(try handle.read(upToCount: 1))
        try handle.seek(toOffset: position)
        try handle.write(contentsOf: Data([original[0] ^ 0x40]))
        do {
            _ = try session.run(inputs)
            Issue.record("a corrupt piece went unnoticed")
        } catch {
            #expect(error.code == .checksumMismatch && error.layer?.index == layer && error.path == path)
            #expect(error.message.contains("pieces"), "'\(error.message)' should say the layer was read in pieces")
        }
        try handle.seek(toOffset: position)
        try handle.write(contentsOf: original)
        try handle.close()
        #expect(bitIdentical(try session.run(inputs), resident), "after the file is put back, the next inference is right")
    }

    @Test func profileIsSavedBesideTheModelAndUsedOnlyForItsThreadCount() throws {
        let directory = Scratch.directory() + "/splitnet.dlm"
        try FileManager.default.copyItem(atPath: Self.modelPath, toPath: directory)
        defer { Scratch.remove(directory) }
        let copy = try Model.open(directory)
        #expect(LayerProfile.load(for: copy, threadCount: 1) == nil)
        var options = SessionOptions(budgetBytes: minimum, threadCount: 1)
        _ = try Session(model: copy, options: options)   // measures and saves
        let saved = try #require(LayerProfile.load(for: copy, threadCount: 1))
        #expect(saved.executeNanoseconds.count == copy.layers.count && saved.readBytesPerSecond > 0)
        #expect(saved.executeNanoseconds.allSatisfy { $0 > 0 }, "every layer ran in the profiling runs")
        #expect(LayerProfile.load(for: copy, threadCount: 2) == nil, "a profile is for the thread count it was measured with")
        options.profile = saved
        #expect(try Session(model: copy, options: options).streamPlan != nil)
    }
}
