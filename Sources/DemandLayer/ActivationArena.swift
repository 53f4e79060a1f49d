import DemandFormat
import DemandIO
import DemandTensor

/// The session's activation memory: every value a node computes gets a fixed
/// place in one arena, planned when the session opens, so an inference
/// allocates no tensor memory at all.
///
/// Planning: each value lives from the node that writes it to the last node
/// that reads it (graph outputs to the end). Values are placed largest first,
/// each at the lowest offset that no value alive at the same time occupies,
/// so a node's output never shares bytes with its inputs, with one exception:
/// a convolution with a fused residual whose kernel reads each element's
/// residual just before writing it (`sharesResidual`) writes its output over
/// the residual when that is the residual's last read. The two then form one
/// value (a ResNet stage's block outputs all share one place), and the output
/// is not a separate stream of memory beside the residual. Offsets are 64-byte
/// aligned.
///
/// Ownership and threads: the execute thread alone writes and reads the
/// arena, one inference at a time. Graph outputs are copied out of it before
/// an inference returns, since the next one reuses the bytes. The bytes live
/// in an `ActivationStorage`: the session's own, or one that the sessions of
/// a `Runtime` share, whose inferences execute one at a time.
final class ActivationArena: @unchecked Sendable {
    /// Each planned value's offset in floats.
    let offsets: [String: Int]
    let floatCount: Int
    let storage: ActivationStorage

    /// Plans `model`'s values into `shared`, or into storage of its own (allocated now) when nil;
    /// `sharesResidual(layer, node)`: whether that node may write its output over its residual input.
    init(model: Model, shared: ActivationStorage? = nil, sharesResidual: (Int, Int) -> Bool = { _, _ in false }) {
        let plan = Self.plan(model, sharesResidual: sharesResidual)
        offsets = plan.offsets
        floatCount = max(plan.floatCount, 16)
        storage = shared ?? ActivationStorage()
        if shared == nil { storage.reserve(byteCount: byteCount) }
    }

    var byteCount: Int { floatCount * MemoryLayout<Float>.stride }

    /// The tensor for `value`, a view into the arena.
    func tensor(_ value: String, shape: Shape) -> Tensor {
        let base = storage.base.assumingMemoryBound(to: Float.self)
        return Tensor(shape: shape, borrowing: base + offsets[value]!)
    }

    struct Plan {
        var offsets: [String: Int]
        var floatCount: Int
    }

    static func plan(_ model: Model, sharesResidual: (Int, Int) -> Bool = { _, _ in false }) -> Plan {
        struct Value { let name: String; let floats: Int; let first: Int; var last: Int }
        var values: [String: Value] = [:]
        var order: [String] = []
        // Nodes that may write their output over their residual (the last of four inputs).
        var residuals: [(step: Int, residual: String, output: String, input: String)] = []
        var step = 0
        for (layerIndex, layer) in model.layers.enumerated() {
            for (nodeIndex, node) in layer.nodes.enumerated() {
                for input in node.inputs where values[input] != nil { values[input]!.last = step }
                let output = node.outputs[0]
                let floats = (model.shapes[output]!.elementCount + 15) / 16 * 16
                values[output] = Value(name: output, floats: floats, first: step, last: step)
                order.append(output)
                if node.inputs.count == 4 && sharesResidual(layerIndex, nodeIndex) {
                    residuals.append((step, node.inputs[3], output, node.inputs[0]))
                }
                step += 1
            }
        }
        for output in model.manifest.outputs where values[output.name] != nil { values[output.name]!.last = step }

        // An output written over its residual joins the residual's group (the group of its first member).
        var group: [String: String] = [:]
        func root(_ name: String) -> String { group[name].map(root) ?? name }
        for r in residuals {
            guard let residual = values[r.residual], residual.last == r.step, residual.floats == values[r.output]!.floats,
                  r.residual != r.input else { continue }
            group[r.output] = root(r.residual)
        }
        var members: [String: Value] = [:]  // each group's span, under its root's name
        for name in order {
            let value = values[name]!, key = root(name)
            if var span = members[key] {
                span.last = max(span.last, value.last)
                members[key] = span
            } else {
                members[key] = Value(name: key, floats: value.floats, first: value.first, last: value.last)
            }
        }

        let bySize = members.values.sorted { ($0.floats, $1.name) > ($1.floats, $0.name) }
        var placed: [(value: Value, offset: Int)] = []
        var offsets: [String: Int] = [:]
        var total = 0
        for value in bySize {
            let conflicts = placed.filter { $0.value.first <= value.last && value.first <= $0.value.last }
                .map { ($0.offset, $0.offset + $0.value.floats) }
                .sorted { $0.0 < $1.0 }
            var offset = 0
            for (start, end) in conflicts where offset + value.floats > start {
                offset = max(offset, end)
            }
            placed.append((value, offset))
            offsets[value.name] = offset
            total = max(total, offset + value.floats)
        }
        for name in order { offsets[name] = offsets[root(name)] }
        return Plan(offsets: offsets, floatCount: total)
    }
}

/// The bytes behind one or more activation arenas: one aligned block that
/// grows to the largest arena planned into it and never shrinks.
///
/// Threads: `reserve` and `base` are called by whichever thread is the only
/// one executing into the storage (the session's execute thread, or, in a
/// `Runtime`, the execute thread holding the execute turn); no lock.
final class ActivationStorage: @unchecked Sendable {
    private var buffer: AlignedBuffer?
    /// Bytes the block holds.
    private(set) var byteCount = 0

    var base: UnsafeMutableRawPointer { buffer!.base }

    /// Grows the block to at least `byteCount` bytes (its contents are not kept).
    func reserve(byteCount wanted: Int) {
        guard wanted > byteCount else { return }
        buffer = nil
        let block = AlignedBuffer(byteCount: wanted)
        #if DEBUG
        // Poison, so a kernel that reads an output before writing it shows up as NaN in tests.
        block.base.bindMemory(to: Float.self, capacity: wanted / 4).initialize(repeating: .nan, count: wanted / 4)
        #endif
        buffer = block
        byteCount = wanted
    }
}
