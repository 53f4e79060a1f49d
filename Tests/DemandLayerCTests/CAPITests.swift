import CDemandLayer
import DemandLayer
import DemandLayerC   // links the C API's implementation
import DemandTestSupport
import Foundation
import Synchronization
import Testing

/// The C API through its C declarations (demandlayer.h), as a C caller sees
/// it: results match the Swift API bit for bit, and every bad argument is a
/// status code and a message, never a crash.
@Suite struct CAPITests {
    /// The tiny model's input: 1x3x32x32 floats, a fixed pattern.
    static let inputValues: [Float] = (0..<3072).map { Float(($0 * 37) % 101) / 50 - 1 }
    static let inputShape: [Int64] = [1, 3, 32, 32]

    func open() throws -> OpaquePointer {
        var model: OpaquePointer?
        let status = dl_model_open(Scratch.tinyModelPath, &model)
        try #require(status == DL_OK, "\(String(cString: dl_last_error()))")
        return try #require(model)
    }

    func create(_ model: OpaquePointer, _ change: (inout dl_session_options) -> Void = { _ in }) -> (dl_status, OpaquePointer?) {
        var options = dl_session_options()
        dl_session_options_init(&options)
        change(&options)
        var session: OpaquePointer?
        let status = dl_session_create(model, &options, &session)
        return (status, session)
    }

    /// Runs with one input and one output described by the arguments; returns
    /// the status, the output buffer and the element count written.
    func run(_ session: OpaquePointer?, inputName: String = "input", shape: [Int64] = inputShape, values: [Float]? = inputValues,
             outputName: String = "softmax0.out", capacity: Int = 10) -> (dl_status, [Float], Int) {
        var output = [Float](repeating: -7, count: max(capacity, 1))
        var written = -1
        let status = inputName.withCString { inputNamePointer in
            outputName.withCString { outputNamePointer in
                shape.withUnsafeBufferPointer { shapePointer in
                    output.withUnsafeMutableBufferPointer { outputPointer in
                        (values ?? []).withUnsafeBufferPointer { valuesPointer in
                            var input = dl_input(name: inputNamePointer, data: values == nil ? nil : valuesPointer.baseAddress,
                                                 shape: shapePointer.baseAddress, rank: shape.count)
                            var out = dl_output(name: outputNamePointer, data: outputPointer.baseAddress, capacity: capacity, element_count: 0)
                            let status = dl_session_run(session, &input, 1, &out, 1)
                            if status == DL_OK { written = out.element_count }
                            return status
                        }
                    }
                }
            }
        }
        return (status, output, written)
    }

    var lastError: String { String(cString: dl_last_error()) }

    @Test func introspectionDescribesTheModel() throws {
        let model = try open()
        defer { dl_model_close(model) }
        let swiftModel = try Model.open(Scratch.tinyModelPath)
        #expect(String(cString: dl_model_name(model)!) == swiftModel.name)
        #expect(dl_model_input_count(model) == swiftModel.inputs.count)
        #expect(dl_model_output_count(model) == swiftModel.outputs.count)
        #expect(dl_model_layer_count(model) == swiftModel.layerNames.count)
        #expect(dl_model_weight_bytes(model) == UInt64(swiftModel.weightByteCount))
        for (index, name) in swiftModel.layerNames.enumerated() {
            #expect(String(cString: dl_model_layer_name(model, index)!) == name)
        }
        #expect(dl_model_layer_name(model, swiftModel.layerNames.count) == nil)
        for (index, expected) in swiftModel.outputs.enumerated() {
            var info = dl_value_info()
            #expect(dl_model_output(model, index, &info) == DL_OK)
            #expect(String(cString: info.name) == expected.name)
            #expect((0..<info.rank).map { Int(info.shape[$0]) } == expected.shape.dims)
            #expect(info.element_count == expected.shape.elementCount)
        }
        var info = dl_value_info()
        #expect(dl_model_input(model, 0, &info) == DL_OK)
        #expect(String(cString: info.name) == "input" && info.element_count == 3072)
        #expect(dl_model_input(model, 1, &info) == DL_ERROR_INVALID_ARGUMENT)
        #expect(lastError.contains("out of range"))
        #expect(dl_model_input(model, 0, nil) == DL_ERROR_INVALID_ARGUMENT)
    }

