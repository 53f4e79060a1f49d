#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reference MatMul, ConvTranspose, normalizations and reductions, in Double.
extension Reference {
    static func matMul(a: Tensor, b: Tensor, y: Tensor) {
        // Promote 1-D operands as numpy does, then drop the added axes from the output index.
        let a2 = a.shape.rank == 1 ? Shape([1] + a.shape.dims) : a.shape
        let b2 = b.shape.rank == 1 ? Shape(b.shape.dims + [1]) : b.shape
        let k = a2[a2.rank - 1]
        for i in 0..<y.elementCount {
            var index = multiIndex(i, in: y.shape)
            if a.shape.rank == 1 { index.insert(0, at: index.count - (b.shape.rank == 1 ? 0 : 1)) }
            if b.shape.rank == 1 { index.append(0) }
            let (row, column) = (index[index.count - 2], index[index.count - 1])
            let batch = Array(index.dropLast(2))
            var sum = 0.0
            for l in 0..<k {
                var aIndex = Array(batch.suffix(a2.rank - 2).enumerated().map { a2[$0.offset] == 1 ? 0 : $0.element })
                aIndex += [row, l]
                var bIndex = Array(batch.suffix(b2.rank - 2).enumerated().map { b2[$0.offset] == 1 ? 0 : $0.element })
                bIndex += [l, column]
                sum += Double(a.data[offset(aIndex, in: a2)]) * Double(b.data[offset(bIndex, in: b2)])
            }
            y.data[i] = Float(sum)
        }
    }

    /// Every input pixel scatters its kernel-weighted value onto the output.
    static func convTranspose(_ p: ConvTranspose2dParameters, x: Tensor, w: Tensor, b: Tensor?, y: Tensor) {
        var sums = [Double](repeating: 0, count: y.elementCount)
        let inPerGroup = x.shape[1] / p.groups, outPerGroup = w.shape[1]
        for n in 0..<x.shape[0] {
            for c in 0..<x.shape[1] {
                let group = c / inPerGroup
                for ih in 0..<x.shape[2] {
                    for iw in 0..<x.shape[3] {
                        let value = Double(x.data[offset(x.shape, n, c, ih, iw)])
                        for mo in 0..<outPerGroup {
                            for kh in 0..<w.shape[2] {
                                for kw in 0..<w.shape[3] {
                                    let oh = ih * p.strides.height - p.pads.top + kh * p.dilations.height
                                    let ow = iw * p.strides.width - p.pads.left + kw * p.dilations.width
                                    guard oh >= 0 && oh < y.shape[2] && ow >= 0 && ow < y.shape[3] else { continue }
                                    let m = group * outPerGroup + mo
                                    sums[offset(y.shape, n, m, oh, ow)] += value * Double(w.data[offset(w.shape, c, mo, kh, kw)])
                                }
                            }
                        }
                    }
                }
            }
        }
        for i in 0..<y.elementCount {
            let m = multiIndex(i, in: y.shape)[1]
            y.data[i] = Float(apply(p.activation, sums[i] + Double(b?.data[m] ?? 0)))
        }
    }

    static func layerNormalization(x: Tensor, scale: Tensor, bias: Tensor?, axis: Int, epsilon: Float, y: Tensor) {
        let axis = axis < 0 ? axis + x.shape.rank : axis
        let length = x.shape.dims[axis...].reduce(1, *)
        for row in 0..<(x.elementCount / length) {
            let values = (0..<length).map { Double(x.data[row * length + $0]) }
            let mean = values.reduce(0, +) / Double(length)
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(length)
            for i in 0..<length {
                let gamma = Double(scale.data[scale.elementCount == 1 ? 0 : i])
                let beta = bias.map { Double($0.data[$0.elementCount == 1 ? 0 : i]) } ?? 0
                y.data[row * length + i] = Float((values[i] - mean) / (variance + Double(epsilon)).squareRoot() * gamma + beta)
            }
        }
    }

    static func instanceNormalization(x: Tensor, scale: Tensor, bias: Tensor, epsilon: Float, y: Tensor) {
        let planeSize = x.elementCount / (x.shape[0] * x.shape[1])
        for plane in 0..<(x.shape[0] * x.shape[1]) {
            let c = plane % x.shape[1]
            let values = (0..<planeSize).map { Double(x.data[plane * planeSize + $0]) }
            let mean = values.reduce(0, +) / Double(planeSize)
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(planeSize)
            for i in 0..<planeSize {
                let normalizedValue = (values[i] - mean) / (variance + Double(epsilon)).squareRoot()
                y.data[plane * planeSize + i] = Float(normalizedValue * Double(scale.data[c]) + Double(bias.data[c]))
            }
        }
    }

