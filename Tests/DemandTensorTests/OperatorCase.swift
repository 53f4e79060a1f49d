import DemandTensor
import Testing

/// One row of the operator table: an op as a manifest would spell it, the
/// shapes it runs on, and how close the fast kernel must come to `Reference`.
struct OperatorCase: Sendable, CustomTestStringConvertible {
    let name: String
    let type: String
    let attributes: [String: AttributeValue]
    let inputs: [Shape]
    /// The output shape, where the case is about the shape rule.
    var expectedShape: Shape? = nil
    /// Max abs error allowed, as a fraction of max(1, max |reference|).
    var tolerance: Float = 1e-5
    /// Inputs are uniform in [-inputScale, inputScale).
    var inputScale: Float = 1
    /// A smaller im2col band budget, to make a small conv run in several bands.
    var columnBudgetFloats: Int? = nil
    /// Where each input's values come from, when not uniform in ±inputScale.
    var domains: [Domain]? = nil

    /// The values one input is drawn from.
    enum Domain: Sendable {
        /// Uniform in [-bound, bound).
        case uniform(Float)
        /// Uniform in [low, high): for Sqrt, Log, divisors, Pow bases, variances.
        case range(Float, Float)
        /// Whole numbers in [-count, count): Gather indices counting from either end.
        case indices(Int)
        /// Whole numbers in [0, count): masks (count 2), values that collide for Equal.
        case naturals(Int)
        /// Multiples of 0.5 in [-bound, bound): ties for Round.
        case halves(Int)
        /// Whole numbers in [-bound, bound] other than 0: integer divisors.
        case nonzeroIntegers(Int)
    }

    var testDescription: String { name }
}

private let sumTolerance: Float = 1e-4

extension OperatorCase {
    static let all: [OperatorCase] = conv + pools + elementwise + layout + gemm + softmax + activations
        + convTranspose + resize + pad + unary + binary + reductions + normalizations + matMul + movement + slice + gather + rearrange
        + indexAndLogic

