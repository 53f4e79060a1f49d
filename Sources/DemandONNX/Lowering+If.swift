/// `If` whose condition is known at convert time: the taken branch's nodes
/// are lowered in place of the If, as if written in the outer graph.
///
/// A branch's own values (its nodes' outputs and its initializers) are
/// renamed to names no other value has, so two branches, or a branch and
/// the outer graph, may reuse a name; names a branch reads from the outer
/// graph keep theirs. The If's outputs become the branch's outputs: the
/// values themselves when the branch computes them, else aliases (constants
/// stay constants). A condition computed at run time is refused,
/// naming the node and the condition.
extension Lowering {
    func inlineIf(_ node: SourceGraph.Node) throws(ImportError) {
        guard let condition = node.input(0) else { throw ImportError(.invalidModel, "If needs its condition input", node: node.label) }
        let resolved = resolve(condition)
        guard let value = constants[resolved] else {
            throw ImportError(.unsupported,
                "operator 'If' is not supported with a condition computed at run time ('\(condition)'): "
                    + (Self.alternatives["If"] ?? "fold the condition at export"), node: node.label)
        }
        guard value.count == 1 else {
            throw ImportError(.invalidModel, "If's condition '\(condition)' must hold one value, got shape \(value.shape)", node: node.label)
        }
        let taken = value.floats[0] != 0 ? "then_branch" : "else_branch"
        guard case .graph(let branch)? = node.attributes[taken] else {
            throw ImportError(.invalidModel, "If has no \(taken) graph (the condition is \(value.floats[0] != 0))", node: node.label)
        }
        guard branch.outputs.count == node.outputs.count else {
            throw ImportError(.invalidModel, "If's \(taken) has \(branch.outputs.count) outputs but the node \(node.outputs.count)", node: node.label)
        }
        // A branch output its nodes compute takes the If's output name, so no copy is needed.
        var renamed: [String: String] = [:]
        let computed = Set(branch.nodes.flatMap(\.outputs))
        for (output, branchOutput) in zip(node.outputs, branch.outputs)
        where !output.isEmpty && computed.contains(branchOutput) && renamed[branchOutput] == nil {
            renamed[branchOutput] = output
        }
        for name in branch.initializers.keys.sorted() + branch.nodes.flatMap(\.outputs) where !name.isEmpty && renamed[name] == nil {
            renamed[name] = freshName("\(node.name)/\(name)")
        }
        for (name, tensor) in branch.initializers { constants[renamed[name]!] = tensor }
        let nodes = branch.nodes.map { Self.renaming($0, renamed) }
        let local = Set(renamed.values)
        for reader in nodes {
            for input in reader.inputs + reader.implicitInputs where local.contains(input) { useCounts[input, default: 0] += 1 }
        }
        for output in branch.outputs { if let local = renamed[output], !node.outputs.contains(local) { useCounts[local, default: 0] += 1 } }
        for inner in nodes {
            do { try lower(inner) } catch { throw error.at(node: "\(inner.label) in \(taken) of \(node.label)") }
        }
        for (output, branchOutput) in zip(node.outputs, branch.outputs) where !output.isEmpty && renamed[branchOutput] != output {
            let source = resolve(renamed[branchOutput] ?? branchOutput)
            if let constant = constants[source] { constants[output] = constant } else { aliases[output] = source }
        }
    }

    /// `node` with the branch's renamed values, down into nested branches
    /// (whose own values keep their names until they are inlined in turn).
    private static func renaming(_ node: SourceGraph.Node, _ renamed: [String: String]) -> SourceGraph.Node {
        var copy = node
        copy.inputs = node.inputs.map { renamed[$0] ?? $0 }
        copy.outputs = node.outputs.map { renamed[$0] ?? $0 }
        copy.implicitInputs = node.implicitInputs.map { renamed[$0] ?? $0 }
        for (key, attribute) in node.attributes {
            guard case .graph(var subgraph) = attribute else { continue }
            let outer = Set(subgraph.outerReads)
            let inner = renamed.filter { outer.contains($0.key) }
            subgraph.nodes = subgraph.nodes.map { renaming($0, inner) }
            subgraph.outputs = subgraph.outputs.map { inner[$0] ?? $0 }
            copy.attributes[key] = .graph(subgraph)
        }
        return copy
    }
}
