import CDemandLayer
import DemandLayer
import DemandLayerC   // links the C API's implementation
import DemandTestSupport
import DemandZoo
import Foundation
import Synchronization
import Testing

/// The runtime functions of demandlayer.h (dl_runtime_*), as a C caller uses
/// them: two models in one weight budget run from several threads at once
/// give a resident session's outputs bit for bit inside the budget, and every
/// bad argument is a status code and a message, never a crash.
@Suite(.serialized) struct RuntimeCAPITests {
    /// `tiny` (440 KiB of weights) and `splitnet` (13.2 MiB; its three large
    /// layers are read in pieces under a small ring), each a private copy so
    /// the profiles the runtime measures and saves stay here.
    static let paths: [String] = {
        let splitnet = Scratch.directory("runtimeCAPI") + "/splitnet.dlm"
        try! Zoo.make("splitnet", at: splitnet)
        return [Scratch.tinyCopy("runtimeCAPI"), splitnet]
    }()

    /// 4 MiB: below the two models' 13.6 MiB, above splitnet's least (about 600 KiB).
    static let budget: UInt64 = 4 << 20

    /// A model's first input and output, copied out of the C introspection
    /// (whose strings die with the model handle).
    struct Declared: Sendable {
        var inputName: String
        var inputShape: [Int64]
        var outputName: String
        var outputCount: Int
        /// The input every test gives the model: a fixed pattern in [-1, 1).
        var values: [Float] { (0..<Int(inputShape.reduce(1, *))).map { Float(($0 * 37) % 101) / 50 - 1 } }

        init(_ model: OpaquePointer) {
            var input = dl_value_info(), output = dl_value_info()
            precondition(dl_model_input(model, 0, &input) == DL_OK && dl_model_output(model, 0, &output) == DL_OK)
            inputName = String(cString: input.name)
            inputShape = (0..<input.rank).map { input.shape[$0] }
            outputName = String(cString: output.name)
            outputCount = output.element_count
        }
    }

    var lastError: String { String(cString: dl_last_error()) }

    func open(_ path: String) throws -> OpaquePointer {
        var model: OpaquePointer?
        try #require(dl_model_open(path, &model) == DL_OK, "\(lastError)")
        return try #require(model)
    }

    func create(_ change: (inout dl_runtime_options) -> Void = { _ in }) -> (dl_status, OpaquePointer?) {
        var options = dl_runtime_options()
        dl_runtime_options_init(&options)
        options.budget_bytes = Self.budget
        options.threads = 1
        change(&options)
        var runtime: OpaquePointer?
        return (dl_runtime_create(&options, &runtime), runtime)
    }

