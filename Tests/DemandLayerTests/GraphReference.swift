import DemandFormat
import DemandTensor
import Foundation

/// Runs a whole model the plain way: every weight file read with Foundation,
/// every node through the naive `Reference` kernels, on one thread. Shares no
/// code with the session's IO, ring, stages or fast kernels.
enum GraphReference {
    /// Layer `layerIndex`'s weights, read from its files with Foundation.
    static func weights(_ model: Model, layer layerIndex: Int) throws -> [String: Tensor] {
        let layer = model.layers[layerIndex]
        var fileBytes: [Data] = []
        for file in layer.files { fileBytes.append(try Data(contentsOf: URL(fileURLWithPath: model.filePath(file)))) }
        var values: [String: Tensor] = [:]
        for weight in layer.weights {
            let floats: [Float] = fileBytes[weight.file].withUnsafeBytes { raw in
                Array(UnsafeBufferPointer(start: (raw.baseAddress! + weight.offsetBytes).assumingMemoryBound(to: Float.self),
                                          count: weight.shape.elementCount))
            }
            values[weight.name] = Tensor(shape: weight.shape, values: floats)
        }
        return values
    }

    static func run(_ model: Model, inputs: [String: Tensor]) throws -> [String: Tensor] {
        var values = inputs
        for (layerIndex, layer) in model.layers.enumerated() {
            values.merge(try weights(model, layer: layerIndex)) { _, new in new }
            for (nodeIndex, node) in layer.nodes.enumerated() {
                let op = model.operators[layerIndex][nodeIndex]
                let output = Tensor(zeros: model.shapes[node.outputs[0]]!)
                Reference.execute(op, inputs: node.inputs.map { values[$0]! }, output: output)
                values[node.outputs[0]] = output
            }
        }
        return Dictionary(uniqueKeysWithValues: model.manifest.outputs.map { ($0.name, values[$0.name]!) })
    }
}

func bitIdentical(_ a: [String: Tensor], _ b: [String: Tensor]) -> Bool {
    guard a.keys.sorted() == b.keys.sorted() else { return false }
    for (name, tensor) in a {
        guard let other = b[name], other.shape == tensor.shape,
              memcmp(tensor.data, other.data, tensor.elementCount * 4) == 0 else { return false }
    }
    return true
}
