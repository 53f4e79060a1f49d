/// Evaluates nodes whose inputs are all known at convert time, exactly:
/// integers stay `Int64` (shape arithmetic, Slice ends of INT64_MAX), floats
/// are computed in float32 as the runtime would. These are the ops of shape
/// subgraphs (Shape → Gather → Unsqueeze → Concat → Reshape chains, Range,
/// ConstantOfShape, Cast, arithmetic); any other op with constant inputs is
/// run through the runtime's own kernel by the caller.
enum Folding {
    /// The outputs of `node`, or nil when the op is not one folded here.
    static func evaluate(_ node: SourceGraph.Node, inputs: [ConstantTensor?], opset: Int) throws(ImportError) -> [ConstantTensor]? {
        func input(_ index: Int) throws(ImportError) -> ConstantTensor {
            guard index < inputs.count, let value = inputs[index] else {
                throw ImportError(.invalidModel, "input \(index) is missing")
            }
            return value
        }
        let attributes = NodeAttributes(node)
        switch node.op {
        case "Identity":
            return [try input(0)]
        case "Cast":
            return [cast(try input(0), to: Int32(try attributes.int("to") ?? Int64(ElementType.float)))]
        case "Neg", "Abs", "Floor", "Ceil", "Sqrt", "Not", "Reciprocal", "Exp", "Log", "Sign":
            return [unary(node.op, try input(0))]
        case "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Equal", "Less", "Greater",
             "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor":
            guard inputs.count == 2 || (["Max", "Min"].contains(node.op) && inputs.count >= 1) else { return nil }
            var result = try input(0)
            for index in 1..<inputs.count { result = try binary(node.op, result, try input(index)) }
            return [result]
        case "Where":
            return [try whereSelect(try input(0), try input(1), try input(2))]
        case "Gather":
            return [try gather(try input(0), indices: try input(1), axis: Int(try attributes.int("axis") ?? 0))]
        case "Concat":
            guard let axis = try attributes.int("axis") else { throw ImportError(.invalidModel, "Concat needs axis") }
            var parts: [ConstantTensor] = []
            for index in inputs.indices { parts.append(try input(index)) }
            return [try concat(parts.filter { $0.count > 0 || parts.count == 1 }, axis: Int(axis))]
        case "Unsqueeze":
            let value = try input(0)
            let axes = opset >= 13 ? try input(1).ints : try attributes.ints("axes") ?? []
            return [value.reshaped(try Shapes.unsqueeze(value.shape, axes: axes.map { Int($0) }))]
        case "Squeeze":
            let value = try input(0)
            let axes: [Int64]? = opset >= 13 ? inputs.count > 1 ? inputs[1]?.ints : nil : try attributes.ints("axes")
            return [value.reshaped(try Shapes.squeeze(value.shape, axes: axes?.map { Int($0) }))]
        case "Reshape":
            let value = try input(0)
            let shape = opset >= 5 ? try input(1).ints : try attributes.ints("shape") ?? []
            return [value.reshaped(try Shapes.reshape(value.shape, to: shape, allowZero: try attributes.int("allowzero") == 1))]
        case "Flatten":
            let value = try input(0)
            var axis = Int(try attributes.int("axis") ?? 1)
            if axis < 0 { axis += value.shape.count }
            let outer = value.shape.prefix(axis).reduce(1, *)
            return [value.reshaped([outer, value.count / max(outer, 1)])]
        case "Expand":
            let value = try input(0)
            let shape = try Shapes.broadcast(value.shape, try input(1).ints.map { Int(truncatingIfNeeded: $0) })
            _ = try foldedElementCount(shape, of: "Expand's output", inputCount: value.count)
            return [broadcastTo(value, shape)]
        case "Slice":
            let value = try input(0)
            let spec: Shapes.SliceSpec
            if opset >= 10 {
                spec = Shapes.SliceSpec(starts: try input(1).ints, ends: try input(2).ints,
                                        axes: inputs.count > 3 ? inputs[3]?.ints : nil,
                                        steps: inputs.count > 4 ? inputs[4]?.ints : nil)
            } else {
                spec = Shapes.SliceSpec(starts: try attributes.ints("starts") ?? [], ends: try attributes.ints("ends") ?? [],
                                        axes: try attributes.ints("axes"), steps: nil)
            }
            return [try slice(value, spec)]
        case "Range":
            return [try range(try input(0), try input(1), try input(2))]
        case "ConstantOfShape":
            let shape = try input(0).ints.map { Int(truncatingIfNeeded: $0) }
            let count = try foldedElementCount(shape, of: "ConstantOfShape's output", inputCount: 0)
            if case .tensor(let fill)? = node.attributes["value"] {
                switch fill.values {
                case .ints(let list): return [ConstantTensor(shape: shape, ints: Array(repeating: list.first ?? 0, count: count))]
                case .floats(let list): return [ConstantTensor(shape: shape, floats: Array(repeating: list.first ?? 0, count: count))]
                }
            }
            return [ConstantTensor(shape: shape, floats: Array(repeating: 0, count: count))]
        case "NonZero":
            return [nonZero(try input(0))]
        case "Transpose":
            let value = try input(0)
            let perm = try attributes.ints("perm")?.map { Int($0) } ?? Array(value.shape.indices.reversed())
            return [try transpose(value, perm: perm)]
        default:
            return nil
        }
    }