    /// A runtime with both models added (their model handles closed once added), and what they declare.
    func runtimeWithBothModels() throws -> (OpaquePointer, [OpaquePointer], [Declared]) {
        let (status, created) = create()
        try #require(status == DL_OK, "\(lastError)")
        let runtime = try #require(created)
        var members: [OpaquePointer] = []
        var declared: [Declared] = []
        for (index, path) in Self.paths.enumerated() {
            let model = try open(path)
            declared.append(Declared(model))
            var member: OpaquePointer?
            let added = index == 0 ? dl_runtime_add(runtime, model, nil, &member) : dl_runtime_add(runtime, model, "split", &member)
            dl_model_close(model)
            try #require(added == DL_OK, "\(lastError)")
            members.append(try #require(member))
        }
        return (runtime, members, declared)
    }

    /// Runs `member` through dl_runtime_model_run; returns the status, the
    /// output buffer and what the request did.
    func run(_ member: OpaquePointer?, _ declared: Declared, inputName: String? = nil, shape: [Int64]? = nil, values: [Float]? = nil,
             nullData: Bool = false, outputName: String? = nil, capacity: Int? = nil, priority: Int32 = 0, timeoutNanoseconds: UInt64 = 0,
             requestSize: Int = MemoryLayout<dl_request_stats>.size) -> (dl_status, [Float], dl_request_stats) {
        let capacity = capacity ?? declared.outputCount
        let values = values ?? declared.values
        let shape = shape ?? declared.inputShape
        var output = [Float](repeating: -7, count: max(capacity, 1))
        var request = dl_request_stats()
        request.struct_size = requestSize
        let status = (inputName ?? declared.inputName).withCString { inputNamePointer in
            (outputName ?? declared.outputName).withCString { outputNamePointer in
                shape.withUnsafeBufferPointer { shapePointer in
                    values.withUnsafeBufferPointer { valuesPointer in
                        output.withUnsafeMutableBufferPointer { outputPointer in
                            var input = dl_input(name: inputNamePointer, data: nullData ? nil : valuesPointer.baseAddress,
                                                 shape: shapePointer.baseAddress, rank: shape.count)
                            var out = dl_output(name: outputNamePointer, data: outputPointer.baseAddress, capacity: capacity, element_count: 0)
                            let status = dl_runtime_model_run(member, &input, 1, &out, 1, priority, timeoutNanoseconds, &request)
                            // The element count written is checked here, on whatever thread runs this.
                            return status == DL_OK && out.element_count != declared.outputCount ? DL_ERROR_BUFFER_TOO_SMALL : status
                        }
                    }
                }
            }
        }
        return (status, output, request)
    }

    /// Each model's output from a resident session (Swift API, one kernel thread, as the runtime's).
    func residentOutputs(_ declared: [Declared]) throws -> [[Float]] {
        try zip(Self.paths, declared).map { path, declared in
            let session = try Session(model: try Model.open(path), options: .init(policy: .resident, threadCount: 1))
            defer { session.close() }
            let input = Tensor(shape: Shape(declared.inputShape.map(Int.init)), values: declared.values)
            return try session.run([declared.inputName: input])[declared.outputName]!.array
        }
    }

    func memory(_ runtime: OpaquePointer?) -> (dl_status, dl_runtime_memory) {
        var memory = dl_runtime_memory()
        memory.struct_size = MemoryLayout<dl_runtime_memory>.size
        return (dl_runtime_stats(runtime, &memory), memory)
    }

    @Test func twoModelsRunFromSeveralThreadsMatchResidentInsideTheBudget() throws {
        let (runtime, members, declared) = try runtimeWithBothModels()
        defer { dl_runtime_destroy(runtime) }
        let expected = try residentOutputs(declared)

        struct Finished: Sendable { var model: Int; var status: dl_status; var bits: [UInt32]; var sequence: UInt64; var bytesRead: UInt64 }
        let finished = Mutex<[Finished]>([])
        let addresses = members.map { UInt(bitPattern: UnsafeRawPointer($0)) }   // a C handle is just an address
        let threads = 4, rounds = 3
        let group = DispatchGroup()
        for thread in 0..<threads {
            group.enter()
            Thread.detachNewThread {
                for round in 0..<rounds {
                    let model = (thread + round) % 2
                    let (status, output, request) = run(OpaquePointer(bitPattern: addresses[model]), declared[model])
                    let done = Finished(model: model, status: status, bits: output.map(\.bitPattern), sequence: request.sequence_number,
                                        bytesRead: request.bytes_read)
                    finished.withLock { $0.append(done) }
                }
                group.leave()
            }
        }
        try #require(group.wait(timeout: .now() + 300) == .success, "12 requests finish within five minutes")
        let all = finished.withLock { $0 }
        #expect(all.allSatisfy { $0.status == DL_OK }, "\(all.filter { $0.status != DL_OK }.count) of 12 requests failed")
        for model in 0..<2 {
            let runs = all.filter { $0.model == model }
            #expect(runs.count == 6)
            #expect(runs.allSatisfy { $0.bits == expected[model].map(\.bitPattern) }, "model \(model): every run equals the resident output bit for bit")
            #expect(runs.allSatisfy { $0.bytesRead > 0 }, "model \(model): every request streamed its weights")
        }
        #expect(all.map(\.sequence).sorted() == (0..<UInt64(threads * rounds)).map { $0 }, "one sequence of 12 requests")

        let (status, memory) = memory(runtime)
        try #require(status == DL_OK, "\(lastError)")
        #expect(memory.budget_bytes == Self.budget && memory.ring_bytes + memory.held_reserve_bytes <= Self.budget)
        #expect(memory.held_bytes > 0 && memory.held_bytes <= memory.held_reserve_bytes, "splitnet holds its split layers' small tensors")
        #expect(memory.activation_bytes > 0)
        #expect(memory.peak_weight_bytes > memory.ring_bytes / 2 && memory.peak_weight_bytes <= Self.budget,
                "peak \(memory.peak_weight_bytes) bytes within the budget \(Self.budget)")
        print("runtime C API: 12 requests on 4 threads to tiny and splitnet in \(Self.budget >> 20) MiB: outputs bit-identical, peak \(memory.peak_weight_bytes) bytes (ring \(memory.ring_bytes), held \(memory.held_bytes))")
    }

