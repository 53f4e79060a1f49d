@testable import DemandONNX
import DemandTensor
import Foundation

/// Builds small ONNX models in Swift through the generated protobuf types,
/// so the importer's tests need no Python.
struct ONNXBuilder {
    var model = Onnx_ModelProto()
    private var random: UInt64

    init(opset: Int = 17, seed: UInt64 = 7) {
        model.irVersion = 8
        var set = Onnx_OperatorSetIdProto()
        set.version = Int64(opset)
        model.opsetImport = [set]
        model.graph.name = "test"
        random = seed
    }

    /// A value in [-1, 1) from a 64-bit LCG, the same for the same seed.
    mutating func nextValue() -> Float {
        random = random &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: random >> 11) % 2_000_000) / 1_000_000 - 1
    }

    mutating func randomValues(_ count: Int) -> [Float] { (0..<count).map { _ in nextValue() } }

    /// A graph input; a String dimension is symbolic. Empty `dims` declare a
    /// scalar; `shaped: false` leaves the shape field out altogether.
    mutating func input(_ name: String, _ dims: [Any], type: Int32 = 1, shaped: Bool = true) {
        var value = Onnx_ValueInfoProto()
        value.name = name
        var tensor = Onnx_TypeProto.Tensor()
        tensor.elemType = type
        if shaped { tensor.shape = Onnx_TensorShapeProto() }
        for dim in dims {
            var d = Onnx_TensorShapeProto.Dimension()
            if let size = dim as? Int { d.dimValue = Int64(size) } else { d.dimParam = "\(dim)" }
            tensor.shape.dim.append(d)
        }
        value.type.tensorType = tensor
        model.graph.input.append(value)
    }

    /// A graph output; `type` (an ONNX element type) declares its tensor type, nil declares none.
    mutating func output(_ name: String, type: Int32? = nil) {
        var value = Onnx_ValueInfoProto()
        value.name = name
        if let type {
            var tensor = Onnx_TypeProto.Tensor()
            tensor.elemType = type
            value.type.tensorType = tensor
        }
        model.graph.output.append(value)
    }

    static func tensor(_ name: String, _ dims: [Int], floats: [Float]) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = dims.map { Int64($0) }
        t.dataType = 1
        t.rawData = floats.withUnsafeBufferPointer { Data(buffer: $0) }
        return t
    }

    static func tensor(_ name: String, _ dims: [Int], ints: [Int64]) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = dims.map { Int64($0) }
        t.dataType = 7
        t.int64Data = ints
        return t
    }

    mutating func initializer(_ name: String, _ dims: [Int], _ floats: [Float]) {
        model.graph.initializer.append(Self.tensor(name, dims, floats: floats))
    }

    mutating func initializer(_ name: String, _ dims: [Int], ints: [Int64]) {
        model.graph.initializer.append(Self.tensor(name, dims, ints: ints))
    }

    /// A random float initializer; returns its values.
    @discardableResult
    mutating func weight(_ name: String, _ dims: [Int], scale: Float = 1) -> [Float] {
        let values = randomValues(dims.reduce(1, *)).map { $0 * scale }
        initializer(name, dims, values)
        return values
    }

    enum Attr {
        case i(Int64), f(Float), ints([Int64]), floats([Float]), s(String), strings([String]), t(Onnx_TensorProto)
    }

    mutating func node(_ op: String, _ inputs: [String], _ outputs: [String], name: String? = nil,
                       domain: String = "", _ attributes: [String: Attr] = [:]) {
        var node = Onnx_NodeProto()
        node.opType = op
        node.name = name ?? "\(op.lowercased())\(model.graph.node.count)"
        node.input = inputs
        node.output = outputs
        node.domain = domain
        for (key, value) in attributes.sorted(by: { $0.key < $1.key }) {
            var a = Onnx_AttributeProto()
            a.name = key
            switch value {
            case .i(let v): a.type = .int; a.i = v
            case .f(let v): a.type = .float; a.f = v
            case .ints(let v): a.type = .ints; a.ints = v
            case .floats(let v): a.type = .floats; a.floats = v
            case .s(let v): a.type = .string; a.s = Data(v.utf8)
            case .strings(let v): a.type = .strings; a.strings = v.map { Data($0.utf8) }
            case .t(let v): a.type = .tensor; a.t = v
            }
            node.attribute.append(a)
        }
        model.graph.node.append(node)
    }

    func bytes() throws -> Data { try model.serializedData() }

    /// Writes the model to `directory/name` and returns the path.
    func write(to directory: String, name: String = "model.onnx") throws -> String {
        let path = directory + "/" + name
        try bytes().write(to: URL(fileURLWithPath: path))
        return path
    }
}
