import DemandFormat
import DemandLayer
@testable import DemandONNX
import DemandTensor
import DemandTestSupport
import Foundation
import Testing

/// Converted models against the same graph computed with the plain
/// reference kernels (and by formula for what the converter folds away).
@Suite struct ConvertCorrectnessTests {
    static let tolerance: Float = 1e-4

    /// Conv → BatchNorm → Relu → MaxPool → Conv (auto_pad SAME_UPPER, stride 2)
    /// → Relu → GlobalAveragePool → Flatten → Gemm → Softmax (opset 11).
    @Test func smallCNNMatchesTheReference() throws {
        var b = ONNXBuilder(opset: 11)
        b.input("image", [1, 3, 8, 8])
        let w1 = b.weight("w1", [8, 3, 3, 3], scale: 0.5)
        let b1 = b.weight("b1", [8])
        let gamma = b.weight("gamma", [8]), beta = b.weight("beta", [8]), mean = b.weight("mean", [8])
        let variance = b.randomValues(8).map { abs($0) + 0.5 }
        b.initializer("var", [8], variance)
        let w2 = b.weight("w2", [16, 8, 3, 3], scale: 0.3)
        let fc = b.weight("fc", [10, 16])
        let fcBias = b.weight("fc_bias", [10])
        b.node("Conv", ["image", "w1", "b1"], ["c1"], name: "conv1", ["pads": .ints([1, 1, 1, 1]), "kernel_shape": .ints([3, 3])])
        b.node("BatchNormalization", ["c1", "gamma", "beta", "mean", "var"], ["bn1"], name: "bn1", ["epsilon": .f(1e-3)])
        b.node("Relu", ["bn1"], ["r1"])
        b.node("MaxPool", ["r1"], ["p1"], ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2])])
        b.node("Conv", ["p1", "w2"], ["c2"], name: "conv2", ["auto_pad": .s("SAME_UPPER"), "strides": .ints([2, 2])])
        b.node("Relu", ["c2"], ["r2"])
        b.node("GlobalAveragePool", ["r2"], ["g"])
        b.node("Flatten", ["g"], ["f"])
        b.node("Gemm", ["f", "fc", "fc_bias"], ["logits"], ["transB": .i(1)])
        b.node("Softmax", ["logits"], ["prob"], ["axis": .i(1)])
        b.output("prob")

        let (summary, _) = try convert(b)
        let nodes = summary.model.layers.flatMap(\.nodes)
        #expect(!nodes.contains { $0.op == "BatchNormalization" }, "BatchNormalization folds into conv1")
        #expect(!nodes.contains { $0.op == "Relu" }, "both Relus fuse into their convs")
        #expect(nodes.first { $0.name == "conv2" }?.attributes["pads"] == .ints([0, 0, 1, 1]), "SAME_UPPER becomes explicit pads")
        #expect(summary.layerCount == 1, "conv1 (864 bytes) and fc (640) are under 4 KiB, so only conv2 opens a layer")
        #expect(summary.model.layers.allSatisfy { !$0.weights.isEmpty }, "every layer carries weights")

        var image = ONNXBuilder(seed: 99)
        let x = tensor([1, 3, 8, 8], image.randomValues(192))
        let actual = try run(summary.model, ["image": x])["prob"]!

        // The same graph, unfused, with the reference kernels.
        let conv1 = try reference("Conv", ["pads": .ints([1, 1, 1, 1])], [x, tensor([8, 3, 3, 3], w1), tensor([8], b1)])
        let normalized = Tensor(zeros: conv1.shape)
        for c in 0..<8 {
            for i in 0..<64 {
                let v = conv1.data[c * 64 + i]
                normalized.data[c * 64 + i] = (v - mean[c]) / (variance[c] + 1e-3).squareRoot() * gamma[c] + beta[c]
            }
        }
        let relu1 = try reference("Relu", [:], [normalized])
        let pool = try reference("MaxPool", ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2])], [relu1])
        let conv2 = try reference("Conv", ["strides": .ints([2, 2]), "pads": .ints([0, 0, 1, 1])], [pool, tensor([16, 8, 3, 3], w2)])
        let relu2 = try reference("Relu", [:], [conv2])
        let gap = try reference("GlobalAveragePool", [:], [relu2])
        let flat = try reference("Flatten", [:], [gap])
        let logits = try reference("Gemm", ["transB": .int(1)], [flat, tensor([10, 16], fc), tensor([10], fcBias)])
        let expected = try reference("Softmax", ["axis": .int(1)], [logits])
        let closeness = Closeness(actual: actual, expected: expected)
        #expect(closeness.passes(tolerance: Self.tolerance), "\(closeness.describe(tolerance: Self.tolerance))")
    }

    /// Conv → Sigmoid → Mul(conv, sigmoid), SiLU as YOLO exports write it,
    /// becomes one Conv with a fused SiLU and gives the unfused reference's
    /// values; a Sigmoid whose output is read twice is left alone.
    @Test func siluWrittenOutFusesIntoItsConv() throws {
        var b = ONNXBuilder(opset: 13)
        b.input("x", [1, 4, 6, 6])
        let w = b.weight("w", [32, 4, 3, 3], scale: 0.5)
        let bias = b.weight("b", [32])
        b.node("Conv", ["x", "w", "b"], ["c"], name: "conv", ["pads": .ints([1, 1, 1, 1])])
        b.node("Sigmoid", ["c"], ["s"])
        b.node("Mul", ["s", "c"], ["y"])          // either operand order
        b.node("Sigmoid", ["y"], ["s2"])
        b.node("Mul", ["y", "s2"], ["z"])         // y has a third reader: stays apart
        b.node("Add", ["z", "s2"], ["out"])
        b.output("out")

        let (summary, _) = try convert(b)
        let nodes = summary.model.layers.flatMap(\.nodes)
        #expect(nodes.first { $0.name == "conv" }?.attributes["activation"] == .string("silu"), "\(nodes.map(\.op))")
        #expect(nodes.filter { $0.op == "Sigmoid" }.count == 1 && nodes.filter { $0.op == "Mul" }.count == 1,
                "only the first Sigmoid and Mul fuse: \(nodes.map(\.op))")

        var image = ONNXBuilder(seed: 7)
        let x = tensor([1, 4, 6, 6], image.randomValues(144))
        let actual = try run(summary.model, ["x": x])["out"]!
        let conv = try reference("Conv", ["pads": .ints([1, 1, 1, 1])], [x, tensor([32, 4, 3, 3], w), tensor([32], bias)])
        let y = try reference("Mul", [:], [try reference("Sigmoid", [:], [conv]), conv])
        let s2 = try reference("Sigmoid", [:], [y])
        let expected = try reference("Add", [:], [try reference("Mul", [:], [y, s2]), s2])
        let closeness = Closeness(actual: actual, expected: expected)
        #expect(closeness.passes(tolerance: Self.tolerance), "\(closeness.describe(tolerance: Self.tolerance))")
    }

    /// Two Convs whose Sigmoids are both emitted before either Mul (as YOLOv8's
    /// detection head orders them): both SiLUs still fuse, and the nodes after
    /// the removed Sigmoid keep their places. Values match the reference.
    @Test func siluFusesWhenItsSigmoidIsNotTheNodeBefore() throws {
        var b = ONNXBuilder(opset: 13)
        b.input("x", [1, 4, 6, 6])
        let w1 = b.weight("w1", [8, 4, 3, 3], scale: 0.5), b1 = b.weight("b1", [8])
        let w2 = b.weight("w2", [8, 4, 1, 1], scale: 0.5), b2 = b.weight("b2", [8])
        b.node("Conv", ["x", "w1", "b1"], ["c1"], name: "conv1", ["pads": .ints([1, 1, 1, 1])])
        b.node("Conv", ["x", "w2", "b2"], ["c2"], name: "conv2")
        b.node("Sigmoid", ["c1"], ["s1"])
        b.node("Sigmoid", ["c2"], ["s2"])
        b.node("Mul", ["c1", "s1"], ["y1"])
        b.node("Mul", ["s2", "c2"], ["y2"])
        b.node("Add", ["y1", "y2"], ["out"])
        b.output("out")

        let (summary, _) = try convert(b)
        let nodes = summary.model.layers.flatMap(\.nodes)
        #expect(nodes.map(\.op) == ["Conv", "Conv", "Add"], "\(nodes.map(\.op))")
        #expect(nodes.filter { $0.op == "Conv" }.allSatisfy { $0.attributes["activation"] == .string("silu") })

        var image = ONNXBuilder(seed: 7)
        let x = tensor([1, 4, 6, 6], image.randomValues(144))
        let actual = try run(summary.model, ["x": x])["out"]!
        let silu = { (v: Tensor) throws -> Tensor in try reference("Mul", [:], [v, try reference("Sigmoid", [:], [v])]) }
        let c1 = try reference("Conv", ["pads": .ints([1, 1, 1, 1])], [x, tensor([8, 4, 3, 3], w1), tensor([8], b1)])
        let c2 = try reference("Conv", [:], [x, tensor([8, 4, 1, 1], w2), tensor([8], b2)])
        let expected = try reference("Add", [:], [try silu(c1), try silu(c2)])
        let closeness = Closeness(actual: actual, expected: expected)
        #expect(closeness.passes(tolerance: Self.tolerance), "\(closeness.describe(tolerance: Self.tolerance))")
    }

    /// Sum(a, b) → Relu of two same-shaped values (a residual, as older ResNet
    /// exports write it) becomes one Add with a fused Relu; a Sum that
    /// broadcasts, or of three inputs, stays a Sum. Values match the reference.
    @Test func twoInputSumOfOneShapeBecomesAnAddWithItsRelu() throws {
        var b = ONNXBuilder(opset: 13)
        b.input("x", [1, 4, 5, 5])
        let w = b.weight("w", [4, 4, 1, 1], scale: 0.5)
        let row = b.weight("row", [1, 4, 1, 1])
        b.node("Conv", ["x", "w"], ["c"], name: "conv")
        b.node("Sum", ["c", "x"], ["s"], name: "residual")
        b.node("Relu", ["s"], ["r"])
        b.node("Sum", ["r", "row"], ["t"], name: "broadcast")
        b.node("Sum", ["t", "x", "r"], ["out"], name: "three")
        b.output("out")

        let (summary, _) = try convert(b)
        let nodes = summary.model.layers.flatMap(\.nodes)
        let residual = nodes.first { $0.name == "residual" }
        #expect(residual?.op == "Add" && residual?.attributes["activation"] == .string("relu"), "\(nodes.map(\.op))")
        #expect(!nodes.contains { $0.op == "Relu" }, "the Relu fused: \(nodes.map(\.op))")
        #expect(nodes.first { $0.name == "broadcast" }?.op == "Sum" && nodes.first { $0.name == "three" }?.op == "Sum")

        var image = ONNXBuilder(seed: 3)
        let x = tensor([1, 4, 5, 5], image.randomValues(100))
        let actual = try run(summary.model, ["x": x])["out"]!
        let r = try reference("Relu", [:], [try reference("Sum", [:], [try reference("Conv", [:], [x, tensor([4, 4, 1, 1], w)]), x])])
        let t = try reference("Sum", [:], [r, tensor([1, 4, 1, 1], row)])
        let expected = try reference("Sum", [:], [t, x, r])
        let closeness = Closeness(actual: actual, expected: expected)
        #expect(closeness.passes(tolerance: Self.tolerance), "\(closeness.describe(tolerance: Self.tolerance))")
    }

    /// A PyTorch-style shape chain (Shape → Gather → Cast → Sub) feeding
    /// Clip's min input, ConstantOfShape + Range + Slice(INT64_MAX) folded into
    /// an Add bias, and Identity/Dropout dropped by renaming.
    @Test func shapeSubgraphsFoldAway() throws {
        var b = ONNXBuilder(opset: 13)
        b.input("x", [1, 4, 3, 5])
        b.initializer("zero_index", [], ints: [0])
        b.initializer("one", [], [1])
        b.initializer("start", [1], ints: [2])
        b.initializer("end", [1], ints: [Int64.max])
        b.initializer("axis", [1], ints: [0])
        b.initializer("five", [1], ints: [5])
        b.node("Shape", ["x"], ["shape"])
        b.node("Gather", ["shape", "zero_index"], ["batch"], ["axis": .i(0)])      // 1
        b.node("Cast", ["batch"], ["batch_f"], ["to": .i(1)])                      // 1.0
        b.node("Sub", ["batch_f", "one"], ["low"])                                  // 0.0
        b.node("Clip", ["x", "low", ""], ["clipped"])                               // Relu
        b.initializer("four", [1], ints: [4])
        b.initializer("one_i", [], ints: [1])
        b.node("ConstantOfShape", ["four"], ["threes"], ["value": .t(ONNXBuilder.tensor("v", [1], ints: [3]))])
        b.node("Range", ["batch", "five", "one_i"], ["steps"])                      // [1, 2, 3, 4]
        b.node("Add", ["threes", "steps"], ["row_i"])                               // [4, 5, 6, 7]
        b.node("Slice", ["row_i", "start", "end", "axis"], ["tail_i"])             // [6, 7]
        b.node("Cast", ["tail_i"], ["tail"], ["to": .i(1)])
        b.node("Identity", ["clipped"], ["same"])
        b.node("Dropout", ["same"], ["kept"])
        b.node("Flatten", ["kept"], ["flat"], ["axis": .i(4)])                     // (60, 1)
        b.node("Add", ["flat", "tail"], ["y"])                                     // broadcast to (60, 2)
        b.output("y")

        let (summary, _) = try convert(b)
        let nodes = summary.model.layers.flatMap(\.nodes)
        #expect(nodes.map(\.op) == ["Clip", "Flatten", "Add"], "everything else folds: \(nodes.map(\.op))")
        let bias = try #require(summary.model.layers.flatMap(\.weights).first { $0.shape == [2] }, "the folded bias is a weight")
        #expect(bias.name == "tail")

        var inputs = ONNXBuilder(seed: 5)
        let x = tensor([1, 4, 3, 5], inputs.randomValues(60))
        let y = try run(summary.model, ["x": x])["y"]!
        #expect(y.shape == [60, 2])
        for i in 0..<60 {
            let relu = max(x.data[i], 0)
            #expect(y.data[2 * i] == relu + 6 && y.data[2 * i + 1] == relu + 7, "row \(i): \(y.data[2 * i]), \(y.data[2 * i + 1])")
        }
    }

    /// A symbolic batch dimension fixed with an input shape; Clip's bounds as
    /// attributes (opset 6) and as inputs (opset 13) give the same model.
    @Test func symbolicDimensionsAndClipAcrossOpsets() throws {
        var results: [[Float]] = []
        for opset in [6, 13] {
            var b = ONNXBuilder(opset: opset)
            b.input("x", ["batch", 6])
            if opset >= 11 {
                b.initializer("lo", [], [-0.25])
                b.initializer("hi", [], [0.5])
                b.node("Clip", ["x", "lo", "hi"], ["y"])
            } else {
                b.node("Clip", ["x"], ["y"], ["min": .f(-0.25), "max": .f(0.5)])
            }
            b.output("y")
            let (summary, _) = try convert(b, options: .init(inputShapes: ["x": [3, 6]]), name: "clip\(opset)")
            #expect(summary.model.manifest.inputs[0].shape == [3, 6])
            #expect(summary.model.layers[0].nodes[0].attributes == ["min": .float(-0.25), "max": .float(0.5)])
            var r = ONNXBuilder(seed: 3)
            let x = tensor([3, 6], r.randomValues(18))
            let y = try run(summary.model, ["x": x])["y"]!
            #expect(y.array == x.array.map { min(max($0, -0.25), 0.5) })
            results.append(y.array)
        }
        #expect(results[0] == results[1])
    }

    /// Concat with an empty constant piece (as some exporters write) keeps the rest.
    @Test func concatDropsEmptyConstants() throws {
        var b = ONNXBuilder()
        b.input("x", [2, 3])
        b.initializer("nothing", [2, 0], [])
        b.node("Concat", ["x", "nothing", "x"], ["y"], ["axis": .i(1)])
        b.output("y")
        let (summary, _) = try convert(b)
        #expect(summary.model.layers[0].nodes[0].inputs == ["x", "x"])
        let y = try run(summary.model, ["x": tensor([2, 3], [1, 2, 3, 4, 5, 6])])["y"]!
        #expect(y.shape == [2, 6] && y.array == [1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6])
    }

    /// Weights stored in an external data file beside the model.
    @Test func externalDataIsRead() throws {
        var b = ONNXBuilder()
        b.input("x", [2, 4])
        let values = b.randomValues(4 * 3)
        var weight = ONNXBuilder.tensor("w", [4, 3], floats: [])
        weight.rawData = Data()
        weight.dataLocation = .external
        for (key, value) in [("location", "weights.bin"), ("offset", "16"), ("length", "48")] {
            var entry = Onnx_StringStringEntryProto()
            entry.key = key
            entry.value = value
            weight.externalData.append(entry)
        }
        b.model.graph.initializer.append(weight)
        b.node("Gemm", ["x", "w"], ["y"])
        b.output("y")
        let directory = Scratch.directory()
        var bytes = Data(repeating: 0xEE, count: 16)
        bytes.append(values.withUnsafeBufferPointer { Data(buffer: $0) })
        try bytes.write(to: URL(fileURLWithPath: directory + "/weights.bin"))
        let source = try b.write(to: directory)
        let summary = try Converter.convert(modelPath: source, to: directory + "/out.dlm")
        let x = tensor([2, 4], [1, 0, 0, 0, 0, 0, 1, 0])
        let y = try run(summary.model, ["x": x])["y"]!
        #expect(y.array == Array(values[0..<3]) + Array(values[6..<9]))
    }

    /// A constant read by nodes in two layers is stored in each under its own name.
    @Test func sharedConstantsAreStoredPerLayer() throws {
        var b = ONNXBuilder()
        b.input("x", [1, 32])
        b.weight("w1", [32, 64])
        b.weight("w2", [64, 32])
        b.weight("bias", [32])
        b.node("Gemm", ["x", "w1"], ["h"], name: "fc1")
        b.node("Gemm", ["h", "w2"], ["h2"], name: "fc2")
        b.node("Add", ["h2", "bias"], ["y1"], name: "add1")
        b.node("Gemm", ["y1", "w1"], ["h3"], name: "fc3")
        b.output("h3")
        let (summary, _) = try convert(b)
        let layers = summary.model.layers
        #expect(layers.map(\.name) == ["fc1", "fc2", "fc3"])
        #expect(layers[1].nodes.map(\.name) == ["fc2", "add1"], "the small Add joins the weighted node before it")
        #expect(layers[0].weights.map(\.name) == ["w1"])
        #expect(layers[2].weights.count == 1 && layers[2].weights[0].name != "w1", "the copy gets its own name")
        #expect(layers[2].nodes[0].inputs[1] == layers[2].weights[0].name)
        let x = tensor([1, 32], (0..<32).map { Float($0) / 32 })
        let y = try run(summary.model, ["x": x])["h3"]!
        #expect(y.shape == [1, 64])
    }
}

