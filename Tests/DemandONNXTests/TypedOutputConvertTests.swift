import DemandFormat
import DemandLayer
@testable import DemandONNX
import DemandTensor
import DemandTestSupport
import Foundation
import Testing

/// The importer keeps each graph output's declared ONNX type: int64, int32
/// and bool outputs are declared so in the manifest (version 3) and come back
/// exact; float types (and an output that declares none) are float32 in a
/// version 2 manifest; other integer types are refused naming the output.
@Suite struct TypedOutputConvertTests {
    @Test func argMaxAndComparisonOutputsKeepTheirTypes() throws {
        var b = ONNXBuilder()
        b.input("x", [2, 4])
        b.input("limit", [2, 4])
        b.node("ArgMax", ["x"], ["best"], ["axis": .i(1), "keepdims": .i(0)])
        b.node("Less", ["x", "limit"], ["below"])
        b.node("Relu", ["x"], ["relu"])
        b.output("best", type: ElementType.int64)
        b.output("below", type: ElementType.bool)
        b.output("relu", type: ElementType.float)
        let (summary, directory) = try convert(b)
        defer { Scratch.remove(directory) }
        #expect(summary.model.manifest.version == 3)
        #expect(summary.model.manifest.outputs.map(\.dtype) == [.int64, .bool, .float32])

        let session = try Session(model: summary.model, options: .init(policy: .pipelined))
        defer { session.close() }
        let outputs = try session.runTyped([
            "x": Tensor(shape: [2, 4], values: [0.5, 3, -1, 2, 7, 7.5, 8, -9]),
            "limit": Tensor(shape: [2, 4], values: [1, 1, 1, 1, 8, 8, 8, 8]),
        ])
        #expect(outputs["best"] == .int64(shape: [2], values: [1, 2]))
        #expect(outputs["below"] == .bool(shape: [2, 4], values: [true, false, true, false, true, true, false, true]))
        #expect(outputs["relu"]?.dtype == .float32)
    }

    @Test(arguments: [ElementType.float16, ElementType.double, 0])
    func floatOutputsStayFloat32AndVersion2(type: Int32) throws {
        var b = ONNXBuilder()
        b.input("x", [3])
        b.node("Relu", ["x"], ["y"])
        b.output("y", type: type == 0 ? nil : type)
        let (summary, directory) = try convert(b, name: "floatOutput\(type)")
        defer { Scratch.remove(directory) }
        #expect(summary.model.manifest.outputs[0].dtype == .float32)
        #expect(summary.model.manifest.version == 2)
    }

    @Test(arguments: [ElementType.uint16, ElementType.int16, ElementType.uint64, ElementType.string])
    func otherOutputTypesAreRefusedNamingTheOutput(type: Int32) throws {
        var b = ONNXBuilder()
        b.input("x", [3])
        b.node("Relu", ["x"], ["y"])
        b.output("y", type: type)
        let directory = Scratch.directory("otherOutput\(type)")
        defer { Scratch.remove(directory) }
        let source = try b.write(to: directory)
        do {
            try Converter.convert(modelPath: source, to: directory + "/out.dlm")
            Issue.record("an output of type \(ElementType.name(type)) should be refused")
        } catch {
            #expect(error.code == .unsupported)
            #expect(error.description.contains("graph output 'y' is \(ElementType.name(type))"), "\(error)")
        }
        #expect(leftovers(in: directory) == [], "nothing is left behind")
    }
}