    @Test func aBudgetIsPlannedAndHeldToAndTooSmallOneNamesTheLeast() throws {
        let model = try open()
        defer { dl_model_close(model) }
        let budget: UInt64 = 300 << 10   // tiny holds 440 KiB of weights; its largest layer 220 KiB
        let (status, session) = create(model) { $0.budget_bytes = budget }
        try #require(status == DL_OK, "\(lastError)")
        defer { dl_session_destroy(session) }
        let (runStatus, output, _) = run(session)
        try #require(runStatus == DL_OK, "\(lastError)")
        let reference = try Session(model: try Model.open(Scratch.tinyModelPath), options: .init(policy: .resident))
        defer { reference.close() }
        #expect(output == (try reference.run(["input": Tensor(shape: [1, 3, 32, 32], values: Self.inputValues)])["softmax0.out"]!.array))
        var stats = dl_stats(struct_size: MemoryLayout<dl_stats>.size, latency_ns: 0, bytes_read: 0, peak_weight_bytes: 0, execute_stall_ns: 0, layer_count: 0)
        #expect(dl_session_stats(session, &stats, nil, 0) == DL_OK)
        #expect(stats.peak_weight_bytes > 0 && stats.peak_weight_bytes <= budget)

        let (small, none) = create(model) { $0.budget_bytes = 100 << 10 }
        #expect(small == DL_ERROR_BUDGET_TOO_SMALL && none == nil)
        #expect(lastError.contains("smallest budget this model runs in"), "\(lastError)")
    }

    @Test(arguments: [DL_POLICY_PIPELINED, DL_POLICY_RESIDENT, DL_POLICY_LINEAR, DL_POLICY_DEEPEYE, DL_POLICY_PARTIAL])
    func runMatchesTheSwiftAPIAndReportsStats(policy: dl_policy) throws {
        let model = try open()
        defer { dl_model_close(model) }
        let (status, session) = create(model) { $0.policy = policy }
        try #require(status == DL_OK, "\(lastError)")
        defer { dl_session_destroy(session) }

        var stats = dl_stats(struct_size: MemoryLayout<dl_stats>.size, latency_ns: 0, bytes_read: 0, peak_weight_bytes: 0, execute_stall_ns: 0, layer_count: 0)
        #expect(dl_session_stats(session, &stats, nil, 0) == DL_ERROR_NO_STATS)

        #expect(dl_session_arena_bytes(session) >= UInt64(try Model.open(Scratch.tinyModelPath).largestLayerByteCount))
        let (runStatus, output, written) = run(session)
        try #require(runStatus == DL_OK, "\(lastError)")
        #expect(written == 10)

        let swiftModel = try Model.open(Scratch.tinyModelPath)
        let reference = try Session(model: swiftModel, options: .init(policy: .resident))
        defer { reference.close() }
        let expected = try reference.run(["input": Tensor(shape: [1, 3, 32, 32], values: Self.inputValues)])["softmax0.out"]!.array
        #expect(output == expected)
        #expect(abs(output.reduce(0, +) - 1) < 1e-5)

        var layers = [dl_layer_stats](repeating: dl_layer_stats(), count: swiftModel.layerNames.count + 2)
        #expect(dl_session_stats(session, &stats, &layers, layers.count) == DL_OK)
        #expect(stats.layer_count == swiftModel.layerNames.count)
        #expect(stats.latency_ns > 0)
        #expect(stats.peak_weight_bytes > 0)
        #expect(stats.bytes_read == (policy == DL_POLICY_RESIDENT ? 0 : UInt64(swiftModel.weightByteCount)))
        #expect(layers.prefix(stats.layer_count).allSatisfy { $0.execute.end_ns > $0.execute.start_ns })
        #expect(layers.prefix(stats.layer_count).reduce(0) { $0 + $1.stall_ns } == stats.execute_stall_ns)
        #expect(layers.suffix(2).allSatisfy { $0.execute.end_ns == 0 }, "entries past layer_count are not written")

        stats.struct_size = 3
        #expect(dl_session_stats(session, &stats, nil, 0) == DL_ERROR_INVALID_ARGUMENT)
        #expect(lastError.contains("struct_size"))
    }

