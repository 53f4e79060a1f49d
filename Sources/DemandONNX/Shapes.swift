/// Shape arithmetic with ONNX's rules, shared by folding and the rewrites.
enum Shapes {
    /// The most elements a constant may have (4 GiB of float32): beyond it a
    /// model is refused rather than exhausting memory at convert time.
    static let maximumElementCount = 1 << 30

    /// The element count of `shape`, refusing negative dimensions, overflow
    /// and counts beyond `maximumElementCount`.
    static func elementCount(_ shape: [Int], of what: String) throws(ImportError) -> Int {
        var count = 1
        for dim in shape {
            guard dim >= 0 else { throw ImportError(.invalidModel, "\(what) has a negative dimension in \(shape)") }
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow, product <= maximumElementCount else {
                throw ImportError(.unsupported, "\(what) of shape \(shape) has more than \(maximumElementCount) elements")
            }
            count = product
        }
        return count
    }

    /// numpy broadcasting of two shapes.
    static func broadcast(_ a: [Int], _ b: [Int]) throws(ImportError) -> [Int] {
        let rank = max(a.count, b.count)
        let pa = Array(repeating: 1, count: rank - a.count) + a
        let pb = Array(repeating: 1, count: rank - b.count) + b
        var out: [Int] = []
        for (x, y) in zip(pa, pb) {
            guard x == y || x == 1 || y == 1 else {
                throw ImportError(.invalidModel, "shapes \(a) and \(b) do not broadcast")
            }
            out.append(x == 1 ? y : x)
        }
        return out
    }

