import DemandFormat
import DemandTensor

extension Pipeline {
    func restoreLoop() {
        // The CRC-32C of a split layer's file so far: its head, then each piece as it arrives.
        var splitChecksum: UInt32 = 0
        while true {
            let message = restoreInbox.receive()
            switch message {
            case .layer(let job, let loaded, let weights):
                if policy == .resident || job.isFailed {
                    executeInbox.send(message)
                    continue
                }
                let unit = units[loaded.unit]
                if unit.isResident {
                    executeInbox.send(.layer(job, loaded, weights: held.views[loaded.index] ?? [:]))
                    continue
                }
                // A split layer's restore span is its last piece's: the time between pieces is the read's.
                job.restoreSpans[loaded.index].startNanoseconds = job.elapsed()
                var restored = loaded
                let views: [String: Tensor]?
                if let gather = gathers[loaded.index] {
                    if let mismatch = gather.verify(model, extents: job.gatherExtents[loaded.index] ?? [], buffers: loaded.files) { job.fail(mismatch) }
                    views = held.views[loaded.index] ?? [:]
                } else {
                    views = unit.isPiece ? restorePiece(loaded, unit: unit, job: job, checksum: &splitChecksum) : restore(&restored, job: job)
                }
                job.restoreSpans[loaded.index].endNanoseconds = job.elapsed()
                executeInbox.send(.layer(job, restored, weights: views ?? weights))
            case .end:
                executeInbox.send(message)
            case .stop:
                executeInbox.send(.stop)
                return
            case .run:
                preconditionFailure("the restore stage does not receive run")
            }
        }
    }

    /// Verifies each file's checksum and makes a tensor view over each weight:
    /// float32 ones in place, no byte copied; float16 and quantized ones widened into a
    /// region of the widening ring, recorded in `loaded` for execute to
    /// release. Nil (and the job failed) on a mismatch.
    func restore(_ loaded: inout LoadedLayer, job: Job) -> [String: Tensor]? {
        if let mismatch = Self.verify(model, layer: loaded.index, files: loaded.files, summed: loaded.fileChecksums) {
            job.fail(mismatch)
            return nil
        }
        guard let widening else { return Self.views(of: model.layers[loaded.index], files: loaded.files) }
        // Execute releases every region it is handed, in order, so a wait here ends.
        let restored = widening.restore(layer: loaded.index, of: model, files: loaded.files, wait: true)
        loaded.widened = restored.region
        return restored.views
    }

    /// One piece of a split layer: joins its CRC-32C into the file's so far
    /// and, at the last piece, checks the file's against the manifest (the
    /// pieces before have run, but their rows reach no later layer: the job
    /// fails first). The views are the layer's held weights; execute views
    /// the piece's weight rows itself. Nil (and the job failed) on a mismatch.
    func restorePiece(_ loaded: LoadedLayer, unit: ReadUnit, job: Job, checksum: inout UInt32) -> [String: Tensor]? {
        let held = self.held
        let sums = held.splitChecksums[unit.layer]!
        if unit.isFirstPiece { checksum = sums.head }
        let bytes = loaded.files[0]
        let pieceSum = loaded.fileChecksums?[0] ?? CRC32C.checksum(UnsafeRawBufferPointer(bytes))
        checksum = CRC32C.combine(checksum, pieceSum, secondByteCount: bytes.count)
        if unit.isLastPiece {
            if sums.tailBytes > 0 { checksum = CRC32C.combine(checksum, sums.tail, secondByteCount: sums.tailBytes) }
            let layer = model.layers[unit.layer]
            let file = layer.files[0]
            guard checksum == file.crc32c else {
                job.fail(RuntimeError(
                    .checksumMismatch,
                    "checksum mismatch over bytes 0..<\(file.byteCount) (read in \(unit.pieceCount) pieces): CRC-32C is \(hex(checksum)), the manifest says \(hex(file.crc32c)); the file is corrupt or changed since the model was written",
                    layer: (unit.layer, layer.name), path: model.filePath(file), offsetBytes: 0))
                return nil
            }
        }
        return held.views[unit.layer] ?? [:]
    }

    /// The first file of layer `index` whose bytes do not match the
    /// manifest's CRC-32C, as an error naming layer, file and offset.
    /// `summed`: each file's CRC-32C already summed by the read stage as its
    /// chunks landed (else the bytes are summed here).
    static func verify(_ model: Model, layer index: Int, files: [UnsafeMutableRawBufferPointer], summed: [UInt32]? = nil) -> RuntimeError? {
        let layer = model.layers[index]
        for (fileIndex, file) in layer.files.enumerated() {
            let actual = summed?[fileIndex] ?? CRC32C.checksum(UnsafeRawBufferPointer(files[fileIndex]))
            guard actual == file.crc32c else {
                return RuntimeError(
                    .checksumMismatch,
                    "checksum mismatch over bytes 0..<\(file.byteCount): CRC-32C is \(hex(actual)), the manifest says \(hex(file.crc32c)); the file is corrupt or changed since the model was written",
                    layer: (index, layer.name), path: model.filePath(file), offsetBytes: 0)
            }
        }
        return nil
    }

    /// Views over a layer with no float16 or quantized weights: every byte stays where it was read.
    static func views(of layer: Manifest.Layer, files: [UnsafeMutableRawBufferPointer]) -> [String: Tensor] {
        Widening.views(of: layer, files: files, widenInto: nil)
    }
}

func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16, uppercase: false) }