    @Test func removingAModelGivesBackItsHeldBytesAndTheOtherKeepsRunning() throws {
        let (runtime, members, declared) = try runtimeWithBothModels()
        defer { dl_runtime_destroy(runtime) }
        let held = memory(runtime).1.held_bytes
        #expect(dl_runtime_remove(runtime, members[1]) == DL_OK, "\(lastError)")
        #expect(memory(runtime).1.held_bytes < held)
        #expect(dl_runtime_remove(runtime, members[1]) == DL_ERROR_INVALID_ARGUMENT)
        #expect(lastError.contains("already removed"), "\(lastError)")
        #expect(run(members[1], declared[1]).0 == DL_ERROR_INVALID_ARGUMENT)
        let (status, output, request) = run(members[0], declared[0])
        #expect(status == DL_OK, "\(lastError)")
        #expect(output.map(\.bitPattern) == (try residentOutputs(declared))[0].map(\.bitPattern))
        #expect(request.service_ns > 0)

        let model = try open(Self.paths[1])
        defer { dl_model_close(model) }
        var again: OpaquePointer?
        #expect(dl_runtime_add(runtime, model, "again", &again) == DL_OK, "\(lastError)")
        #expect(run(again, declared[1]).0 == DL_OK, "\(lastError)")
    }

    @Test func aDeadlinePassedBeforeTheRequestStartsIsCancelledAndWritesNothing() throws {
        let (runtime, members, declared) = try runtimeWithBothModels()
        defer { dl_runtime_destroy(runtime) }
        let (status, output, _) = run(members[1], declared[1], timeoutNanoseconds: 1)
        #expect(status == DL_ERROR_CANCELLED, "\(lastError)")
        #expect(lastError.contains("deadline") && lastError.contains("nothing was read"), "\(lastError)")
        #expect(output.allSatisfy { $0 == -7 }, "the output buffer is untouched")
        #expect(run(members[1], declared[1], priority: 3, timeoutNanoseconds: 60_000_000_000).0 == DL_OK, "the model stays usable: \(lastError)")
    }

    @Test func aBudgetBelowAModelsLeastIsRefusedNamingIt() throws {
        let (status, created) = create { $0.budget_bytes = 256 << 10; $0.held_reserve_bytes = 64 << 10 }
        try #require(status == DL_OK, "\(lastError)")
        let runtime = try #require(created)
        defer { dl_runtime_destroy(runtime) }
        let model = try open(Self.paths[1])
        defer { dl_model_close(model) }
        var member: OpaquePointer?
        #expect(dl_runtime_add(runtime, model, "splitnet", &member) == DL_ERROR_BUDGET_TOO_SMALL)
        #expect(lastError.hasPrefix("dl_runtime_add:") && lastError.contains("'splitnet'") && lastError.contains("no ring smaller than"), "\(lastError)")
        #expect(member == nil, "nothing is written on failure")
    }

