// libFuzzer target for the ONNX importer: arbitrary bytes as an .onnx file,
// converted to a model directory (protobuf decode, weight loading, lowering,
// folding, layering, writing and the final `Model.open`). Any outcome but a
// crash, a hang, running out of memory or a sanitizer report is a pass; an
// `ImportError` is the expected answer to bad bytes. Seeds: every model under
// fixtures/onnx/ops (gathered by Tools/fuzz/run.sh).
//
// Built and run by Tools/fuzz/run.sh onnx.
import DemandONNX
import Foundation

/// Where converted models are written (and removed), made on the first call.
private let workDirectory: String = {
    let base = ProcessInfo.processInfo.environment["FUZZ_WORK_DIR"] ?? NSTemporaryDirectory()
    let path = "\(base)/demandlayer-onnx-fuzz-\(getpid())"
    try? FileManager.default.removeItem(atPath: path)
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOnnx(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let destination = workDirectory + "/out.dlm"
    do {
        let summary = try Converter.convert(modelBytes: Data(bytes: data, count: size), directory: workDirectory, to: destination)
        _ = (summary.layerCount, summary.weightByteCount, summary.largestLayer)
    } catch {
        _ = error.description
    }
    try? FileManager.default.removeItem(atPath: destination)
    return 0
}