    /// Per (n, group) block: statistics in double, one multi-index per value.
    static func groupNormalization(x: Tensor, scale: Tensor, bias: Tensor, groupCount: Int, epsilon: Float, y: Tensor) {
        let channels = x.shape[1]
        let channelsPerGroup = channels / groupCount
        var sums = [Double](repeating: 0, count: x.shape[0] * groupCount)
        var squares = sums
        let count = Double(x.elementCount / (x.shape[0] * groupCount))
        func block(_ i: Int) -> (Int, Int) {
            let index = multiIndex(i, in: x.shape)
            return (index[0] * groupCount + index[1] / channelsPerGroup, index[1])
        }
        for i in 0..<x.elementCount { sums[block(i).0] += Double(x.data[i]) }
        let means = sums.map { $0 / count }
        for i in 0..<x.elementCount {
            let d = Double(x.data[i]) - means[block(i).0]
            squares[block(i).0] += d * d
        }
        for i in 0..<x.elementCount {
            let (b, c) = block(i)
            let parameter = { (t: Tensor) in Double(t.data[t.elementCount == channels ? c : c / channelsPerGroup]) }
            let normalizedValue = (Double(x.data[i]) - means[b]) / (squares[b] / count + Double(epsilon)).squareRoot()
            y.data[i] = Float(normalizedValue * parameter(scale) + parameter(bias))
        }
    }

    /// Each output is the sum of the inputs before it along the axis (and
    /// itself unless exclusive), counting from the end when reversed.
    static func cumSum(_ p: CumSumParameters, x: Tensor, y: Tensor) {
        let axis = p.axis < 0 ? p.axis + x.shape.rank : p.axis
        for i in 0..<y.elementCount {
            var index = multiIndex(i, in: y.shape)
            let position = index[axis]
            let length = x.shape[axis]
            let summed = p.reverse ? Array((position + (p.exclusive ? 1 : 0))..<length) : Array(0..<(position + (p.exclusive ? 0 : 1)))
            var sum = 0.0
            for j in summed {
                index[axis] = j
                sum += Double(x.data[offset(index, in: x.shape)])
            }
            y.data[i] = Float(sum)
        }
    }

    static func batchNormalization(_ inputs: [Tensor], epsilon: Float, y: Tensor) {
        let (x, scale, bias, mean, variance) = (inputs[0], inputs[1], inputs[2], inputs[3], inputs[4])
        for i in 0..<y.elementCount {
            let c = multiIndex(i, in: y.shape)[1]
            let normalizedValue = (Double(x.data[i]) - Double(mean.data[c])) / (Double(variance.data[c]) + Double(epsilon)).squareRoot()
            y.data[i] = Float(normalizedValue * Double(scale.data[c]) + Double(bias.data[c]))
        }
    }

    static func lrn(_ p: LRNParameters, x: Tensor, y: Tensor) {
        let channels = x.shape[1]
        for i in 0..<y.elementCount {
            var index = multiIndex(i, in: y.shape)
            let c = index[1]
            var sum = 0.0
            let low = c - (p.size - 1) / 2, high = c + Int((Double(p.size - 1) / 2).rounded(.up))
            for neighbour in Swift.max(0, low)...Swift.min(channels - 1, high) {
                index[1] = neighbour
                let v = Double(x.data[offset(index, in: x.shape)])
                sum += v * v
            }
            let base = Double(p.bias) + Double(p.alpha) / Double(p.size) * sum
            y.data[i] = Float(Double(x.data[i]) / Glibc.pow(base, Double(p.beta)))
        }
    }

