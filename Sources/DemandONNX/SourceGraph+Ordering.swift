extension SourceGraph {
    /// `nodes` in an order where every node comes after the nodes whose
    /// outputs it reads: ONNX requires the file's order to be one, but
    /// exporters and graph editors write others, and onnxruntime accepts
    /// them. Among nodes whose inputs are all ready, the one earliest in the
    /// file comes first, so a file already in order keeps its order. Inputs no
    /// node writes (graph inputs, initializers, names nothing defines) are not
    /// this function's concern: lowering names the undefined ones.
    /// Throws `invalidModel` naming the nodes of a cycle.
    static func topologicallySorted(_ nodes: [Node]) throws(ImportError) -> [Node] {
        var producer: [String: Int] = [:]
        for (index, node) in nodes.enumerated() {
            for output in node.outputs where !output.isEmpty { producer[output] = index }
        }
        var waitingOn = [Int](repeating: 0, count: nodes.count)
        var readers = [[Int]](repeating: [], count: nodes.count)
        for (index, node) in nodes.enumerated() {
            for source in Set((node.inputs + node.implicitInputs).compactMap({ producer[$0] })) {
                waitingOn[index] += 1
                readers[source].append(index)
            }
        }
        // Ready nodes by file position: a binary heap of indices.
        var ready = MinHeap(nodes.indices.filter { waitingOn[$0] == 0 })
        var order: [Int] = []
        order.reserveCapacity(nodes.count)
        while let next = ready.pop() {
            order.append(next)
            for reader in readers[next] {
                waitingOn[reader] -= 1
                if waitingOn[reader] == 0 { ready.push(reader) }
            }
        }
        guard order.count == nodes.count else {
            throw ImportError(.invalidModel, "the graph has a cycle: \(cycle(nodes, producer: producer, stuck: waitingOn).map { nodes[$0].label }.joined(separator: " → ")); a node cannot read its own output, directly or through others")
        }
        return order == Array(nodes.indices) ? nodes : order.map { nodes[$0] }
    }

    /// One cycle among the nodes still waiting, as node indices, first repeated at the end.
    private static func cycle(_ nodes: [Node], producer: [String: Int], stuck: [Int]) -> [Int] {
        var current = stuck.indices.first { stuck[$0] > 0 }!
        var seen: [Int: Int] = [:]
        var path: [Int] = []
        while seen[current] == nil {
            seen[current] = path.count
            path.append(current)
            // A node still waiting reads at least one node still waiting, through the same inputs the sort
            // counted (a subgraph's implicit inputs too: the cycle may pass through them).
            let node = nodes[current]
            current = (node.inputs + node.implicitInputs).compactMap { producer[$0] }.first { stuck[$0] > 0 }!
        }
        return Array(path[seen[current]!...]) + [current]
    }
}

/// The smallest-first heap `topologicallySorted` keeps its ready nodes in.
private struct MinHeap {
    private var items: [Int] = []

    init(_ values: [Int]) { for value in values { push(value) } }

    mutating func push(_ value: Int) {
        items.append(value)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child] < items[parent] else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Int? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        guard !items.isEmpty else { return top }
        items[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count && items[left] < items[smallest] { smallest = left }
            if right < items.count && items[right] < items[smallest] { smallest = right }
            guard smallest != parent else { return top }
            items.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
