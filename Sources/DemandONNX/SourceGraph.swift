/// An ONNX graph as the importer reads it: plain Swift values decoded from
/// the protobuf, with every initializer and `Constant` value loaded.
struct SourceGraph {
    /// One ONNX node. Omitted optional inputs are kept as "" so positions hold.
    struct Node {
        var name: String
        var op: String
        var domain: String
        var inputs: [String]
        var outputs: [String]
        var attributes: [String: Attribute]
        /// Values of the enclosing graphs that the node's subgraphs (If
        /// branches) read by name without listing them as inputs, once per
        /// read (use counts must see every reader).
        var implicitInputs: [String] = []

        /// "node 'conv1' (Conv)", how messages name a node.
        var label: String { "node '\(name)' (\(op))" }

        /// The input at `index`, or nil when absent or omitted ("").
        func input(_ index: Int) -> String? {
            index < inputs.count && !inputs[index].isEmpty ? inputs[index] : nil
        }
    }

    /// An ONNX attribute value.
    enum Attribute {
        case int(Int64)
        case float(Float)
        case ints([Int64])
        case floats([Float])
        case string(String)
        case strings([String])
        case tensor(ConstantTensor)
        /// A subgraph (an If branch), its nodes decoded like the graph's.
        case graph(Subgraph)
        /// A kind the importer does not handle (graphs, sparse tensors, types).
        case unsupported(String)

        /// "a tensor", "a list of strings": what messages call the value's kind.
        var kindName: String {
            switch self {
            case .int: "an integer"
            case .float: "a float"
            case .ints: "a list of integers"
            case .floats: "a list of floats"
            case .string: "a string"
            case .strings: "a list of strings"
            case .tensor: "a tensor"
            case .graph: "a graph"
            case .unsupported(let kind): kind
            }
        }
    }

    /// A graph held by an attribute (If's then_branch and else_branch): its
    /// nodes in topological order, its initializers and the names of its
    /// outputs. Names it reads that none of its nodes or initializers define
    /// come from the enclosing graph (`outerReads`).
    struct Subgraph {
        var nodes: [Node]
        var outputs: [String]
        var initializers: [String: ConstantTensor]

        /// Names read here (or in nested subgraphs) that this subgraph does
        /// not define, once per read.
        var outerReads: [String] {
            var defined = Set(initializers.keys)
            for node in nodes { defined.formUnion(node.outputs) }
            let reads = nodes.flatMap { $0.inputs + $0.implicitInputs } + outputs
            return reads.filter { !$0.isEmpty && !defined.contains($0) }
        }
    }

    /// A graph input with its ONNX element type and declared dimensions.
    struct Input {
        enum Dimension: Equatable {
            case fixed(Int)
            case symbolic(String)
            case unknown
        }
        var name: String
        var elementType: Int32
        /// The declared dimensions: empty for a scalar, nil when the type has no shape field.
        var dims: [Dimension]?
    }

    var name: String
    /// The default-domain operator set version the model was written against.
    var opset: Int
    var inputs: [Input]
    var outputs: [String]
    /// Each graph output's declared ONNX element type (0 when the output declares none).
    var outputTypes: [String: Int32] = [:]
    var nodes: [Node]
    /// Initializers by name.
    var initializers: [String: ConstantTensor]
    /// Initializers' ONNX element types by name (`ConstantTensor` keeps only
    /// integer or float; QuantizeLinear's range depends on int8 or uint8).
    var elementTypes: [String: Int32] = [:]
}

/// ONNX `TensorProto.DataType` values the importer names.
enum ElementType {
    static let float: Int32 = 1
    static let uint8: Int32 = 2
    static let int8: Int32 = 3
    static let uint16: Int32 = 4
    static let int16: Int32 = 5
    static let int32: Int32 = 6
    static let int64: Int32 = 7
    static let string: Int32 = 8
    static let bool: Int32 = 9
    static let float16: Int32 = 10
    static let double: Int32 = 11
    static let uint32: Int32 = 12
    static let uint64: Int32 = 13
    static let bfloat16: Int32 = 16

    static func name(_ type: Int32) -> String {
        let names: [Int32: String] = [
            1: "float", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "string",
            9: "bool", 10: "float16", 11: "double", 12: "uint32", 13: "uint64", 14: "complex64",
            15: "complex128", 16: "bfloat16",
        ]
        return names[type] ?? "type \(type)"
    }

    static func isInteger(_ type: Int32) -> Bool {
        [uint8, int8, uint16, int16, int32, int64, bool, uint32, uint64].contains(type)
    }

    static func isFloat(_ type: Int32) -> Bool { [float, float16, double, bfloat16].contains(type) }
}
