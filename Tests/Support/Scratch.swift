import DemandFormat
import DemandZoo
import Foundation

/// Test files live on the disk the package is on (never tmpfs), so O_DIRECT
/// and io_uring are exercised for real: `<package>/.build/test-scratch/`.
public enum Scratch {
    public static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }   // Tests/Support/Scratch.swift → package root
        return url.path
    }()

    public static let root = packageRoot + "/.build/test-scratch"

    /// The file names in `fixtures/<subdirectory>`, sorted (none if it is missing).
    public static func fixtureNames(in subdirectory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: packageRoot + "/fixtures/" + subdirectory)) ?? []).sorted()
    }

    /// A fresh, empty directory for one test.
    public static func directory(_ name: String = #function) -> String {
        let clean = name.filter { $0.isLetter || $0.isNumber }
        let path = "\(root)/\(clean)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.removeItem(atPath: path)
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The tiny built-in model, made once per process and shared read-only.
    public static let tinyModelPath: String = {
        let path = directory("shared") + "/tiny.dlm"
        try! Zoo.make("tiny", at: path)
        return path
    }()

    /// A private copy of the tiny model, for tests that damage it.
    public static func tinyCopy(_ name: String = #function) -> String {
        let path = directory(name) + "/tiny.dlm"
        try! FileManager.default.copyItem(atPath: tinyModelPath, toPath: path)
        // A planned session saves the model's profile beside it; a copy starts without one.
        try? FileManager.default.removeItem(atPath: path + "/profile.json")
        return path
    }

    public static func remove(_ path: String) { try? FileManager.default.removeItem(atPath: path) }
}
