/// Groups runtime nodes into layers, the unit the runtime reads and runs.
///
/// A node opens a new layer when its constant inputs hold at least
/// `weightedBytes` (a "weighted node": conv, matmul, embedding…); the nodes
/// after it without such weights join its layer. Nodes before the first
/// weighted node join the first layer. Small constants (scalars, biases of a
/// Mul) ride in the layer of the node that reads them. Since a node may read
/// only its own layer's weights, a constant read from several layers is
/// stored in each, under a fresh name after the first.
struct Layering {
    struct Layer {
        var name: String
        var nodes: [RuntimeNode]
        /// (name in the manifest, name of the constant it holds).
        var weights: [(stored: String, constant: String)]
    }

    /// Constants of at least this many bytes make their reader a weighted node.
    static let weightedBytes = 4096

    static func plan(_ nodes: [RuntimeNode], constants: [String: ConstantTensor], freshName: (String) -> String) -> [Layer] {
        var groups: [[RuntimeNode]] = []
        var current: [RuntimeNode] = []
        var currentHasWeights = false
        for node in nodes {
            if weightBytes(node, constants) >= weightedBytes {
                if currentHasWeights {
                    groups.append(current)
                    current = []
                }
                currentHasWeights = true
            }
            current.append(node)
        }
        if !current.isEmpty { groups.append(current) }

        var layers: [Layer] = []
        var storedIn: [String: Int] = [:]
        for (index, group) in groups.enumerated() {
            var names: [String: String] = [:]
            var weights: [(stored: String, constant: String)] = []
            var rewritten: [RuntimeNode] = []
            for var node in group {
                for (position, input) in node.inputs.enumerated() where constants[input] != nil {
                    if names[input] == nil {
                        let stored = storedIn[input] == nil ? input : freshName("\(input)@\(index)")
                        storedIn[input] = storedIn[input] ?? index
                        names[input] = stored
                        weights.append((stored, input))
                    }
                    node.inputs[position] = names[input]!
                }
                rewritten.append(node)
            }
            let anchor = group.max { a, b in weightBytes(a, constants) < weightBytes(b, constants) } ?? group[0]
            layers.append(Layer(name: anchor.name, nodes: rewritten, weights: weights))
        }
        return layers
    }

    private static func weightBytes(_ node: RuntimeNode, _ constants: [String: ConstantTensor]) -> Int {
        node.inputs.reduce(0) { $0 + (constants[$1]?.count ?? 0) * 4 }
    }
}
