import CKernels

/// Conv kernels over NCHW float32: X (N, C, H, W), W (M, C/groups, kH, kW),
/// B (M) → Y (N, M, outH, outW).
///
/// The path is chosen from the shapes (and the CPU):
/// - pointwise (1x1, stride 1, no padding): per group, Y_g (M/g, outH·outW) =
///   W_g (M/g, C/g) · X_g (C/g, H·W) in one sgemm straight on the input;
/// - depthwise (groups = C = M): `dl_depthwise_conv2d` (CKernels, on the CPU level
///   of the GEMM path: AVX-512, AVX2, NEON or portable C), each vector of outputs
///   summing its kH·kW taps in a register, bias and ReLU fused; should it fail
///   (its scratch could not be allocated), a direct Swift loop;
/// - 3x3 stride 1 with at least 18 input channels (16 run faster in place, below)
///   and 9x9 outputs (`dl_conv2d_winograd_wanted` says why), on CPUs with AVX2 + FMA or AVX-512: Winograd by
///   `dl_conv2d_winograd_isa`, F(4x4, 3x3) for up to 128 input channels from 24x24 outputs and up to 256 from
///   48x48 (36 GEMMs, 4 times fewer multiply-adds; within about 3e-6 of Σ|w·x| of the direct sum; transformed
///   weights 4 times the layer's), else F(2x2, 3x3) (16 GEMMs, 2.25 times fewer; about 1e-6; 16/9);
/// - everything else, on CPUs with AVX2 + FMA or AVX-512: Y_g = W_g (M/g, C/g·kH·kW) ·
///   columns by `dl_conv2d_gemm_isa`, which packs the column matrix straight from
///   the input block by block as the product needs it (no workspace), or, for up
///   to 64 output channels and K up to 160, reads the input in place
///   (`dl_conv2d_direct_isa`: the same bits, no packing);
/// - everything else, elsewhere: im2col of a band of output rows into the workspace,
///   then Y_g[:, band] = W_g (M/g, C/g·kH·kW) · columns (C/g·kH·kW, band) by sgemm.
///   A band is as many output rows as keep its columns within
///   `Workspace.columnBudgetFloats` and its output within `outputBandFloats`
///   (but at least `minimumBandColumns` wide), which bounds the workspace and
///   keeps each band cache-friendly.
/// In every path the bias and activation are applied in one pass over each
/// freshly written band of output; on CKernels' GEMM paths, a bias with no
/// activation or ReLU is applied by the GEMM itself as it stores each tile.
///
/// A residual input (a fused Add: `Conv2dParameters.residual`) rides in the
/// same GEMM epilogue, after the bias and before the ReLU, on CKernels' GEMM
/// and Winograd paths with no activation or ReLU; elsewhere (depthwise, other
/// activations, OpenBLAS) the convolution runs without its activation and one
/// pass then adds the residual and applies it. Either way the bits are those
/// of the separate Conv and Add.
enum Conv2d {
    /// Output floats per band (M/g × band columns): 1 MiB, so the bias and
    /// activation pass after each sgemm finds its band still in L2.
    static let outputBandFloats = 1 << 18
    /// ...unless that would make sgemm's N small: with many output channels
    /// the per-column sgemm work dwarfs the bias and activation pass anyway.
    static let minimumBandColumns = 4096

    struct Geometry {
        let batch, inChannels, inHeight, inWidth: Int
        let outChannels, kernelHeight, kernelWidth, outHeight, outWidth: Int
        let groups: Int

        init(input: Shape, weight: Shape, output: Shape, groups: Int) {
            (batch, inChannels, inHeight, inWidth) = (input[0], input[1], input[2], input[3])
            (outChannels, kernelHeight, kernelWidth) = (weight[0], weight[2], weight[3])
            (outHeight, outWidth) = (output[2], output[3])
            self.groups = groups
        }

        var inChannelsPerGroup: Int { inChannels / groups }
        var outChannelsPerGroup: Int { outChannels / groups }
        var inPlane: Int { inHeight * inWidth }
        var outPlane: Int { outHeight * outWidth }
        /// K of the per-group sgemm: rows of the column matrix.
        var gemmDepth: Int { inChannelsPerGroup * kernelHeight * kernelWidth }
        /// Output rows per im2col band for a band budget of `budgetFloats`.
        func rowsPerBand(budgetFloats: Int) -> Int {
            let outputColumns = max(Conv2d.outputBandFloats / max(1, outChannelsPerGroup), Conv2d.minimumBandColumns)
            let columns = min(budgetFloats / max(1, gemmDepth), outputColumns)
            return max(1, min(outHeight, columns / outWidth))
        }
    }