    @Test func badOptionsAreErrors() {
        let cases: [(String, (inout dl_runtime_options) -> Void, dl_status, String)] = [
            ("struct size", { $0.struct_size = 8 }, DL_ERROR_INVALID_ARGUMENT, "struct_size"),
            ("no budget", { $0.budget_bytes = 0 }, DL_ERROR_INVALID_OPTION, "budget_bytes is 0"),
            ("budget of a page", { $0.budget_bytes = 4096 }, DL_ERROR_INVALID_OPTION, "budget must be at least"),
            ("huge budget", { $0.budget_bytes = .max }, DL_ERROR_INVALID_OPTION, "budget_bytes"),
            ("reserve of it all", { $0.held_reserve_bytes = Self.budget }, DL_ERROR_INVALID_OPTION, "held reserve"),
            ("scheduling", { $0.scheduling = dl_scheduling(rawValue: 9) }, DL_ERROR_INVALID_OPTION, "scheduling"),
            ("engine", { $0.io_engine = dl_io_engine(rawValue: 42) }, DL_ERROR_INVALID_OPTION, "io_engine"),
            ("threads", { $0.threads = -1 }, DL_ERROR_INVALID_OPTION, "threads"),
            ("placement", { $0.placement = dl_placement(rawValue: 7) }, DL_ERROR_INVALID_OPTION, "placement"),
            ("placement CPUs unset", { $0.placement = DL_PLACEMENT_CPUS }, DL_ERROR_INVALID_OPTION, "execute_cpu"),
        ]
        for (label, change, expected, fragment) in cases {
            let (status, runtime) = create(change)
            #expect(status == expected, "\(label): \(lastError)")
            #expect(runtime == nil, "\(label)")
            #expect(lastError.contains(fragment), "\(label): '\(lastError)' should mention '\(fragment)'")
        }
        var runtime: OpaquePointer?
        #expect(dl_runtime_create(nil, &runtime) == DL_ERROR_INVALID_ARGUMENT)
        #expect(lastError.contains("options is NULL"))
        var options = dl_runtime_options()
        dl_runtime_options_init(&options)
        options.budget_bytes = Self.budget
        #expect(dl_runtime_create(&options, nil) == DL_ERROR_INVALID_ARGUMENT)
        #expect(lastError.contains("runtime_out is NULL"))
        #expect(options.scheduling == DL_SCHEDULING_FIFO && options.held_reserve_bytes == 0 && options.threads == 0)
        dl_runtime_options_init(nil)
        dl_runtime_destroy(nil)
    }

