import DemandTensor

extension Manifest.Node {
    /// "node 'conv0' (Conv)", how messages name a node.
    public var label: String { "node '\(name)' (\(op))" }

    /// Parses the node's operator and infers its output shape from `shapes`
    /// (the shapes of the values defined so far). The one place a node is
    /// checked: model validation, the writer and the zoo's dry run all call it.
    /// - Throws: `.invalidGraph` naming the node (the caller adds file and layer).
    public func resolve(shapes: [String: Shape]) throws(FormatError) -> (op: Operator, outputShape: Shape) {
        func fail(_ message: String) -> FormatError { FormatError(.invalidGraph, "\(label): \(message)") }
        for (name, value) in attributes.sorted(by: { $0.key < $1.key }) {
            if let problem = ModelLimits.problem(with: value, named: name) { throw fail(problem) }
        }
        let parsed: Operator
        do { parsed = try Operator(type: op, attributes: attributes) } catch { throw fail("\(error)") }
        var inputShapes: [Shape] = []
        for input in inputs {
            guard let shape = shapes[input] else {
                throw fail("input '\(input)' is not a graph input, a weight of this layer or an earlier node's output")
            }
            inputShapes.append(shape)
        }
        guard outputs.count == 1 else { throw fail("has \(outputs.count) outputs; every supported operator has exactly one") }
        let outputShape: Shape
        do { outputShape = try parsed.outputShape(inputs: inputShapes) } catch { throw fail("\(error)") }
        if let problem = ModelLimits.problem(with: outputShape) { throw fail("output '\(outputs[0])': \(problem)") }
        return (parsed, outputShape)
    }
}