    @Test func badOpenArgumentsAreErrors() {
        var model: OpaquePointer?
        #expect(dl_model_open(nil, &model) == DL_ERROR_INVALID_ARGUMENT)
        #expect(lastError.contains("path is NULL"))
        #expect(dl_model_open(Scratch.tinyModelPath, nil) == DL_ERROR_INVALID_ARGUMENT)
        #expect(dl_model_open("/nonexistent/x.dlm", &model) == DL_ERROR_INVALID_MODEL)
        #expect(lastError.contains("/nonexistent/x.dlm"))
        #expect(model == nil, "nothing is written on failure")
        let invalidUTF8: [CChar] = [CChar(bitPattern: 0xFF), CChar(bitPattern: 0xFE), 0]
        #expect(dl_model_open(invalidUTF8, &model) == DL_ERROR_INVALID_ARGUMENT)
        #expect(dl_model_input_count(nil) == 0 && dl_model_output_count(nil) == 0 && dl_model_layer_count(nil) == 0)
        #expect(dl_model_name(nil) == nil && dl_model_weight_bytes(nil) == 0)
        dl_model_close(nil)
        dl_session_destroy(nil)
        dl_session_options_init(nil)
    }

    @Test func badOptionsAreErrors() throws {
        let model = try open()
        defer { dl_model_close(model) }
        let cases: [(String, (inout dl_session_options) -> Void, dl_status, String)] = [
            ("struct size", { $0.struct_size = 8 }, DL_ERROR_INVALID_ARGUMENT, "struct_size"),
            ("depth 0", { $0.depth = 0 }, DL_ERROR_INVALID_OPTION, "depth"),
            ("policy", { $0.policy = dl_policy(rawValue: 99) }, DL_ERROR_INVALID_OPTION, "policy"),
            ("engine", { $0.io_engine = dl_io_engine(rawValue: 42) }, DL_ERROR_INVALID_OPTION, "io_engine"),
            ("threads", { $0.threads = -1 }, DL_ERROR_INVALID_OPTION, "threads"),
            ("budget", { $0.budget_bytes = 4096 }, DL_ERROR_BUDGET_TOO_SMALL, "budget"),
            ("huge budget", { $0.budget_bytes = .max }, DL_ERROR_INVALID_OPTION, "budget_bytes"),
            ("placement", { $0.placement = dl_placement(rawValue: 7) }, DL_ERROR_INVALID_OPTION, "placement"),
            ("placement CPUs unset", { $0.placement = DL_PLACEMENT_CPUS }, DL_ERROR_INVALID_OPTION, "execute_cpu"),
            ("CPU outside the mask", { $0.placement = DL_PLACEMENT_CPUS; $0.execute_cpu = 4000; $0.stages_cpu = 0 },
             DL_ERROR_INVALID_OPTION, "CPU 4000"),
        ]
        for (label, change, expected, fragment) in cases {
            let (status, session) = create(model, change)
            #expect(status == expected, "\(label): \(lastError)")
            #expect(session == nil, "\(label)")
            #expect(lastError.contains(fragment), "\(label): '\(lastError)' should mention '\(fragment)'")
        }
        var session: OpaquePointer?
        #expect(dl_session_create(nil, nil, &session) == DL_ERROR_INVALID_ARGUMENT)
        #expect(dl_session_create(model, nil, nil) == DL_ERROR_INVALID_ARGUMENT)
        #expect(dl_session_create(model, nil, &session) == DL_OK, "NULL options are the defaults")
        dl_session_destroy(session)
        // A caller built before the placement fields passes the shorter struct and gets the default.
        let (old, oldSession) = create(model) { $0.struct_size = MemoryLayout<dl_session_options>.offset(of: \dl_session_options.placement)!; $0.placement = dl_placement(rawValue: 7) }
        #expect(old == DL_OK, "\(lastError)")
        dl_session_destroy(oldSession)
        let (unpinned, unpinnedSession) = create(model) { $0.placement = DL_PLACEMENT_NONE }
        #expect(unpinned == DL_OK, "\(lastError)")
        dl_session_destroy(unpinnedSession)
    }

