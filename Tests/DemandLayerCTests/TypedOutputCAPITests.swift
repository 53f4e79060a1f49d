import CDemandLayer
import DemandFormat
import DemandLayer
import DemandLayerC   // links the C API's implementation
import DemandTestSupport
import Testing

/// Typed outputs through demandlayer.h (API version 3): an ArgMax output
/// reports DL_DTYPE_INT64 and copies out as exact int64_t; a copy into a type
/// the values are not exact in is refused naming the output; an inference
/// whose int64 output would not be a whole number fails with the output named.
@Suite struct TypedOutputCAPITests {
    var lastError: String { String(cString: dl_last_error()) }

    /// `indices = ArgMax(x [2, 4], axis 1, keepdims 0)` as int64, and `copy = Identity(x)` as `copyType`.
    func writeModel(copyType: DType) throws -> String {
        let path = Scratch.directory("typedCAPI-\(copyType)") + "/typed.dlm"
        let writer = try ModelWriter(destination: path, name: "typed")
        writer.addInput("x", shape: [2, 4])
        writer.beginLayer("heads")
        try writer.addNode(Manifest.Node(name: "argmax", op: "ArgMax", inputs: ["x"], outputs: ["indices"],
                                         attributes: ["axis": .int(1), "keepdims": .int(0)]))
        try writer.addNode(Manifest.Node(name: "copy", op: "Identity", inputs: ["x"], outputs: ["copy"]))
        try writer.endLayer()
        try writer.addOutput("indices", dtype: .int64)
        try writer.addOutput("copy", dtype: copyType)
        _ = try writer.finish()
        return path
    }

    /// Runs `x` through a session of the model at `path`; returns the status and the two outputs' floats.
    func run(_ path: String, _ x: [Float]) throws -> (dl_status, indices: [Float], copy: [Float], model: OpaquePointer) {
        var model: OpaquePointer?
        try #require(dl_model_open(path, &model) == DL_OK, "\(lastError)")
        var options = dl_session_options()
        dl_session_options_init(&options)
        var session: OpaquePointer?
        try #require(dl_session_create(model, &options, &session) == DL_OK, "\(lastError)")
        defer { dl_session_destroy(session) }
        var indices = [Float](repeating: -7, count: 2), copy = [Float](repeating: -7, count: 8)
        let shape: [Int64] = [2, 4]
        let status = x.withUnsafeBufferPointer { xs in
            shape.withUnsafeBufferPointer { dims in
                indices.withUnsafeMutableBufferPointer { indexBuffer in
                    copy.withUnsafeMutableBufferPointer { copyBuffer in
                        "x".withCString { xName in "indices".withCString { iName in "copy".withCString { cName in
                            var input = dl_input(name: xName, data: xs.baseAddress, shape: dims.baseAddress, rank: 2)
                            var outputs = [dl_output(name: iName, data: indexBuffer.baseAddress, capacity: 2, element_count: 0),
                                           dl_output(name: cName, data: copyBuffer.baseAddress, capacity: 8, element_count: 0)]
                            return dl_session_run(session, &input, 1, &outputs, 2)
                        } } }
                    }
                }
            }
        }
        return (status, indices, copy, model!)
    }

    @Test func argMaxOutputIsInt64AndCopiesOutExactly() throws {
        let path = try writeModel(copyType: .float32)
        var (status, indices, _, model) = try run(path, [0.5, 3, -1, 2, 7, 7.5, 8, -9])
        defer { dl_model_close(model) }
        #expect(status == DL_OK, "\(lastError)")
        #expect(DL_API_VERSION == 3)
        var dtype = DL_DTYPE_BOOL
        #expect(dl_model_output_dtype(model, 0, &dtype) == DL_OK && dtype == DL_DTYPE_INT64)
        #expect(dl_model_output_dtype(model, 1, &dtype) == DL_OK && dtype == DL_DTYPE_FLOAT32)
        #expect(dl_model_output_dtype(model, 2, &dtype) == DL_ERROR_INVALID_ARGUMENT)
        #expect(lastError.contains("out of range"))

        var typed = [Int64](repeating: -1, count: 2)
        let copied = indices.withUnsafeMutableBufferPointer { floats in
            "indices".withCString { name in
                var output = dl_output(name: name, data: floats.baseAddress, capacity: 2, element_count: 2)
                return typed.withUnsafeMutableBytes { dl_output_copy_as(&output, DL_DTYPE_INT64, $0.baseAddress, 2) }
            }
        }
        #expect(copied == DL_OK, "\(lastError)")
        #expect(typed == [1, 2])

        // Indices 1 and 2 as bool: 2 is not 0 or 1, refused naming the output; nothing written.
        var flags: [UInt8] = [9, 9]
        let refused = indices.withUnsafeMutableBufferPointer { floats in
            "indices".withCString { name in
                var output = dl_output(name: name, data: floats.baseAddress, capacity: 2, element_count: 2)
                return flags.withUnsafeMutableBytes { dl_output_copy_as(&output, DL_DTYPE_BOOL, $0.baseAddress, 2) }
            }
        }
        #expect(refused == DL_ERROR_OPERATOR_FAILED)
        #expect(lastError.contains("output 'indices'") && lastError.contains("element 1 is 2.0"), "\(lastError)")
        #expect(flags == [9, 9])

        let short = indices.withUnsafeMutableBufferPointer { floats in
            var output = dl_output(name: nil, data: floats.baseAddress, capacity: 2, element_count: 2)
            return typed.withUnsafeMutableBytes { dl_output_copy_as(&output, DL_DTYPE_INT64, $0.baseAddress, 1) }
        }
        #expect(short == DL_ERROR_BUFFER_TOO_SMALL)
    }

    @Test func nonIntegerInt64OutputFailsTheRunNamingIt() throws {
        let path = try writeModel(copyType: .int64)
        let (status, _, _, model) = try run(path, [0, 1, 2, 3, 4, 5, 6.5, 7])
        defer { dl_model_close(model) }
        #expect(status == DL_ERROR_OPERATOR_FAILED)
        #expect(lastError.contains("output 'copy'") && lastError.contains("declared int64") && lastError.contains("element 6 is 6.5"),
                "\(lastError)")
        let (good, _, copy, second) = try run(path, [0, 1, 2, 3, 4, 5, 6, -7])
        defer { dl_model_close(second) }
        #expect(good == DL_OK, "\(lastError)")
        #expect(copy == [0, 1, 2, 3, 4, 5, 6, -7])
    }
}