    // MARK: Elementwise

    static func cast(_ value: ConstantTensor, to type: Int32) -> ConstantTensor {
        if type == ElementType.bool {
            return ConstantTensor(shape: value.shape, ints: value.floats.map { $0 != 0 ? 1 : 0 })
        }
        if ElementType.isFloat(type) {
            if type == ElementType.float16 {
                return ConstantTensor(shape: value.shape, floats: value.floats.map { Float(Float16($0)) })
            }
            return ConstantTensor(shape: value.shape, floats: value.floats)
        }
        return ConstantTensor(shape: value.shape, ints: value.ints)
    }

    static func unary(_ op: String, _ value: ConstantTensor) -> ConstantTensor {
        if case .ints(let list) = value.values, ["Neg", "Abs", "Not", "Sign", "Floor", "Ceil"].contains(op) {
            let mapped: [Int64] = list.map {
                switch op {
                case "Neg": 0 &- $0
                case "Abs": $0 < 0 ? 0 &- $0 : $0
                case "Not": $0 == 0 ? 1 : 0
                case "Sign": $0.signum()
                default: $0
                }
            }
            return ConstantTensor(shape: value.shape, ints: mapped)
        }
        let mapped: [Float] = value.floats.map {
            switch op {
            case "Neg": -$0
            case "Abs": abs($0)
            case "Floor": $0.rounded(.down)
            case "Ceil": $0.rounded(.up)
            case "Sqrt": $0.squareRoot()
            case "Reciprocal": 1 / $0
            case "Exp": Float(exp(Double($0)))
            case "Log": Float(log(Double($0)))
            case "Sign": $0 > 0 ? 1 : $0 < 0 ? -1 : 0
            default: $0 == 0 ? 1 : 0
            }
        }
        return ConstantTensor(shape: value.shape, floats: mapped)
    }

