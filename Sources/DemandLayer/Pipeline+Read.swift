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
                case .ring(let ring, let scheduler): readThroughRing(job, ring: ring, scheduler: scheduler)
                case .resident(_, let views, let files):
                    for index in 0..<model.layers.count {
                        restoreInbox.send(.layer(job, LoadedLayer(index: index, region: nil, files: files[index]), weights: views[index]))
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
    /// flight as the ring's depth and budget allow, and hands each to restore
    /// once all its files are in. After a failure it issues nothing new, waits
    /// for what is in flight, and still hands every acquired region along so
    /// the execute stage releases them in order.
    private func readThroughRing(_ job: Job, ring: BufferRing, scheduler: ReadScheduler) {
        let layers = model.layers
        let count = layers.count
        ring.reset()
        var regions = [BufferRing.Region?](repeating: nil, count: count)
        var filesLeft = [Int](repeating: 0, count: count)
        var nextToIssue = 0
        var nextToForward = 0
        while true {
            while nextToIssue < count && !job.isFailed {
                let layer = layers[nextToIssue]
                let mustWait = nextToIssue == nextToForward && scheduler.pendingExtentCount == 0
                guard let region = ring.acquire(layerIndex: nextToIssue, byteCount: layer.byteCount, wait: mustWait, abandon: { job.isFailed }) else { break }
                regions[nextToIssue] = region
                job.readSpans[nextToIssue].startNanoseconds = job.elapsed()
                var offset = region.offsetBytes
                for (fileIndex, file) in layer.files.enumerated() {
                    scheduler.enqueue(ReadExtent(
                        id: nextToIssue << 8 | fileIndex, fd: fileDescriptors[nextToIssue][fileIndex],
                        path: filePaths[nextToIssue][fileIndex], offsetBytes: 0, byteCount: file.byteCount,
                        destination: ring.base + offset))
                    offset += file.byteCount
                }
                filesLeft[nextToIssue] = layer.files.count
                if layer.files.isEmpty { job.readSpans[nextToIssue].endNanoseconds = job.readSpans[nextToIssue].startNanoseconds }
                nextToIssue += 1
            }
            do { try scheduler.submitPending() } catch {
                job.fail(RuntimeError(.readFailed, "\(error)", layer: layerPlace(nextToForward), path: error.path, offsetBytes: error.offsetBytes))
            }
            while nextToForward < nextToIssue && filesLeft[nextToForward] == 0 {
                let region = regions[nextToForward]!
                let bytes = ring.bytes(of: region)
                var files: [UnsafeMutableRawBufferPointer] = []
                var offset = 0
                for file in layers[nextToForward].files {
                    files.append(UnsafeMutableRawBufferPointer(rebasing: bytes[offset..<(offset + file.byteCount)]))
                    offset += file.byteCount
                }
                restoreInbox.send(.layer(job, LoadedLayer(index: nextToForward, region: region, files: files), weights: [:]))
                nextToForward += 1
            }
            if nextToForward == nextToIssue {
                if nextToIssue == count || job.isFailed { break }
                continue
            }
            guard scheduler.pendingExtentCount > 0 else { continue }
            let results: [ExtentResult]
            do { results = try scheduler.waitForCompletedExtents() } catch {
                // The engine itself failed: nothing more will complete.
                job.fail(RuntimeError(.readFailed, "\(error)", layer: layerPlace(nextToForward), path: error.path, offsetBytes: error.offsetBytes))
                for index in nextToForward..<nextToIssue { filesLeft[index] = 0 }
                continue
            }
            for result in results {
                let index = result.id >> 8
                if let error = result.error {
                    job.fail(RuntimeError(.readFailed, error.message, layer: layerPlace(index), path: error.path, offsetBytes: error.offsetBytes))
                }
                filesLeft[index] -= 1
                if filesLeft[index] == 0 {
                    job.readSpans[index].endNanoseconds = job.elapsed()
                    job.bytesRead += layers[index].byteCount
                }
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
                    job.fail(RuntimeError(.readFailed, "mmap failed: \(String(cString: strerror(errno)))", layer: layerPlace(index), path: filePaths[index][fileIndex], offsetBytes: 0))
                    break
                }
                let mapping = UnsafeMutableRawBufferPointer(start: address, count: file.byteCount)
                job.mappings.append(mapping)
                files.append(mapping)
            }
            job.readSpans[index].endNanoseconds = job.elapsed()
            guard files.count == layer.files.count else { break }
            job.bytesRead += layer.byteCount
            restoreInbox.send(.layer(job, LoadedLayer(index: index, region: nil, files: files), weights: [:]))
        }
    }
}
