import DemandFormat
import DemandIO
@testable import DemandLayer
import DemandTensor
import DemandTestSupport
import Foundation
import Synchronization
import Testing

/// Faults injected below a whole session: reads that fail, come back short or
/// stall, and layer files changed between open and run. Each inference either
/// gives the right answer or ends with an error naming layer, file and
/// offset; either way the session's threads, ring and reads are back to rest
/// and the next inference is right.
@Suite struct SessionFaultTests {
    static let engines: [IOEngineChoice] = [.uring, .aio, .pread]

    let model = try! Model.open(Scratch.tinyModelPath)
    let expected = try! Session(model: try! Model.open(Scratch.tinyModelPath), options: .init(policy: .resident)).run(tinyInputs())

    func options(_ policy: Policy = .pipelined, io: IOEngineChoice = .auto, plan: FaultPlan) -> SessionOptions {
        var options = SessionOptions(policy: policy, io: io, requestBytes: 4096, queueDepth: 4)
        options.engineWrapper = plan.wrapper
        return options
    }

    @Test(arguments: engines)
    func shortReadsAreResubmittedAndTheAnswerIsRight(io: IOEngineChoice) throws {
        let plan = FaultPlan()
        var options = options(io: io, plan: plan)
        options.requestBytes = 64 << 10
        let session = try Session(model: model, options: options)
        plan.set(.shortReads)
        for _ in 0..<3 {
            #expect(bitIdentical(try session.run(tinyInputs()), expected))
        }
        #expect(plan.faultsInjected >= 3, "short reads were injected (\(plan.faultsInjected))")
        guard case .ring(_, let scheduler) = session.pipeline.source else { Issue.record("not a ring session"); return }
        #expect(scheduler.resubmittedRequestCount == plan.faultsInjected, "every short read was resubmitted for the rest")
        #expect(session.ringBytesHeld == 0 && session.readsInFlight == 0)
        print("faults: \(io): \(plan.faultsInjected) short reads in 3 inferences, all resubmitted, outputs right")
    }

    @Test(arguments: [Policy.pipelined, .linear, .bulk, .deepeye, .partial], engines)
    func readErrorNamesLayerFileAndOffsetAndTheSessionRecovers(policy: Policy, io: IOEngineChoice) throws {
        let plan = FaultPlan()
        let session = try Session(model: model, options: options(policy, io: io, plan: plan))
        let threads = session.pipeline.threadIDs
        let layer = model.largestLayerIndex
        let file = model.filePath(model.layers[layer].files[0])
        let offset: Int64 = 8192
        for round in 0..<3 {
            plan.set(.fail(fd: session.pipeline.fileDescriptors[layer][0], offsetBytes: offset, errno: .ioError))
            do {
                _ = try session.run(tinyInputs())
                Issue.record("round \(round): the inference succeeded despite EIO")
            } catch {
                #expect(error.code == .readFailed)
                #expect(error.layer?.index == layer)
                #expect(error.path == file && error.offsetBytes == offset)
                for fragment in ["layer \(layer) '\(model.layers[layer].name)'", file, "offset \(offset)", "Input/output error", "dmesg"] {
                    #expect(error.description.contains(fragment), "'\(error)' should mention '\(fragment)'")
                }
            }
            #expect(session.ringBytesHeld == 0, "a failed inference left ring bytes held")
            #expect(session.readsInFlight == 0, "a failed inference left reads in flight")
            #expect(session.stageThreadsAlive(threads), "the stage threads are the same three, alive")
            plan.set(.nothing)
            #expect(bitIdentical(try session.run(tinyInputs()), expected), "round \(round): the next inference is right")
        }
        #expect(plan.faultsInjected == 3)
    }

    @Test func readErrorWhileLoadingResidentFailsTheOpen() throws {
        // Resident reads at open, before the file descriptors are known: fail
        // the first read at offset 8192 of whichever layer has one.
        var options = SessionOptions(policy: .resident, requestBytes: 4096)
        options.engineWrapper = { inner in
            FaultInjectingEngine(inner) { request, _ in request.offsetBytes == 8192 ? .error(.ioError) : .none }
        }
        do {
            _ = try Session(model: model, options: options)
            Issue.record("the session opened despite EIO")
        } catch {
            #expect(error.code == .readFailed && error.offsetBytes == 8192, "\(error)")
            #expect(error.layer != nil && error.path != nil, "\(error)")
        }
    }