    @Test func badRunArgumentsAreErrorsAndWriteNothing() throws {
        let model = try open()
        defer { dl_model_close(model) }
        let (status, session) = create(model)
        try #require(status == DL_OK, "\(lastError)")
        defer { dl_session_destroy(session) }

        let cases: [(String, () -> (dl_status, [Float], Int), dl_status, String)] = [
            ("unknown input", { run(session, inputName: "image") }, DL_ERROR_INVALID_INPUT, "'image' is not an input"),
            ("wrong shape", { run(session, shape: [1, 3, 16, 16], values: Array(Self.inputValues.prefix(768))) }, DL_ERROR_INVALID_INPUT, "1x3x16x16"),
            ("rank too large", { run(session, shape: Array(repeating: 1, count: 9)) }, DL_ERROR_INVALID_ARGUMENT, "rank"),
            ("null data", { run(session, values: nil) }, DL_ERROR_INVALID_ARGUMENT, "data is NULL"),
            ("unknown output", { run(session, outputName: "logits") }, DL_ERROR_INVALID_INPUT, "'logits' is not an output"),
            ("small buffer", { run(session, capacity: 9) }, DL_ERROR_BUFFER_TOO_SMALL, "needs 10 floats"),
        ]
        for (label, call, expected, fragment) in cases {
            let result = call()
            #expect(result.0 == expected, "\(label): \(lastError)")
            #expect(lastError.contains(fragment), "\(label): '\(lastError)' should mention '\(fragment)'")
            #expect(result.1.allSatisfy { $0 == -7 }, "\(label): the output buffer is untouched")
        }
        #expect(dl_session_run(session, nil, 0, nil, 0) == DL_ERROR_INVALID_INPUT)
        #expect(lastError.contains("0 input(s) given"))
        #expect(dl_session_run(nil, nil, 0, nil, 0) == DL_ERROR_INVALID_ARGUMENT)

        let (good, output, written) = run(session)
        #expect(good == DL_OK && written == 10 && !output.contains(-7), "the session is still usable: \(lastError)")
    }

    @Test func closedHandlesAreErrorsNotCrashes() throws {
        let model = try open()
        let (status, session) = create(model)
        try #require(status == DL_OK, "\(lastError)")
        dl_model_close(model)
        #expect(run(session).0 == DL_OK, "a session outlives its model handle")
        dl_session_destroy(session)
        dl_session_destroy(session)
        dl_model_close(model)
        #expect(run(session).0 == DL_ERROR_INVALID_ARGUMENT)
        #expect(lastError.contains("already destroyed"))
        #expect(dl_model_input_count(model) == 0)
        #expect(dl_session_arena_bytes(session) == 0)
    }

    @Test func concurrentRunsOnOneSessionAreSerializedAndAgree() throws {
        let model = try open()
        defer { dl_model_close(model) }
        let (status, created) = create(model)
        try #require(status == DL_OK, "\(lastError)")
        let session = try #require(created)
        defer { dl_session_destroy(session) }
        let expected = run(session).1

        let outputs = Mutex<[[Float]]>([])
        let address = UInt(bitPattern: UnsafeRawPointer(session))   // a C handle is just an address
        for _ in 0..<4 {
            Thread {
                for _ in 0..<5 {
                    let (status, output, _) = run(OpaquePointer(bitPattern: address))
                    outputs.withLock { $0.append(status == DL_OK ? output : []) }
                }
            }.start()
        }
        let deadline = Date().addingTimeInterval(120)
        while outputs.withLock({ $0.count }) < 20, Date() < deadline { usleep(1000) }
        try #require(outputs.withLock { $0.count } == 20, "20 runs finish within two minutes")
        #expect(outputs.withLock { $0 }.allSatisfy { $0 == expected }, "every run from every thread gives the same output")
    }

    @Test func lastErrorIsPerThread() throws {
        var model: OpaquePointer?
        #expect(dl_model_open("/nonexistent/here.dlm", &model) == DL_ERROR_INVALID_MODEL)
        let other = Thread {
            var model: OpaquePointer?
            _ = dl_model_open(nil, &model)
        }
        other.start()
        while !other.isFinished { usleep(1000) }
        #expect(lastError.contains("/nonexistent/here.dlm"))

        let long = "/" + String(repeating: "é", count: 5000)
        #expect(dl_model_open(long, &model) == DL_ERROR_INVALID_MODEL)
        #expect(lastError.utf8.count < 4096 && lastError.hasPrefix("dl_model_open:"), "long messages are truncated on a character boundary")
    }
}
