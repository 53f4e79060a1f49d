import DemandFormat
import DemandLayer
@testable import DemandONNX
import DemandTensor
import DemandTestSupport
import Foundation
import Testing

/// Rank-0 graph inputs and outputs (a sample rate, a gain, a loss): declared
/// scalars convert to shape [] and run; an input with no shape at all is
/// refused with the flag that declares it.
@Suite struct ScalarValueTests {
    /// y = x * gain, with gain a declared float scalar.
    @Test func declaredFloatScalarInputRuns() throws {
        var b = ONNXBuilder()
        b.input("x", [1, 4])
        b.input("gain", [])
        b.node("Mul", ["x", "gain"], ["y"], name: "scale")
        b.output("y")
        let (summary, _) = try convert(b)
        let gain = try #require(summary.model.manifest.inputs.first { $0.name == "gain" })
        #expect(gain.shape == Shape([]) && gain.shape.elementCount == 1 && gain.shape.description == "scalar")
        let outputs = try run(summary.model, ["x": tensor([1, 4], [1, -2, 3, 0.5]), "gain": tensor([], [2])])
        #expect(outputs["y"]?.shape == Shape([1, 4]))
        #expect(outputs["y"]?.array == [2, -4, 6, 1])
    }

    /// y = x * Cast(sr) / 16000, with sr a declared int64 scalar (kept int64 in the manifest).
    @Test func declaredInt64ScalarInputRuns() throws {
        var b = ONNXBuilder()
        b.input("x", [1, 3])
        b.input("sr", [], type: 7)
        b.initializer("base", [], [16000])
        b.node("Cast", ["sr"], ["srf"], ["to": .i(1)])
        b.node("Div", ["srf", "base"], ["ratio"])
        b.node("Mul", ["x", "ratio"], ["y"])
        b.output("y")
        let (summary, _) = try convert(b)
        let sr = try #require(summary.model.manifest.inputs.first { $0.name == "sr" })
        #expect(sr.shape.rank == 0 && sr.dtype == .int64, "\(sr)")
        let outputs = try run(summary.model, ["x": tensor([1, 3], [1, 2, 3]), "sr": tensor([], [48000])])
        #expect(outputs["y"]?.array == [3, 6, 9])
    }

    /// ReduceSum over every axis with keepdims 0 is a rank-0 graph output.
    @Test func rankZeroOutputIsDeclaredAndComputed() throws {
        var b = ONNXBuilder(opset: 13)
        b.input("x", [2, 3])
        b.initializer("axes", [2], ints: [0, 1])
        b.node("ReduceSum", ["x", "axes"], ["total"], ["keepdims": .i(0)])
        b.output("total")
        let (summary, _) = try convert(b)
        let total = try #require(summary.model.manifest.outputs.first)
        #expect(total.shape == Shape([]), "\(total.shape)")
        let outputs = try run(summary.model, ["x": tensor([2, 3], [1, 2, 3, 4, 5, 6])])
        #expect(outputs["total"]?.shape == Shape([]) && outputs["total"]?.array == [21])
    }

    /// No shape field at all: refused with how to declare it; `NAME=scalar`
    /// (an empty shape) converts it as a scalar.
    @Test func inputWithoutShapeNeedsTheFlag() throws {
        var b = ONNXBuilder()
        b.input("x", [1, 4])
        b.input("gain", [], shaped: false)
        b.node("Mul", ["x", "gain"], ["y"])
        b.output("y")
        let directory = Scratch.directory()
        let source = try b.write(to: directory)
        do {
            try Converter.convert(modelPath: source, to: directory + "/out.dlm")
            Issue.record("a shapeless input converted")
        } catch {
            #expect(error.code == .unresolvedShape)
            #expect(error.message.contains("'gain'") && error.message.contains("--input-shape gain=scalar")
                    && error.message.contains("gain=1x3x224x224"), "\(error)")
        }
        #expect(leftovers(in: directory) == [], "nothing is left behind")
        let (summary, _) = try convert(b, options: .init(inputShapes: ["gain": []]))
        #expect(summary.model.manifest.inputs.first { $0.name == "gain" }?.shape == Shape([]))
    }

    /// A declared scalar refuses a shape of another rank, and a declared
    /// tensor refuses `scalar`.
    @Test func scalarOverrideMustMatchTheDeclaredRank() throws {
        var b = ONNXBuilder()
        b.input("x", [1, 4])
        b.input("gain", [])
        b.node("Mul", ["x", "gain"], ["y"])
        b.output("y")
        for (name, shapes) in [("scalar-as-tensor", ["gain": Shape([1])]), ("tensor-as-scalar", ["x": Shape([])])] {
            let directory = Scratch.directory(name)
            let source = try b.write(to: directory)
            do {
                try Converter.convert(modelPath: source, to: directory + "/out.dlm", options: .init(inputShapes: shapes))
                Issue.record("\(name) converted")
            } catch {
                #expect(error.message.contains("rank"), "\(name): \(error)")
            }
            #expect(leftovers(in: directory) == [], "nothing is left behind")
        }
    }
}
