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

/// A planned session reading an embedding table only in the rows each run's
/// token ids ask for (format version 2's chunk checksums), against the same
/// model resident.
@Suite struct RowGatherSessionTests {
    static let (vocabulary, width, tokens) = (8192, 256, 32)

    /// An 8 MiB table gathered by the graph input `ids`, scaled by a small held weight.
    static let modelPath: String = {
        let path = Scratch.directory("rowgather") + "/embed.dlm"
        let writer = try! ModelWriter(destination: path, name: "embed")
        var random = SeededRandom(seed: 11)
        writer.addInput("ids", shape: [1, tokens], dtype: .int64)
        writer.beginLayer("embed")
        for (name, shape) in [("table", [vocabulary, width] as Shape), ("scale", [width])] {
            var values = [Float](repeating: 0, count: shape.elementCount)
            values.withUnsafeMutableBufferPointer { random.fill($0, bound: 1) }
            values.withUnsafeBufferPointer { writer.addWeight(name, shape: shape, values: $0) }
        }
        _ = try! writer.addNode(Manifest.Node(name: "embedded", op: "Gather", inputs: ["table", "ids"], outputs: ["embedded"]))
        _ = try! writer.addNode(Manifest.Node(name: "scaled", op: "Mul", inputs: ["embedded", "scale"], outputs: ["scaled"]))
        try! writer.endLayer()
        try! writer.addOutput("scaled")
        try! writer.finish()
        return path
    }()

    let model = try! Model.open(RowGatherSessionTests.modelPath)

    func ids(_ values: [Int]) -> [String: Tensor] { ["ids": Tensor(shape: [1, Self.tokens], values: values.map(Float.init))] }
    var someIDs: [Int] { (0..<Self.tokens).map { ($0 * 977 + 13) % Self.vocabulary } }

    func planned(budget: Int = 2 << 20) throws -> Session {
        var options = SessionOptions(budgetBytes: budget, threadCount: 1, requestBytes: 64 << 10, queueDepth: 4)
        options.profile = LayerProfile(model: model, threadCount: 1, executeNanoseconds: [10_000], readBytesPerSecond: 2e9)
        return try Session(model: model, options: options)
    }

    @Test func onlyTheAskedRowsAreReadAndTheOutputIsTheResidentOne() throws {
        #expect(model.layers[0].files[0].chunkCRC32C != nil, "the writer checksums an embedding table in chunks")
        let resident = try Session(model: model, options: SessionOptions(policy: .resident, threadCount: 1))
        let session = try planned()
        for values in [someIDs, Array(repeating: 5, count: Self.tokens), (0..<Self.tokens).map { -1 - $0 }] {
            #expect(bitIdentical(try session.run(ids(values)), try resident.run(ids(values))))
            let read = session.lastStats!.bytesRead
            #expect(read > 0 && read <= Self.tokens * 2 * Layout.chunkBytes, "\(read) bytes read for \(Self.tokens) rows")
        }
        #expect(session.lastStats!.peakWeightBytes <= 2 << 20)
    }

    @Test func budgetBelowTheTableIsPlannedAndAnOutOfRangeIDIsAnError() throws {
        let session = try planned(budget: 3 << 19)   // 1.5 MiB of an 8 MiB table
        var bad = someIDs
        bad[3] = Self.vocabulary
        do {
            _ = try session.run(ids(bad))
            Issue.record("an out-of-range id was accepted")
        } catch {
            #expect(error.code == .operatorFailed && error.message.contains("out of range"), "\(error)")
        }
        #expect(session.ringBytesHeld == 0 && session.readsInFlight == 0)
        _ = try session.run(ids(someIDs))
    }

    @Test func aCorruptChunkIsFoundOnlyWhenARowNeedsIt() throws {
        let directory = Scratch.directory() + "/embed.dlm"
        try FileManager.default.copyItem(atPath: Self.modelPath, toPath: directory)
        defer { Scratch.remove(directory) }
        let copy = try Model.open(directory)
        var options = SessionOptions(budgetBytes: 2 << 20, threadCount: 1, requestBytes: 64 << 10, queueDepth: 4)
        options.profile = LayerProfile(model: copy, threadCount: 1, executeNanoseconds: [10_000], readBytesPerSecond: 2e9)
        let session = try Session(model: copy, options: options)
        let path = copy.filePath(copy.layers[0].files[0])
        let rowBytes = Self.width * 4
        let row = 4000
        let position = UInt64(row * rowBytes + 8)
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: position)
        let original = try #require(try handle.read(upToCount: 1))
        try handle.seek(toOffset: position)
        try handle.write(contentsOf: Data([original[0] ^ 0x01]))
        _ = try session.run(ids(Array(repeating: 7, count: Self.tokens)))   // the damaged chunk is not read
        do {
            _ = try session.run(ids([row] + Array(repeating: 7, count: Self.tokens - 1)))
            Issue.record("a corrupt chunk went unnoticed")
        } catch {
            let chunk = row * rowBytes / Layout.chunkBytes
            #expect(error.code == .checksumMismatch && error.path == path && error.offsetBytes == Int64(chunk * Layout.chunkBytes), "\(error)")
        }
        try handle.seek(toOffset: position)
        try handle.write(contentsOf: original)
        _ = try session.run(ids([row] + Array(repeating: 7, count: Self.tokens - 1)))
    }
}
