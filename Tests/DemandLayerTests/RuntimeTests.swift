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

/// Several models in one `Runtime`, sharing one weight budget: concurrent
/// requests give each model's resident output bit for bit inside the budget,
/// the scheduler dispatches in its policy's order, a fault in one model's
/// reads fails only that model's request, and models come and go.
@Suite(.serialized) struct RuntimeTests {
    /// tiny (small convs), stack (a conv stack and a classifier) and splitnet
    /// (layers that must be read in pieces under a small ring).
    static let paths = [Scratch.tinyModelPath, SessionConcurrencyTests.stackModelPath, SplitSessionTests.modelPath]
    static let models = paths.map { try! Model.open($0) }
    /// Each model's profile, measured once (given to `add`, so nothing is saved beside shared models).
    static let profiles = models.map { try! LayerProfile.measure($0, options: SessionOptions(budgetBytes: $0.weightByteCount, threadCount: 1)) }
    static let inputs: [[String: Tensor]] = models.map { model in
        var random = SeededRandom(seed: 3)
        var inputs: [String: Tensor] = [:]
        for input in model.inputs {
            let tensor = Tensor(zeros: input.shape)
            random.fill(tensor.buffer, bound: 1)
            inputs[input.name] = tensor
        }
        return inputs
    }
    static let resident: [[String: Tensor]] = zip(models, inputs).map { model, inputs in
        try! Session(model: model, options: SessionOptions(policy: .resident, threadCount: 1)).run(inputs)
    }

    /// 6 MiB: below splitnet's 13 MiB and the three models' sum, so layers are split and models take turns.
    static let budget = 6 << 20

    func runtime(_ scheduling: Runtime.Scheduling = .fifo, budget: Int = RuntimeTests.budget, lanes: Int = 1, plan: FaultPlan? = nil,
                 faultyModel: String? = nil) throws -> (Runtime, [RuntimeModel]) {
        var options = Runtime.Options(budgetBytes: budget, scheduling: scheduling, lanes: lanes, threadCount: 1, requestBytes: 64 << 10, queueDepth: 4)
        if let plan, let faultyModel {
            let wrap = plan.wrapper
            options.engineWrapper = { name, engine in name == faultyModel ? wrap(engine) : engine }
        }
        let runtime = try Runtime(options: options)
        let members = try Self.models.indices.map { try runtime.add(Self.models[$0], name: "m\($0)", profile: Self.profiles[$0]) }
        return (runtime, members)
    }

    @Test(arguments: [1, 2])
    func concurrentRequestsToThreeModelsMatchResidentInsideTheBudget(lanes: Int) throws {
        let (runtime, members) = try runtime(lanes: lanes)
        defer { runtime.close() }
        #expect(lanes * runtime.ringBytes + runtime.heldReserveBytes <= Self.budget)
        #expect(members[2].streamPlan.splitLayers.count > 0, "splitnet is read in pieces in a \(runtime.ringBytes)-byte ring")
        let mismatches = Counter()
        let failures = Counter()
        let sequence = Collected<Int>()
        let lanesUsed = Collected<Int>()
        let perThread = 6
        onThreads(4) { thread in
            for round in 0..<perThread {
                let index = (thread + round) % members.count
                do {
                    let done = try members[index].perform(Self.inputs[index])
                    if !bitIdentical(done.outputs, Self.resident[index]) { mismatches.add() }
                    sequence.append(done.sequenceNumber)
                    lanesUsed.append(done.lane)
                } catch {
                    print("runtime: request to m\(index) failed: \(error)")
                    failures.add()
                }
            }
        }
        #expect(failures.value == 0 && mismatches.value == 0, "\(failures.value) failed and \(mismatches.value) differed of \(4 * perThread)")
        #expect(sequence.values.sorted() == Array(0..<(4 * perThread)), "every request dispatched once, in one sequence")
        #expect(runtime.peakWeightBytes <= Self.budget, "peak \(runtime.peakWeightBytes) bytes within the budget \(Self.budget)")
        #expect(runtime.peakWeightBytes > runtime.ringBytes / 2, "the ring was used (peak \(runtime.peakWeightBytes))")
        #expect(Set(lanesUsed.values) == Set(0..<lanes), "every lane ran requests")
        #expect(runtime.scheduler.ringBytesHeld == 0, "every region released")
        #expect(runtime.activationBytes <= lanes * members.map(\.activationBytes).max()!, "one activation storage per lane, the largest arena")
        print("runtime (\(lanes) lane\(lanes == 1 ? "" : "s")): 24 requests on 4 threads to 3 models in \(Self.budget >> 20) MiB: outputs bit-identical, peak \(runtime.peakWeightBytes) bytes (ring \(runtime.ringBytes), held \(runtime.heldBytes))")
    }

