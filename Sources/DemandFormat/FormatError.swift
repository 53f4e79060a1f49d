/// Why a model directory could not be opened or written, and where.
public struct FormatError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case manifestUnreadable
        case manifestMalformed
        case unsupportedVersion
        case layerFileMissing
        case layerFileSize
        case invalidLayout
        case invalidGraph
        case writeFailed
    }

    public let code: Code
    public let message: String
    /// The file the problem is in (the manifest or a layer file).
    public let path: String?
    /// The layer the problem is in, by index and name.
    public let layer: (index: Int, name: String)?

    public init(_ code: Code, _ message: String, path: String? = nil, layer: (index: Int, name: String)? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.layer = layer
    }

    public var description: String {
        var text = ""
        if let path { text += "\(path): " }
        if let layer { text += "layer \(layer.index) '\(layer.name)': " }
        return text + message
    }
}
