import DemandTensor

/// Einsum lowered at convert time into Transpose, Reshape, ReduceSum and
/// MatMul, so the runtime needs no Einsum kernel.
///
/// One or two operands, each subscript a letter at most twice per operand
/// (twice takes a diagonal, with a Gather; no "..."). The output is the explicit "->" term, or in
/// implicit form the letters seen once, in alphabetical order. With the
/// letters sorted into
///
///     batch       in both operands and the output   ("b", "h" of bhid,bhjd->bhij)
///     contracted  in both operands, not the output  ("d")
///     left, right in one operand and the output     ("i"; "j")
///     summed      in one operand only               (reduced first, ReduceSum)
///
/// A is transposed to (batch, left, contracted) and reshaped to (batch...,
/// m, k), B to (batch, contracted, right) → (batch..., k, n), one MatMul
/// (which broadcasts over the batch axes) gives (batch..., m, n), which is
/// reshaped to the letters' sizes and transposed to the output order. Steps that change nothing are left out; a lone operand is only
/// summed and transposed. That covers batched and plain matmuls, attention's
/// bhid,bhjd->bhij and bhij,bhjd->bhid, transposes, sums, outer products,
/// diagonals and traces.
extension Lowering {
    func einsum(_ node: SourceGraph.Node) throws(ImportError) -> [RuntimeNode] {
        guard let equation = try NodeAttributes(node).string("equation") else {
            throw ImportError(.invalidModel, "Einsum needs its equation attribute", node: node.label)
        }
        func refuse(_ why: String) -> ImportError {
            ImportError(.unsupported,
                "Einsum equation \"\(equation)\" is not supported: \(why). Supported: one or two operands, each letter "
                    + "at most twice per operand, no \"...\" (matmuls, batched matmuls, transposes, sums, outer products, "
                    + "diagonals, traces); "
                    + "otherwise export the contraction as MatMul with Transpose and Reshape around it", node: node.label)
        }
        let spaced = equation.filter { !$0.isWhitespace }
        let sides = spaced.components(separatedBy: "->")
        guard sides.count <= 2 else { throw refuse("it has more than one \"->\"") }
        let terms = sides[0].split(separator: ",", omittingEmptySubsequences: false).map { Array($0) }
        guard !spaced.contains(".") else { throw refuse("ellipsis (\"...\") is not handled") }
        guard (1...2).contains(terms.count), terms.count == node.inputs.count else {
            throw refuse("it has \(terms.count) operand\(terms.count == 1 ? "" : "s") and the node \(node.inputs.count) input\(node.inputs.count == 1 ? "" : "s")")
        }
        let all = terms.flatMap { $0 }
        guard all.allSatisfy({ $0.isASCII && $0.isLetter }) else { throw refuse("subscripts must be letters") }
        for term in terms where term.contains(where: { letter in term.filter { $0 == letter }.count > 2 }) {
            throw refuse("operand \"\(String(term))\" has a letter more than twice")
        }
        let output: [Character]
        if sides.count == 2 {
            output = Array(sides[1])
            guard output.allSatisfy({ $0.isASCII && $0.isLetter }), Set(output).count == output.count else {
                throw refuse("the output \"\(sides[1])\" must be distinct letters")
            }
            guard output.allSatisfy({ all.contains($0) }) else { throw refuse("the output names a letter no operand has") }
        } else {
            output = Set(all).filter { letter in all.filter { $0 == letter }.count == 1 }.sorted()
        }

        var operands: [EinsumOperand] = []
        var sizes: [Character: Int] = [:]
        for (index, term) in terms.enumerated() {
            let name = node.inputs[index]
            guard let shape = self.shape(of: name) else {
                throw ImportError(.invalidModel, "input '\(name)' has no known shape", node: node.label)
            }
            guard shape.count == term.count else {
                throw refuse("operand \(index) \"\(String(term))\" has \(term.count) letters but input '\(name)' has shape \(Shape(shape))")
            }
            for (letter, size) in zip(term, shape) {
                if let known = sizes[letter], known != size {
                    throw refuse("letter \(letter) is \(known) in one operand and \(size) in another")
                }
                sizes[letter] = size
            }
            operands.append(EinsumOperand(value: name, letters: term))
        }

        var steps = EinsumSteps(lowering: self, node: node, sizes: sizes)
        // A letter twice in one operand takes that operand's diagonal first (then ii->, a trace, is a sum).
        for index in operands.indices {
            while let letter = operands[index].letters.first(where: { l in operands[index].letters.filter { $0 == l }.count == 2 }) {
                operands[index] = try steps.diagonal(operands[index], letter, tag: "\(index)")
            }
        }
        // Letters no other operand and not the output has are summed away first.
        for index in operands.indices {
            let others = Set(output + operands.indices.filter { $0 != index }.flatMap { operands[$0].letters })
            let summed = operands[index].letters.filter { !others.contains($0) }
            if !summed.isEmpty { operands[index] = steps.sum(operands[index], over: summed, tag: "\(index)") }
        }
        if operands.count == 1 {
            let result = try steps.transpose(operands[0], to: output, tag: "0")
            return steps.finish(result)
        }
        let (a, b) = (operands[0], operands[1])
        let batch = output.filter { a.letters.contains($0) && b.letters.contains($0) }
        let contracted = a.letters.filter { b.letters.contains($0) && !output.contains($0) }
        let left = output.filter { a.letters.contains($0) && !b.letters.contains($0) }
        let right = output.filter { b.letters.contains($0) && !a.letters.contains($0) }
        func size(_ letters: [Character]) -> Int { letters.reduce(1) { $0 * sizes[$1]! } }
        // MatMul broadcasts over leading axes itself: only the groups around the product are flattened.
        // Without batch letters, A's left letters stay leading axes of their own against a 2-D B
        // (bsd,df->bsf is one MatMul of (b, s, d) by (d, f)).
        if batch.isEmpty {
            let leftDims = left.map { sizes[$0]! }
            let a2 = steps.reshape(try steps.transpose(a, to: left + contracted, tag: "a"), to: leftDims + [size(contracted)], tag: "a")
            let b2 = steps.reshape(try steps.transpose(b, to: contracted + right, tag: "b"), to: [size(contracted), size(right)], tag: "b")
            let product = steps.matMul(a2, b2, letters: left + right, shape: leftDims + [size(right)])
            let unflat = steps.reshape(product, to: (left + right).map { sizes[$0]! }, tag: "out")
            let result = try steps.transpose(unflat, to: output, tag: "out")
            return steps.finish(result)
        }
        let batchDims = batch.map { sizes[$0]! }
        let a3 = steps.reshape(try steps.transpose(a, to: batch + left + contracted, tag: "a"),
                               to: batchDims + [size(left), size(contracted)], tag: "a")
        let b3 = steps.reshape(try steps.transpose(b, to: batch + contracted + right, tag: "b"),
                               to: batchDims + [size(contracted), size(right)], tag: "b")
        let product = steps.matMul(a3, b3, letters: batch + left + right, shape: batchDims + [size(left), size(right)])
        let unflat = steps.reshape(product, to: (batch + left + right).map { sizes[$0]! }, tag: "out")
        let result = try steps.transpose(unflat, to: output, tag: "out")
        return steps.finish(result)
    }
}

