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
/// so a node's output never shares bytes with its inputs. Offsets are
/// 64-byte aligned.
///
/// Ownership and threads: the execute thread alone writes and reads the
/// arena, one inference at a time. Graph outputs are copied out of it before
/// an inference returns, since the next one reuses the bytes.
final class ActivationArena: @unchecked Sendable {
    /// Each planned value's offset in floats.
    let offsets: [String: Int]
    let floatCount: Int
    private let buffer: AlignedBuffer

    init(model: Model) {
        let plan = Self.plan(model)
        offsets = plan.offsets
        floatCount = max(plan.floatCount, 16)
        buffer = AlignedBuffer(byteCount: floatCount * MemoryLayout<Float>.stride)
        #if DEBUG
        // Poison, so a kernel that reads an output before writing it shows up as NaN in tests.
        let floats = buffer.base.bindMemory(to: Float.self, capacity: floatCount)
        floats.initialize(repeating: .nan, count: floatCount)
        #endif
    }

    var byteCount: Int { floatCount * MemoryLayout<Float>.stride }

    /// The tensor for `value`, a view into the arena.
    func tensor(_ value: String, shape: Shape) -> Tensor {
        let base = buffer.base.assumingMemoryBound(to: Float.self)
        return Tensor(shape: shape, borrowing: base + offsets[value]!)
    }

    struct Plan {
        var offsets: [String: Int]
        var floatCount: Int
    }

    static func plan(_ model: Model) -> Plan {
        struct Value { let name: String; let floats: Int; let first: Int; var last: Int }
        var values: [String: Value] = [:]
        var order: [String] = []
        var step = 0
        for layer in model.layers {
            for node in layer.nodes {
                for input in node.inputs where values[input] != nil { values[input]!.last = step }
                let output = node.outputs[0]
                let floats = (model.shapes[output]!.elementCount + 15) / 16 * 16
                values[output] = Value(name: output, floats: floats, first: step, last: step)
                order.append(output)
                step += 1
            }
        }
        for output in model.manifest.outputs where values[output.name] != nil { values[output.name]!.last = step }

        let bySize = order.map { values[$0]! }.sorted { ($0.floats, $1.name) > ($1.floats, $0.name) }
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
        return Plan(offsets: offsets, floatCount: total)
    }
}