    static func binary(_ op: String, _ a: ConstantTensor, _ b: ConstantTensor) throws(ImportError) -> ConstantTensor {
        let shape = try Shapes.broadcast(a.shape, b.shape)
        let (ia, ib) = (Shapes.broadcastIndices(from: a.shape, to: shape), Shapes.broadcastIndices(from: b.shape, to: shape))
        let comparison = ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor"].contains(op)
        if a.isInteger && b.isInteger {
            let (x, y) = (a.ints, b.ints)
            var out = [Int64](repeating: 0, count: ia.count)
            for i in out.indices {
                let (p, q) = (x[ia[i]], y[ib[i]])
                switch op {
                case "Add": out[i] = p &+ q
                case "Sub": out[i] = p &- q
                case "Mul": out[i] = p &* q
                case "Div":
                    guard q != 0 else { throw ImportError(.invalidModel, "integer division by zero while folding constants") }
                    out[i] = p.dividedReportingOverflow(by: q).partialValue
                case "Mod":
                    guard q != 0 else { throw ImportError(.invalidModel, "integer modulo by zero while folding constants") }
                    let r = p.remainderReportingOverflow(dividingBy: q).partialValue
                    out[i] = (r != 0 && (r < 0) != (q < 0)) ? r + q : r
                case "Pow": out[i] = Int64(exactly: pow(Double(p), Double(q))) ?? 0
                case "Max": out[i] = max(p, q)
                case "Min": out[i] = min(p, q)
                case "Equal": out[i] = p == q ? 1 : 0
                case "Less": out[i] = p < q ? 1 : 0
                case "Greater": out[i] = p > q ? 1 : 0
                case "LessOrEqual": out[i] = p <= q ? 1 : 0
                case "GreaterOrEqual": out[i] = p >= q ? 1 : 0
                case "And": out[i] = (p != 0 && q != 0) ? 1 : 0
                case "Xor": out[i] = (p != 0) != (q != 0) ? 1 : 0
                default: out[i] = (p != 0 || q != 0) ? 1 : 0
                }
            }
            return ConstantTensor(shape: shape, ints: out)
        }
        let (x, y) = (a.floats, b.floats)
        if comparison {
            var out = [Int64](repeating: 0, count: ia.count)
            for i in out.indices {
                let (p, q) = (x[ia[i]], y[ib[i]])
                let truth: Bool = switch op {
                case "Equal": p == q
                case "Less": p < q
                case "Greater": p > q
                case "LessOrEqual": p <= q
                case "GreaterOrEqual": p >= q
                case "And": p != 0 && q != 0
                case "Xor": (p != 0) != (q != 0)
                default: p != 0 || q != 0
                }
                out[i] = truth ? 1 : 0
            }
            return ConstantTensor(shape: shape, ints: out)
        }
        var out = [Float](repeating: 0, count: ia.count)
        for i in out.indices {
            let (p, q) = (x[ia[i]], y[ib[i]])
            switch op {
            case "Add": out[i] = p + q
            case "Sub": out[i] = p - q
            case "Mul": out[i] = p * q
            case "Div": out[i] = p / q
            case "Mod": out[i] = Float(fmod(Double(p), Double(q)))
            case "Pow": out[i] = Float(pow(Double(p), Double(q)))
            case "Max": out[i] = max(p, q)
            default: out[i] = min(p, q)
            }
        }
        return ConstantTensor(shape: shape, floats: out)
    }

    static func whereSelect(_ condition: ConstantTensor, _ a: ConstantTensor, _ b: ConstantTensor) throws(ImportError) -> ConstantTensor {
        let shape = try Shapes.broadcast(Shapes.broadcast(condition.shape, a.shape), b.shape)
        let (ic, ia, ib) = (Shapes.broadcastIndices(from: condition.shape, to: shape),
                            Shapes.broadcastIndices(from: a.shape, to: shape), Shapes.broadcastIndices(from: b.shape, to: shape))
        let picks = condition.floats
        if a.isInteger && b.isInteger {
            let (x, y) = (a.ints, b.ints)
            return ConstantTensor(shape: shape, ints: ic.indices.map { picks[ic[$0]] != 0 ? x[ia[$0]] : y[ib[$0]] })
        }
        let (x, y) = (a.floats, b.floats)
        return ConstantTensor(shape: shape, floats: ic.indices.map { picks[ic[$0]] != 0 ? x[ia[$0]] : y[ib[$0]] })
    }

    static func broadcastTo(_ value: ConstantTensor, _ shape: [Int]) -> ConstantTensor {
        let map = Shapes.broadcastIndices(from: value.shape, to: shape)
        switch value.values {
        case .ints(let list): return ConstantTensor(shape: shape, ints: map.map { list[$0] })
        case .floats(let list): return ConstantTensor(shape: shape, floats: map.map { list[$0] })
        }
    }

    // MARK: Data movement

    /// Gathers by flat source index: the one primitive Gather, Slice, Concat
    /// and Transpose share.
    static func pick(_ value: ConstantTensor, shape: [Int], indices: [Int]) -> ConstantTensor {
        switch value.values {
        case .ints(let list): ConstantTensor(shape: shape, ints: indices.map { list[$0] })
        case .floats(let list): ConstantTensor(shape: shape, floats: indices.map { list[$0] })
        }
    }

