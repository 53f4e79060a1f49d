import DemandFormat
import DemandTensor
import Glibc

extension Pipeline {
    func executeLoop() {
        var activations: [String: Tensor] = [:]
        var held: [(LoadedLayer, [String: Tensor])] = []   // bulk: everything is read before anything runs
        var waitStart = Clock.now()
        var current: Job?   // in a runtime: the inference holding the execute turn
        while true {
            let message = executeInbox.receive()
            if let turns, let job = message.job, job !== current {
                turns.waitForTurn(job, activationBytes: activationArena.byteCount)
                current = job
                waitStart = Clock.now()
            }
            switch message {
            case .layer(let job, let loaded, let weights):
                if loaded.index == 0 { activations = job.inputs }
                let stall = Clock.now() - waitStart
                job.executeStalls[loaded.index] += stall
                job.executeStallNanoseconds += stall
                if policy == .bulk {
                    held.append((loaded, weights))
                } else {
                    execute(loaded, weights: weights, job: job, activations: &activations)
                }
            case .end(let job):
                for (loaded, weights) in held { execute(loaded, weights: weights, job: job, activations: &activations) }
                held.removeAll(keepingCapacity: true)
                finish(job, activations: activations)
                activations = [:]
                current = nil
            case .stop:
                return
            case .run:
                preconditionFailure("the execute stage does not receive run")
            }
            waitStart = Clock.now()
        }
    }

    private func execute(_ loaded: LoadedLayer, weights: [String: Tensor], job: Job, activations: inout [String: Tensor]) {
        let index = loaded.index
        let unit = units[loaded.unit]
        if !job.isFailed {
            let start = job.elapsed()
            if unit.isFirstPiece { job.executeSpans[index].startNanoseconds = start }
            let nodeCount = model.layers[index].nodes.count
            let gather = gathers[index]
            let rows = unit.rows
            let split = rows == nil ? nil : splits[index]
            if let special = gather?.node ?? split?.node {
                // A piece of a split layer, or a row-gathered table: the nodes before the
                // special one with the first piece, its part, the nodes after it with the last.
                let before = unit.isFirstPiece ? 0..<special : special..<special
                let after = unit.isLastPiece ? (special + 1)..<nodeCount : nodeCount..<nodeCount
                if run(nodes: before, of: index, weights: weights, job: job, activations: &activations) {
                    if let gather {
                        runGather(gather, bytes: loaded.files, job: job, activations: &activations)
                    } else if let split, let rows {
                        runPiece(split, rows: rows, bytes: loaded.files[0], weights: weights, job: job, activations: &activations)
                    }
                }
                if !job.isFailed { _ = run(nodes: after, of: index, weights: weights, job: job, activations: &activations) }
            } else {
                weightObserver?(weights)
                _ = run(nodes: 0..<nodeCount, of: index, weights: weights, job: job, activations: &activations)
            }
            let end = job.elapsed()
            job.executeSpans[index].endNanoseconds = end
            job.executeBusy[index] += end - start
        }
        if let region = loaded.region, policy != .resident { ring(holding: loaded)?.release(region) }
        if let widened = loaded.widened { widening?.ring.release(widened) }
    }

    /// Runs nodes `range` of layer `index`; false (the job failed) if one failed.
    private func run(nodes range: Range<Int>, of index: Int, weights: [String: Tensor], job: Job, activations: inout [String: Tensor]) -> Bool {
        let layer = model.layers[index]
        for nodeIndex in range {
            let node = layer.nodes[nodeIndex]
            let inputs = node.inputs.map { weights[$0] ?? activations[$0]! }
            let output = activationArena.tensor(node.outputs[0], shape: model.shapes[node.outputs[0]]!)
            guard execute(node: nodeIndex, of: index, inputs: inputs, output: output, job: job) else { return false }
            activations[node.outputs[0]] = output
        }
        return true
    }

