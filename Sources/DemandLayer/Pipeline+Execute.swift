import DemandFormat
import DemandTensor
import Glibc

extension Pipeline {
    func executeLoop() {
        var activations: [String: Tensor] = [:]
        var held: [(LoadedLayer, [String: Tensor])] = []   // bulk: everything is read before anything runs
        var waitStart = Clock.now()
        while true {
            let message = executeInbox.receive()
            switch message {
            case .layer(let job, let loaded, let weights):
                if loaded.index == 0 { activations = job.inputs }
                let stall = Clock.now() - waitStart
                job.executeStalls[loaded.index] = stall
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
        if !job.isFailed {
            job.executeSpans[index].startNanoseconds = job.elapsed()
            weightObserver?(weights)
            let layer = model.layers[index]
            let operators = model.operators[index]
            for (nodeIndex, node) in layer.nodes.enumerated() {
                let inputs = node.inputs.map { weights[$0] ?? activations[$0]! }
                let output = activationArena.tensor(node.outputs[0], shape: model.shapes[node.outputs[0]]!)
                do {
                    try operators[nodeIndex].execute(inputs: inputs, output: output, workspace: workspace)
                } catch {
                    job.fail(RuntimeError(.operatorFailed, "\(node.label): \(error.message)", layer: layerPlace(index)))
                    break
                }
                activations[node.outputs[0]] = output
            }
            job.executeSpans[index].endNanoseconds = job.elapsed()
        }
        if let region = loaded.region, policy != .resident { ring?.release(region) }
        if let widened = loaded.widened { widening?.ring.release(widened) }
    }

    private func finish(_ job: Job, activations: [String: Tensor]) {
        switch source {
        case .ring(let ring, _): job.peakWeightBytes = ring.byteCounts.peak
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
        if !job.isFailed {
            // Copied out: the next inference reuses the arena.
            for output in model.manifest.outputs {
                let value = activations[output.name]!
                job.outputs[output.name] = Tensor(shape: value.shape, values: value.array)
            }
        }
        job.finished.signal()
    }
}