/// Resize and Upsample before opset 11: asymmetric coordinates; nearest rounds
/// down when enlarging and up when shrinking (as onnxruntime does).
@Suite struct LegacyResizeTests {
    func resize(opset: Int, op: String = "Resize", mode: String, scales: [Float], name: String = #function) throws -> (Manifest.Node, Converter.Summary) {
        var b = ONNXBuilder(opset: opset)
        b.input("x", [1, 1, 5, 7])
        b.initializer("scales", [4], scales)
        b.node(op, ["x", "scales"], ["y"], name: "up", ["mode": .s(mode)])
        b.output("y")
        let (summary, _) = try convert(b, name: name + mode + "\(scales[2])")
        return (try #require(summary.model.layers.first?.nodes.first), summary)
    }

    @Test func nearestShrinkRoundsUpAndEnlargeRoundsDown() throws {
        let x = tensor([1, 1, 5, 7], (0..<35).map(Float.init))
        for (scales, rounding) in [([1, 1, 0.6, 0.5] as [Float], "ceil"), ([1, 1, 1.5, 2.5], "floor")] {
            let (node, summary) = try resize(opset: 10, mode: "nearest", scales: scales)
            #expect(node.op == "Resize")
            #expect(node.attributes["coordinate_transformation_mode"] == .string("asymmetric"))
            #expect(node.attributes["nearest_mode"] == .string(rounding))
            let y = try run(summary.model, ["x": x])["y"]!
            let (height, width) = (y.shape[2], y.shape[3])
            #expect(height == Int(5 * scales[2]) && width == Int(7 * scales[3]))
            for i in 0..<height {
                for j in 0..<width {
                    func source(_ k: Int, _ scale: Float, _ size: Int) -> Int {
                        let position = Float(k) / scale
                        return min(size - 1, Int(rounding == "ceil" ? position.rounded(.up) : position.rounded(.down)))
                    }
                    #expect(y.data[i * width + j] == x.data[source(i, scales[2], 5) * 7 + source(j, scales[3], 7)], "(\(i), \(j))")
                }
            }
        }
        #expect(throws: ImportError.self) { try resize(opset: 10, mode: "nearest", scales: [1, 1, 0.5, 2]) }
    }

    @Test func upsampleBecomesResizeUnlessWholeNearest() throws {
        let (linear, _) = try resize(opset: 9, op: "Upsample", mode: "linear", scales: [1, 1, 2, 3])
        #expect(linear.op == "Resize" && linear.attributes["mode"] == .string("linear"))
        #expect(linear.attributes["sizes"] == .ints([1, 1, 10, 21]))
        let (whole, _) = try resize(opset: 9, op: "Upsample", mode: "nearest", scales: [1, 1, 2, 2])
        #expect(whole.op == "Upsample", "whole-number nearest keeps the runtime's Upsample")
    }
}

/// Activations fuse into the Conv, Gemm or Add before them, with the same numbers.
@Suite struct ActivationFusionTests {
    @Test(arguments: [("LeakyRelu", "leaky_relu"), ("Sigmoid", "sigmoid"), ("Clip", "clip"), ("Relu", "relu")])
    func fusesIntoConv(op: String, activation: String) throws {
        var b = ONNXBuilder(opset: 13)
        b.input("x", [1, 2, 6, 6])
        let w = b.weight("w", [3, 2, 3, 3])
        b.initializer("lo", [], [-0.1])
        b.initializer("hi", [], [0.3])
        b.node("Conv", ["x", "w"], ["c"], name: "conv")
        let attributes: [String: ONNXBuilder.Attr] = op == "LeakyRelu" ? ["alpha": .f(0.2)] : [:]
        b.node(op, op == "Clip" ? ["c", "lo", "hi"] : ["c"], ["y"], name: "act", attributes)
        b.output("y")
        let (summary, _) = try convert(b, name: "fuse\(op)")
        let nodes = summary.model.layers.flatMap(\.nodes)
        #expect(nodes.map(\.op) == ["Conv"] && nodes[0].attributes["activation"] == .string(activation), "\(nodes)")

        var r = ONNXBuilder(seed: 11)
        let x = tensor([1, 2, 6, 6], r.randomValues(72))
        let conv = try reference("Conv", [:], [x, tensor([3, 2, 3, 3], w)])
        let separate: [String: AttributeValue] = op == "LeakyRelu" ? ["alpha": .float(0.2)] : op == "Clip" ? ["min": .float(-0.1), "max": .float(0.3)] : [:]
        let expected = try reference(op, separate, [conv])
        let closeness = Closeness(actual: try run(summary.model, ["x": x])["y"]!, expected: expected)
        #expect(closeness.passes(tolerance: 1e-5), "\(closeness.describe(tolerance: 1e-5))")
    }
}

/// What the manifest records: input dtypes and weight storage types.
@Suite struct ManifestTypeTests {
    @Test func integerInputsKeepTheirDtype() throws {
        var b = ONNXBuilder()
        b.input("ids", [1, 4], type: 7)
        b.input("positions", [1, 4], type: 6)
        b.weight("table", [50, 8])
        b.node("Add", ["ids", "positions"], ["sum"])
        b.node("Gather", ["table", "sum"], ["y"], ["axis": .i(0)])
        b.output("y")
        let (summary, _) = try convert(b)
        #expect(summary.model.manifest.inputs.map(\.dtype) == [.int64, .int32])
        let y = try run(summary.model, ["ids": tensor([1, 4], [1, 2, 3, 4]), "positions": tensor([1, 4], [0, 10, 20, 30])])["y"]!
        #expect(y.shape == [1, 4, 8])
    }

