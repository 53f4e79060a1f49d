import DemandIO
@testable import DemandLayer
import DemandTestSupport
import Foundation
import Testing

/// Records each batch of requests the read stage submits, and passes them on.
final class SubmissionRecorder: IOEngine, @unchecked Sendable {
    let inner: any IOEngine
    private let lock = NSLock()
    private var batches: [[String]] = []   // the files each submission reads
    init(_ inner: any IOEngine) { self.inner = inner }
    var kind: IOEngineKind { inner.kind }
    var queueDepth: Int { inner.queueDepth }
    var usesRegisteredBuffers: Bool { inner.usesRegisteredBuffers }
    func register(arena: UnsafeMutableRawBufferPointer) throws(IOError) { try inner.register(arena: arena) }
    func submit(_ requests: [ReadRequest]) throws(IOError) {
        let paths = requests.map { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0.fd)")) ?? "?" }
        lock.withLock { batches.append(paths) }
        try inner.submit(requests)
    }
    func waitCompletions(minimum: Int) throws(IOError) -> [ReadCompletion] { try inner.waitCompletions(minimum: minimum) }
    func takeBatches() -> [[String]] { lock.withLock { defer { batches = [] }; return batches } }
}

@Suite struct FirstLayerTests {
    /// The first layer is read on its own: the first submission of each run
    /// reads only layer 0's file(s), and nothing else is submitted until it is in.
    @Test func firstSubmissionOfEachRunIsTheFirstLayerAlone() throws {
        let model = try Model.open(Scratch.tinyModelPath)
        nonisolated(unsafe) var recorder: SubmissionRecorder?
        var options = SessionOptions(policy: .pipelined)
        options.engineWrapper = { engine in
            let wrapped = SubmissionRecorder(engine)
            recorder = wrapped
            return wrapped
        }
        let session = try Session(model: model, options: options)
        defer { session.close() }
        let firstLayerFiles = Set(model.layers[0].files.map { URL(fileURLWithPath: model.filePath($0)).resolvingSymlinksInPath().path })
        #expect(model.layers.count > 2)
        for _ in 0..<2 {
            _ = try session.run(tinyInputs())
            let batches = try #require(recorder).takeBatches()
            let first = try #require(batches.first)
            #expect(Set(first) == firstLayerFiles, "first batch reads \(first)")
            #expect(batches.count > 1)
        }
    }
}
