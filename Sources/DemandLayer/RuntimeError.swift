import DemandFormat
import DemandIO

/// Why a session could not open or an inference did not finish, and where:
/// the layer, the file and the byte offset when the failure concerns one.
public struct RuntimeError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure it is.
    public enum Code: String, Sendable {
        /// A session option is out of range (depth, thread count, request size).
        case invalidOption
        /// The budget cannot hold the model's largest layer.
        case budgetTooSmall
        /// The filesystem refuses O_DIRECT and the chosen engine needs it.
        case directIONotSupported
        /// The chosen IO engine cannot be set up here.
        case ioEngineUnavailable
        /// A layer file could not be opened.
        case openFailed
        /// A layer file could not be read in full.
        case readFailed
        /// A layer file's bytes do not match its CRC-32C in the manifest.
        case checksumMismatch
        /// An input is missing, unknown or of the wrong shape.
        case invalidInput
        /// An operator failed on the values it was given (a Gather index out of range).
        case operatorFailed
        /// `Session.cancel()` ended the inference.
        case cancelled
        /// The inference passed its deadline (`run(_:timeoutNanoseconds:)`).
        case timedOut
        /// `run` was called after `close`.
        case sessionClosed
    }

    /// What kind of failure it is.
    public let code: Code
    /// What went wrong and, where there is one, what to do about it.
    public let message: String
    /// The layer concerned, by index in execution order and name.
    public var layer: (index: Int, name: String)?
    /// The file concerned.
    public var path: String?
    /// The byte offset in `path` where the failure happened.
    public var offsetBytes: Int64?

    /// A failure of kind `code`, described by `message`, at the given place.
    public init(_ code: Code, _ message: String, layer: (index: Int, name: String)? = nil, path: String? = nil, offsetBytes: Int64? = nil) {
        self.code = code
        self.message = message
        self.layer = layer
        self.path = path
        self.offsetBytes = offsetBytes
    }

    /// The place (layer, file, offset) followed by the message.
    public var description: String {
        var place: [String] = []
        if let layer { place.append("layer \(layer.index) '\(layer.name)'") }
        if let path { place.append(path) }
        if let offsetBytes { place.append("offset \(offsetBytes)") }
        return place.isEmpty ? message : place.joined(separator: ", ") + ": " + message
    }
}
