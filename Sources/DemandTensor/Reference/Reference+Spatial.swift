/// Reference Conv and pooling: for each output pixel, visit every kernel tap
/// and test whether it lands inside the input.
extension Reference {
    static func conv(_ p: Conv2dParameters, x: Tensor, w: Tensor, b: Tensor?, residual: Tensor? = nil, y: Tensor) {
        let outChannelsPerGroup = w.shape[0] / p.groups
        let inChannelsPerGroup = w.shape[1]
        for n in 0..<y.shape[0] {
            for m in 0..<y.shape[1] {
                let group = m / outChannelsPerGroup
                for oh in 0..<y.shape[2] {
                    for ow in 0..<y.shape[3] {
                        var sum = Double(b?.data[m] ?? 0)
                        for c in 0..<inChannelsPerGroup {
                            for kh in 0..<w.shape[2] {
                                for kw in 0..<w.shape[3] {
                                    let ih = oh * p.strides.height - p.pads.top + kh * p.dilations.height
                                    let iw = ow * p.strides.width - p.pads.left + kw * p.dilations.width
                                    guard ih >= 0 && ih < x.shape[2] && iw >= 0 && iw < x.shape[3] else { continue }
                                    let input = x.data[offset(x.shape, n, group * inChannelsPerGroup + c, ih, iw)]
                                    let tap = w.data[offset(w.shape, m, c, kh, kw)]
                                    sum += Double(input) * Double(tap)
                                }
                            }
                        }
                        let at = offset(y.shape, n, m, oh, ow)
                        if let residual { sum += Double(residual.data[at]) }
                        y.data[at] = Float(apply(p.activation, sum))
                    }
                }
            }
        }
    }

    /// Calls `body(n, c, oh, ow, taps)` for every output pixel, where `taps`
    /// lists each kernel position as (input value or nil in padding, whether
    /// it lies inside the padded image).
    private static func forEachWindow(_ p: Pool2dParameters, x: Tensor, y: Tensor,
                                      _ body: (Int, Int, Int, Int, [(value: Float?, inPaddedImage: Bool)]) -> Float) {
        let (height, width) = (x.shape[2], x.shape[3])
        for n in 0..<y.shape[0] {
            for c in 0..<y.shape[1] {
                for oh in 0..<y.shape[2] {
                    for ow in 0..<y.shape[3] {
                        var taps: [(value: Float?, inPaddedImage: Bool)] = []
                        for kh in 0..<p.kernel.height {
                            for kw in 0..<p.kernel.width {
                                let ih = oh * p.strides.height - p.pads.top + kh
                                let iw = ow * p.strides.width - p.pads.left + kw
                                let inside = ih >= 0 && ih < height && iw >= 0 && iw < width
                                let inPadded = ih >= -p.pads.top && ih < height + p.pads.bottom
                                    && iw >= -p.pads.left && iw < width + p.pads.right
                                taps.append((inside ? x.data[offset(x.shape, n, c, ih, iw)] : nil, inPadded))
                            }
                        }
                        y.data[offset(y.shape, n, c, oh, ow)] = body(n, c, oh, ow, taps)
                    }
                }
            }
        }
    }

    static func maxPool(_ p: Pool2dParameters, x: Tensor, y: Tensor) {
        forEachWindow(p, x: x, y: y) { _, _, _, _, taps in
            let values = taps.compactMap(\.value)
            precondition(!values.isEmpty, "a max pool window holds only padding")
            return values.max()!
        }
    }

    /// Divides by the input pixels in the window, or with count_include_pad by
    /// the taps inside the padded image (a ceil-mode window hanging past the
    /// padding does not count its overhang).
    static func averagePool(_ p: Pool2dParameters, x: Tensor, y: Tensor) {
        forEachWindow(p, x: x, y: y) { _, _, _, _, taps in
            let values = taps.compactMap(\.value)
            let sum = values.reduce(0.0) { $0 + Double($1) }
            let divisor = p.countIncludePad ? taps.filter(\.inPaddedImage).count : values.count
            return Float(sum / Double(divisor))
        }
    }

    static func globalAveragePool(x: Tensor, y: Tensor) {
        let planeSize = x.elementCount / (x.shape[0] * x.shape[1])
        for plane in 0..<(x.shape[0] * x.shape[1]) {
            var sum = 0.0
            for i in 0..<planeSize { sum += Double(x.data[plane * planeSize + i]) }
            y.data[plane] = Float(sum / Double(planeSize))
        }
    }

    static func globalMaxPool(x: Tensor, y: Tensor) {
        let planeSize = x.elementCount / (x.shape[0] * x.shape[1])
        for plane in 0..<(x.shape[0] * x.shape[1]) {
            y.data[plane] = (0..<planeSize).map { x.data[plane * planeSize + $0] }.max()!
        }
    }
}
