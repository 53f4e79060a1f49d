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
                    // Deepeye: the background part starts now, and reaches restore after the rest.
                    background?.inbox.send(.run(job))
                    let handOn = { (loaded: LoadedLayer) in
                        job.bytesRead += loaded.files.reduce(0) { $0 + $1.count }
                        self.restoreInbox.send(.layer(job, loaded, weights: [:]))
                    }
                    // Partial takes every region and queues every read at once (its arena holds them all);
                    // the others read the first layer alone first (see `RingReader.firstLayerAlone`).
                    readThroughRing(job, ring: ring, scheduler: scheduler, units: 0..<(background?.firstUnit ?? units.count),
                                    firstLayerAlone: policy != .partial, handOn: handOn)
                    if let background { forwardBackground(background, handOn: handOn) }
                    turns?.readFinished(job)
                case .resident(_, let views, let files):
                    for index in 0..<model.layers.count {
                        restoreInbox.send(.layer(job, LoadedLayer(index: index, unit: index, region: nil, files: files[index]), weights: views[index]))
                    }
                case .mapped(let fds): map(job, fds: fds)
                }
                restoreInbox.send(.end(job))
            case .stop:
                background?.inbox.send(.stop)
                restoreInbox.send(.stop)
                return
            case .layer, .end:
                preconditionFailure("the read stage receives only run and stop")
            }
        }
    }

    /// Reads units `range` into the ring in order, keeping as many in flight
    /// as the ring's bytes allow, and hands each to `handOn` once all its
    /// files are in. After a failure it issues nothing new, waits for what is
    /// in flight, and still hands on every unit whose region it took, so the
    /// execute stage releases them all, in order. The read thread reads the
    /// session's ring with it; deepeye's background reader, its own.
    func readThroughRing(_ job: Job, ring: BufferRing, scheduler: ReadScheduler, units range: Range<Int>, firstLayerAlone: Bool,
                         handOn: (LoadedLayer) -> Void) {
        // A row-gathered table reads the rows this run's indices ask for.
        var runUnits = units
        for (index, gather) in gatherUnits where range.contains(index) {
            runUnits[index] = gather.unit(indices: job.inputs[gather.indicesName]!)
            job.gatherExtents[gather.layer] = runUnits[index].extents
        }
        // The reader numbers its units from 0; `first +` turns them back into indices of `units`.
        let first = range.lowerBound
        var reader = RingReader(model: model, units: Array(runUnits[range]), ring: ring, scheduler: scheduler, fileDescriptors: fileDescriptors,
                                chunkBytes: requestBytes, checksumsChunks: true, firstLayerAlone: firstLayerAlone,
                                continuesRing: turns != nil)
        func fail(_ error: IOError, unit: Int) {
            job.fail(RuntimeError(.readFailed, error.message, layer: layerPlace(units[min(first + unit, range.upperBound - 1)].layer), path: error.path, offsetBytes: error.offsetBytes))
        }
        while !reader.isFinished && !(job.isFailed && !reader.hasLayersHeld) {
            let step: RingReader.Step
            do {
                step = try reader.step(issueNew: !job.isFailed, abandon: { job.isFailed }) { index in
                    if units[first + index].isFirstPiece { job.readSpans[units[first + index].layer].startNanoseconds = job.elapsed() }
                }
            } catch {
                fail(error, unit: reader.handedOnCount)
                reader.giveUpOnHeldLayers()
                continue
            }
            for (unit, error) in step.failures { fail(error, unit: unit) }
            for index in step.finished {
                let layer = units[first + index].layer
                job.readSpans[layer].endNanoseconds = max(job.readSpans[layer].endNanoseconds, job.elapsed())
            }
            for ready in step.ready {
                let unit = units[first + ready.index]
                if unit.isLastPiece && job.readSpans[unit.layer].endNanoseconds == 0 { job.readSpans[unit.layer].endNanoseconds = job.elapsed() }
                handOn(LoadedLayer(index: unit.layer, unit: first + ready.index, region: ready.region, files: ready.files, fileChecksums: ready.fileChecksums))
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
