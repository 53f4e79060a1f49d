import DemandTensor
import Foundation

/// A model directory that has been opened and validated.
///
/// Opening reads `manifest.json`, checks the version, every layer file's
/// presence and size, every weight's placement, every operator and every
/// shape. It does not read weight bytes: their checksums are verified by the
/// restore stage as each layer is loaded.
///
/// Immutable after `open`, so it may be shared by any number of sessions and
/// threads.
public final class Model: Sendable {
    /// The model directory.
    public let path: String
    /// The parsed manifest.json (package-only: users see `inputs`, `outputs`
    /// and `layerNames` from DemandLayer instead of the file's structure).
    package let manifest: Manifest
    /// `operators[layer][node]`, parsed from the manifest.
    package let operators: [[Operator]]
    /// The shape of every value in the graph: inputs, weights and node outputs.
    package let shapes: [String: Shape]

    /// The model's name, from its manifest (`resnet152`).
    public var name: String { manifest.name }
    /// The layers in execution order, as the manifest lists them.
    package var layers: [Manifest.Layer] { manifest.layers }
    /// Bytes of all weight files (padded), the bytes one inference reads.
    public var weightByteCount: Int { manifest.layers.reduce(0) { $0 + $1.byteCount } }
    /// The largest layer's bytes: the least a buffer ring can hold.
    public var largestLayerByteCount: Int { manifest.layers.map(\.byteCount).max() ?? 0 }

    /// The absolute path of a layer file.
    package func filePath(_ file: Manifest.File) -> String { path + "/" + file.path }

    /// The largest manifest a reader accepts; a larger one is refused, not read.
    public static let manifestByteLimit = 256 << 20

    /// Opens and validates the model directory at `path` (`NAME.dlm`), naming
    /// the field, layer and file at fault when it is not valid. Reads no weights
    /// and keeps no file open.
    public static func open(_ path: String) throws(FormatError) -> Model {
        let directory = path.hasSuffix("/") ? String(path.dropLast()) : path
        let manifestPath = directory + "/manifest.json"
        let manifest = try readManifest(at: manifestPath)
        let validated = try Validator(directory: directory, manifestPath: manifestPath, manifest: manifest).run()
        return Model(path: directory, manifest: manifest, operators: validated.operators, shapes: validated.shapes)
    }

    init(path: String, manifest: Manifest, operators: [[Operator]], shapes: [String: Shape]) {
        self.path = path
        self.manifest = manifest
        self.operators = operators
        self.shapes = shapes
    }

    static func readManifest(at manifestPath: String) throws(FormatError) -> Manifest {
        var isDirectory: ObjCBool = false
        let directory = (manifestPath as NSString).deletingLastPathComponent
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FormatError(.manifestUnreadable, "no model directory here (expected NAME.dlm/ holding manifest.json)", path: directory)
        }
        let attributes = try? FileManager.default.attributesOfItem(atPath: manifestPath)
        guard let size = attributes?[.size] as? Int else {
            throw FormatError(.manifestUnreadable, "cannot read manifest.json: it is missing or not readable", path: manifestPath)
        }
        // An empty file is refused before it is read: besides being no
        // manifest, reading an empty file through FileManager leaks a page.
        guard size > 0 else {
            throw FormatError(.manifestMalformed, "manifest.json is empty; the model was not written completely", path: manifestPath)
        }
        guard size <= manifestByteLimit else {
            throw FormatError(.manifestMalformed, "manifest is \(size) bytes, over the \(manifestByteLimit)-byte limit", path: manifestPath)
        }
        guard let data = FileManager.default.contents(atPath: manifestPath) else {
            throw FormatError(.manifestUnreadable, "cannot read manifest.json", path: manifestPath)
        }
        // Check format and version before the full decode, so a newer model is
        // reported as such rather than as a missing field.
        struct Header: Decodable { var format: String?; var version: Int? }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: data)
        } catch {
            throw FormatError(.manifestMalformed, "not valid JSON (\(describe(error))); the file may be truncated or corrupt", path: manifestPath)
        }
        guard header.format == Manifest.formatName else {
            throw FormatError(.manifestMalformed, "field 'format' is \(header.format.map { "'\($0)'" } ?? "missing"), expected '\(Manifest.formatName)'", path: manifestPath)
        }
        guard let version = header.version else {
            throw FormatError(.manifestMalformed, "field 'version' is missing", path: manifestPath)
        }
        guard Manifest.readableVersions.contains(version) else {
            throw FormatError(.unsupportedVersion, "format version \(version) is not supported; this build reads versions \(Manifest.readableVersions.lowerBound) to \(Manifest.readableVersions.upperBound). Convert the model again with this build.", path: manifestPath)
        }
        do {
            return try JSONDecoder().decode(Manifest.self, from: data)
        } catch {
            throw FormatError(.manifestMalformed, describe(error), path: manifestPath)
        }
    }

    /// A decoding error in terms of manifest fields: "layers[3].weights[0].shape: expected an array".
    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func location(_ path: [any CodingKey]) -> String {
            var text = ""
            for key in path {
                if let index = key.intValue { text += "[\(index)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
            }
            return text.isEmpty ? "top level" : text
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = location(context.codingPath)
            return "field '\(key.stringValue)' is missing" + (context.codingPath.isEmpty ? "" : " in \(parent)")
        case .typeMismatch(let type, let context):
            return "\(location(context.codingPath)): expected \(type)"
        case .valueNotFound(let type, let context):
            return "\(location(context.codingPath)): expected \(type), found null"
        case .dataCorrupted(let context):
            let underlying = (context.underlyingError as NSError?)?.userInfo["NSDebugDescription"] as? String
            return "\(location(context.codingPath)): \(underlying ?? context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