    @Test func fp16StoresTheBulkAsHalf() throws {
        var b = ONNXBuilder()
        b.input("x", [1, 64])
        let w = b.weight("w", [64, 128])
        b.weight("bias", [128])
        // 4096 elements (enough for float16) but one beyond float16's range: stays float32.
        b.initializer("big", [32, 128], (0..<4096).map { $0 == 0 ? 70000 : Float($0 % 100) })
        b.node("Gemm", ["x", "w", "bias"], ["h"], name: "fc")
        b.node("Add", ["h", "big"], ["y"], name: "shift")
        b.output("y")
        let (summary, _) = try convert(b, options: .init(weightType: .fp16))
        let dtypes = Dictionary(uniqueKeysWithValues: summary.model.layers.flatMap(\.weights).map { ($0.name, $0.dtype) })
        #expect(dtypes == ["w": .float16, "bias": .float32, "big": .float32], "\(dtypes)")
        let (full, _) = try convert(b, name: "fp32")
        #expect(summary.weightByteCount < full.weightByteCount)

        let x = tensor([1, 64], (0..<64).map { Float($0 % 7) / 7 })
        let half = try run(summary.model, ["x": x])["y"]!
        let exact = try run(full.model, ["x": x])["y"]!
        let closeness = Closeness(actual: half, expected: exact)
        #expect(closeness.passes(tolerance: 1e-2), "\(closeness.describe(tolerance: 1e-2))")
        #expect(half.array != exact.array, "the weights really were rounded")
        #expect(w.count == 64 * 128)
    }
}
