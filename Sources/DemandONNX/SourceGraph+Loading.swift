import Foundation
import SwiftProtobuf

extension SourceGraph {
    /// Reads and decodes an ONNX model file, loading every initializer
    /// (external data included, relative to the model's directory).
    static func load(path: String) throws(ImportError) -> SourceGraph {
        // An empty file is refused before it is read: reading an empty file
        // through Foundation leaks a page (found by LeakSanitizer).
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size == 0 {
            throw ImportError(.malformed, "the model file is empty", path: path)
        }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ImportError(.unreadable, "cannot read the model file: \((error as NSError).localizedDescription)", path: path)
        }
        let directory = (path as NSString).deletingLastPathComponent
        do {
            // Parse in a call of its own so the file's bytes are released before the weights are decoded.
            let model = try parse(consume data)
            return try build(model, directory: directory.isEmpty ? "." : directory)
        } catch {
            throw error.path == nil ? ImportError(error.code, error.message, path: path, node: error.node) : error
        }
    }

    /// Decodes ONNX protobuf bytes; external data is looked up in `directory`.
    static func decode(_ data: Data, directory: String) throws(ImportError) -> SourceGraph {
        try build(try parse(data), directory: directory)
    }

    private static func parse(_ data: Data) throws(ImportError) -> Onnx_ModelProto {
        guard !data.isEmpty else { throw ImportError(.malformed, "the file is empty; it is not an ONNX model") }
        do { return try Onnx_ModelProto(serializedBytes: data) } catch {
            throw ImportError(.malformed, "not a valid ONNX protobuf (\(describe(error))); the file is damaged, truncated or not an ONNX model")
        }
    }

    /// Builds the graph, releasing each initializer's protobuf bytes once it is decoded.
    private static func build(_ proto: consuming Onnx_ModelProto, directory: String) throws(ImportError) -> SourceGraph {
        var model = proto
        guard model.hasGraph, !model.graph.node.isEmpty || !model.graph.output.isEmpty else {
            throw ImportError(.malformed, "the model has no graph; the file is truncated or not an ONNX model")
        }
        guard model.irVersion >= 3 else {
            throw ImportError(.unsupported, "IR version \(model.irVersion) is too old; re-export with IR version 3 or later")
        }
        let opset = model.opsetImport.first { $0.domain.isEmpty || $0.domain == "ai.onnx" }.map { Int($0.version) } ?? 1
        let decoder = TensorDecoder(modelDirectory: directory)
        var pending = model.graph.initializer
        model.graph.initializer = []
        let graph = model.graph

        var initializers: [String: ConstantTensor] = [:]
        var elementTypes: [String: Int32] = [:]
        pending.reverse()
        while let tensor = pending.popLast() {
            initializers[tensor.name] = try decoder.decode(tensor, name: tensor.name)
            elementTypes[tensor.name] = tensor.dataType
        }
        if let sparse = graph.sparseInitializer.first {
            throw ImportError(.unsupported, "sparse initializer '\(sparse.values.name)' is not supported")
        }

        var inputs: [Input] = []
        for value in graph.input where initializers[value.name] == nil {
            guard case .tensorType(let tensor)? = value.type.value else {
                throw ImportError(.unsupported, "graph input '\(value.name)' is not a tensor (sequences, maps and optionals are not supported)")
            }
            let dims: [Input.Dimension] = tensor.shape.dim.map { dim in
                switch dim.value {
                case .dimValue(let size)?: .fixed(Int(size))
                case .dimParam(let name)?: name.isEmpty ? .unknown : .symbolic(name)
                case nil: .unknown
                }
            }
            // A shape field with no dims declares a scalar; no shape field declares nothing.
            inputs.append(Input(name: value.name, elementType: tensor.elemType, dims: tensor.hasShape ? dims : nil))
        }

        var outputTypes: [String: Int32] = [:]
        for value in graph.output {
            if case .tensorType(let tensor)? = value.type.value { outputTypes[value.name] = tensor.elemType }
        }
        return SourceGraph(name: graph.name, opset: opset, inputs: inputs, outputs: graph.output.map(\.name),
                           outputTypes: outputTypes,
                           nodes: try topologicallySorted(try decodeNodes(graph.node, decoder: decoder, depth: 0)),
                           initializers: initializers, elementTypes: elementTypes)
    }

    /// The deepest nesting of subgraphs decoded (If inside If ...); a deeper
    /// one is almost surely a hostile file.
    static let subgraphDepthLimit = 16

    /// Nodes with their attributes; subgraph attributes are decoded the same
    /// way, and what they read from outside becomes the node's implicit inputs.
    private static func decodeNodes(_ protos: [Onnx_NodeProto], decoder: TensorDecoder, depth: Int,
                                    prefix: String = "") throws(ImportError) -> [Node] {
        var nodes: [Node] = []
        nodes.reserveCapacity(protos.count)
        for (index, proto) in protos.enumerated() {
            var attributes: [String: Attribute] = [:]
            let name = proto.name.isEmpty ? "\(prefix)\(proto.opType)_\(index)" : proto.name
            var implicitInputs: [String] = []
            for attribute in proto.attribute {
                do throws(ImportError) {
                    // A subgraph with inputs is a Loop or Scan body: left undecoded, and the op refused with advice.
                    if attribute.type == .graph, attribute.g.input.isEmpty {
                        guard depth < subgraphDepthLimit else {
                            throw ImportError(.unsupported, "subgraphs are nested more than \(subgraphDepthLimit) deep")
                        }
                        let subgraph = try decodeSubgraph(attribute.g, decoder: decoder, depth: depth + 1, prefix: "\(name)/\(attribute.name)/")
                        implicitInputs += subgraph.outerReads
                        attributes[attribute.name] = .graph(subgraph)
                    } else {
                        attributes[attribute.name] = try decodeAttribute(attribute, decoder: decoder)
                    }
                } catch {
                    throw error.at(node: "node '\(name)' (\(proto.opType))")
                }
            }
            nodes.append(Node(name: name, op: proto.opType, domain: proto.domain,
                              inputs: proto.input, outputs: proto.output, attributes: attributes, implicitInputs: implicitInputs))
        }
        return nodes
    }

    private static func decodeSubgraph(_ graph: Onnx_GraphProto, decoder: TensorDecoder, depth: Int,
                                       prefix: String) throws(ImportError) -> Subgraph {
        var initializers: [String: ConstantTensor] = [:]
        for tensor in graph.initializer { initializers[tensor.name] = try decoder.decode(tensor, name: tensor.name) }
        let nodes = try decodeNodes(graph.node, decoder: decoder, depth: depth, prefix: prefix)
        return Subgraph(nodes: try topologicallySorted(nodes), outputs: graph.output.map(\.name), initializers: initializers)
    }

    private static func decodeAttribute(_ proto: Onnx_AttributeProto, decoder: TensorDecoder) throws(ImportError) -> Attribute {
        if !proto.refAttrName.isEmpty {
            return .unsupported("a reference to a function attribute")
        }
        switch proto.type {
        case .float: return .float(proto.f)
        case .int: return .int(proto.i)
        case .string: return .string(String(decoding: proto.s, as: UTF8.self))
        case .floats: return .floats(proto.floats)
        case .ints: return .ints(proto.ints)
        case .strings: return .strings(proto.strings.map { String(decoding: $0, as: UTF8.self) })
        case .tensor: return .tensor(try decoder.decode(proto.t, name: proto.t.name.isEmpty ? proto.name : proto.t.name))
        case .undefined:
            // IR before version 2 left `type` out; infer it from the field set.
            if proto.hasT { return .tensor(try decoder.decode(proto.t, name: proto.name)) }
            if !proto.ints.isEmpty { return .ints(proto.ints) }
            if !proto.floats.isEmpty { return .floats(proto.floats) }
            if !proto.s.isEmpty { return .string(String(decoding: proto.s, as: UTF8.self)) }
            if proto.f != 0 { return .float(proto.f) }
            return .int(proto.i)
        default: return .unsupported("an attribute of type \(proto.type)")
        }
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case BinaryDecodingError.truncated: "the data ends in the middle of a field"
        case BinaryDecodingError.malformedProtobuf: "malformed field data"
        case BinaryDecodingError.invalidUTF8: "a string is not valid UTF-8"
        case BinaryDecodingError.messageDepthLimit: "messages nested too deeply"
        default: "\(error)"
        }
    }
}