    @Test func stalledReadDelaysTheInferenceButItIsRight() throws {
        let plan = FaultPlan()
        let session = try Session(model: model, options: options(plan: plan))
        let stall: UInt64 = 150_000_000
        plan.set(.stall(fd: session.pipeline.fileDescriptors[model.largestLayerIndex][0], nanoseconds: stall))
        #expect(bitIdentical(try session.run(tinyInputs()), expected))
        #expect(session.lastStats!.latencyNanoseconds >= stall, "the stall was injected")
        #expect(plan.faultsInjected == 1)
    }

    // MARK: Files changed between open and run

    @Test(arguments: engines)
    func fileTruncatedAfterOpenThenRestored(io: IOEngineChoice) throws {
        let path = Scratch.tinyCopy("truncated\(io)")
        let model = try Model.open(path)
        let session = try Session(model: model, options: .init(policy: .pipelined, io: io))
        let threads = session.pipeline.threadIDs
        let layer = model.largestLayerIndex
        let file = model.filePath(model.layers[layer].files[0])
        let original = try Data(contentsOf: URL(fileURLWithPath: file))
        let keptBytes = 3 * 4096
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        try handle.truncate(atOffset: UInt64(keptBytes))
        do {
            _ = try session.run(tinyInputs())
            Issue.record("a truncated layer file was read without error")
        } catch {
            #expect(error.code == .readFailed && error.layer?.index == layer && error.path == file, "\(error)")
            #expect(error.offsetBytes == Int64(keptBytes), "the error is at the file's new end: \(error)")
            #expect(error.description.contains("truncated"), "\(error)")
        }
        #expect(session.ringBytesHeld == 0 && session.readsInFlight == 0 && session.stageThreadsAlive(threads))
        // The same file (same inode) is whole again: the session reads it.
        try handle.seek(toOffset: 0)
        try handle.write(contentsOf: original)
        try handle.close()
        #expect(bitIdentical(try session.run(tinyInputs()), expected))
    }

    @Test func fileReplacedByRenameKeepsTheOpenedFile() throws {
        let path = Scratch.tinyCopy()
        let model = try Model.open(path)
        let session = try Session(model: model, options: .init(policy: .pipelined))
        let file = model.filePath(model.layers[model.largestLayerIndex].files[0])
        // A converter replaces the file atomically: the session holds the old
        // one open and keeps reading it; a session opened now sees the new one.
        let replacement = file + ".new"
        try Data(repeating: 0x3F, count: model.layers[model.largestLayerIndex].byteCount).write(to: URL(fileURLWithPath: replacement))
        #expect(rename(replacement, file) == 0)
        #expect(bitIdentical(try session.run(tinyInputs()), expected))
        let reopened = try Session(model: try Model.open(path), options: .init(policy: .pipelined))
        #expect(throws: RuntimeError.self) { _ = try reopened.run(tinyInputs()) }
    }

    @Test(arguments: [Policy.pipelined, .linear, .bulk, .deepeye, .partial, .mmap])
    func fileOverwrittenInPlaceIsAChecksumMismatchMidModel(policy: Policy) throws {
        let path = Scratch.tinyCopy("overwritten\(policy)")
        let model = try Model.open(path)
        let session = try Session(model: model, options: .init(policy: policy))
        let threads = session.pipeline.threadIDs
        let layer = model.layers.count / 2
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
            #expect(error.description.contains("CRC-32C"))
        }
        #expect(executed.value <= layer, "no layer at or after the corrupt one ran (\(executed.value) ran)")
        #expect(session.ringBytesHeld == 0 && session.stageThreadsAlive(threads))
        try original.write(to: URL(fileURLWithPath: file), options: [])
        session.pipeline.weightObserver = nil
        #expect(bitIdentical(try session.run(tinyInputs()), expected))
    }
}

/// A count shared between threads.
final class Counter: Sendable {
    private let count = Locked(0)
    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