    enum Path { case pointwise, depthwise, im2col }

    static func path(_ parameters: Conv2dParameters, _ geometry: Geometry) -> Path {
        if geometry.groups == geometry.inChannels && geometry.groups == geometry.outChannels { return .depthwise }
        if geometry.kernelHeight == 1 && geometry.kernelWidth == 1 && parameters.strides == .one && parameters.pads.isZero {
            return .pointwise
        }
        return .im2col
    }

    static func workspaceFloatCount(_ parameters: Conv2dParameters, input: Shape, weight: Shape, output: Shape) -> Int {
        let geometry = Geometry(input: input, weight: weight, output: output, groups: parameters.groups)
        // The packed-columns path needs no workspace; should it fail (its
        // packing buffers could not be allocated), the banded path grows the
        // workspace on demand.
        guard path(parameters, geometry) == .im2col && !usesPackedColumns() else { return 0 }
        return geometry.gemmDepth * geometry.rowsPerBand(budgetFloats: Workspace.defaultColumnBudgetFloats) * geometry.outWidth
    }

    /// Whether `run` may be given a residual that is the output's own bytes: an activation
    /// arena gives a residual that is read for the last time here to the output, sparing a
    /// stream of memory. True where the residual reaches a GEMM epilogue that reads each
    /// element's addend just before writing it, in a single K slice (CKernels' GEMM, ReLU or
    /// no activation, not depthwise, K up to `dl_sgemm_slice_depth`).
    public static func residualMayShareOutput(_ parameters: Conv2dParameters, input: Shape, weight: Shape, output: Shape,
                                              path gemmPath: BLAS.Path = .best) -> Bool {
        guard parameters.residual else { return false }
        let geometry = Geometry(input: input, weight: weight, output: output, groups: parameters.groups)
        return path(parameters, geometry) != .depthwise && fusedRelu(parameters.activation) != nil && usesPackedColumns(gemmPath)
            && geometry.gemmDepth <= Int(dl_sgemm_slice_depth())
    }

    static func run(_ parameters: Conv2dParameters, input: Tensor, weight: Tensor, bias: Tensor?, residual: Tensor? = nil,
                    output: Tensor, workspace: Workspace) throws(OperatorError) {
        let geometry = Geometry(input: input.shape, weight: weight.shape, output: output.shape, groups: parameters.groups)
        let pathTaken = path(parameters, geometry)
        let residualIsOutput = residual.map { $0.data == output.data } ?? false
        if let residual, residualIsOutput,
           !residualMayShareOutput(parameters, input: input.shape, weight: weight.shape, output: output.shape, path: workspace.gemmPath) {
            // A path that would overwrite the residual before reading it: from a copy (only when the
            // arena was planned for another GEMM path than this workspace's).
            let copy = Tensor(zeros: residual.shape)
            copy.data.update(from: residual.data, count: residual.elementCount)
            try run(parameters, input: input, weight: weight, bias: bias, residual: copy, output: output, workspace: workspace)
            return
        }
        if let residual, pathTaken == .depthwise || fusedRelu(parameters.activation) == nil || !usesPackedColumns(workspace.gemmPath) {
            // No epilogue takes the residual here: the convolution alone, then one pass adds it and activates.
            var alone = parameters
            (alone.activation, alone.residual) = (.none, false)
            try run(alone, input: input, weight: weight, bias: bias, output: output, workspace: workspace)
            Elementwise.add(output, residual, activation: parameters.activation, output: output)
            return
        }
        let bias: UnsafePointer<Float>? = bias.map { UnsafePointer($0.data) }
        switch pathTaken {
        case .depthwise:
            if !depthwiseKernel(parameters, geometry, level: workspace.gemmPath.cpuLevel, input: input.data, weight: weight.data,
                                bias: bias, output: output.data) {
                depthwise(parameters, geometry, input: input.data, weight: weight.data, bias: bias, output: output.data)
            }
        case .pointwise, .im2col:
            try viaGemm(parameters, geometry, input: input.data, weight: weight.data, bias: bias,
                        residual: residual.map { UnsafePointer($0.data) }, residualIsOutput: residualIsOutput, output: output.data,
                        workspace: workspace)
        }
    }