    @Test func badCallsAreErrorsAndWriteNothing() throws {
        let (runtime, members, declared) = try runtimeWithBothModels()
        let tiny = declared[0]
        let cases: [(String, () -> (dl_status, [Float], dl_request_stats), dl_status, String)] = [
            ("NULL member", { run(nil, tiny) }, DL_ERROR_INVALID_ARGUMENT, "member is NULL"),
            ("unknown input", { run(members[0], tiny, inputName: "image") }, DL_ERROR_INVALID_INPUT, "'image' is not an input"),
            ("wrong shape", { run(members[0], tiny, shape: [1, 3, 16, 16], values: Array(tiny.values.prefix(768))) }, DL_ERROR_INVALID_INPUT, "1x3x16x16"),
            ("rank too large", { run(members[0], tiny, shape: Array(repeating: 1, count: 9)) }, DL_ERROR_INVALID_ARGUMENT, "rank"),
            ("NULL data", { run(members[0], tiny, nullData: true) }, DL_ERROR_INVALID_ARGUMENT, "data is NULL"),
            ("unknown output", { run(members[0], tiny, outputName: "logits") }, DL_ERROR_INVALID_INPUT, "'logits' is not an output"),
            ("small buffer", { run(members[0], tiny, capacity: 9) }, DL_ERROR_BUFFER_TOO_SMALL, "needs 10 floats"),
            ("request struct size", { run(members[0], tiny, requestSize: 4) }, DL_ERROR_INVALID_ARGUMENT, "request_out->struct_size"),
        ]
        for (label, call, expected, fragment) in cases {
            let result = call()
            #expect(result.0 == expected, "\(label): \(lastError)")
            #expect(lastError.hasPrefix("dl_runtime_model_run:") && lastError.contains(fragment), "\(label): '\(lastError)' should mention '\(fragment)'")
            #expect(result.1.allSatisfy { $0 == -7 }, "\(label): the output buffer is untouched")
        }
        #expect(dl_runtime_model_run(members[0], nil, 0, nil, 0, 0, 0, nil) == DL_ERROR_INVALID_INPUT)
        #expect(lastError.contains("0 input(s) given"))

        let model = try open(Self.paths[0])
        var member: OpaquePointer?
        #expect(dl_runtime_add(nil, model, nil, &member) == DL_ERROR_INVALID_ARGUMENT && lastError.contains("runtime is NULL"))
        #expect(dl_runtime_add(runtime, nil, nil, &member) == DL_ERROR_INVALID_ARGUMENT && lastError.contains("model is NULL"))
        #expect(dl_runtime_add(runtime, model, nil, nil) == DL_ERROR_INVALID_ARGUMENT && lastError.contains("member_out is NULL"))
        let invalidUTF8: [CChar] = [CChar(bitPattern: 0xFF), 0]
        #expect(dl_runtime_add(runtime, model, invalidUTF8, &member) == DL_ERROR_INVALID_ARGUMENT && lastError.contains("name"))
        #expect(member == nil)

        var memory = dl_runtime_memory()
        #expect(dl_runtime_stats(runtime, &memory) == DL_ERROR_INVALID_ARGUMENT && lastError.contains("struct_size"))
        #expect(dl_runtime_stats(runtime, nil) == DL_ERROR_INVALID_ARGUMENT && lastError.contains("stats_out is NULL"))
        #expect(self.memory(nil).0 == DL_ERROR_INVALID_ARGUMENT)

        // A member of another runtime, and a member given as a runtime.
        let (status, otherCreated) = create()
        try #require(status == DL_OK, "\(lastError)")
        let other = try #require(otherCreated)
        var stranger: OpaquePointer?
        #expect(dl_runtime_add(other, model, nil, &stranger) == DL_OK, "\(lastError)")
        #expect(dl_runtime_remove(runtime, stranger) == DL_ERROR_INVALID_ARGUMENT && lastError.contains("another dl_runtime"), "\(lastError)")
        #expect(dl_runtime_remove(members[0], stranger) == DL_ERROR_INVALID_ARGUMENT && lastError.contains("not a live dl_runtime"), "\(lastError)")
        #expect(dl_runtime_remove(runtime, nil) == DL_ERROR_INVALID_ARGUMENT && lastError.contains("member is NULL"))
        dl_model_close(model)
        #expect(run(stranger, tiny).0 == DL_OK, "the other runtime's model runs after its model handle closed: \(lastError)")
        dl_runtime_destroy(other)
        #expect(run(stranger, tiny).0 == DL_ERROR_INVALID_ARGUMENT, "destroy frees its models' handles")

        #expect(run(members[0], tiny).0 == DL_OK, "every bad call left the runtime usable: \(lastError)")
        dl_runtime_destroy(runtime)
        dl_runtime_destroy(runtime)
        #expect(run(members[0], tiny).0 == DL_ERROR_INVALID_ARGUMENT)
        #expect(lastError.contains("already removed"))
        #expect(self.memory(runtime).0 == DL_ERROR_INVALID_ARGUMENT && lastError.contains("already destroyed"))
    }
}