/// A value on its way through an Einsum lowering, with the letter of each axis.
private struct EinsumOperand {
    var value: String
    var letters: [Character]
    /// Set after a Reshape that merged or split axes: the real shape.
    var shape: [Int]?
}

/// The runtime nodes of one Einsum, appended in order; the last one is
/// renamed to the node's output by `finish`.
private struct EinsumSteps {
    let lowering: Lowering
    let node: SourceGraph.Node
    let sizes: [Character: Int]
    var nodes: [RuntimeNode] = []

    init(lowering: Lowering, node: SourceGraph.Node, sizes: [Character: Int]) {
        self.lowering = lowering
        self.node = node
        self.sizes = sizes
    }

    private mutating func add(_ op: String, _ inputs: [String], _ attributes: [String: AttributeValue], step: String) -> String {
        let output = lowering.freshName("\(node.outputs[0])/einsum_\(step)")
        nodes.append(RuntimeNode(name: "\(node.name)/\(step)", op: op, inputs: inputs, output: output, attributes: attributes))
        return output
    }

    mutating func sum(_ x: EinsumOperand, over letters: [Character], tag: String) -> EinsumOperand {
        let axes = letters.map { x.letters.firstIndex(of: $0)! }
        let value = add("ReduceSum", [x.value], ["axes": .ints(axes), "keepdims": .int(0)], step: "sum_\(tag)")
        return EinsumOperand(value: value, letters: x.letters.filter { !letters.contains($0) })
    }