    /// Per image and group, by CKernels' GEMM (packed columns, Winograd) or the banded im2col path; `residual`
    /// (laid out as the output) only where the activation is none or ReLU and CKernels' GEMM runs.
    /// With `residualIsOutput` (the residual is the output's bytes) only the fused kernels may run:
    /// should one fail (its packing buffers could not be allocated), the residual may be half
    /// overwritten, so the convolution fails instead of falling back.
    private static func viaGemm(_ parameters: Conv2dParameters, _ g: Geometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, residualIsOutput: Bool,
                                output: UnsafeMutablePointer<Float>, workspace: Workspace) throws(OperatorError) {
        let isPointwise = path(parameters, g) == .pointwise
        let (perGroupIn, perGroupOut, depth) = (g.inChannelsPerGroup, g.outChannelsPerGroup, g.gemmDepth)
        for n in 0..<g.batch {
            for group in 0..<g.groups {
                // x is (C/g, H, W), w is (M/g, C/g·kH·kW), y is (M/g, outH·outW)
                let x = input + (n * g.inChannels + group * perGroupIn) * g.inPlane
                let w = weight + group * perGroupOut * depth
                let firstChannel = group * perGroupOut
                let y = output + (n * g.outChannels + firstChannel) * g.outPlane
                let addend = residual.map { $0 + (n * g.outChannels + firstChannel) * g.outPlane }
                let groupBias = bias.map { $0 + firstChannel }
                if g.groups == 1 && !residualIsOutput,
                   try viaSlicedWeights(parameters, g, gemmPath: workspace.gemmPath, x: x, w: w, bias: groupBias, addend: addend, y: y,
                                        prepared: workspace.preparedWeights) { continue }
                if !isPointwise && usesPackedColumns(workspace.gemmPath)
                    && packedColumns(parameters, g, path: workspace.gemmPath, x: x, w: w, bias: groupBias, addend: addend, y: y,
                                     prepared: workspace.preparedWeights) { continue }
                if residualIsOutput && !isPointwise { throw kernelMemoryError }
                try banded(parameters, g, isPointwise: isPointwise, x: x, w: w, bias: groupBias, addend: addend,
                           addendIsOutput: residualIsOutput, y: y, workspace: workspace)
            }
        }
    }

    /// One image by CKernels' GEMM on weights kept in its slice layout (`PreparedWeights.slicedWeights`: a
    /// resident session's products with a K a multiple of 1024, not run by Winograd), bias, addend and ReLU in its epilogue. False
    /// (nothing done) where that does not apply. Once the weights are rearranged only this path can read them,
    /// so a failure (packing buffers that could not be allocated) is an error, not a fallback.
    private static func viaSlicedWeights(_ parameters: Conv2dParameters, _ g: Geometry, gemmPath: BLAS.Path, x: UnsafePointer<Float>,
                                         w: UnsafePointer<Float>, bias: UnsafePointer<Float>?, addend: UnsafePointer<Float>?,
                                         y: UnsafeMutablePointer<Float>, prepared: PreparedWeights?) throws(OperatorError) -> Bool {
        // The layout's shapes first: one comparison for every other convolution on the execute thread.
        let (m, k, n) = (Int32(g.outChannelsPerGroup), Int32(g.gemmDepth), Int32(g.outPlane))
        guard let prepared, dl_sgemm_sliced_wanted(m, n, k) != 0, let isa = gemmPath.isa, usesPackedColumns(gemmPath),
              let relu = fusedRelu(parameters.activation) else { return false }
        var geometry = cGeometry(parameters, g, channels: g.inChannelsPerGroup)
        // Not where Winograd runs instead (its own form of the weights).
        guard path(parameters, g) == .pointwise || dl_conv2d_winograd_wanted(isa, &geometry) == 0,
              prepared.slicedWeights(w, filters: m, depth: k, columns: n)
        else { return false }
        guard dl_conv2d_gemm_isa_fused_sliced(isa, &geometry, m, w, x, y, n, bias, addend, relu ? 1 : 0) == 0 else {
            throw OperatorError(.kernelMemory, "the convolution's GEMM could not allocate its packing buffers (its weights are kept in that GEMM's order, so there is no fallback)")
        }
        return true
    }

