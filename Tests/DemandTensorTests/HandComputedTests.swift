import DemandTensor
import Testing

/// Small cases worked out by hand, so `Reference` itself is checked against
/// numbers rather than only against the fast kernels. Each runs both.
struct HandComputedTests {
    /// Runs `op` with the reference and the fast kernel and checks both against `expected`.
    private func check(_ op: Operator, _ inputs: [Tensor], expected: [Float], shape: Shape,
                       tolerance: Float = 1e-5, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let outputShape = try op.outputShape(inputs: inputs.map(\.shape))
        #expect(outputShape == shape, sourceLocation: sourceLocation)
        let reference = Tensor(zeros: outputShape)
        Reference.execute(op, inputs: inputs, output: reference)
        let fast = Tensor(zeros: outputShape)
        try op.execute(inputs: inputs, output: fast, workspace: Workspace())
        for (name, result) in [("reference", reference), ("fast", fast)] {
            let worst = zip(result.array, expected).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= tolerance, "\(name) gave \(result.array), expected \(expected)", sourceLocation: sourceLocation)
        }
    }

    /// 1...9 as a 1x1x3x3 image.
    private let oneToNine = Tensor(shape: [1, 1, 3, 3], values: (1...9).map(Float.init))

    @Test func conv2x2OnesKernelWithBias() throws {
        // Each output is the sum of a 2x2 block plus 1: 1+2+4+5+1 = 13, 2+3+5+6+1 = 17, ...
        let weight = Tensor(shape: [1, 1, 2, 2], values: [1, 1, 1, 1])
        let bias = Tensor(shape: [1], values: [1])
        try check(.conv(Conv2dParameters()), [oneToNine, weight, bias], expected: [13, 17, 25, 29], shape: [1, 1, 2, 2])
    }

    @Test func conv3x3OnesKernelPad1() throws {
        // Sums of each pixel's in-image 3x3 neighbourhood.
        let weight = Tensor(shape: [1, 1, 3, 3], values: .init(repeating: 1, count: 9))
        try check(.conv(Conv2dParameters(pads: Padding2d(1))), [oneToNine, weight],
                  expected: [12, 21, 16, 27, 45, 33, 24, 39, 28], shape: [1, 1, 3, 3])
    }

    @Test func convStride2Dilation2() throws {
        // 5x5 image of 0...24, a 2x2 kernel [1, 0; 0, -1] dilated to 3x3, stride 2:
        // out(oh, ow) = x(2oh, 2ow) - x(2oh+2, 2ow+2) = -12 everywhere.
        let image = Tensor(shape: [1, 1, 5, 5], values: (0..<25).map(Float.init))
        let weight = Tensor(shape: [1, 1, 2, 2], values: [1, 0, 0, -1])
        let op = Operator.conv(Conv2dParameters(strides: Size2d(2), dilations: Size2d(2)))
        try check(op, [image, weight], expected: [-12, -12, -12, -12], shape: [1, 1, 2, 2])
    }

    @Test func depthwiseConvWithReluAndBias() throws {
        // Channel 0 doubles, channel 1 negates; bias +1 / -1; relu clears channel 1.
        let image = Tensor(shape: [1, 2, 1, 2], values: [1, 2, 3, 4])
        let weight = Tensor(shape: [2, 1, 1, 1], values: [2, -1])
        let bias = Tensor(shape: [2], values: [1, -1])
        let op = Operator.conv(Conv2dParameters(groups: 2, activation: .relu))
        try check(op, [image, weight, bias], expected: [3, 5, 0, 0], shape: [1, 2, 1, 2])
    }

    @Test func pointwiseConvMixesChannels() throws {
        // out0 = in0 + in1, out1 = in0 - in1 at each of the 2 pixels.
        let image = Tensor(shape: [1, 2, 1, 2], values: [1, 2, 10, 20])
        let weight = Tensor(shape: [2, 2, 1, 1], values: [1, 1, 1, -1])
        try check(.conv(Conv2dParameters()), [image, weight], expected: [11, 22, -9, -18], shape: [1, 2, 1, 2])
    }

    @Test func maxPool2x2Stride2() throws {
        let image = Tensor(shape: [1, 1, 4, 4], values: (1...16).map(Float.init))
        try check(.maxPool(Pool2dParameters(kernel: Size2d(2), strides: Size2d(2))), [image],
                  expected: [6, 8, 14, 16], shape: [1, 1, 2, 2])
    }

    @Test func maxPoolCeilModeKeepsPartialWindows() throws {
        // Windows rows/cols {0,1} and {2}: maxima 5, 6, 8, 9.
        let op = Operator.maxPool(Pool2dParameters(kernel: Size2d(2), strides: Size2d(2), ceilMode: true))
        try check(op, [oneToNine], expected: [5, 6, 8, 9], shape: [1, 1, 2, 2])
    }

    @Test func maxPoolIgnoresPaddingEvenWhenAllInputsAreNegative() throws {
        let image = Tensor(shape: [1, 1, 2, 2], values: [-1, -2, -3, -4])
        let op = Operator.maxPool(Pool2dParameters(kernel: Size2d(2), pads: Padding2d(1)))
        try check(op, [image], expected: [-1, -1, -2, -1, -1, -2, -3, -3, -4], shape: [1, 1, 3, 3])
    }

    @Test func averagePoolWithAndWithoutPadCounting() throws {
        // 3x3 windows, pad 1, on a 2x2 image: every window covers all four pixels (sum 10).
        let image = Tensor(shape: [1, 1, 2, 2], values: [1, 2, 3, 4])
        var parameters = Pool2dParameters(kernel: Size2d(3), pads: Padding2d(1))
        try check(.averagePool(parameters), [image], expected: .init(repeating: 2.5, count: 4), shape: [1, 1, 2, 2])
        parameters.countIncludePad = true
        try check(.averagePool(parameters), [image], expected: .init(repeating: 10 / 9, count: 4), shape: [1, 1, 2, 2])
    }

    @Test func averagePoolCeilOverhangIsNotCounted() throws {
        // Kernel 2, stride 2, ceil, no padding, on 1...9: the last window along each
        // axis holds index 2 only, and its overhang lies past the (unpadded) image,
        // so even with count_include_pad it divides by the pixels it covers:
        // {1,2,4,5}/4 = 3, {3,6}/2 = 4.5, {7,8}/2 = 7.5, {9}/1 = 9.
        let op = Operator.averagePool(Pool2dParameters(kernel: Size2d(2), strides: Size2d(2), countIncludePad: true, ceilMode: true))
        try check(op, [oneToNine], expected: [3, 4.5, 7.5, 9], shape: [1, 1, 2, 2])
    }

    @Test func globalAveragePool() throws {
        try check(.globalAveragePool, [oneToNine], expected: [5], shape: [1, 1, 1, 1])
    }

    @Test func addPerChannelBias() throws {
        let image = Tensor(shape: [1, 2, 1, 2], values: [1, 2, 3, 4])
        let bias = Tensor(shape: [1, 2, 1, 1], values: [10, -10])
        try check(.add(activation: .relu), [image, bias], expected: [11, 12, 0, 0], shape: [1, 2, 1, 2])
    }

    @Test func concatChannels() throws {
        let a = Tensor(shape: [1, 1, 1, 2], values: [1, 2])
        let b = Tensor(shape: [1, 2, 1, 2], values: [3, 4, 5, 6])
        try check(.concat(axis: 1), [a, b], expected: [1, 2, 3, 4, 5, 6], shape: [1, 3, 1, 2])
        try check(.concat(axis: -1), [a, a], expected: [1, 2, 1, 2], shape: [1, 1, 1, 4])
    }

    @Test func upsampleNearest2x() throws {
        let image = Tensor(shape: [1, 1, 2, 2], values: [1, 2, 3, 4])
        try check(.upsampleNearest(scaleH: 2, scaleW: 2), [image],
                  expected: [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4], shape: [1, 1, 4, 4])
    }

    @Test func gemmWithRowBias() throws {
        // [1 2; 3 4] · [5 6; 7 8] = [19 22; 43 50], plus C = [1, 1].
        let a = Tensor(shape: [2, 2], values: [1, 2, 3, 4])
        let b = Tensor(shape: [2, 2], values: [5, 6, 7, 8])
        let c = Tensor(shape: [2], values: [1, 1])
        try check(.gemm(GemmParameters()), [a, b, c], expected: [20, 23, 44, 51], shape: [2, 2])
        // A · Bᵀ = [1·5+2·6, 1·7+2·8; 3·5+4·6, 3·7+4·8]
        try check(.gemm(GemmParameters(transposeB: true)), [a, b], expected: [17, 23, 39, 53], shape: [2, 2])
    }

    @Test func flattenKeepsOrder() throws {
        try check(.flatten(axis: 1), [oneToNine], expected: (1...9).map(Float.init), shape: [1, 9])
    }

    @Test func softmaxOfOneTwoThree() throws {
        // e^k / (e + e² + e³)
        let x = Tensor(shape: [1, 3], values: [1, 2, 3])
        try check(.softmax(axis: -1), [x], expected: [0.090_030_57, 0.244_728_47, 0.665_240_96], shape: [1, 3])
        // Along axis 0 of a 2x1, with large values that overflow a naive exp.
        let large = Tensor(shape: [2, 1], values: [1000, 1000])
        try check(.softmax(axis: 0), [large], expected: [0.5, 0.5], shape: [2, 1])
    }

    @Test func activationValues() throws {
        let x = Tensor(shape: [4], values: [-2, 0, 1, 8])
        try check(.activation(.relu), [x], expected: [0, 0, 1, 8], shape: [4])
        try check(.activation(.leakyRelu(alpha: 0.1)), [x], expected: [-0.2, 0, 1, 8], shape: [4])
        try check(.activation(.clip(min: -1, max: 6)), [x], expected: [-1, 0, 1, 6], shape: [4])
        // sigmoid(-2) = 0.1192029, sigmoid(1) = 0.7310586, sigmoid(8) = 0.9996646
        try check(.activation(.sigmoid), [x], expected: [0.119_202_92, 0.5, 0.731_058_6, 0.999_664_6], shape: [4])
        try check(.activation(.silu), [x], expected: [-0.238_405_84, 0, 0.731_058_6, 7.997_317], shape: [4])
    }
}
