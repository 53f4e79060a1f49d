#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Plain, obviously-correct versions of every operator, kept for tests and
/// for checking the fast kernels: one output element at a time, straight
/// from the ONNX definition, accumulating in Double. Slow by design; never
/// used to run a model.
public enum Reference {
    /// Computes `op` on `inputs` into `output`, whose shape must be
    /// `op.outputShape(inputs:)` of the input shapes.
    public static func execute(_ op: Operator, inputs: [Tensor], output: Tensor) {
        precondition((try? op.outputShape(inputs: inputs.map(\.shape))) == output.shape,
                     "\(op): inputs \(inputs.map(\.shape)) do not give output \(output.shape)")
        switch op {
        case .conv(let parameters):
            conv(parameters, x: inputs[0], w: inputs[1], b: inputs.count > 2 ? inputs[2] : nil,
                 residual: inputs.count > 3 ? inputs[3] : nil, y: output)
        case .maxPool(let parameters):
            maxPool(parameters, x: inputs[0], y: output)
        case .averagePool(let parameters):
            averagePool(parameters, x: inputs[0], y: output)
        case .globalAveragePool:
            globalAveragePool(x: inputs[0], y: output)
        case .globalMaxPool:
            globalMaxPool(x: inputs[0], y: output)
        case .add(let activation):
            add(inputs[0], inputs[1], activation: activation, y: output)
        case .concat(let axis):
            concat(inputs, axis: axis < 0 ? axis + output.shape.rank : axis, y: output)
        case .upsampleNearest(let scaleH, let scaleW):
            upsample(x: inputs[0], scaleH: scaleH, scaleW: scaleW, y: output)
        case .gemm(let parameters):
            gemm(parameters, a: inputs[0], b: inputs[1], c: inputs.count > 2 ? inputs[2] : nil, y: output)
        case .flatten:
            for i in 0..<output.elementCount { output.data[i] = inputs[0].data[i] }
        case .softmax(let axis):
            softmax(x: inputs[0], axis: axis < 0 ? axis + output.shape.rank : axis, y: output)
        case .logSoftmax(let axis):
            logSoftmax(x: inputs[0], axis: axis < 0 ? axis + output.shape.rank : axis, y: output)
        case .convTranspose(let parameters):
            convTranspose(parameters, x: inputs[0], w: inputs[1], b: inputs.count > 2 ? inputs[2] : nil, y: output)
        case .binary(let function):
            binary(function, inputs, y: output)
        case .where:
            select(condition: inputs[0], x: inputs[1], other: inputs[2], y: output)
        case .resize(let parameters):
            resize(x: inputs[0], parameters, y: output)
        case .pad(let parameters):
            pad(x: inputs[0], parameters, y: output)
        case .matMul:
            matMul(a: inputs[0], b: inputs[1], y: output)
        case .reshape, .squeeze, .unsqueeze:
            copyInOrder(x: inputs[0], y: output)
        case .transpose(let perm):
            transpose(x: inputs[0], perm: perm ?? Array((0..<inputs[0].shape.rank).reversed()), y: output)
        case .expand:
            expand(x: inputs[0], y: output)
        case .slice(let parameters):
            slice(x: inputs[0], parameters, y: output)
        case .gather(let axis):
            gather(data: inputs[0], indices: inputs[1], axis: axis, y: output)
        case .gatherElements(let axis):
            gatherElements(data: inputs[0], indices: inputs[1], axis: axis < 0 ? axis + inputs[0].shape.rank : axis, y: output)
        case .tile:
            tile(x: inputs[0], y: output)
        case .depthToSpace(let blockSize, let mode):
            depthToSpace(x: inputs[0], blockSize: blockSize, mode: mode, y: output)
        case .spaceToDepth(let blockSize):
            spaceToDepth(x: inputs[0], blockSize: blockSize, y: output)
        case .cumSum(let parameters):
            cumSum(parameters, x: inputs[0], y: output)
        case .instanceNormalization(let epsilon):
            instanceNormalization(x: inputs[0], scale: inputs[1], bias: inputs[2], epsilon: epsilon, y: output)
        case .groupNormalization(let groupCount, let epsilon):
            groupNormalization(x: inputs[0], scale: inputs[1], bias: inputs[2], groupCount: groupCount, epsilon: epsilon, y: output)
        case .layerNormalization(let axis, let epsilon):
            layerNormalization(x: inputs[0], scale: inputs[1], bias: inputs.count > 2 ? inputs[2] : nil, axis: axis, epsilon: epsilon, y: output)
        case .batchNormalization(let epsilon):
            batchNormalization(inputs, epsilon: epsilon, y: output)
        case .lrn(let parameters):
            lrn(parameters, x: inputs[0], y: output)
        case .reduce(let parameters):
            reduce(parameters, x: inputs[0], y: output)
        case .argReduce(let parameters):
            argReduce(parameters, x: inputs[0], y: output)
        case .topK(let parameters):
            topK(parameters, x: inputs[0], y: output)
        case .oneHot(let parameters):
            oneHot(parameters, indices: inputs[0], y: output)
        case .scatterND(let parameters):
            scatterND(parameters, data: inputs[0], indices: inputs[1], updates: inputs[2], y: output)
        case .unary(let function):
            unary(function, x: inputs[0], y: output)
        case .recurrent(let parameters):
            recurrent(parameters, inputs, y: output)
        case .activation(let activation):
            for i in 0..<output.elementCount {
                output.data[i] = Float(apply(activation, Double(inputs[0].data[i])))
            }
        }
    }

    /// The activation of one value, from its formula.
    static func apply(_ activation: Activation, _ x: Double) -> Double {
        switch activation {
        case .none: x
        case .relu: x > 0 ? x : 0
        case .leakyRelu(let alpha): x >= 0 ? x : Double(alpha) * x
        case .sigmoid: 1 / (1 + exp(-x))
        case .silu: x / (1 + exp(-x))
        case .clip(let low, let high): Swift.min(Swift.max(x, Double(low)), Double(high))
        }
    }

    /// Row-major offset of element (n, c, h, w) of a rank-4 tensor.
    static func offset(_ shape: Shape, _ n: Int, _ c: Int, _ h: Int, _ w: Int) -> Int {
        precondition(n < shape[0] && c < shape[1] && h < shape[2] && w < shape[3], "(\(n), \(c), \(h), \(w)) outside \(shape)")
        return ((n * shape[1] + c) * shape[2] + h) * shape[3] + w
    }

    /// The index along each axis of the element at row-major `offset`.
    static func multiIndex(_ offset: Int, in shape: Shape) -> [Int] {
        var index = [Int](repeating: 0, count: shape.rank)
        var rest = offset
        for axis in (0..<shape.rank).reversed() {
            index[axis] = rest % shape[axis]
            rest /= shape[axis]
        }
        return index
    }

    /// Row-major offset of `index` in `shape`.
    static func offset(_ index: [Int], in shape: Shape) -> Int {
        var offset = 0
        for axis in 0..<shape.rank {
            precondition(index[axis] >= 0 && index[axis] < shape[axis], "\(index) outside \(shape)")
            offset = offset * shape[axis] + index[axis]
        }
        return offset
    }
}
