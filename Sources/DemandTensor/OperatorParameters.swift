/// A (height, width) pair: a kernel size, strides or dilations.
public struct Size2d: Hashable, Sendable, CustomStringConvertible {
    /// Rows (the H axis).
    public var height: Int
    /// Columns (the W axis).
    public var width: Int

    /// A size of `height` rows by `width` columns.
    public init(height: Int, width: Int) {
        self.height = height
        self.width = width
    }

    /// The same value along both axes.
    public init(_ both: Int) { self.init(height: both, width: both) }

    /// 1x1.
    public static let one = Size2d(1)

    public var description: String { "\(height)x\(width)" }
}

/// Zero padding around an image, in pixels. ONNX spells it
/// `pads = [top, left, bottom, right]` (x1_begin, x2_begin, x1_end, x2_end).
public struct Padding2d: Hashable, Sendable, CustomStringConvertible {
    /// Rows added above.
    public var top: Int
    /// Columns added on the left.
    public var left: Int
    /// Rows added below.
    public var bottom: Int
    /// Columns added on the right.
    public var right: Int

    /// Padding of each side, in elements.
    public init(top: Int, left: Int, bottom: Int, right: Int) {
        self.top = top
        self.left = left
        self.bottom = bottom
        self.right = right
    }

    /// The same padding on all four sides.
    public init(_ all: Int) { self.init(top: all, left: all, bottom: all, right: all) }

    /// No padding.
    public static let zero = Padding2d(0)

    /// Whether no side is padded.
    public var isZero: Bool { self == .zero }
    public var description: String { "[\(top), \(left), \(bottom), \(right)]" }
}

/// ONNX Conv over NCHW float32: inputs X (N, C, H, W), W (M, C/groups, kH, kW)
/// and optional B (M); output (N, M, outH, outW) where
/// outH = floor((H + pads.top + pads.bottom - dilations.height·(kH - 1) - 1) / strides.height) + 1.
public struct Conv2dParameters: Hashable, Sendable {
    /// Step between output positions, per axis.
    public var strides: Size2d
    /// Implicit zeros around the input.
    public var pads: Padding2d
    /// Spacing between kernel taps, per axis.
    public var dilations: Size2d
    /// Channel groups (inChannels for a depthwise conv).
    public var groups: Int
    /// Applied to (conv + bias), or to (conv + bias + residual) with a
    /// residual, in the same pass that adds the bias.
    public var activation: Activation
    /// The model's `kernel_shape`, if it gave one; checked against W's shape.
    public var kernelShape: Size2d?
    /// A fourth input R, shaped as the output, is added after the bias and
    /// before the activation: a residual connection's Add fused into the
    /// convolution that feeds it (attribute `residual` = 1; needs B).
    public var residual: Bool

    /// Convolution parameters; the defaults are ONNX's.
    public init(strides: Size2d = .one, pads: Padding2d = .zero, dilations: Size2d = .one, groups: Int = 1,
                activation: Activation = .none, kernelShape: Size2d? = nil, residual: Bool = false) {
        self.strides = strides
        self.pads = pads
        self.dilations = dilations
        self.groups = groups
        self.activation = activation
        self.kernelShape = kernelShape
        self.residual = residual
    }

    func validate() throws(OperatorError) {
        try requirePositive(strides, "strides")
        try requirePositive(dilations, "dilations")
        try requireNonNegative(pads)
        guard groups >= 1 else { throw OperatorError(.invalidAttribute, "group is \(groups); it must be at least 1") }
        if let kernelShape { try requirePositive(kernelShape, "kernel_shape") }
    }
}

/// ONNX MaxPool and AveragePool over NCHW float32: input (N, C, H, W), output
/// (N, C, outH, outW) with the conv formula, rounded up when `ceilMode` is
/// set. In ceil mode a last window that would start in the bottom or right
/// padding is dropped (onnxruntime's and PyTorch's rule), so every window
/// covers at least one input pixel.
public struct Pool2dParameters: Hashable, Sendable {
    /// The pooling window.
    public var kernel: Size2d
    /// Step between windows, per axis.
    public var strides: Size2d
    /// Every pad must be smaller than the kernel along its axis.
    public var pads: Padding2d
    /// AveragePool only: divide by the window's size clipped to the padded
    /// image (ONNX count_include_pad = 1) rather than by the input pixels it covers.
    public var countIncludePad: Bool
    /// Whether the output size rounds up (ONNX `ceil_mode`).
    public var ceilMode: Bool

    /// Pooling parameters; the defaults are ONNX's.
    public init(kernel: Size2d, strides: Size2d = .one, pads: Padding2d = .zero, countIncludePad: Bool = false, ceilMode: Bool = false) {
        self.kernel = kernel
        self.strides = strides
        self.pads = pads
        self.countIncludePad = countIncludePad
        self.ceilMode = ceilMode
    }

    func validate() throws(OperatorError) {
        try requirePositive(kernel, "kernel_shape")
        try requirePositive(strides, "strides")
        try requireNonNegative(pads)
        guard max(pads.top, pads.bottom) < kernel.height, max(pads.left, pads.right) < kernel.width else {
            throw OperatorError(.invalidAttribute,
                "pads \(pads) must be smaller than kernel_shape \(kernel) along each axis, or a window could hold only padding")
        }
    }

    /// Output length along one axis (see the type's comment).
    static func outputLength(input: Int, kernel: Int, stride: Int, padBegin: Int, padEnd: Int, ceilMode: Bool) -> Int {
        let span = input + padBegin + padEnd - kernel
        guard span >= 0 else { return 0 }
        var length = (ceilMode ? (span + stride - 1) / stride : span / stride) + 1
        if ceilMode && (length - 1) * stride >= input + padBegin { length -= 1 }
        return length
    }
}

/// ONNX Gemm: Y (M, N) = alpha · A' · B' + beta · C, where A' is A (M, K) or
/// Aᵀ when `transposeA`, B' is B (K, N) or Bᵀ when `transposeB`, and the
/// optional C broadcasts to (M, N) from (), (1), (N), (1, N), (M, 1) or (M, N).
public struct GemmParameters: Hashable, Sendable {
    /// Scale of A·B.
    public var alpha: Float
    /// Scale of the bias C.
    public var beta: Float
    /// Whether A is used transposed.
    public var transposeA: Bool
    /// Whether B is used transposed.
    public var transposeB: Bool
    /// Applied to the whole of Y after C is added.
    public var activation: Activation

    /// Gemm parameters; the defaults are ONNX's.
    public init(alpha: Float = 1, beta: Float = 1, transposeA: Bool = false, transposeB: Bool = false, activation: Activation = .none) {
        self.alpha = alpha
        self.beta = beta
        self.transposeA = transposeA
        self.transposeB = transposeB
        self.activation = activation
    }
}

private func requirePositive(_ size: Size2d, _ name: String) throws(OperatorError) {
    guard size.height >= 1, size.width >= 1 else {
        throw OperatorError(.invalidAttribute, "\(name) is \(size); each value must be at least 1")
    }
}

private func requireNonNegative(_ pads: Padding2d) throws(OperatorError) {
    guard min(pads.top, pads.left, pads.bottom, pads.right) >= 0 else {
        throw OperatorError(.invalidAttribute, "pads \(pads) has a negative value; pads must be 0 or more")
    }
}