    /// Holds the disk with a stalled first request, queues three more, and returns the order they ran in.
    func dispatchOrder(_ scheduling: Runtime.Scheduling, priorities: [Int]) throws -> [Int] {
        let plan = FaultPlan()
        let (runtime, members) = try runtime(scheduling, plan: plan, faultyModel: "m0")
        defer { runtime.close() }
        let blocker = members[0]
        plan.set(.stall(fd: blocker.session.pipeline.fileDescriptors[0][0], nanoseconds: 300_000_000))
        let order = Collected<[Int]>()   // (sequence number, request index)
        let group = DispatchGroup()
        group.enter()
        Thread.detachNewThread {
            _ = try? blocker.run(Self.inputs[0])
            group.leave()
        }
        plan.stalled.wait()
        for (index, priority) in priorities.enumerated() {
            group.enter()
            let member = members[index + 1 < members.count ? index + 1 : 0]
            let inputs = Self.inputs[index + 1 < members.count ? index + 1 : 0]
            Thread.detachNewThread {
                if let done = try? member.perform(inputs, priority: priority) { order.append([done.sequenceNumber, index]) }
                group.leave()
            }
            Thread.sleep(forTimeInterval: 0.03)   // arrival order = index order
        }
        group.wait()
        plan.set(.nothing)
        return order.values.sorted { $0[0] < $1[0] }.map { $0[1] }
    }

    @Test func fifoRunsInArrivalOrderAndPriorityRunsHighestFirst() throws {
        // Requests 0, 1, 2 go to stack, splitnet and tiny, queued behind a stalled tiny request.
        #expect(try dispatchOrder(.fifo, priorities: [0, 5, 1]) == [0, 1, 2])
        #expect(try dispatchOrder(.priority, priorities: [0, 5, 1]) == [1, 2, 0])
    }

    @Test func shortestRunsTheShortestPredictedFirst() throws {
        let (runtime, members) = try runtime()
        let predicted = [1, 2, 0].map { members[$0].streamPlan.predictedNanoseconds }
        runtime.close()
        let expected = predicted.indices.sorted { predicted[$0] < predicted[$1] }
        #expect(try dispatchOrder(.shortest, priorities: [0, 0, 0]) == expected, "predicted \(predicted)")
    }