    /// Every input value is listed under the output it reduces into, then
    /// each list is reduced by the definition of the kind.
    static func reduce(_ p: ReduceParameters, x: Tensor, y: Tensor) {
        let rank = x.shape.rank
        let axes = (p.axes?.isEmpty ?? true) ? Array(0..<rank) : p.axes!.map { $0 < 0 ? $0 + rank : $0 }
        var groups = [[Double]](repeating: [], count: y.elementCount)
        let keptShape = Shape(x.shape.dims.enumerated().map { axes.contains($0.offset) ? 1 : $0.element })
        for i in 0..<x.elementCount {
            var index = multiIndex(i, in: x.shape)
            for axis in axes { index[axis] = 0 }
            groups[offset(index, in: keptShape)].append(Double(x.data[i]))   // y holds the same values with or without the kept 1s
        }
        for (i, values) in groups.enumerated() {
            let result: Double = switch p.kind {
            case .sum: values.reduce(0, +)
            case .mean: values.reduce(0, +) / Double(values.count)
            case .max: values.max()!
            case .min: values.min()!
            case .prod: values.reduce(1, *)
            case .l2: values.map { $0 * $0 }.reduce(0, +).squareRoot()
            }
            y.data[i] = Float(result)
        }
    }

    /// Each output element: on where its coordinate along the new axis is the
    /// index (negative ones counted from the end), off elsewhere.
    static func oneHot(_ p: OneHotParameters, indices: Tensor, y: Tensor) {
        let axis = p.axis < 0 ? p.axis + y.shape.rank : p.axis
        for i in 0..<y.elementCount {
            var index = multiIndex(i, in: y.shape)
            let position = index.remove(at: axis)
            let value = Int(indices.data[offset(index, in: indices.shape)])
            y.data[i] = (value < 0 ? value + p.depth : value) == position ? p.onValue : p.offValue
        }
    }

    /// Data copied, then each update element applied in order at the data
    /// element its index row and trailing coordinates name.
    static func scatterND(_ p: ScatterNDParameters, data: Tensor, indices: Tensor, updates: Tensor, y: Tensor) {
        for i in 0..<y.elementCount { y.data[i] = data.data[i] }
        let k = indices.shape[indices.shape.rank - 1]
        for u in 0..<updates.elementCount {
            let update = multiIndex(u, in: updates.shape)
            let row = Array(update.prefix(indices.shape.rank - 1))
            let target = (0..<k).map { a -> Int in
                let value = Int(indices.data[offset(row + [a], in: indices.shape)])
                return value < 0 ? value + data.shape[a] : value
            } + update.dropFirst(indices.shape.rank - 1)
            let at = offset(Array(target), in: y.shape)
            let value = updates.data[u]
            switch p.reduction {
            case .none: y.data[at] = value
            case .add: y.data[at] += value
            case .mul: y.data[at] *= value
            case .max: y.data[at] = Swift.max(y.data[at], value)
            case .min: y.data[at] = Swift.min(y.data[at], value)
            }
        }
    }

    /// Lists each output line's input values with their indices, sorts them
    /// (larger or smaller first, then the lower index) and keeps the first k.
    static func topK(_ p: TopKParameters, x: Tensor, y: Tensor) {
        let axis = p.axis < 0 ? p.axis + x.shape.rank : p.axis
        for i in 0..<y.elementCount {
            var index = multiIndex(i, in: y.shape)
            let rank = index[axis]
            let line = (0..<x.shape[axis]).map { l -> (value: Float, index: Int) in
                index[axis] = l
                return (x.data[offset(index, in: x.shape)], l)
            }
            let ordered = line.sorted { a, b in
                a.value == b.value ? a.index < b.index : (p.largest ? a.value > b.value : a.value < b.value)
            }
            y.data[i] = p.output == .values ? ordered[rank].value : Float(ordered[rank].index)
        }
    }

    /// Lists each output's line along the axis and picks the index of its
    /// extreme: the first or last of the indices holding it.
    static func argReduce(_ p: ArgReduceParameters, x: Tensor, y: Tensor) {
        let axis = p.axis < 0 ? p.axis + x.shape.rank : p.axis
        let keptShape = Shape(x.shape.dims.enumerated().map { $0.offset == axis ? 1 : $0.element })
        for i in 0..<y.elementCount {
            var index = multiIndex(i, in: keptShape)   // y holds the same values with or without the kept 1
            let line = (0..<x.shape[axis]).map { l -> Float in
                index[axis] = l
                return x.data[offset(index, in: x.shape)]
            }
            let extreme = p.kind == .max ? line.max()! : line.min()!
            let holders = line.indices.filter { line[$0] == extreme }
            y.data[i] = Float(p.selectLastIndex ? holders.last! : holders.first!)
        }
    }
}
