import DemandFormat
import DemandIO
import DemandTensor

extension Session {
    struct ArenaSize {
        var capacity: Int
        var maxHeldRegions: Int
    }

    /// The arena size and depth a policy needs, checking the caller's options
    /// (a planned session's ring comes from its `StreamPlan` instead).
    static func arenaSize(model: Model, options: SessionOptions, layerBytes: [Int]) throws(RuntimeError) -> ArenaSize {
        let total = layerBytes.reduce(0, +)
        let largest = layerBytes.max() ?? 0
        try checkCommon(options)
        switch options.policy {
        case .resident, .bulk, .partial:
            return ArenaSize(capacity: max(total, 4096), maxHeldRegions: .max)
        case .linear:
            return ArenaSize(capacity: max(largest, 4096), maxHeldRegions: 1)
        case .deepeye:
            // The layers before the fully connected part, one at a time; that part has its own arena.
            let convolutional = layerBytes[..<(BackgroundReader.fullyConnectedStart(of: model) ?? layerBytes.count)]
            return ArenaSize(capacity: max(convolutional.max() ?? 0, 4096), maxHeldRegions: 1)
        case .mmap:
            return ArenaSize(capacity: 0, maxHeldRegions: 0)
        case .pipelined:
            guard options.depth >= 1 else {
                throw RuntimeError(.invalidOption, "depth must be at least 1 (got \(options.depth)): depth is how many layers are loaded ahead of the one executing; for no overlap use the linear policy")
            }
            let depth = min(options.depth, max(layerBytes.count - 1, 1))
            let minimum = BufferRing.minimumCapacity(layerBytes: layerBytes, depth: depth)
            guard let budget = options.budgetBytes else { return ArenaSize(capacity: minimum, maxHeldRegions: .max) }
            let largestIndex = layerBytes.firstIndex(of: largest) ?? 0
            guard budget >= largest else {
                throw RuntimeError(.budgetTooSmall, "a budget of \(budget) bytes cannot hold the largest layer (layer \(largestIndex) '\(model.layers[largestIndex].name)', \(largest) bytes): the smallest budget is \(largest) bytes, and \(minimum) bytes lets \(depth) layer\(depth == 1 ? "" : "s") load ahead everywhere")
            }
            return ArenaSize(capacity: Layout.roundUp(budget, to: Layout.fileAlignment), maxHeldRegions: .max)
        }
    }

    /// The checks every policy's options pass.
    static func checkCommon(_ options: SessionOptions) throws(RuntimeError) {
        guard options.threadCount >= 1 else {
            throw RuntimeError(.invalidOption, "thread count must be at least 1 (got \(options.threadCount))")
        }
        guard options.requestBytes >= 4096, options.requestBytes % 4096 == 0 else {
            throw RuntimeError(.invalidOption, "request size must be a positive multiple of 4096 bytes (got \(options.requestBytes))")
        }
        if let budget = options.budgetBytes, budget <= 0 {
            throw RuntimeError(.invalidOption, "budget must be a positive number of bytes (got \(budget))")
        }
    }

    /// Opens every layer file for the chosen engine: O_DIRECT where the
    /// filesystem allows it; under `auto`, buffered with pread where it does not.
    static func openFilesForEngine(_ model: Model, choice: IOEngineChoice) throws(RuntimeError) -> (files: [[DirectFile]], direct: Bool, choice: IOEngineChoice) {
        do {
            return (try openFiles(model, direct: true), true, choice)
        } catch let error where error.code == .directIONotSupported {
            guard choice == .auto || choice == .pread else { throw error }
            return (try openFiles(model, direct: false), false, .pread)
        }
    }

    static func openFiles(_ model: Model, direct: Bool) throws(RuntimeError) -> [[DirectFile]] {
        var files: [[DirectFile]] = []
        for (index, layer) in model.layers.enumerated() {
            var layerFiles: [DirectFile] = []
            for file in layer.files {
                let path = model.filePath(file)
                do {
                    layerFiles.append(try DirectFile(path: path, direct: direct))
                } catch {
                    for opened in files.joined() { opened.close() }
                    for opened in layerFiles { opened.close() }
                    let code: RuntimeError.Code = error.code == .directIONotSupported ? .directIONotSupported : .openFailed
                    let remedy = code == .directIONotSupported ? " (this filesystem refuses O_DIRECT; use --io auto or pread, or keep models on a disk filesystem such as ext4)" : ""
                    throw RuntimeError(code, "\(error.message)\(remedy)", layer: (index, layer.name), path: path)
                }
            }
            files.append(layerFiles)
        }
        return files
    }

    /// Reads and verifies every layer once, for the resident policy.
    static func loadResident(_ model: Model, ring: BufferRing, widening: Widening?, scheduler: ReadScheduler, fds: [[Int32]], chunkBytes: Int) throws(RuntimeError) -> (views: [[String: Tensor]], files: [[UnsafeMutableRawBufferPointer]]) {
        var reader = RingReader(model: model, ring: ring, scheduler: scheduler, fileDescriptors: fds, chunkBytes: chunkBytes)
        var files: [[UnsafeMutableRawBufferPointer]] = []
        var failure: RuntimeError?
        while !reader.isFinished {
            do {
                let step = try reader.step(issueNew: failure == nil, abandon: { false })
                if failure == nil, let (layer, error) = step.failures.first {
                    failure = RuntimeError(.readFailed, error.message, layer: (layer, model.layers[layer].name), path: error.path, offsetBytes: error.offsetBytes)
                }
                files += step.ready.map(\.files)
            } catch {
                failure = failure ?? RuntimeError(.readFailed, error.message, path: error.path, offsetBytes: error.offsetBytes)
                reader.giveUpOnHeldLayers()
            }
            if let failure, !reader.hasLayersHeld { throw failure }
        }
        var views: [[String: Tensor]] = []
        for (index, layer) in model.layers.enumerated() {
            if let mismatch = Pipeline.verify(model, layer: index, files: files[index]) { throw mismatch }
            // Sized to hold every layer: never waits. The regions stay held while the session lives.
            views.append(widening?.restore(layer: index, of: model, files: files[index], wait: false).views
                         ?? Pipeline.views(of: layer, files: files[index]))
        }
        return (views, files)
    }
}