    /// For each element of `shape` (row-major), the flat index of the element
    /// of a `from`-shaped tensor broadcast onto it.
    static func broadcastIndices(from: [Int], to shape: [Int]) -> [Int] {
        let padded = Array(repeating: 1, count: shape.count - from.count) + from
        let sourceStrides = strides(padded)
        let count = shape.reduce(1, *)
        var out = [Int](repeating: 0, count: count)
        var index = [Int](repeating: 0, count: shape.count)
        for flat in 0..<count {
            var source = 0
            for axis in 0..<shape.count where padded[axis] != 1 { source += index[axis] * sourceStrides[axis] }
            out[flat] = source
            var axis = shape.count - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < shape[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
        return out
    }

    static func strides(_ shape: [Int]) -> [Int] {
        var out = [Int](repeating: 1, count: shape.count)
        var running = 1
        for axis in shape.indices.reversed() {
            out[axis] = running
            running *= shape[axis]
        }
        return out
    }

    static func unsqueeze(_ shape: [Int], axes: [Int]) throws(ImportError) -> [Int] {
        let rank = shape.count + axes.count
        let normal = axes.map { $0 < 0 ? $0 + rank : $0 }
        guard normal.allSatisfy({ $0 >= 0 && $0 < rank }), Set(normal).count == normal.count else {
            throw ImportError(.invalidModel, "Unsqueeze axes \(axes) are out of range or repeated for output rank \(rank)")
        }
        var out: [Int] = []
        var rest = shape.makeIterator()
        for axis in 0..<rank { out.append(normal.contains(axis) ? 1 : rest.next()!) }
        return out
    }

    static func squeeze(_ shape: [Int], axes: [Int]?) throws(ImportError) -> [Int] {
        guard let axes, !axes.isEmpty else { return shape.filter { $0 != 1 } }
        let normal = axes.map { $0 < 0 ? $0 + shape.count : $0 }
        for axis in normal where axis < 0 || axis >= shape.count || shape[axis] != 1 {
            throw ImportError(.invalidModel, "Squeeze axes \(axes) do not name dimensions of size 1 in \(shape)")
        }
        return shape.indices.filter { !normal.contains($0) }.map { shape[$0] }
    }

    /// ONNX Reshape: 0 copies the input dimension (unless allowzero), -1 is inferred.
    static func reshape(_ shape: [Int], to target: [Int64], allowZero: Bool) throws(ImportError) -> [Int] {
        var out: [Int] = []
        var inferred: Int?
        for (axis, raw) in target.enumerated() {
            if raw == 0 && !allowZero {
                guard axis < shape.count else { throw ImportError(.invalidModel, "Reshape copies dimension \(axis) of \(shape), which does not exist") }
                out.append(shape[axis])
            } else if raw == -1 {
                guard inferred == nil else { throw ImportError(.invalidModel, "Reshape shape \(target) has more than one -1") }
                inferred = axis
                out.append(1)
            } else {
                guard raw >= 0 else { throw ImportError(.invalidModel, "Reshape shape \(target) has a negative dimension") }
                out.append(Int(raw))
            }
        }
        let total = shape.reduce(1, *)
        if let inferred {
            let known = out.reduce(1, *)
            guard known > 0, total % known == 0 else { throw ImportError(.invalidModel, "cannot reshape \(shape) to \(target)") }
            out[inferred] = total / known
        }
        guard out.reduce(1, *) == total else { throw ImportError(.invalidModel, "cannot reshape \(shape) to \(target)") }
        return out
    }

    struct SliceSpec {
        var starts: [Int64]
        var ends: [Int64]
        var axes: [Int64]?
        var steps: [Int64]?
    }

    /// Per axis: first index, step and element count, with ONNX's clamping.
    static func sliceRanges(_ shape: [Int], _ spec: SliceSpec) throws(ImportError) -> [(start: Int, step: Int, count: Int)] {
        var ranges = shape.map { (start: 0, step: 1, count: $0) }
        let axes = spec.axes ?? (0..<Int64(spec.starts.count)).map { $0 }
        let steps = spec.steps ?? Array(repeating: 1, count: spec.starts.count)
        guard spec.ends.count == spec.starts.count, axes.count == spec.starts.count, steps.count == spec.starts.count else {
            throw ImportError(.invalidModel, "Slice starts, ends, axes and steps differ in length")
        }
        for i in spec.starts.indices {
            var axis = Int(axes[i])
            if axis < 0 { axis += shape.count }
            guard axis >= 0 && axis < shape.count else { throw ImportError(.invalidModel, "Slice axis \(axes[i]) is out of range for \(shape)") }
            let dim = Int64(shape[axis])
            let step = steps[i]
            guard step != 0 else { throw ImportError(.invalidModel, "Slice step is 0") }
            var start = spec.starts[i], end = spec.ends[i]
            if start < 0 { start = start &+ dim }
            if end < 0 { end = end &+ dim }
            if step > 0 {
                start = min(max(start, 0), dim)
                end = min(max(end, 0), dim)
            } else {
                start = min(max(start, 0), dim - 1)
                end = min(max(end, -1), dim - 1)
            }
            let span = step > 0 ? end - start : start - end
            let count = span <= 0 ? 0 : Int((UInt64(span) + step.magnitude - 1) / step.magnitude)
            ranges[axis] = (Int(start), Int(step), count)
        }
        return ranges
    }
}

/// Typed reads of a source node's attributes.
struct NodeAttributes {
    let node: SourceGraph.Node
    init(_ node: SourceGraph.Node) { self.node = node }

    func int(_ name: String) throws(ImportError) -> Int64? {
        switch node.attributes[name] {
        case nil: return nil
        case .int(let value)?: return value
        case let other?: throw mismatch(name, other, "an integer")
        }
    }

    func float(_ name: String) throws(ImportError) -> Float? {
        switch node.attributes[name] {
        case nil: return nil
        case .float(let value)?: return value
        case .int(let value)?: return Float(value)
        case let other?: throw mismatch(name, other, "a float")
        }
    }

    func ints(_ name: String) throws(ImportError) -> [Int64]? {
        switch node.attributes[name] {
        case nil: return nil
        case .ints(let value)?: return value
        case let other?: throw mismatch(name, other, "a list of integers")
        }
    }

    func floats(_ name: String) throws(ImportError) -> [Float]? {
        switch node.attributes[name] {
        case nil: return nil
        case .floats(let value)?: return value
        case .ints(let value)?: return value.map { Float($0) }
        case let other?: throw mismatch(name, other, "a list of floats")
        }
    }

    func string(_ name: String) throws(ImportError) -> String? {
        switch node.attributes[name] {
        case nil: return nil
        case .string(let value)?: return value
        case let other?: throw mismatch(name, other, "a string")
        }
    }

    private func mismatch(_ name: String, _ value: SourceGraph.Attribute, _ expected: String) -> ImportError {
        ImportError(.invalidModel, "attribute '\(name)' is \(value); it must be \(expected)", node: node.label)
    }
}
