import DemandFormat
import DemandIO
@testable import DemandLayer
import DemandTensor
import DemandTestSupport
import DemandZoo
import Dispatch
import Foundation
import Synchronization
import Testing

/// Several sessions at once, one session from several threads, and ending an
/// inference early (cancel, deadline).
@Suite struct SessionConcurrencyTests {
    /// A second architecture beside `tiny`: a plain conv stack and classifier.
    static let stackModelPath: String = {
        let path = Scratch.directory("stack") + "/stack.dlm"
        let writer = try! ModelWriter(destination: path, name: "stack")
        let b = GraphBuilder(writer: writer, seed: 11)
        b.input("input", shape: [1, 3, 32, 32])
        var x = try! b.conv("input", 32, kernel: 3, stride: 2)
        x = try! b.conv(x, 64, kernel: 3, stride: 2)
        x = try! b.conv(x, 64, kernel: 3)
        x = try! b.globalAveragePool(x)
        x = try! b.flatten(x)
        x = try! b.dense(x, 100)
        try! b.output(try! b.softmax(x))
        _ = try! b.finish()
        return path
    }()

    /// Tiny's topology with other weights.
    static let reseededTinyPath: String = {
        let path = Scratch.directory("reseeded") + "/tiny.dlm"
        try! Zoo.make("tiny", at: path, seed: 99)
        return path
    }()

    @Test func sessionsOnDifferentModelsFromSeveralThreadsMatchTheirRunsAlone() throws {
        let cases: [(path: String, policy: Policy)] = [
            (Scratch.tinyModelPath, .pipelined), (Self.stackModelPath, .pipelined),
            (Self.reseededTinyPath, .linear), (Self.stackModelPath, .mmap),
        ]
        let inputs = tinyInputs(seed: 5)
        let alone = try cases.map { try Session(model: try Model.open($0.path), options: .init(policy: $0.policy, threadCount: 1)).run(inputs) }
        #expect(!bitIdentical(alone[0], alone[2]) && alone[1]["softmax0.out"] != nil, "the models differ")
        let sessions = try cases.map { try Session(model: try Model.open($0.path), options: .init(policy: $0.policy, threadCount: 1)) }
        let mismatches = Counter()
        let failures = Counter()
        let runs = 8
        onThreads(cases.count) { index in
            for _ in 0..<runs {
                do {
                    if !bitIdentical(try sessions[index].run(inputs), alone[index]) { mismatches.add() }
                } catch {
                    failures.add()
                }
            }
        }
        #expect(failures.value == 0 && mismatches.value == 0, "\(failures.value) failed and \(mismatches.value) differed of \(cases.count * runs)")
    }

    @Test func oneSessionCalledFromTwoThreadsSerializesTheRuns() throws {
        let model = try Model.open(Scratch.tinyModelPath)
        let session = try Session(model: model, options: .init(policy: .pipelined, depth: 1, threadCount: 1))
        let expected = try [1, 2].map { try session.run(tinyInputs(seed: $0)) }
        // The execute stage sees layers 0, 1, …, n-1 of one inference before
        // any layer of the next: inferences never interleave.
        let sequence = Locked<[Int]>([])
        let layerOf = Dictionary(uniqueKeysWithValues: model.layers.enumerated().flatMap { index, layer in layer.weights.map { ($0.name, index) } })
        session.pipeline.weightObserver = { weights in
            if let name = weights.keys.first, let layer = layerOf[name] { sequence.withLock { $0.append(layer) } }
        }
        let wrong = Counter()
        let runs = 20
        onThreads(2) { thread in
            let inputs = tinyInputs(seed: UInt64(thread + 1))
            for _ in 0..<runs {
                guard let outputs = try? session.run(inputs), bitIdentical(outputs, expected[thread]) else { wrong.add(); continue }
            }
        }
        #expect(wrong.value == 0, "\(wrong.value) of \(2 * runs) inferences failed or gave the other thread's answer")
        let weighted = model.layers.indices.filter { !model.layers[$0].weights.isEmpty }
        let seen = sequence.withLock { $0 }
        #expect(seen.count == 2 * runs * weighted.count)
        #expect(seen == Array(Array(repeating: weighted, count: 2 * runs).joined()), "layers of two inferences interleaved")
        #expect(session.ringBytesHeld == 0)
    }