    static let conv: [OperatorCase] = [
        OperatorCase(name: "conv 3x3 pad 1 bias relu", type: "Conv",
                     attributes: ["pads": .ints([1, 1, 1, 1]), "kernel_shape": .ints([3, 3]), "activation": .string("relu")],
                     inputs: [[1, 3, 8, 8], [4, 3, 3, 3], [4]], expectedShape: [1, 4, 8, 8], tolerance: sumTolerance),
        OperatorCase(name: "conv stride 2 asymmetric pads leaky", type: "Conv",
                     attributes: ["strides": .ints([2, 2]), "pads": .ints([1, 0, 0, 1]),
                                  "activation": .string("leaky_relu"), "alpha": .float(0.1)],
                     inputs: [[1, 3, 9, 7], [5, 3, 3, 3], [5]], expectedShape: [1, 5, 4, 3], tolerance: sumTolerance),
        OperatorCase(name: "conv dilation 2 sigmoid", type: "Conv",
                     attributes: ["dilations": .ints([2, 2]), "pads": .ints([2, 2, 2, 2]), "activation": .string("sigmoid")],
                     inputs: [[1, 2, 10, 10], [3, 2, 3, 3], [3]], expectedShape: [1, 3, 10, 10], tolerance: sumTolerance),
        OperatorCase(name: "conv groups 2 silu", type: "Conv",
                     attributes: ["group": .int(2), "pads": .ints([1, 1, 1, 1]), "activation": .string("silu")],
                     inputs: [[1, 4, 6, 6], [6, 2, 3, 3], [6]], tolerance: sumTolerance),
        OperatorCase(name: "conv groups 2 multiplier 2 (grouped im2col)", type: "Conv",
                     attributes: ["group": .int(2), "pads": .ints([1, 1, 1, 1])],
                     inputs: [[1, 2, 6, 6], [4, 1, 3, 3], [4]], tolerance: sumTolerance),
        OperatorCase(name: "conv depthwise stride 2 clip", type: "Conv",
                     attributes: ["group": .int(4), "strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1]),
                                  "activation": .string("clip"), "min": .float(0), "max": .float(0.5)],
                     inputs: [[1, 4, 9, 9], [4, 1, 3, 3], [4]], expectedShape: [1, 4, 5, 5], tolerance: sumTolerance),
        OperatorCase(name: "conv depthwise dilation 2 batch 2 no bias", type: "Conv",
                     attributes: ["group": .int(3), "dilations": .ints([2, 2]), "pads": .ints([2, 1, 2, 3])],
                     inputs: [[2, 3, 7, 7], [3, 1, 3, 3]], tolerance: sumTolerance),
        OperatorCase(name: "conv 1x1 fast path relu", type: "Conv",
                     attributes: ["activation": .string("relu")],
                     inputs: [[1, 8, 5, 5], [6, 8, 1, 1], [6]], tolerance: sumTolerance),
        OperatorCase(name: "conv 1x1 groups 2 batch 2", type: "Conv",
                     attributes: ["group": .int(2)],
                     inputs: [[2, 8, 4, 4], [6, 4, 1, 1], [6]], tolerance: sumTolerance),
        OperatorCase(name: "conv 1x1 stride 2 (im2col gather)", type: "Conv",
                     attributes: ["strides": .ints([2, 2])],
                     inputs: [[1, 4, 7, 7], [3, 4, 1, 1], [3]], expectedShape: [1, 3, 4, 4], tolerance: sumTolerance),
        OperatorCase(name: "conv batch 2 no bias 3x2 kernel", type: "Conv",
                     attributes: ["pads": .ints([0, 1, 1, 0])],
                     inputs: [[2, 3, 6, 5], [4, 3, 3, 2]], expectedShape: [2, 4, 5, 5], tolerance: sumTolerance),
        OperatorCase(name: "conv 5x5 strides 2x3", type: "Conv",
                     attributes: ["strides": .ints([2, 3]), "pads": .ints([2, 2, 2, 2])],
                     inputs: [[1, 2, 11, 13], [2, 2, 5, 5], [2]], expectedShape: [1, 2, 6, 5], tolerance: sumTolerance),
        OperatorCase(name: "conv in several im2col bands", type: "Conv",
                     attributes: ["pads": .ints([1, 1, 1, 1]), "strides": .ints([1, 2]), "activation": .string("relu")],
                     inputs: [[2, 3, 9, 8], [4, 3, 3, 3], [4]], tolerance: sumTolerance, columnBudgetFloats: 27 * 4 * 2),
    ]