    @Test func aReadFaultFailsOnlyThatModelsRequests() throws {
        let plan = FaultPlan()
        let (runtime, members) = try runtime(plan: plan, faultyModel: "m2")
        defer { runtime.close() }
        let faulty = members[2]
        let layer = faulty.model.largestLayerIndex
        plan.set(.fail(fd: faulty.session.pipeline.fileDescriptors[layer][0], offsetBytes: 0, errno: .ioError))
        let failures = Collected<RuntimeError>()
        let mismatches = Collected<String>()
        let others = Counter()
        onThreads(4) { thread in
            for round in 0..<4 {
                let index = (thread + round) % members.count
                do {
                    let outputs = try members[index].run(Self.inputs[index])
                    if index == 2 {
                        mismatches.append("m2 succeeded in round \(round) of thread \(thread)")
                    } else if !bitIdentical(outputs, Self.resident[index]) {
                        mismatches.append("m\(index) differed from resident in round \(round) of thread \(thread)")
                    }
                    others.add()
                } catch {
                    failures.append(error as! RuntimeError)
                    if index != 2 { mismatches.append("m\(index) failed in round \(round) of thread \(thread): \(error)") }
                }
            }
        }
        let errors = failures.values
        #expect(mismatches.values.isEmpty, "only m2's requests failed, the others gave their resident outputs: \(mismatches.values)")
        #expect(errors.count >= 4 && others.value == 16 - errors.count)
        for error in errors {
            #expect(error.code == .readFailed && error.layer?.index == layer && error.path == faulty.model.filePath(faulty.model.layers[layer].files[0]),
                    "\(error)")
        }
        plan.set(.nothing)
        #expect(bitIdentical(try faulty.run(Self.inputs[2]), Self.resident[2]), "the model recovers")
        #expect(runtime.scheduler.ringBytesHeld == 0)
        print("runtime: EIO in m2's layer \(layer): \(errors.count) of its requests failed naming it, \(others.value) others right")
    }

    @Test func aRequestPastItsDeadlineBeforeDispatchFailsWithoutReading() throws {
        let plan = FaultPlan()
        let (runtime, members) = try runtime(plan: plan, faultyModel: "m0")
        defer { runtime.close() }
        plan.set(.stall(fd: members[0].session.pipeline.fileDescriptors[0][0], nanoseconds: 200_000_000))
        let group = DispatchGroup()
        group.enter()
        Thread.detachNewThread {
            _ = try? members[0].run(Self.inputs[0])
            group.leave()
        }
        plan.stalled.wait()
        do {
            _ = try members[1].run(Self.inputs[1], timeoutNanoseconds: 20_000_000)
            Issue.record("a request queued behind a 200 ms stall met a 20 ms deadline")
        } catch {
            #expect(error.code == .timedOut && error.message.contains("nothing was read"), "\(error)")
        }
        group.wait()
        plan.set(.nothing)
        #expect(bitIdentical(try members[1].run(Self.inputs[1]), Self.resident[1]))
    }

    @Test func modelsComeAndGoAndTheHeldReserveIsGivenBack() throws {
        let (runtime, members) = try runtime()
        defer { runtime.close() }
        let held = runtime.heldBytes
        #expect(held == members.reduce(0) { $0 + $1.heldBytes } && members[2].heldBytes > 0, "splitnet holds its split layers' biases")
        runtime.remove(members[2])
        #expect(runtime.heldBytes == held - members[2].heldBytes)
        #expect(runtime.models.count == 2)
        do {
            _ = try members[2].run(Self.inputs[2])
            Issue.record("a removed model ran")
        } catch {
            #expect(error.code == .sessionClosed)
        }
        let again = try runtime.add(Self.models[2], name: "again", profile: Self.profiles[2])
        #expect(bitIdentical(try again.run(Self.inputs[2]), Self.resident[2]))
        #expect(bitIdentical(try members[0].run(Self.inputs[0]), Self.resident[0]))
        runtime.close()
        do {
            _ = try members[0].run(Self.inputs[0])
            Issue.record("a model ran after its runtime closed")
        } catch {
            #expect(error.code == .sessionClosed)
        }
    }

    @Test func aRingBelowAModelsLeastIsRefusedNamingIt() throws {
        let runtime = try Runtime(options: .init(budgetBytes: 256 << 10, heldReserveBytes: 64 << 10, threadCount: 1))
        defer { runtime.close() }
        do {
            _ = try runtime.add(Self.models[2], name: "splitnet", profile: Self.profiles[2])
            Issue.record("splitnet opened in a 192 KiB ring")
        } catch {
            #expect(error.code == .budgetTooSmall && error.message.contains("'splitnet'") && error.message.contains("no ring smaller than"), "\(error)")
        }
        #expect(throws: RuntimeError.self) { try Runtime(options: .init(budgetBytes: 4096)) }
    }
}