    static func gather(_ data: ConstantTensor, indices: ConstantTensor, axis rawAxis: Int) throws(ImportError) -> ConstantTensor {
        let rank = data.shape.count
        let axis = rawAxis < 0 ? rawAxis + rank : rawAxis
        guard axis >= 0 && axis < rank else { throw ImportError(.invalidModel, "Gather axis \(rawAxis) is out of range for rank \(rank)") }
        let extent = data.shape[axis]
        let outer = data.shape[..<axis].reduce(1, *)
        let inner = data.shape[(axis + 1)...].reduce(1, *)
        var positions: [Int] = []
        for raw in indices.ints {
            guard raw >= -Int64(extent) && raw < Int64(extent) else {
                throw ImportError(.invalidModel, "Gather index \(raw) is out of range for a dimension of \(extent)")
            }
            positions.append(raw < 0 ? Int(raw) + extent : Int(raw))
        }
        var flat: [Int] = []
        flat.reserveCapacity(outer * positions.count * inner)
        for o in 0..<outer {
            for p in positions {
                let base = (o * extent + p) * inner
                flat.append(contentsOf: base..<(base + inner))
            }
        }
        let shape = Array(data.shape[..<axis]) + indices.shape + Array(data.shape[(axis + 1)...])
        return pick(data, shape: shape, indices: flat)
    }

    static func concat(_ parts: [ConstantTensor], axis rawAxis: Int) throws(ImportError) -> ConstantTensor {
        guard let first = parts.first else { throw ImportError(.invalidModel, "Concat has no inputs") }
        let rank = first.shape.count
        let axis = rawAxis < 0 ? rawAxis + rank : rawAxis
        guard axis >= 0 && axis < rank else { throw ImportError(.invalidModel, "Concat axis \(rawAxis) is out of range for rank \(rank)") }
        for part in parts where part.shape.count != rank || (0..<rank).contains(where: { $0 != axis && part.shape[$0] != first.shape[$0] }) {
            throw ImportError(.invalidModel, "Concat inputs \(parts.map(\.shape)) differ outside axis \(axis)")
        }
        let outer = first.shape[..<axis].reduce(1, *)
        var shape = first.shape
        shape[axis] = parts.reduce(0) { $0 + $1.shape[axis] }
        let allInts = parts.allSatisfy(\.isInteger)
        var ints: [Int64] = []
        var floats: [Float] = []
        for o in 0..<outer {
            for part in parts {
                let chunk = part.shape[axis...].reduce(1, *)
                if allInts { ints.append(contentsOf: part.ints[(o * chunk)..<((o + 1) * chunk)]) }
                else { floats.append(contentsOf: part.floats[(o * chunk)..<((o + 1) * chunk)]) }
            }
        }
        return allInts ? ConstantTensor(shape: shape, ints: ints) : ConstantTensor(shape: shape, floats: floats)
    }

    static func slice(_ value: ConstantTensor, _ spec: Shapes.SliceSpec) throws(ImportError) -> ConstantTensor {
        let ranges = try Shapes.sliceRanges(value.shape, spec)
        let shape = ranges.map(\.count)
        let strides = Shapes.strides(value.shape)
        var flat: [Int] = []
        flat.reserveCapacity(shape.reduce(1, *))
        func walk(_ axis: Int, _ base: Int) {
            if axis == shape.count { flat.append(base); return }
            for i in 0..<ranges[axis].count {
                walk(axis + 1, base + (ranges[axis].start + i * ranges[axis].step) * strides[axis])
            }
        }
        if shape.reduce(1, *) > 0 { walk(0, 0) }
        return pick(value, shape: shape, indices: flat)
    }

    static func transpose(_ value: ConstantTensor, perm: [Int]) throws(ImportError) -> ConstantTensor {
        guard perm.sorted() == Array(value.shape.indices) else {
            throw ImportError(.invalidModel, "Transpose perm \(perm) is not a permutation of \(value.shape.count) axes")
        }
        let shape = perm.map { value.shape[$0] }
        let strides = Shapes.strides(value.shape)
        var flat: [Int] = []
        flat.reserveCapacity(value.count)
        func walk(_ axis: Int, _ base: Int) {
            if axis == shape.count { flat.append(base); return }
            for i in 0..<shape[axis] { walk(axis + 1, base + i * strides[perm[axis]]) }
        }
        if value.count > 0 { walk(0, 0) }
        return pick(value, shape: shape, indices: flat)
    }

