import DemandFormat
import DemandLayer
import DemandTensor
import DemandTestSupport
import Testing

/// Typed outputs leave the runtime exact or not at all: an int64 ArgMax
/// comes back as the integers it computed; a value that is not a whole
/// number, or is 2^24 or more in magnitude (where float32 stops holding every
/// integer), or a bool that is not 0 or 1, fails the inference naming the
/// output, and the session stays usable.
@Suite struct TypedOutputTests {
    /// One layer: `indices = ArgMax(input [2, 4], axis 1, keepdims 0)`, int64.
    private func argMaxModel() throws -> Model {
        let writer = try ModelWriter(destination: Scratch.directory("typed-argmax") + "/argmax.dlm", name: "argmax")
        writer.addInput("input", shape: [2, 4])
        writer.beginLayer("argmax")
        try writer.addNode(Manifest.Node(name: "argmax", op: "ArgMax", inputs: ["input"], outputs: ["indices"],
                                         attributes: ["axis": .int(1), "keepdims": .int(0)]))
        try writer.endLayer()
        try writer.addOutput("indices", dtype: .int64)
        return try writer.finish()
    }

    /// One layer: `y = Identity(x [3])`, declared `dtype`: whatever x holds reaches the edge.
    private func identityModel(_ dtype: DType) throws -> Model {
        let writer = try ModelWriter(destination: Scratch.directory("typed-identity-\(dtype)") + "/identity.dlm", name: "identity")
        writer.addInput("x", shape: [3])
        writer.beginLayer("copy")
        try writer.addNode(Manifest.Node(name: "copy", op: "Identity", inputs: ["x"], outputs: ["y"]))
        try writer.endLayer()
        try writer.addOutput("y", dtype: dtype)
        return try writer.finish()
    }

    @Test func argMaxComesBackAsExactInt64() throws {
        let model = try argMaxModel()
        #expect(model.outputs.map(\.dtype) == [.int64])
        let session = try Session(model: model, options: .init(policy: .pipelined))
        defer { session.close() }
        let input = Tensor(shape: [2, 4], values: [0.5, 3, -1, 2, 7, 7.5, 8, -9])
        let typed = try session.runTyped(["input": input])
        #expect(typed["indices"] == .int64(shape: [2], values: [1, 2]))
        #expect(typed["indices"]?.dtype == .int64)
        #expect(try session.run(["input": input])["indices"]?.array == [1, 2], "the float API still gives the values")
    }

    @Test(arguments: [DType.int64, .int32])
    func integerOutputsAreExactUpTo2To24(dtype: DType) throws {
        let session = try Session(model: try identityModel(dtype), options: .init(policy: .pipelined))
        defer { session.close() }
        let edge: Float = 16_777_215  // 2^24 - 1, the largest magnitude delivered
        let typed = try session.runTyped(["x": Tensor(shape: [3], values: [-edge, -0.0, edge])])
        let expected: OutputValue = dtype == .int64 ? .int64(shape: [3], values: [-16_777_215, 0, 16_777_215])
                                                    : .int32(shape: [3], values: [-16_777_215, 0, 16_777_215])
        #expect(typed["y"] == expected)
    }

    @Test(arguments: [(DType.int64, Float(2.5), 1), (.int64, 16_777_216, 1), (.int32, -16_777_216, 1),
                      (.int64, .nan, 1), (.int32, .infinity, 1), (.bool, 2, 1), (.bool, 0.5, 1), (.bool, -1, 1)])
    func inexactValueFailsNamingTheOutput(dtype: DType, bad: Float, index: Int) throws {
        let session = try Session(model: try identityModel(dtype), options: .init(policy: .pipelined))
        defer { session.close() }
        do {
            _ = try session.run(["x": Tensor(shape: [3], values: [1, bad, 0])])
            Issue.record("\(bad) should not be delivered as \(dtype)")
        } catch {
            #expect(error.code == .operatorFailed)
            for fragment in ["output 'y'", "declared \(dtype.rawValue)", "element \(index) is \(bad)"] {
                #expect(error.description.contains(fragment), "'\(error)' should mention '\(fragment)'")
            }
        }
        let good = try session.runTyped(["x": Tensor(shape: [3], values: [1, 0, 1])])["y"]
        #expect(good?.dtype == dtype, "the session stays usable")
    }

    @Test func boolOutputComesBackAsBools() throws {
        let session = try Session(model: try identityModel(.bool), options: .init(policy: .bulk))
        defer { session.close() }
        #expect(try session.runTyped(["x": Tensor(shape: [3], values: [1, 0, 1])])["y"] == .bool(shape: [3], values: [true, false, true]))
    }
}