    /// The convolution as CKernels describes it, with `channels` input channels.
    private static func cGeometry(_ parameters: Conv2dParameters, _ g: Geometry, channels: Int) -> DLConvGeometry {
        DLConvGeometry(
            channels: Int32(channels), in_height: Int32(g.inHeight), in_width: Int32(g.inWidth),
            kernel_height: Int32(g.kernelHeight), kernel_width: Int32(g.kernelWidth),
            stride_height: Int32(parameters.strides.height), stride_width: Int32(parameters.strides.width),
            dilation_height: Int32(parameters.dilations.height), dilation_width: Int32(parameters.dilations.width),
            pad_top: Int32(parameters.pads.top), pad_left: Int32(parameters.pads.left),
            out_height: Int32(g.outHeight), out_width: Int32(g.outWidth))
    }

    /// A fused kernel that could not allocate its packing buffers, with the residual in the output's bytes.
    private static let kernelMemoryError = OperatorError(
        .kernelMemory, "the convolution's GEMM could not allocate its packing buffers (its residual shares the output's memory, so there is no fallback)")

    /// Bias and ReLU (or none) ride in CKernels' GEMM epilogue: nil for other activations.
    private static func fusedRelu(_ activation: Activation) -> Bool? {
        switch activation {
        case .none: false
        case .relu: true
        default: nil
        }
    }

    /// Whether non-pointwise convolutions skip the im2col workspace: CKernels'
    /// GEMM (AVX2 or AVX-512) packs their columns straight from the input.
    static func usesPackedColumns(_ path: BLAS.Path = .best) -> Bool { path.isa != nil && path.isAvailable }

    /// One image and group by `dl_conv2d_gemm_isa_fused` on `path` (with the
    /// addend, if any, in its epilogue), then the activation pass if it could
    /// not be fused. False if that path could not run (it could not allocate its
    /// packing buffers): nothing useful was written.
    private static func packedColumns(_ parameters: Conv2dParameters, _ g: Geometry, path: BLAS.Path, x: UnsafePointer<Float>,
                                      w: UnsafePointer<Float>, bias: UnsafePointer<Float>?, addend: UnsafePointer<Float>?,
                                      y: UnsafeMutablePointer<Float>, prepared: PreparedWeights?) -> Bool {
        guard let isa = path.isa else { return false }
        var geometry = cGeometry(parameters, g, channels: g.inChannelsPerGroup)
        let relu = fusedRelu(parameters.activation)
        let (m, rowBias, reluFlag) = (Int32(g.outChannelsPerGroup), relu == nil ? nil : bias, Int32(relu == true ? 1 : 0))
        let ldy = Int32(g.outPlane)
        // 3x3 stride 1 (large enough for this set): Winograd F(4x4, 3x3) or F(2x2, 3x3), 4 or 2.25 times fewer multiply-adds, with the
        // weights' Winograd form from `prepared` when there is one (the same bits); else the packed GEMM.
        var viaWinograd = false
        if dl_conv2d_winograd_wanted(isa, &geometry) != 0 {
            if let u = prepared?.winograd(weight: w, geometry: geometry, filters: m) {
                viaWinograd = dl_conv2d_winograd_prepared_isa(isa, &geometry, m, u, x, y, ldy, rowBias, addend, reluFlag) == 0
            } else {
                viaWinograd = dl_conv2d_winograd_isa_fused(isa, &geometry, m, w, x, y, ldy, rowBias, addend, reluFlag) == 0
            }
        }
        guard viaWinograd || dl_conv2d_gemm_isa_fused(isa, &geometry, m, w, x, y, ldy, rowBias, addend, reluFlag) == 0 else {
            return false
        }
        if relu == nil {
            let (activation, outPlane) = (parameters.activation, g.outPlane)
            ParallelRanges.planes(g.outChannelsPerGroup, planeFloats: outPlane) { first, end in
                for channel in first..<end {
                    let plane = y + channel * outPlane
                    activation.apply(from: plane, to: plane, count: outPlane, adding: bias?[channel] ?? 0)
                }
            }
        }
        return true
    }