    /// The elements whose two `letter` axes agree: the pair moved last,
    /// flattened to n·n, and every (n + 1)-th picked by a Gather with
    /// constant indices; the letter then appears once, last.
    mutating func diagonal(_ x: EinsumOperand, _ letter: Character, tag: String) throws(ImportError) -> EinsumOperand {
        let pair = x.letters.indices.filter { x.letters[$0] == letter }
        let others = x.letters.indices.filter { x.letters[$0] != letter }
        let n = sizes[letter]!
        var value = x.value
        let perm = others + pair
        if perm != Array(perm.indices) {
            if let constant = lowering.constants[value] {
                let name = lowering.freshName("\(value)/einsum_diagonal_transpose_\(tag)")
                lowering.constants[name] = try Folding.transpose(constant, perm: perm)
                value = name
            } else {
                value = add("Transpose", [value], ["perm": .ints(perm)], step: "diagonal_transpose_\(tag)")
            }
        }
        let otherDims = others.map { sizes[x.letters[$0]]! }
        value = add("Reshape", [value], ["shape": .ints(otherDims + [n * n])], step: "diagonal_reshape_\(tag)")
        let positions = lowering.freshName("\(node.outputs[0])/einsum_diagonal_indices_\(tag)")
        lowering.constants[positions] = ConstantTensor(ints: (0..<n).map { Int64($0 * (n + 1)) })
        value = add("Gather", [value, positions], ["axis": .int(others.count)], step: "diagonal_\(tag)")
        return EinsumOperand(value: value, letters: others.map { x.letters[$0] } + [letter])
    }

    /// A constant operand (a weight) is transposed now, not at every run.
    mutating func transpose(_ x: EinsumOperand, to order: [Character], tag: String) throws(ImportError) -> EinsumOperand {
        let perm = order.map { x.letters.firstIndex(of: $0)! }
        guard perm != Array(perm.indices) else { return x }
        if let value = lowering.constants[x.value] {
            let name = lowering.freshName("\(x.value)/einsum_transpose_\(tag)")
            lowering.constants[name] = try Folding.transpose(value, perm: perm)
            return EinsumOperand(value: name, letters: order)
        }
        return EinsumOperand(value: add("Transpose", [x.value], ["perm": .ints(perm)], step: "transpose_\(tag)"), letters: order)
    }

    func dims(_ x: EinsumOperand) -> [Int] { x.shape ?? x.letters.map { sizes[$0]! } }

    mutating func reshape(_ x: EinsumOperand, to dims: [Int], tag: String) -> EinsumOperand {
        guard self.dims(x) != dims else { return x }
        if let value = lowering.constants[x.value] {
            let name = lowering.freshName("\(x.value)/einsum_reshape_\(tag)")
            lowering.constants[name] = value.reshaped(dims)
            return EinsumOperand(value: name, letters: x.letters, shape: dims)
        }
        let value = add("Reshape", [x.value], ["shape": .ints(dims)], step: "reshape_\(tag)")
        return EinsumOperand(value: value, letters: x.letters, shape: dims)
    }

    /// (batch..., m, k) · (batch..., k, n) → `shape`, (batch..., m, n); `letters` name the unflattened result.
    mutating func matMul(_ a: EinsumOperand, _ b: EinsumOperand, letters: [Character], shape: [Int]) -> EinsumOperand {
        EinsumOperand(value: add("MatMul", [a.value, b.value], [:], step: "matmul"), letters: letters, shape: shape)
    }

    /// The nodes, the last writing the Einsum's output (an Identity when
    /// nothing had to change, as for "ij->ij").
    func finish(_ result: EinsumOperand) -> [RuntimeNode] {
        var nodes = self.nodes
        guard !nodes.isEmpty, nodes[nodes.count - 1].output == result.value else {
            return nodes + [RuntimeNode(name: node.name, op: "Identity", inputs: [result.value], output: node.outputs[0], attributes: [:])]
        }
        nodes[nodes.count - 1].output = node.outputs[0]
        return nodes
    }
}
