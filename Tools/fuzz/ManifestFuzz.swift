// libFuzzer target for the model reader: arbitrary bytes as manifest.json,
// then `Model.open` (header check, full decode, validation of every layer,
// weight, node and shape). Any outcome but a crash, a hang or a sanitizer
// report is a pass; a `FormatError` is the expected answer to bad bytes.
//
// The model directory holds the layer files of the built-in `tiny` model, so
// inputs mutated from its manifest (the seed in fixtures/fuzz/manifest/seeds)
// get past the file checks and into the graph and shape checks.
//
// Built and run by Tools/fuzz/run.sh (not by SwiftPM: an executable target's
// `main` is renamed, which clashes with libFuzzer's own `main`).
import DemandFormat
import DemandZoo
import Foundation

/// The directory every input is written into, made on the first call.
private let modelDirectory: String = {
    let base = ProcessInfo.processInfo.environment["FUZZ_WORK_DIR"] ?? NSTemporaryDirectory()
    let path = "\(base)/demandlayer-fuzz-\(getpid())/tiny.dlm"
    try? FileManager.default.removeItem(atPath: path)
    try! FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try! Zoo.make("tiny", at: path)
    return path
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzManifest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let manifest = modelDirectory + "/manifest.json"
    guard FileManager.default.createFile(atPath: manifest, contents: Data(bytes: data, count: size)) else {
        fatalError("cannot write \(manifest)")
    }
    do {
        let model = try Model.open(modelDirectory)
        // Whatever opens must be self-consistent enough to describe.
        _ = (model.name, model.weightByteCount, model.largestLayerByteCount)
    } catch {
        _ = error.description
    }
    return 0
}