    /// One image and group in bands of output rows: im2col of each band into
    /// the workspace (or the input itself when pointwise), one sgemm, then
    /// bias and activation while the band is in cache (or in the GEMM's
    /// epilogue on CKernels' paths).
    private static func banded(_ parameters: Conv2dParameters, _ g: Geometry, isPointwise: Bool, x: UnsafePointer<Float>,
                               w: UnsafePointer<Float>, bias: UnsafePointer<Float>?, addend: UnsafePointer<Float>?,
                               addendIsOutput: Bool = false, y: UnsafeMutablePointer<Float>, workspace: Workspace) throws(OperatorError) {
        let (perGroupIn, perGroupOut, depth) = (g.inChannelsPerGroup, g.outChannelsPerGroup, g.gemmDepth)
        let rowsPerBand = isPointwise ? g.outHeight : g.rowsPerBand(budgetFloats: workspace.columnBudgetFloats)
        let columns = isPointwise ? nil : workspace.floats(depth * rowsPerBand * g.outWidth)
        let relu = fusedRelu(parameters.activation)
        for bandStart in stride(from: 0, to: g.outHeight, by: rowsPerBand) {
            let rows = bandStart..<min(bandStart + rowsPerBand, g.outHeight)
            let bandColumns = rows.count * g.outWidth
            let bandOutput = y + bandStart * g.outWidth
            // b is this band's columns, or for a pointwise conv the input itself
            let (b, ldb): (UnsafePointer<Float>, Int)
            if let columns {
                im2col(x, channels: perGroupIn, g, parameters, rows: rows, into: columns)
                (b, ldb) = (UnsafePointer(columns), bandColumns)
            } else {
                (b, ldb) = (x + bandStart * g.outWidth, g.inPlane)
            }
            let bandAddend = addend.map { $0 + bandStart * g.outWidth }
            if let relu, BLAS.sgemmAddingBias(m: perGroupOut, n: bandColumns, k: depth, a: w, lda: depth, b: b, ldb: ldb,
                                              c: bandOutput, ldc: g.outPlane, rowBias: bias, addend: bandAddend, relu: relu,
                                              path: workspace.gemmPath) {
                continue
            }
            if addendIsOutput { throw kernelMemoryError }
            BLAS.sgemm(m: perGroupOut, n: bandColumns, k: depth, a: w, lda: depth, b: b, ldb: ldb, c: bandOutput, ldc: g.outPlane,
                       path: workspace.gemmPath)
            // Channels dealt to the pool's threads (a SiLU over a pointwise conv's output is a pass of its own).
            let (activation, outPlane) = (parameters.activation, g.outPlane)
            ParallelRanges.planes(perGroupOut, planeFloats: bandColumns) { first, end in
                for channel in first..<end {
                    let band = bandOutput + channel * outPlane
                    guard let bandAddend else {
                        activation.apply(from: band, to: band, count: bandColumns, adding: bias?[channel] ?? 0)
                        continue
                    }
                    // Bias, then the residual, then the activation, as the separate Conv and Add round them.
                    let (residualBand, channelBias) = (bandAddend + channel * outPlane, bias?[channel] ?? 0)
                    for i in 0..<bandColumns { band[i] = (band[i] + channelBias) + residualBand[i] }
                    activation.apply(to: band, count: bandColumns)
                }
            }
        }
    }

    /// Writes the column matrix (channels·kH·kW, rows.count·outW) of output
    /// rows `rows`: row (c, kh, kw) holds, for each output pixel of the band,
    /// the input pixel that kernel tap multiplies, or 0 where it falls in padding.
    private static func im2col(_ x: UnsafePointer<Float>, channels: Int, _ g: Geometry, _ parameters: Conv2dParameters,
                               rows: Range<Int>, into columns: UnsafeMutablePointer<Float>) {
        let (strideH, strideW) = (parameters.strides.height, parameters.strides.width)
        let (dilationH, dilationW) = (parameters.dilations.height, parameters.dilations.width)
        let (padTop, padLeft) = (parameters.pads.top, parameters.pads.left)
        let outWidth = g.outWidth
        var destination = columns
        for channel in 0..<channels {
            let plane = x + channel * g.inPlane
            for kh in 0..<g.kernelHeight {
                for kw in 0..<g.kernelWidth {
                    let offsetW = kw * dilationW - padLeft
                    let valid = validOutputRange(outputLength: outWidth, stride: strideW, offset: offsetW, inputLength: g.inWidth)
                    for oh in rows {
                        let ih = oh * strideH - padTop + kh * dilationH
                        // Rows are often short (26 or 13 floats deep in a network), so
                        // plain loops beat memcpy and memset calls here.
                        if ih < 0 || ih >= g.inHeight || valid.isEmpty {
                            for ow in 0..<outWidth { destination[ow] = 0 }
                        } else {
                            let source = plane + ih * g.inWidth
                            for ow in 0..<valid.lowerBound { destination[ow] = 0 }
                            switch strideW {
                            case 1: for ow in valid { destination[ow] = source[ow + offsetW] }
                            case 2: gatherEven(source, offset: offsetW, rowLength: g.inWidth, into: destination, valid)
                            default: for ow in valid { destination[ow] = source[ow * strideW + offsetW] }
                            }
                            for ow in valid.upperBound..<outWidth { destination[ow] = 0 }
                        }
                        destination += outWidth
                    }
                }
            }
        }
    }