    static let pools: [OperatorCase] = [
        OperatorCase(name: "maxpool 3x3 stride 2 pad 1", type: "MaxPool",
                     attributes: ["kernel_shape": .ints([3, 3]), "strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1])],
                     inputs: [[1, 3, 9, 9]], expectedShape: [1, 3, 5, 5]),
        OperatorCase(name: "maxpool 2x2 stride 2 ceil", type: "MaxPool",
                     attributes: ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2]), "ceil_mode": .int(1)],
                     inputs: [[1, 2, 7, 7]], expectedShape: [1, 2, 4, 4]),
        OperatorCase(name: "maxpool 2x2 stride 2 wide rows ceil", type: "MaxPool",
                     attributes: ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2]), "ceil_mode": .int(1)],
                     inputs: [[1, 2, 5, 37]], expectedShape: [1, 2, 3, 19]),
        OperatorCase(name: "maxpool 2x2 stride 2 wide rows floor", type: "MaxPool",
                     attributes: ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2])],
                     inputs: [[2, 1, 4, 67]], expectedShape: [2, 1, 2, 33]),
        OperatorCase(name: "maxpool ceil drops window starting in padding", type: "MaxPool",
                     attributes: ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1]), "ceil_mode": .int(1)],
                     inputs: [[1, 2, 5, 5]], expectedShape: [1, 2, 3, 3]),
        OperatorCase(name: "maxpool 2x2 stride 1 (yolo-tiny)", type: "MaxPool",
                     attributes: ["kernel_shape": .ints([2, 2]), "pads": .ints([0, 0, 1, 1])],
                     inputs: [[2, 2, 5, 5]], expectedShape: [2, 2, 5, 5]),
        OperatorCase(name: "avgpool 3x3 pad 1 excluding pad", type: "AveragePool",
                     attributes: ["kernel_shape": .ints([3, 3]), "pads": .ints([1, 1, 1, 1])],
                     inputs: [[1, 3, 6, 6]], expectedShape: [1, 3, 6, 6]),
        OperatorCase(name: "avgpool 3x3 stride 2 count_include_pad ceil", type: "AveragePool",
                     attributes: ["kernel_shape": .ints([3, 3]), "strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1]),
                                  "count_include_pad": .int(1), "ceil_mode": .int(1)],
                     inputs: [[1, 2, 8, 8]], expectedShape: [1, 2, 5, 5]),
        OperatorCase(name: "avgpool 2x2 stride 2 batch 2", type: "AveragePool",
                     attributes: ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2])],
                     inputs: [[2, 3, 6, 4]], expectedShape: [2, 3, 3, 2]),
        OperatorCase(name: "global average pool", type: "GlobalAveragePool", attributes: [:],
                     inputs: [[2, 5, 4, 3]], expectedShape: [2, 5, 1, 1]),
        OperatorCase(name: "global max pool", type: "GlobalMaxPool", attributes: [:],
                     inputs: [[2, 5, 4, 3]], expectedShape: [2, 5, 1, 1]),
        OperatorCase(name: "global max pool rank 3", type: "GlobalMaxPool", attributes: [:],
                     inputs: [[1, 3, 7]], expectedShape: [1, 3, 1]),
    ]

    static let elementwise: [OperatorCase] = [
        OperatorCase(name: "add same shape relu", type: "Add", attributes: ["activation": .string("relu")],
                     inputs: [[2, 3, 4, 5], [2, 3, 4, 5]]),
        OperatorCase(name: "add per-channel (1,C,1,1)", type: "Add", attributes: [:],
                     inputs: [[2, 3, 4, 5], [1, 3, 1, 1]], expectedShape: [2, 3, 4, 5]),
        OperatorCase(name: "add per-channel (C,1,1) leaky", type: "Add",
                     attributes: ["activation": .string("leaky_relu"), "alpha": .float(0.2)],
                     inputs: [[1, 4, 3, 3], [4, 1, 1]]),
        OperatorCase(name: "add broadcasts the first input", type: "Add", attributes: [:],
                     inputs: [[1, 3, 1, 1], [2, 3, 4, 4]], expectedShape: [2, 3, 4, 4]),
        OperatorCase(name: "add broadcasts both inputs", type: "Add", attributes: ["activation": .string("sigmoid")],
                     inputs: [[2, 1, 4], [3, 1]], expectedShape: [2, 3, 4]),
        OperatorCase(name: "add scalar", type: "Add", attributes: [:], inputs: [[2, 3, 2, 2], [1]]),
        OperatorCase(name: "add broadcast inner (1,1,H,W)", type: "Add", attributes: [:], inputs: [[2, 3, 4, 5], [1, 1, 4, 5]]),
    ]

    static let layout: [OperatorCase] = [
        OperatorCase(name: "concat axis 1", type: "Concat", attributes: ["axis": .int(1)],
                     inputs: [[2, 2, 3, 3], [2, 3, 3, 3], [2, 1, 3, 3]], expectedShape: [2, 6, 3, 3]),
        OperatorCase(name: "concat axis -1", type: "Concat", attributes: ["axis": .int(-1)],
                     inputs: [[1, 2, 3, 2], [1, 2, 3, 4]], expectedShape: [1, 2, 3, 6]),
        OperatorCase(name: "concat axis 0", type: "Concat", attributes: ["axis": .int(0)],
                     inputs: [[1, 2, 3], [2, 2, 3]], expectedShape: [3, 2, 3]),
        OperatorCase(name: "upsample nearest x2", type: "Upsample",
                     attributes: ["mode": .string("nearest"), "scales": .floats([1, 1, 2, 2])],
                     inputs: [[1, 3, 4, 5]], expectedShape: [1, 3, 8, 10]),
        OperatorCase(name: "upsample nearest 3x1 batch 2", type: "Upsample", attributes: ["scales": .floats([1, 1, 3, 1])],
                     inputs: [[2, 2, 3, 3]], expectedShape: [2, 2, 9, 3]),
        OperatorCase(name: "flatten axis 1", type: "Flatten", attributes: [:], inputs: [[2, 3, 4, 5]], expectedShape: [2, 60]),
        OperatorCase(name: "flatten axis 0", type: "Flatten", attributes: ["axis": .int(0)], inputs: [[2, 3, 4]], expectedShape: [1, 24]),
        OperatorCase(name: "flatten axis -1", type: "Flatten", attributes: ["axis": .int(-1)], inputs: [[2, 3, 4]], expectedShape: [6, 4]),
    ]

    static let gemm: [OperatorCase] = [
        OperatorCase(name: "gemm transB with C (N) relu", type: "Gemm",
                     attributes: ["transB": .int(1), "activation": .string("relu")],
                     inputs: [[3, 10], [7, 10], [7]], expectedShape: [3, 7], tolerance: sumTolerance),
        OperatorCase(name: "gemm alpha beta C (M,N)", type: "Gemm", attributes: ["alpha": .float(0.5), "beta": .float(2)],
                     inputs: [[4, 6], [6, 5], [4, 5]], expectedShape: [4, 5], tolerance: sumTolerance),
        OperatorCase(name: "gemm transA C (M,1) leaky", type: "Gemm",
                     attributes: ["transA": .int(1), "activation": .string("leaky_relu"), "activation_alpha": .float(0.1)],
                     inputs: [[6, 4], [6, 3], [4, 1]], expectedShape: [4, 3], tolerance: sumTolerance),
        OperatorCase(name: "gemm M=1 C (1,N)", type: "Gemm", attributes: [:],
                     inputs: [[1, 20], [20, 5], [1, 5]], expectedShape: [1, 5], tolerance: sumTolerance),
        OperatorCase(name: "gemm transA transB no C", type: "Gemm", attributes: ["transA": .int(1), "transB": .int(1)],
                     inputs: [[5, 2], [3, 5]], expectedShape: [2, 3], tolerance: sumTolerance),
        OperatorCase(name: "gemm scalar C beta 0", type: "Gemm", attributes: ["beta": .float(0)],
                     inputs: [[2, 3], [3, 4], []], tolerance: sumTolerance),
    ]

    static let softmax: [OperatorCase] = [
        OperatorCase(name: "softmax axis -1", type: "Softmax", attributes: [:], inputs: [[3, 10]], inputScale: 8),
        OperatorCase(name: "softmax axis 1 over NCHW", type: "Softmax", attributes: ["axis": .int(1)], inputs: [[2, 5, 3, 3]], inputScale: 8),
        OperatorCase(name: "softmax axis 0", type: "Softmax", attributes: ["axis": .int(0)], inputs: [[4, 3]], inputScale: 8),
        OperatorCase(name: "logsoftmax axis -1", type: "LogSoftmax", attributes: [:], inputs: [[3, 21]], inputScale: 8),
        OperatorCase(name: "logsoftmax axis 1 over NCHW", type: "LogSoftmax", attributes: ["axis": .int(1)], inputs: [[2, 5, 3, 3]],
                     inputScale: 8),
        OperatorCase(name: "logsoftmax axis 0", type: "LogSoftmax", attributes: ["axis": .int(0)], inputs: [[4, 3]], inputScale: 8),
    ]

    static let activations: [OperatorCase] = [
        OperatorCase(name: "relu", type: "Relu", attributes: [:], inputs: [[2, 3, 5, 5]], inputScale: 4),
        OperatorCase(name: "leaky relu 0.2", type: "LeakyRelu", attributes: ["alpha": .float(0.2)], inputs: [[2, 3, 5, 5]], inputScale: 4),
        OperatorCase(name: "leaky relu default", type: "LeakyRelu", attributes: [:], inputs: [[7, 3]], inputScale: 4),
        OperatorCase(name: "sigmoid", type: "Sigmoid", attributes: [:], inputs: [[2, 3, 5, 5]], inputScale: 8),
        OperatorCase(name: "silu", type: "Silu", attributes: [:], inputs: [[2, 3, 5, 5]], inputScale: 8),
        OperatorCase(name: "clip", type: "Clip", attributes: ["min": .float(-0.5), "max": .float(1.5)], inputs: [[2, 3, 5, 5]], inputScale: 4),
        OperatorCase(name: "identity", type: "Identity", attributes: [:], inputs: [[4, 5]]),
    ]
}
