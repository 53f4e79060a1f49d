/// Why an ONNX model could not be converted, and where: the model or data
/// file, and the node (by name and op type) when one is at fault.
public struct ImportError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// The model file could not be read.
        case unreadable
        /// The bytes are not a valid ONNX protobuf (malformed or truncated).
        case malformed
        /// The model is valid protobuf but not a graph this importer can take
        /// (missing graph, bad references, sequence or map types).
        case invalidModel
        /// An operator, operator set or attribute the runtime does not support.
        case unsupported
        /// A dimension left symbolic; fix it with `--input-shape`.
        case unresolvedShape
        /// An external data file is missing or too short.
        case externalData
        /// A constant that cannot be stored (integers beyond float32's exact range).
        case valueRange
        /// Writing the converted model failed; nothing was left behind.
        case writeFailed
    }

    public let code: Code
    public let message: String
    /// The file at fault (the model, an external data file or the output).
    public let path: String?
    /// The node at fault, as "node 'name' (OpType)".
    public let node: String?

    public init(_ code: Code, _ message: String, path: String? = nil, node: String? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.node = node
    }

    public var description: String {
        var text = ""
        if let path { text += "\(path): " }
        if let node { text += "\(node): " }
        return text + message
    }

    /// The same error attributed to `node` unless it already names one.
    func at(node label: String) -> ImportError {
        node == nil ? ImportError(code, message, path: path, node: label) : self
    }
}