    @Test(arguments: [Policy.pipelined, .linear, .bulk, .deepeye, .partial])
    func cancelEndsTheInferenceInFlightAndTheSessionGoesOn(policy: Policy) throws {
        let model = try Model.open(Scratch.tinyModelPath)
        let expected = try Session(model: model, options: .init(policy: .resident)).run(tinyInputs())
        let plan = FaultPlan()
        var options = SessionOptions(policy: policy)
        options.engineWrapper = plan.wrapper
        let session = try Session(model: model, options: options)
        #expect(!session.cancel(), "nothing in flight to cancel")
        let stalledLayer = model.largestLayerIndex
        plan.set(.stall(fd: session.pipeline.fileDescriptors[stalledLayer][0], nanoseconds: 300_000_000))
        let executed = Counter()
        session.pipeline.weightObserver = { _ in executed.add() }
        let result = Locked<Result<[String: Tensor], RuntimeError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            do throws(RuntimeError) {
                let outputs = try session.run(tinyInputs())
                result.withLock { $0 = .success(outputs) }
            } catch {
                result.withLock { $0 = .failure(error) }
            }
            done.signal()
        }
        #expect(plan.stalled.wait(timeout: .now() + 10) == .success, "the stalled read was issued")
        #expect(session.cancel(), "an inference was in flight")
        #expect(done.wait(timeout: .now() + 10) == .success, "the cancelled run returned")
        switch result.withLock({ $0 }) {
        case .failure(let error):
            #expect(error.code == .cancelled && error.description.contains("cancelled"), "\(error)")
        default:
            Issue.record("the cancelled inference did not end with .cancelled")
        }
        #expect(executed.value <= stalledLayer, "the layers from the stalled one on were skipped (\(executed.value) ran)")
        #expect(session.ringBytesHeld == 0 && session.readsInFlight == 0)
        plan.set(.nothing)
        session.pipeline.weightObserver = nil
        #expect(bitIdentical(try session.run(tinyInputs()), expected))
        #expect(!session.cancel(), "a finished inference is not cancelled afterwards")
    }

    @Test func deadlineEndsAStalledInferenceWithATimeoutAndTheSessionGoesOn() throws {
        let model = try Model.open(Scratch.tinyModelPath)
        let expected = try Session(model: model, options: .init(policy: .resident)).run(tinyInputs())
        let plan = FaultPlan()
        var options = SessionOptions(policy: .pipelined)
        options.engineWrapper = plan.wrapper
        let session = try Session(model: model, options: options)
        plan.set(.stall(fd: session.pipeline.fileDescriptors[model.largestLayerIndex][0], nanoseconds: 300_000_000))
        let start = Clock.now()
        do {
            _ = try session.run(tinyInputs(), timeoutNanoseconds: 50_000_000)
            Issue.record("the inference outlived its deadline without an error")
        } catch {
            #expect(error.code == .timedOut && error.description.contains("deadline of 50.0 ms"), "\(error)")
        }
        #expect(Clock.now() - start < 5_000_000_000)
        #expect(session.ringBytesHeld == 0 && session.readsInFlight == 0)
        plan.set(.nothing)
        // A generous deadline does not fire; no deadline is the default.
        #expect(bitIdentical(try session.run(tinyInputs(), timeoutNanoseconds: 60_000_000_000), expected))
        #expect(bitIdentical(try session.run(tinyInputs()), expected))
    }

    @Test func deadlineAlreadyPassedEndsEveryPolicy() throws {
        let model = try Model.open(Scratch.tinyModelPath)
        for policy in Policy.allCases {
            let session = try Session(model: model, options: .init(policy: policy))
            #expect(throws: RuntimeError.self, "\(policy)") { _ = try session.run(tinyInputs(), timeoutNanoseconds: 1) }
            #expect(session.ringBytesHeld == 0 || policy == .resident)
            #expect(try session.run(tinyInputs()).count == 1, "\(policy) goes on after a timeout")
        }
    }
}
