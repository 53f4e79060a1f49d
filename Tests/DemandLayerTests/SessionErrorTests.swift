import DemandFormat
import DemandIO
@testable import DemandLayer
import DemandTensor
import DemandTestSupport
import Foundation
import Testing

/// Bad input ends in a clear error naming what and where; the session stays usable.
@Suite struct SessionErrorTests {
    func expectFailure(code: RuntimeError.Code, mentioning fragments: [String], _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("expected a \(code) error")
        } catch let error as RuntimeError {
            #expect(error.code == code, "\(error)")
            for fragment in fragments { #expect(error.description.contains(fragment), "'\(error)' should mention '\(fragment)'") }
        } catch {
            Issue.record("unexpected error type: \(error)")
        }
    }

    /// Overwrites `count` bytes at `offset` of a file, returning what was there.
    @discardableResult
    func overwrite(_ path: String, at offset: UInt64, with bytes: [UInt8]) throws -> [UInt8] {
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: offset)
        let original = [UInt8](try handle.read(upToCount: bytes.count) ?? Data())
        try handle.seek(toOffset: offset)
        try handle.write(contentsOf: Data(bytes))
        return original
    }

    @Test(arguments: [Policy.pipelined, .linear, .bulk, .mmap])
    func checksumMismatchNamesLayerFileAndOffsetThenRecovers(policy: Policy) throws {
        let path = Scratch.tinyCopy("checksum\(policy)")
        let model = try Model.open(path)
        let session = try Session(model: model, options: .init(policy: policy))
        let good = try session.run(tinyInputs())
        let file = path + "/layers/0004.bin"
        let original = try overwrite(file, at: 100, with: [0xDE, 0xAD, 0xBE, 0xEF])
        expectFailure(code: .checksumMismatch, mentioning: ["layer 4", "layers/0004.bin", "offset 0", "CRC-32C"]) {
            _ = try session.run(tinyInputs())
        }
        #expect(session.pipeline.ring.map { $0.byteCounts.held } ?? 0 == 0, "a failed inference left ring bytes held")
        try overwrite(file, at: 100, with: original)
        #expect(bitIdentical(try session.run(tinyInputs()), good), "the session is usable after a failure")
    }

    @Test func fileTruncatedAfterOpenIsAReadError() throws {
        let path = Scratch.tinyCopy()
        let model = try Model.open(path)
        let session = try Session(model: model, options: .init(policy: .pipelined, io: .uring))
        let file = path + "/layers/0002.bin"
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        try handle.truncate(atOffset: 0)
        try handle.close()
        expectFailure(code: .readFailed, mentioning: ["layer 2", "layers/0002.bin", "offset"]) {
            _ = try session.run(tinyInputs())
        }
        #expect(session.pipeline.ring!.byteCounts.held == 0)
    }

    @Test func wrongInputShapeOrName() throws {
        let session = try Session(model: try Model.open(Scratch.tinyModelPath))
        expectFailure(code: .invalidInput, mentioning: ["'input'", "2x3x32x32", "1x3x32x32"]) {
            _ = try session.run(["input": Tensor(zeros: [2, 3, 32, 32])])
        }
        expectFailure(code: .invalidInput, mentioning: ["'input'", "missing"]) { _ = try session.run([:]) }
        expectFailure(code: .invalidInput, mentioning: ["'image'", "not an input"]) {
            var inputs = tinyInputs()
            inputs["image"] = Tensor(zeros: [1])
            _ = try session.run(inputs)
        }
        #expect(try session.run(tinyInputs()).count == 1)
    }

    @Test func budgetBelowTheLargestLayerIsRefusedWithTheMinimum() throws {
        let model = try Model.open(Scratch.tinyModelPath)
        let largest = model.largestLayerByteCount
        expectFailure(code: .budgetTooSmall, mentioning: ["\(largest) bytes", "smallest budget"]) {
            _ = try Session(model: model, options: .init(policy: .pipelined, budgetBytes: largest - 4096))
        }
        let smallest = try Session(model: model, options: .init(policy: .pipelined, depth: 4, budgetBytes: largest))
        let expected = try Session(model: model, options: .init(policy: .resident)).run(tinyInputs())
        #expect(bitIdentical(try smallest.run(tinyInputs()), expected), "a one-layer budget still runs, without overlap")
        #expect(smallest.lastStats!.peakWeightBytes <= largest)
    }

    @Test func depthZeroIsRefused() throws {
        expectFailure(code: .invalidOption, mentioning: ["depth must be at least 1", "got 0"]) {
            _ = try Session(model: try Model.open(Scratch.tinyModelPath), options: .init(policy: .pipelined, depth: 0))
        }
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/dev/shm"), "needs /dev/shm (tmpfs) to test a filesystem without O_DIRECT"))
    func directoryWithoutDirectIO() throws {
        let path = "/dev/shm/demandlayer-test-\(getpid()).dlm"
        defer { Scratch.remove(path) }
        try FileManager.default.copyItem(atPath: Scratch.tinyModelPath, toPath: path)
        let model = try Model.open(path)
        expectFailure(code: .directIONotSupported, mentioning: ["O_DIRECT", "layers/0000.bin"]) {
            _ = try Session(model: model, options: .init(io: .uring))
        }
        let fallback = try Session(model: model, options: .init(io: .auto))
        #expect(fallback.ioEngine == .pread && !fallback.isDirect)
        let expected = try Session(model: try Model.open(Scratch.tinyModelPath), options: .init(policy: .resident)).run(tinyInputs())
        #expect(bitIdentical(try fallback.run(tinyInputs()), expected))
    }

    @Test func runAfterCloseIsRefused() throws {
        let session = try Session(model: try Model.open(Scratch.tinyModelPath))
        session.close()
        expectFailure(code: .sessionClosed, mentioning: ["closed"]) { _ = try session.run(tinyInputs()) }
    }
}
