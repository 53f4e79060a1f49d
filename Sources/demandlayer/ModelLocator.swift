import DemandFormat
import DemandLayer
import DemandZoo
import Foundation

/// Finds a model by path or built-in name, making built-in ones on first use.
enum ModelLocator {
    static func cacheDirectory(_ explicit: String?) -> String {
        if let explicit { return explicit }
        if let fromEnvironment = ProcessInfo.processInfo.environment["DEMANDLAYER_CACHE"], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        return FileManager.default.homeDirectoryForCurrentUser.path + "/.cache/demandlayer"
    }

    static func open(_ nameOrPath: String, cache: String?) throws -> Model {
        if FileManager.default.fileExists(atPath: nameOrPath) || nameOrPath.contains("/") || nameOrPath.hasSuffix(".dlm") {
            return try Model.open(nameOrPath)
        }
        guard Zoo.entry(named: nameOrPath) != nil else {
            throw CommandFailure("'\(nameOrPath)' is neither a model directory nor a built-in model (\(Zoo.entries.map(\.name).joined(separator: ", ")))")
        }
        let directory = cacheDirectory(cache)
        let path = "\(directory)/\(nameOrPath).dlm"
        if FileManager.default.fileExists(atPath: path + "/manifest.json") {
            return try Model.open(path)
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return try make(nameOrPath, at: path)
    }

    static func make(_ name: String, at path: String) throws -> Model {
        let bar = ProgressBar(label: "making \(name)")
        let model = try Zoo.make(name, at: path) { done, total in bar.update(done: done, total: total) }
        bar.finish(note: "\(path) (\(model.layers.count) layers, \(formatMiB(model.weightByteCount)))")
        return model
    }
}

/// A failure to report to the user as "error: <message>" with a non-zero exit.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Bytes for people: "219.3 MiB", "36.0 KiB".
func formatMiB(_ bytes: Int) -> String {
    bytes >= 1 << 20 || bytes == 0
        ? String(format: "%.1f MiB", Double(bytes) / 1_048_576)
        : String(format: "%.1f KiB", Double(bytes) / 1024)
}