    /// `destination[o] = row[2o + offset]` for o in `range`, 16 at a time
    /// where a 32-float load stays inside the row.
    @inline(__always)
    private static func gatherEven(_ row: UnsafePointer<Float>, offset: Int, rowLength: Int,
                                   into destination: UnsafeMutablePointer<Float>, _ range: Range<Int>) {
        var o = range.lowerBound
        while o + 16 <= range.upperBound && 2 * o + offset + 32 <= rowLength {
            let pairs = UnsafeRawPointer(row + (2 * o + offset)).loadUnaligned(as: SIMD32<Float>.self)
            UnsafeMutableRawPointer(destination + o).storeBytes(of: pairs.evenHalf, as: SIMD16<Float>.self)
            o += 16
        }
        while o < range.upperBound {
            destination[o] = row[2 * o + offset]
            o += 1
        }
    }

    /// Depthwise convolution by CKernels at `level`, then the activation pass if
    /// it could not be fused. False if the kernel could not run: nothing useful was written.
    private static func depthwiseKernel(_ parameters: Conv2dParameters, _ g: Geometry, level: DLCpuLevel, input: UnsafePointer<Float>,
                                        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                        output: UnsafeMutablePointer<Float>) -> Bool {
        var geometry = cGeometry(parameters, g, channels: g.inChannels)
        let relu = parameters.activation == .relu
        for n in 0..<g.batch {
            let y = output + n * g.outChannels * g.outPlane
            guard dl_depthwise_conv2d(level, &geometry, weight, input + n * g.inChannels * g.inPlane, y, bias, relu ? 1 : 0) == 0 else {
                return false
            }
            if !relu && parameters.activation != .none {
                let activation = parameters.activation
                ParallelRanges.run(count: g.outChannels * g.outPlane) { start, end in activation.apply(to: y + start, count: end - start) }
            }
        }
        return true
    }

    /// Direct depthwise convolution: one (kH, kW) filter per channel.
    private static func depthwise(_ parameters: Conv2dParameters, _ g: Geometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                  bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>) {
        let (strideH, strideW) = (parameters.strides.height, parameters.strides.width)
        let (dilationH, dilationW) = (parameters.dilations.height, parameters.dilations.width)
        let (padTop, padLeft) = (parameters.pads.top, parameters.pads.left)
        let (kernelHeight, kernelWidth, outWidth) = (g.kernelHeight, g.kernelWidth, g.outWidth)
        for n in 0..<g.batch {
            for channel in 0..<g.inChannels {
                let x = input + (n * g.inChannels + channel) * g.inPlane
                let y = output + (n * g.outChannels + channel) * g.outPlane
                let w = weight + channel * kernelHeight * kernelWidth
                let initial = bias?[channel] ?? 0
                for oh in 0..<g.outHeight {
                    let row = y + oh * outWidth
                    row.update(repeating: initial, count: outWidth)
                    for kh in 0..<kernelHeight {
                        let ih = oh * strideH - padTop + kh * dilationH
                        guard ih >= 0 && ih < g.inHeight else { continue }
                        let source = x + ih * g.inWidth
                        for kw in 0..<kernelWidth {
                            let tap = w[kh * kernelWidth + kw]
                            let offsetW = kw * dilationW - padLeft
                            let valid = validOutputRange(outputLength: outWidth, stride: strideW, offset: offsetW, inputLength: g.inWidth)
                            if strideW == 1 {
                                for ow in valid { row[ow] += tap * source[ow + offsetW] }
                            } else {
                                for ow in valid { row[ow] += tap * source[ow * strideW + offsetW] }
                            }
                        }
                    }
                }
                parameters.activation.apply(to: y, count: g.outPlane)
            }
        }
    }

    /// The output positions o in 0..<outputLength whose input index
    /// o·stride + offset lies in 0..<inputLength.
    static func validOutputRange(outputLength: Int, stride: Int, offset: Int, inputLength: Int) -> Range<Int> {
        let lower = min(offset >= 0 ? 0 : (-offset + stride - 1) / stride, outputLength)
        let last = inputLength - 1 - offset
        let upper = last < 0 ? 0 : min(last / stride + 1, outputLength)
        return lower..<max(lower, upper)
    }
}
