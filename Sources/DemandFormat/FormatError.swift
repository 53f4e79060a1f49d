/// Why a model directory could not be opened or written, and where.
public struct FormatError: Error, CustomStringConvertible, Sendable {
    /// What kind of problem it is.
    public enum Code: String, Sendable {
        /// The directory or its manifest.json is missing, unreadable or too large.
        case manifestUnreadable
        /// manifest.json is not valid JSON of the expected structure.
        case manifestMalformed
        /// The manifest's format name or version is not one this reader knows.
        case unsupportedVersion
        /// A layer file listed in the manifest does not exist.
        case layerFileMissing
        /// A layer file's size differs from the manifest's.
        case layerFileSize
        /// A weight lies outside its file, is misaligned or overlaps another.
        case invalidLayout
        /// An operator, attribute, value name or shape in the graph is wrong.
        case invalidGraph
        /// Writing a model failed (disk full, no permission).
        case writeFailed
    }

    /// What kind of problem it is.
    public let code: Code
    /// What is wrong and, where there is one, what to do about it.
    public let message: String
    /// The file the problem is in (the manifest or a layer file).
    public let path: String?
    /// The layer the problem is in, by index and name.
    public let layer: (index: Int, name: String)?

    /// An error of kind `code` described by `message`, at `path` and `layer` when given.
    public init(_ code: Code, _ message: String, path: String? = nil, layer: (index: Int, name: String)? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.layer = layer
    }

    /// The place (file, layer) followed by the message.
    public var description: String {
        var text = ""
        if let path { text += "\(path): " }
        if let layer { text += "layer \(layer.index) '\(layer.name)': " }
        return text + message
    }
}
