#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reference LSTM and GRU in Double, one time step and one hidden unit at a
/// time, written from the ONNX operator definitions (inputs and the stacked
/// output as `RecurrentParameters` describes).
extension Reference {
    static func recurrent(_ parameters: RecurrentParameters, _ inputs: [Tensor], y: Tensor) {
        let x = inputs[0]
        let (steps, batch, inputSize) = (x.shape[0], x.shape[1], x.shape[2])
        let (hidden, directions) = (parameters.hiddenSize, parameters.directionCount)
        let rows = parameters.gateCount * hidden
        func input(_ index: Int) -> Tensor? { inputs.count > index ? inputs[index] : nil }
        for i in 0..<y.elementCount { y.data[i] = 0 }
        func clip(_ v: Double) -> Double {
            guard let bound = parameters.clip.map(Double.init) else { return v }
            return Swift.min(Swift.max(v, -bound), bound)
        }
        func sigmoid(_ v: Double) -> Double { 1 / (1 + exp(-v)) }
        for d in 0..<directions {
            let reverse = parameters.direction == .reverse || d == 1
            let w = inputs[1].data + d * rows * inputSize, r = inputs[2].data + d * rows * hidden
            let bias = input(3).map { $0.data + d * 2 * rows }
            func wb(_ row: Int) -> Double { bias.map { Double($0[row]) } ?? 0 }
            func rb(_ row: Int) -> Double { bias.map { Double($0[rows + row]) } ?? 0 }
            for b in 0..<batch {
                let length = input(4).map { Int($0.data[b]) } ?? steps
                var h = (0..<hidden).map { j in input(5).map { Double($0.data[(d * batch + b) * hidden + j]) } ?? 0 }
                var c = (0..<hidden).map { j in
                    parameters.kind == .lstm ? input(6).map { Double($0.data[(d * batch + b) * hidden + j]) } ?? 0 : 0
                }
                let peepholes = parameters.kind == .lstm ? input(7).map { $0.data + d * 3 * hidden } : nil
                for k in 0..<length {
                    let t = reverse ? length - 1 - k : k
                    let xt = x.data + (t * batch + b) * inputSize
                    // Xt·W[row]ᵀ + Wb[row], and H·R[row]ᵀ + Rb[row].
                    func fromInput(_ row: Int) -> Double {
                        (0..<inputSize).reduce(wb(row)) { $0 + Double(xt[$1]) * Double(w[row * inputSize + $1]) }
                    }
                    func fromState(_ row: Int, _ state: [Double]) -> Double {
                        (0..<hidden).reduce(rb(row)) { $0 + state[$1] * Double(r[row * hidden + $1]) }
                    }
                    var next = h
                    if parameters.kind == .lstm {
                        func p(_ gate: Int, _ j: Int) -> Double { peepholes.map { Double($0[gate * hidden + j]) } ?? 0 }
                        for j in 0..<hidden {
                            let i = sigmoid(clip(fromInput(j) + fromState(j, h) + p(0, j) * c[j]))
                            let f = parameters.inputForget
                                ? 1 - i : sigmoid(clip(fromInput(2 * hidden + j) + fromState(2 * hidden + j, h) + p(2, j) * c[j]))
                            let candidate = tanh(clip(fromInput(3 * hidden + j) + fromState(3 * hidden + j, h)))
                            let cell = f * c[j] + i * candidate
                            let o = sigmoid(clip(fromInput(hidden + j) + fromState(hidden + j, h) + p(1, j) * cell))
                            next[j] = o * tanh(cell)
                            c[j] = cell
                        }
                    } else {
                        let z = (0..<hidden).map { sigmoid(clip(fromInput($0) + fromState($0, h))) }
                        let reset = (0..<hidden).map { sigmoid(clip(fromInput(hidden + $0) + fromState(hidden + $0, h))) }
                        let resetState = (0..<hidden).map { reset[$0] * h[$0] }
                        for j in 0..<hidden {
                            let row = 2 * hidden + j
                            let recurrent = parameters.linearBeforeReset ? reset[j] * fromState(row, h) : fromState(row, resetState)
                            let candidate = tanh(clip(fromInput(row) + recurrent))
                            next[j] = (1 - z[j]) * candidate + z[j] * h[j]
                        }
                    }
                    h = next
                    for j in 0..<hidden { y.data[((t * directions + d) * batch + b) * hidden + j] = Float(h[j]) }
                }
                if length == 0 {
                    // onnxruntime's final states for an empty sequence: zeros, not the initial states.
                    h = .init(repeating: 0, count: hidden)
                    c = h
                }
                for j in 0..<hidden {
                    y.data[((steps * directions + d) * batch + b) * hidden + j] = Float(h[j])
                    if parameters.kind == .lstm { y.data[(((steps + 1) * directions + d) * batch + b) * hidden + j] = Float(c[j]) }
                }
            }
        }
    }
}