    /// The split node of a split layer on one piece's rows, into those rows of its output.
    private func runPiece(_ split: LayerSplit, rows: Range<Int>, bytes: UnsafeMutableRawBufferPointer, weights: [String: Tensor],
                          job: Job, activations: inout [String: Tensor]) {
        let node = model.layers[split.layer].nodes[split.node]
        let output = activationArena.tensor(split.outputName, shape: split.outputShape)
        let sliced = split.sliced(rows: rows, pieceBytes: bytes, input: weights[node.inputs[0]] ?? activations[node.inputs[0]]!,
                                  bias: split.biasName.map { weights[$0]! },
                                  residual: node.inputs.count > 3 ? weights[node.inputs[3]] ?? activations[node.inputs[3]] : nil, output: output)
        weightObserver?(weights.merging([split.weightName: sliced.inputs[1]]) { a, _ in a })
        if execute(node: split.node, of: split.layer, inputs: sliced.inputs, output: sliced.output, job: job) {
            activations[split.outputName] = output
        }
    }

    /// The Gather of a row-gathered table: the rows asked for, copied out of the chunks this run read.
    private func runGather(_ gather: RowGather, bytes: [UnsafeMutableRawBufferPointer], job: Job, activations: inout [String: Tensor]) {
        let output = activationArena.tensor(gather.outputName, shape: gather.outputShape)
        do {
            try gather.gather(indices: activations[gather.indicesName]!, tableShape: model.shapes[gather.tableName]!,
                              extents: job.gatherExtents[gather.layer] ?? [], buffers: bytes, output: output)
            activations[gather.outputName] = output
        } catch {
            fail(job, node: gather.node, of: gather.layer, error)
        }
    }

    private func execute(node nodeIndex: Int, of index: Int, inputs: [Tensor], output: Tensor, job: Job) -> Bool {
        do {
            if !exclusiveWeights.isEmpty { workspace.preparedWeights?.weightIsExclusive = exclusiveWeights[index][nodeIndex] }
            try model.operators[index][nodeIndex].execute(inputs: inputs, output: output, workspace: workspace)
            return true
        } catch {
            fail(job, node: nodeIndex, of: index, error)
            return false
        }
    }

    private func fail(_ job: Job, node nodeIndex: Int, of index: Int, _ error: OperatorError) {
        job.fail(RuntimeError(.operatorFailed, "\(model.layers[index].nodes[nodeIndex].label): \(error.message)", layer: layerPlace(index)))
    }

    private func finish(_ job: Job, activations: [String: Tensor]) {
        defer { job.finished.signal() }
        if let turns {
            // The runtime counts its shared ring and every model's held bytes.
            job.peakWeightBytes = turns.peakWeightBytes
            copyOutputs(job, activations: activations)
            turns.executeFinished(job)
            return
        }
        switch source {
        case .ring(let ring, _): job.peakWeightBytes = ring.byteCounts.peak + held.byteCount + (background?.ring.byteCounts.peak ?? 0)
        case .resident(let ring, _, _): job.peakWeightBytes = ring.byteCounts.held
        case .mapped: job.peakWeightBytes = job.mappings.reduce(0) { $0 + $1.count }
        }
        if let ring = widening?.ring {
            if policy == .resident {
                job.peakWeightBytes += ring.byteCounts.held
            } else {
                job.peakWeightBytes += ring.byteCounts.peak
                ring.reset()
            }
        }
        for mapping in job.mappings { munmap(mapping.baseAddress, mapping.count) }
        job.mappings.removeAll()
        copyOutputs(job, activations: activations)
    }

    /// Copies the graph outputs out of the activation arena, which the next
    /// inference reuses; a typed output that would not convert exactly to its
    /// dtype fails the inference (see OutputValue.swift).
    private func copyOutputs(_ job: Job, activations: [String: Tensor]) {
        guard !job.isFailed else { return }
        for output in model.manifest.outputs {
            let value = activations[output.name]!
            if let bad = OutputValue.inexactElement(in: UnsafeBufferPointer(value.buffer), as: output.dtype) {
                job.fail(OutputValue.inexactError(output: output.name, dtype: output.dtype, index: bad.index, value: bad.value))
                return
            }
            job.outputs[output.name] = Tensor(shape: value.shape, values: value.array)
        }
    }
}
