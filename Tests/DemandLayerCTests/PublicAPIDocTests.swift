import DemandTestSupport
import Foundation
import Testing

/// The library's public API, read from the built modules with
/// swift-symbolgraph-extract (so nothing public slips past a grep): every
/// public symbol of the library modules has a doc comment, and what
/// `import DemandLayer` shows mentions no type it does not re-export (the
/// list in Sources/DemandLayer/Exports.swift).
@Suite struct PublicAPIDocTests {
    /// The build directory holding `Modules/DemandLayer.swiftmodule`: the
    /// one this test binary was built into.
    static func buildDirectory() -> URL? {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        for _ in 0..<6 {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Modules/DemandLayer.swiftmodule").path) { return url }
        }
        return nil
    }

    static func tool(_ name: String) -> String? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let path = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    static let toolPath = tool("swift-symbolgraph-extract")
    static let build = buildDirectory()

    struct Symbol {
        var path: [String]
        var documented: Bool
        var file: String
        /// The mangled names of the types its declaration mentions.
        var mentionedTypes: [String]
    }

    /// The public symbols of `module` (including its extensions of other
    /// modules' types).
    static func symbols(of module: String) throws -> [Symbol] {
        let tool = try #require(toolPath), build = try #require(build)
        let output = URL(fileURLWithPath: Scratch.directory("symbols\(module)"))
        defer { Scratch.remove(output.path) }
        #if arch(x86_64)
        let target = "x86_64-unknown-linux-gnu"
        #else
        let target = "aarch64-unknown-linux-gnu"
        #endif
        var arguments = ["-module-name", module, "-I", build.appendingPathComponent("Modules").path, "-target", target,
                         "-output-dir", output.path, "-minimum-access-level", "public", "-skip-synthesized-members"]
        // The C modules the Swift modules import, as SwiftPM passes them.
        let entries = try FileManager.default.contentsOfDirectory(atPath: build.path)
        for entry in entries where entry.hasSuffix(".build") {
            let map = build.appendingPathComponent(entry).appendingPathComponent("module.modulemap").path
            if FileManager.default.fileExists(atPath: map) { arguments += ["-Xcc", "-fmodule-map-file=\(map)"] }
        }
        for include in try FileManager.default.contentsOfDirectory(atPath: Scratch.packageRoot + "/Sources") {
            arguments += ["-Xcc", "-I\(Scratch.packageRoot)/Sources/\(include)/include"]
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "swift-symbolgraph-extract \(module) failed: \(message)")

        var found: [Symbol] = []
        for file in try FileManager.default.contentsOfDirectory(atPath: output.path) where file.hasPrefix(module) {
            let data = try Data(contentsOf: output.appendingPathComponent(file))
            let graph = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            for symbol in graph["symbols"] as? [[String: Any]] ?? [] {
                let path = symbol["pathComponents"] as? [String] ?? []
                let lines = (symbol["docComment"] as? [String: Any])?["lines"] as? [[String: Any]] ?? []
                let text = lines.compactMap { $0["text"] as? String }.joined().trimmingCharacters(in: .whitespaces)
                let location = ((symbol["location"] as? [String: Any])?["uri"] as? String) ?? "?"
                let fragments = symbol["declarationFragments"] as? [[String: Any]] ?? []
                let mentioned = fragments.filter { $0["kind"] as? String == "typeIdentifier" }.compactMap { $0["preciseIdentifier"] as? String }
                found.append(Symbol(path: path, documented: !text.isEmpty, file: location, mentionedTypes: mentioned))
            }
        }
        return found
    }

    /// (module, type) for each `@_exported import KIND MODULE.TYPE` in Exports.swift.
    static func reexports() throws -> [(module: String, type: String)] {
        let source = try String(contentsOfFile: Scratch.packageRoot + "/Sources/DemandLayer/Exports.swift", encoding: .utf8)
        return source.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ")
            guard words.count == 4, words[0] == "@_exported", words[1] == "import" else { return nil }
            let parts = words[3].split(separator: ".")
            return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
        }
    }

    /// (module, top-level type) of a mangled Swift type name such as
    /// `s:12DemandFormat11FormatErrorV4CodeO`; nil for the standard library
    /// (`s:Si`, `s:s6UInt64V`) and C types.
    static func owner(ofMangled name: String) -> (module: String, type: String)? {
        var rest = Substring(name)
        guard rest.hasPrefix("s:") else { return nil }
        rest = rest.dropFirst(2)
        func identifier() -> String? {
            let digits = rest.prefix(while: \.isNumber)
            guard let length = Int(digits), length > 0 else { return nil }
            rest = rest.dropFirst(digits.count)
            let word = rest.prefix(length)
            rest = rest.dropFirst(length)
            return String(word)
        }
        guard let module = identifier(), let type = identifier() else { return nil }
        return (module, type)
    }

    static let enabled = toolPath != nil && build != nil
    static let skipReason: Comment = "needs swift-symbolgraph-extract on PATH (it ships with the toolchain) and the built modules next to the test binary"

    /// The public API mentions no type of the modules under DemandLayer that
    /// DemandLayer does not re-export: a user never meets a type they cannot name.
    @Test(.enabled(if: enabled, skipReason))
    func noInternalTypeLeaks() throws {
        let reexports = try Self.reexports()
        var symbols = try Self.symbols(of: "DemandLayer") + Self.symbols(of: "DemandLayerC")
        for (module, type) in reexports {
            symbols += try Self.symbols(of: module).filter { $0.path.first == type }
        }
        var leaks: [String] = []
        for symbol in symbols {
            for mangled in symbol.mentionedTypes {
                guard let (module, type) = Self.owner(ofMangled: mangled), ["DemandFormat", "DemandTensor", "DemandIO"].contains(module) else { continue }
                if !reexports.contains(where: { $0.module == module && $0.type == type }) {
                    leaks.append("\(symbol.path.joined(separator: ".")) mentions \(module).\(type)")
                }
            }
        }
        #expect(symbols.contains { !$0.mentionedTypes.isEmpty }, "declarations carry their types")
        #expect(Self.owner(ofMangled: "s:12DemandFormat11FormatErrorV4CodeO")! == ("DemandFormat", "FormatError"))
        #expect(leaks.isEmpty, "public API mentioning types that are not re-exported:\n\(leaks.joined(separator: "\n"))")
    }

    /// The modules the library products link: DemandLayer (Swift) and
    /// DemandLayerC (C) with everything under them.
    static let libraryModules = ["DemandLayer", "DemandLayerC", "DemandFormat", "DemandTensor", "DemandIO"]

    @Test(.enabled(if: enabled, skipReason))
    func everyPublicSymbolHasADocComment() throws {
        var undocumented: [String] = []
        var checked: [String: Int] = [:]
        for module in Self.libraryModules {
            for symbol in try Self.symbols(of: module) {
                checked[module, default: 0] += 1
                if !symbol.documented { undocumented.append("\(module).\(symbol.path.joined(separator: ".")) (\(symbol.file))") }
            }
        }
        for module in Self.libraryModules {
            #expect(checked[module, default: 0] > 10, "the symbol graph of \(module) holds its public API (\(checked[module, default: 0]) symbols)")
        }
        #expect(undocumented.isEmpty, "public symbols without a doc comment:\n\(undocumented.joined(separator: "\n"))")
    }
}
