import DemandFormat
import DemandIO

/// Why a session could not open or an inference did not finish, and where:
/// the layer, the file and the byte offset when the failure concerns one.
public struct RuntimeError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case invalidOption
        case budgetTooSmall
        case directIONotSupported
        case ioEngineUnavailable
        case openFailed
        case readFailed
        case checksumMismatch
        case invalidInput
        /// An operator failed on the values it was given (a Gather index out of range).
        case operatorFailed
        case cancelled
        case sessionClosed
    }

    public let code: Code
    public let message: String
    public var layer: (index: Int, name: String)?
    public var path: String?
    public var offsetBytes: Int64?

    public init(_ code: Code, _ message: String, layer: (index: Int, name: String)? = nil, path: String? = nil, offsetBytes: Int64? = nil) {
        self.code = code
        self.message = message
        self.layer = layer
        self.path = path
        self.offsetBytes = offsetBytes
    }

    public var description: String {
        var place: [String] = []
        if let layer { place.append("layer \(layer.index) '\(layer.name)'") }
        if let path { place.append(path) }
        if let offsetBytes { place.append("offset \(offsetBytes)") }
        return place.isEmpty ? message : place.joined(separator: ", ") + ": " + message
    }
}
