/// ONNX ConvTranspose over NCHW float32: inputs X (N, C, H, W),
/// W (C, M/groups, kH, kW) and optional B (M); output (N, M, outH, outW) with
/// outH = strides.height·(H − 1) + outputPadding.height + dilations.height·(kH − 1) + 1 − pads.top − pads.bottom.
/// (ONNX's output_shape attribute is not taken: the converter resolves it into pads.)
public struct ConvTranspose2dParameters: Hashable, Sendable {
    /// Steps between the output positions of adjacent input pixels.
    public var strides: Size2d
    /// Rows and columns cropped from each side of the full output.
    public var pads: Padding2d
    /// Extra rows and columns at the bottom and right, each less than the stride or the dilation.
    public var outputPadding: Size2d
    /// Spacing between kernel taps.
    public var dilations: Size2d
    /// Channel groups: input and output channels split into this many independent parts.
    public var groups: Int
    /// Applied to (convolution + bias) in one pass at the end.
    public var activation: Activation
    /// The model's `kernel_shape`, if it gave one; checked against W's shape.
    public var kernelShape: Size2d?

    /// Parameters with ONNX's defaults for anything not given.
    public init(strides: Size2d = .one, pads: Padding2d = .zero, outputPadding: Size2d = Size2d(0), dilations: Size2d = .one,
                groups: Int = 1, activation: Activation = .none, kernelShape: Size2d? = nil) {
        self.strides = strides
        self.pads = pads
        self.outputPadding = outputPadding
        self.dilations = dilations
        self.groups = groups
        self.activation = activation
        self.kernelShape = kernelShape
    }

    func validate() throws(OperatorError) {
        try Conv2dParameters(strides: strides, pads: pads, dilations: dilations, groups: groups, kernelShape: kernelShape).validate()
        let limit = Size2d(height: max(strides.height, dilations.height), width: max(strides.width, dilations.width))
        guard outputPadding.height >= 0, outputPadding.width >= 0,
              outputPadding.height < limit.height, outputPadding.width < limit.width else {
            throw OperatorError(.invalidAttribute,
                "ConvTranspose output_padding \(outputPadding) must be 0 or more and less than the stride or dilation (\(limit)) along each axis")
        }
    }
}

/// ConvTranspose as sgemm + col2im: per image and group, for a band of input
/// rows, columns (M/g·kH·kW, band pixels) = W_gᵀ · X_g[:, band] in one sgemm
/// (W_g is read transposed in place), then each column entry is added into
/// the output pixel its kernel tap lands on. The output starts as the bias
/// and gets the activation in one pass at the end. Bands keep the column
/// matrix within `Workspace.columnBudgetFloats`.
enum ConvTranspose2d {
    struct Geometry {
        let batch, inChannels, inHeight, inWidth: Int
        let outChannels, kernelHeight, kernelWidth, outHeight, outWidth: Int
        let groups: Int

        init(input: Shape, weight: Shape, groups: Int, parameters: ConvTranspose2dParameters) {
            (batch, inChannels, inHeight, inWidth) = (input[0], input[1], input[2], input[3])
            (kernelHeight, kernelWidth) = (weight[2], weight[3])
            outChannels = weight[1] * groups
            let (s, d, p, o) = (parameters.strides, parameters.dilations, parameters.pads, parameters.outputPadding)
            outHeight = s.height * (inHeight - 1) + o.height + d.height * (kernelHeight - 1) + 1 - p.top - p.bottom
            outWidth = s.width * (inWidth - 1) + o.width + d.width * (kernelWidth - 1) + 1 - p.left - p.right
            self.groups = groups
        }

        var inChannelsPerGroup: Int { inChannels / groups }
        var outChannelsPerGroup: Int { outChannels / groups }
        /// Rows of the column matrix: M/g·kH·kW.
        var columnDepth: Int { outChannelsPerGroup * kernelHeight * kernelWidth }

        func rowsPerBand(budgetFloats: Int) -> Int {
            max(1, min(inHeight, budgetFloats / max(1, columnDepth * inWidth)))
        }
    }

    static func workspaceFloatCount(_ parameters: ConvTranspose2dParameters, input: Shape, weight: Shape) -> Int {
        let g = Geometry(input: input, weight: weight, groups: parameters.groups, parameters: parameters)
        return g.columnDepth * g.rowsPerBand(budgetFloats: Workspace.defaultColumnBudgetFloats) * g.inWidth
    }

