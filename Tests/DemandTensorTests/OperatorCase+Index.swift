import DemandTensor

/// Kernel table rows for the logic, selection and index operators (Not, And,
/// Or, Xor, TopK, ScatterND, OneHot). Bools and indices are whole numbers
/// held as floats, so these rows compare exactly.
extension OperatorCase {
    static let indexAndLogic: [OperatorCase] = [
        OperatorCase(name: "not", type: "Not", attributes: [:], inputs: [[3, 5]], tolerance: 0, domains: [.naturals(2)]),
        OperatorCase(name: "and broadcast", type: "And", attributes: [:], inputs: [[2, 3, 4], [3, 1]],
                     expectedShape: [2, 3, 4], tolerance: 0, domains: [.naturals(2), .naturals(2)]),
        OperatorCase(name: "or two-way", type: "Or", attributes: [:], inputs: [[3, 1], [1, 4]],
                     expectedShape: [3, 4], tolerance: 0, domains: [.naturals(2), .naturals(2)]),
        OperatorCase(name: "xor nonzero counts as true", type: "Xor", attributes: [:], inputs: [[4, 5], [5]],
                     expectedShape: [4, 5], tolerance: 0, domains: [.naturals(3), .naturals(2)]),
        OperatorCase(name: "topk values last axis", type: "TopK", attributes: ["k": .int(3)], inputs: [[4, 9]],
                     expectedShape: [4, 3], tolerance: 0),
        OperatorCase(name: "topk indices with ties, axis 1", type: "TopK", attributes: ["k": .int(4), "axis": .int(1), "output": .string("indices")],
                     inputs: [[2, 7, 3]], expectedShape: [2, 4, 3], tolerance: 0, domains: [.naturals(3)]),
        OperatorCase(name: "topk smallest indices with ties, k = length", type: "TopK",
                     attributes: ["k": .int(6), "axis": .int(0), "largest": .int(0), "output": .string("indices")],
                     inputs: [[6, 5]], expectedShape: [6, 5], tolerance: 0, domains: [.naturals(2)]),
        OperatorCase(name: "topk smallest values, negative axis, unsorted", type: "TopK",
                     attributes: ["k": .int(2), "axis": .int(-2), "largest": .int(0), "sorted": .int(0)],
                     inputs: [[3, 8, 2]], expectedShape: [3, 2, 2], tolerance: 0),
        OperatorCase(name: "onehot last axis, negative and out-of-range indices", type: "OneHot",
                     attributes: ["depth": .int(4), "values": .floats([-1, 3])], inputs: [[2, 5]], expectedShape: [2, 5, 4],
                     tolerance: 0, domains: [.indices(5)]),
        OperatorCase(name: "onehot axis 1", type: "OneHot", attributes: ["depth": .int(3), "values": .floats([0, 1]), "axis": .int(1)],
                     inputs: [[2, 4]], expectedShape: [2, 3, 4], tolerance: 0, domains: [.indices(3)]),
        OperatorCase(name: "onehot axis -3 (first)", type: "OneHot", attributes: ["depth": .int(6), "values": .floats([0, 1]), "axis": .int(-3)],
                     inputs: [[3, 2]], expectedShape: [6, 3, 2], tolerance: 0, domains: [.indices(6)]),
        OperatorCase(name: "scatternd rows, repeated rows last wins", type: "ScatterND", attributes: [:], inputs: [[4, 5, 3], [6, 1], [6, 5, 3]],
                     expectedShape: [4, 5, 3], tolerance: 0, domains: [.uniform(1), .indices(4), .uniform(1)]),
        OperatorCase(name: "scatternd elements add", type: "ScatterND", attributes: ["reduction": .string("add")],
                     inputs: [[4, 5, 3], [2, 3, 3], [2, 3]], expectedShape: [4, 5, 3], tolerance: 1e-6,
                     domains: [.uniform(1), .indices(3), .uniform(1)]),
        OperatorCase(name: "scatternd pairs mul", type: "ScatterND", attributes: ["reduction": .string("mul")],
                     inputs: [[4, 5, 3], [5, 2], [5, 3]], expectedShape: [4, 5, 3], tolerance: 1e-6,
                     domains: [.uniform(1), .indices(4), .uniform(1)]),
    ]
}