    /// ONNX NonZero: the multi-indices of the nonzero values in row-major
    /// order, as a (rank, count) int64 tensor, one column per value.
    static func nonZero(_ value: ConstantTensor) -> ConstantTensor {
        let nonzero: [Bool] = switch value.values {
        case .ints(let list): list.map { $0 != 0 }
        case .floats(let list): list.map { $0 != 0 }
        }
        let positions = nonzero.indices.filter { nonzero[$0] }
        let strides = Shapes.strides(value.shape)
        var rows: [Int64] = []
        rows.reserveCapacity(value.shape.count * positions.count)
        for (axis, stride) in strides.enumerated() {
            rows += positions.map { Int64($0 / stride % value.shape[axis]) }
        }
        return ConstantTensor(shape: [value.shape.count, positions.count], ints: rows)
    }

    /// The longest Range folded: position ids and anchor grids are far
    /// shorter, and a longer one is almost surely a corrupt model (a fuzzed
    /// one made a 5.4-million-element Range that took seconds to fold).
    static let rangeElementLimit = 1 << 20

    /// The most elements a folded constant may have beyond its largest input's: 2^24 (64 MiB of float32).
    /// Folding that makes a constant out of a shape (ConstantOfShape) or broadcasts a small one (Expand,
    /// Tile, an elementwise op) is refused past it, while ops that carry a large input along (a weight's
    /// Transpose, Cast or DequantizeLinear) are not limited by it. A mutated model asking ConstantOfShape for
    /// 419 million elements took the converter 3.4 GB and more than the onnx fuzzer's 10 s under the address
    /// sanitizer; real models' folded shape helpers, masks and position ids are far smaller.
    static let foldedGrowthLimit = 1 << 24

    /// The element count of a folded constant of `shape` made from inputs of at most `inputCount` elements,
    /// refused past both `foldedGrowthLimit` and `inputCount`.
    static func foldedElementCount(_ shape: [Int], of what: String, inputCount: Int) throws(ImportError) -> Int {
        let count = try Shapes.elementCount(shape, of: what)
        guard count <= max(foldedGrowthLimit, inputCount) else {
            throw ImportError(.unsupported, "\(what) of shape \(shape) would be a constant of \(count) elements made from \(inputCount); the converter folds constants that grow to at most \(foldedGrowthLimit) elements")
        }
        return count
    }

    static func range(_ start: ConstantTensor, _ limit: ConstantTensor, _ delta: ConstantTensor) throws(ImportError) -> ConstantTensor {
        guard start.count == 1, limit.count == 1, delta.count == 1 else {
            throw ImportError(.invalidModel, "Range takes scalars; got shapes \(start.shape), \(limit.shape), \(delta.shape)")
        }
        let span = (Double(limit.floats[0]) - Double(start.floats[0])) / Double(delta.floats[0])
        guard !span.isNaN, span <= Double(rangeElementLimit) else {
            throw ImportError(.unsupported, "Range from \(start.floats[0]) to \(limit.floats[0]) by \(delta.floats[0]) has \(span) elements; the converter folds ranges of at most \(rangeElementLimit)")
        }
        let count = span > 0 ? Int(span.rounded(.up)) : 0
        if start.isInteger && limit.isInteger && delta.isInteger {
            let (s, d) = (start.ints[0], delta.ints[0])
            guard d != 0 else { throw ImportError(.invalidModel, "Range delta is 0") }
            return ConstantTensor(ints: (0..<count).map { s + Int64($0) * d })
        }
        let (s, d) = (start.floats[0], delta.floats[0])
        guard d != 0 else { throw ImportError(.invalidModel, "Range delta is 0") }
        return ConstantTensor(shape: [count], floats: (0..<count).map { s + Float($0) * d })
    }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
