import CURing
import DemandFormat
import DemandIO
import Glibc

extension Pipeline {
    func readLoop() {
        while true {
            switch readInbox.receive() {
            case .run(let job):
                switch source {
                case .ring(let ring, let scheduler):
                    readThroughRing(job, ring: ring, scheduler: scheduler)
                    turns?.readFinished(job)
                case .resident(_, let views, let files):
                    for index in 0..<model.layers.count {
                        restoreInbox.send(.layer(job, LoadedLayer(index: index, unit: index, region: nil, files: files[index]), weights: views[index]))
                    }
                case .mapped(let fds): map(job, fds: fds)
                }
                restoreInbox.send(.end(job))
            case .stop:
                restoreInbox.send(.stop)
                return
            case .layer, .end:
                preconditionFailure("the read stage receives only run and stop")
            }
        }
    }

    /// Reads every layer into the ring in order, keeping as many layers in
    /// flight as the ring's budget allows, and hands each to restore once all
    /// its files are in. After a failure it issues nothing new, waits for what
    /// is in flight, and still hands every acquired region along so the
    /// execute stage releases them in order.
    private func readThroughRing(_ job: Job, ring: BufferRing, scheduler: ReadScheduler) {
        // A row-gathered table reads the rows this run's indices ask for.
        var runUnits = units
        for (index, gather) in gatherUnits {
            runUnits[index] = gather.unit(indices: job.inputs[gather.indicesName]!)
            job.gatherExtents[gather.layer] = runUnits[index].extents
        }
        var reader = RingReader(model: model, units: runUnits, ring: ring, scheduler: scheduler, fileDescriptors: fileDescriptors,
                                chunkBytes: requestBytes, checksumsChunks: true, firstLayerAlone: true, continuesRing: turns != nil)
        func fail(_ error: IOError, unit: Int) {
            job.fail(RuntimeError(.readFailed, error.message, layer: layerPlace(units[min(unit, units.count - 1)].layer), path: error.path, offsetBytes: error.offsetBytes))
        }
        while !reader.isFinished && !(job.isFailed && !reader.hasLayersHeld) {
            let step: RingReader.Step
            do {
                step = try reader.step(issueNew: !job.isFailed, abandon: { job.isFailed }) { index in
                    if units[index].isFirstPiece { job.readSpans[units[index].layer].startNanoseconds = job.elapsed() }
                }
            } catch {
                fail(error, unit: reader.handedOnCount)
                reader.giveUpOnHeldLayers()
                continue
            }
            for (unit, error) in step.failures { fail(error, unit: unit) }
            for index in step.finished {
                let layer = units[index].layer
                job.readSpans[layer].endNanoseconds = max(job.readSpans[layer].endNanoseconds, job.elapsed())
                job.bytesRead += runUnits[index].byteCount
            }
            for ready in step.ready {
                let unit = units[ready.index]
                if unit.isLastPiece && job.readSpans[unit.layer].endNanoseconds == 0 { job.readSpans[unit.layer].endNanoseconds = job.elapsed() }
                let loaded = LoadedLayer(index: unit.layer, unit: ready.index, region: ready.region, files: ready.files, fileChecksums: ready.fileChecksums)
                restoreInbox.send(.layer(job, loaded, weights: [:]))
            }
        }
    }

    /// The mmap policy: drop each file's page cache, then map every layer and
    /// let the restore and execute stages fault the pages in.
    private func map(_ job: Job, fds: [[Int32]]) {
        for layerFds in fds { for fd in layerFds { _ = dl_fadvise_dontneed(fd) } }
        for (index, layer) in model.layers.enumerated() where !job.isFailed {
            job.readSpans[index].startNanoseconds = job.elapsed()
            var files: [UnsafeMutableRawBufferPointer] = []
            for (fileIndex, file) in layer.files.enumerated() {
                let address = mmap(nil, file.byteCount, PROT_READ, MAP_SHARED, fds[index][fileIndex], 0)
                guard let address, address != MAP_FAILED else {
                    job.fail(RuntimeError(.readFailed, "mmap failed: \(String(cString: strerror(errno)))", layer: layerPlace(index), path: model.filePath(file), offsetBytes: 0))
                    break
                }
                let mapping = UnsafeMutableRawBufferPointer(start: address, count: file.byteCount)
                job.mappings.append(mapping)
                files.append(mapping)
            }
            job.readSpans[index].endNanoseconds = job.elapsed()
            guard files.count == layer.files.count else { break }
            job.bytesRead += layer.byteCount
            restoreInbox.send(.layer(job, LoadedLayer(index: index, unit: index, region: nil, files: files), weights: [:]))
        }
    }
}