    static func run(_ parameters: ConvTranspose2dParameters, input: Tensor, weight: Tensor, bias: Tensor?, output: Tensor,
                    workspace: Workspace) {
        let g = Geometry(input: input.shape, weight: weight.shape, groups: parameters.groups, parameters: parameters)
        let (perGroupIn, perGroupOut, depth) = (g.inChannelsPerGroup, g.outChannelsPerGroup, g.columnDepth)
        let inPlane = g.inHeight * g.inWidth, outPlane = g.outHeight * g.outWidth
        let rowsPerBand = g.rowsPerBand(budgetFloats: workspace.columnBudgetFloats)
        let columns = workspace.floats(depth * rowsPerBand * g.inWidth)
        let tiles = tilesOutput(parameters, g)
        for n in 0..<g.batch {
            for group in 0..<g.groups {
                // x is (C/g, H·W), w is (C/g, M/g·kH·kW), y is (M/g, outH·outW)
                let x = input.data + (n * g.inChannels + group * perGroupIn) * inPlane
                let w = weight.data + group * perGroupIn * depth
                let firstChannel = group * perGroupOut
                let y = output.data + (n * g.outChannels + firstChannel) * outPlane
                let channelBias = bias.map { UnsafePointer($0.data + firstChannel) }
                if !tiles {
                    for channel in 0..<perGroupOut { (y + channel * outPlane).update(repeating: channelBias?[channel] ?? 0, count: outPlane) }
                }
                for bandStart in stride(from: 0, to: g.inHeight, by: rowsPerBand) {
                    let rows = bandStart..<min(bandStart + rowsPerBand, g.inHeight)
                    let bandColumns = rows.count * g.inWidth
                    BLAS.sgemm(transposeA: true, m: depth, n: bandColumns, k: perGroupIn, a: w, lda: depth,
                               b: x + bandStart * g.inWidth, ldb: inPlane, c: columns, ldc: bandColumns)
                    if tiles {
                        scatterTiles(columns, rows: rows, g, bias: channelBias, into: y)
                    } else {
                        col2im(columns, rows: rows, g, parameters, into: y)
                    }
                }
                parameters.activation.apply(to: y, count: perGroupOut * outPlane)
            }
        }
    }

    /// Whether the kernel windows tile the output exactly (stride = kernel,
    /// no dilation, padding or output padding): every output pixel then gets
    /// one tap of one input pixel, so the column entries are written (with
    /// the bias) rather than added into a bias-filled output.
    static func tilesOutput(_ p: ConvTranspose2dParameters, _ g: Geometry) -> Bool {
        p.strides == Size2d(height: g.kernelHeight, width: g.kernelWidth) && p.dilations == .one && p.pads.isZero
            && p.outputPadding == Size2d(0)
    }

    /// The tiling case of `col2im`: output pixel (ih·kH + kh, iw·kW + kw)
    /// = column (m, kh, kw) entry (ih, iw) + bias.
    private static func scatterTiles(_ columns: UnsafePointer<Float>, rows: Range<Int>, _ g: Geometry, bias: UnsafePointer<Float>?,
                                     into y: UnsafeMutablePointer<Float>) {
        let (kernelHeight, kernelWidth, inWidth, outWidth) = (g.kernelHeight, g.kernelWidth, g.inWidth, g.outWidth)
        let bandColumns = rows.count * inWidth
        for channel in 0..<g.outChannelsPerGroup {
            let plane = y + channel * g.outHeight * outWidth
            let shift = bias?[channel] ?? 0
            for kh in 0..<kernelHeight {
                for kw in 0..<kernelWidth {
                    var source = columns + ((channel * kernelHeight + kh) * kernelWidth + kw) * bandColumns
                    for ih in rows {
                        let destination = plane + (ih * kernelHeight + kh) * outWidth + kw
                        for iw in 0..<inWidth { destination[iw * kernelWidth] = source[iw] + shift }
                        source += inWidth
                    }
                }
            }
        }
    }

    /// Adds column row (m, kh, kw), entry (ih, iw) into output pixel
    /// (m, ih·strideH − padTop + kh·dilationH, iw·strideW − padLeft + kw·dilationW) where that lies inside.
    private static func col2im(_ columns: UnsafePointer<Float>, rows: Range<Int>, _ g: Geometry,
                               _ parameters: ConvTranspose2dParameters, into y: UnsafeMutablePointer<Float>) {
        let (strideH, strideW) = (parameters.strides.height, parameters.strides.width)
        let (dilationH, dilationW) = (parameters.dilations.height, parameters.dilations.width)
        let (padTop, padLeft) = (parameters.pads.top, parameters.pads.left)
        let (inWidth, outWidth, outPlane) = (g.inWidth, g.outWidth, g.outHeight * g.outWidth)
        var source = columns
        for channel in 0..<g.outChannelsPerGroup {
            let plane = y + channel * outPlane
            for kh in 0..<g.kernelHeight {
                for kw in 0..<g.kernelWidth {
                    let offsetW = kw * dilationW - padLeft
                    let valid = Conv2d.validOutputRange(outputLength: inWidth, stride: strideW, offset: offsetW, inputLength: outWidth)
                    for ih in rows {
                        let oh = ih * strideH - padTop + kh * dilationH
                        if oh >= 0 && oh < g.outHeight {
                            let destination = plane + oh * outWidth + offsetW
                            if strideW == 1 {
                                for iw in valid { destination[iw] += source[iw] }
                            } else {
                                for iw in valid { destination[iw * strideW] += source[iw] }
                            }
                        }
                        source += inWidth
                    }
                }
            }
        }
    }
}
