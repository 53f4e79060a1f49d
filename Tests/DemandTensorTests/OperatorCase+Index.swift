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
    ]
}
