/// ONNX LSTM and GRU (see `RecurrentParameters` for inputs and the stacked
/// output).
///
/// Per direction: the input projection of every step at once, one GEMM
/// W (gates·hidden, inputSize) · Xᵀ (inputSize, seqLength·batch) into
/// `projected` (W as stored is the GEMM's left operand, so only the small X
/// is transposed, once per run), with the biases that do not depend on the
/// reset gate added; then per step that step's column of each row gathered
/// into `gates`, one product of the state with Rᵀ accumulated onto it (a GEMV
/// when batch is 1, on R as stored; a GEMM on a transposed copy of R
/// otherwise, so both take the CKernels paths) and the gate arithmetic row
/// by row, with sigmoid and tanh from `VectorMath`.
///
/// Sequence lengths: entry b runs steps 0..<length[b]; in reverse, step k
/// reads time length[b] − 1 − k. An entry of length 0 gets zero final
/// states, as onnxruntime gives it.
enum Recurrent {
    /// Workspace floats `run` takes: Xᵀ, Rᵀ (only for batch > 1), the
    /// projection of every step, two (batch, gates·hidden) blocks, and the h
    /// and c states.
    static func workspaceFloatCount(_ parameters: RecurrentParameters, inputs: [Shape]) -> Int {
        floatCount(parameters, x: inputs[0])
    }

    private static func floatCount(_ parameters: RecurrentParameters, x: Shape) -> Int {
        let (hidden, rows) = (parameters.hiddenSize, parameters.gateCount * parameters.hiddenSize)
        return x.elementCount + transposedRCount(batch: x[1], hidden: hidden, rows: rows) + x[0] * x[1] * rows
            + 2 * x[1] * rows + 2 * x[1] * hidden
    }

    private static func transposedRCount(batch: Int, hidden: Int, rows: Int) -> Int { batch > 1 ? hidden * rows : 0 }

    /// Views into the workspace for one `run`.
    private struct Buffers {
        /// Xᵀ (inputSize, seqLength·batch); Rᵀ (hidden, gates·hidden);
        /// projected (gates·hidden, seqLength·batch); gates and scratch
        /// (batch, gates·hidden); h and c (batch, hidden).
        let transposedX, transposedR, projected, gates, scratch, h, c: UnsafeMutablePointer<Float>

        init(_ base: UnsafeMutablePointer<Float>, steps: Int, batch: Int, inputSize: Int, hidden: Int, rows: Int) {
            transposedX = base
            transposedR = transposedX + steps * batch * inputSize
            projected = transposedR + Recurrent.transposedRCount(batch: batch, hidden: hidden, rows: rows)
            gates = projected + steps * batch * rows
            scratch = gates + batch * rows
            h = scratch + batch * rows
            c = h + batch * hidden
        }
    }

    static func run(_ parameters: RecurrentParameters, inputs: [Tensor], output: Tensor, workspace: Workspace) throws(OperatorError) {
        let x = inputs[0]
        let (steps, batch, inputSize) = (x.shape[0], x.shape[1], x.shape[2])
        let lengths = inputs.count > 4 ? inputs[4] : nil
        if let lengths {
            for b in 0..<batch {
                let value = lengths.data[b]
                guard value >= 0, value <= Float(steps), value.rounded(.towardZero) == value else {
                    throw OperatorError(.indexOutOfRange,
                        "\(parameters.kind.rawValue) sequence_lens[\(b)] is \(value); it must be a whole number in 0...\(steps) (seq_length)")
                }
            }
        }
        let (hidden, rows) = (parameters.hiddenSize, parameters.gateCount * parameters.hiddenSize)
        let base = workspace.floats(floatCount(parameters, x: x.shape))
        let buffers = Buffers(base, steps: steps, batch: batch, inputSize: inputSize, hidden: hidden, rows: rows)
        let plane = batch * hidden
        // Y of steps past a row's length stays zero.
        output.data.update(repeating: 0, count: steps * parameters.directionCount * plane)
        transpose(x.data, rows: steps * batch, columns: inputSize, into: buffers.transposedX)
        for direction in 0..<parameters.directionCount {
            var pass = Pass(parameters: parameters, inputs: inputs, output: output, buffers: buffers, direction: direction,
                            steps: steps, batch: batch, path: workspace.gemmPath)
            pass.run()
        }
    }

    /// One direction over the whole sequence.
    private struct Pass {
        let parameters: RecurrentParameters
        let inputs: [Tensor]
        let output: Tensor
        let buffers: Buffers
        let direction: Int
        let steps, batch, inputSize, hidden, rows: Int
        let reverse: Bool
        let path: BLAS.Path
        /// R of this direction, (gates·hidden, hidden).
        let recurrence: UnsafePointer<Float>

        init(parameters: RecurrentParameters, inputs: [Tensor], output: Tensor, buffers: Buffers, direction: Int,
             steps: Int, batch: Int, path: BLAS.Path) {
            self.parameters = parameters
            self.inputs = inputs
            self.output = output
            self.buffers = buffers
            self.direction = direction
            self.steps = steps
            self.batch = batch
            self.inputSize = inputs[0].shape[2]
            self.hidden = parameters.hiddenSize
            self.rows = parameters.gateCount * parameters.hiddenSize
            self.reverse = parameters.direction == .reverse || direction == 1
            self.path = path
            self.recurrence = UnsafePointer(inputs[2].data + direction * rows * hidden)
        }

        private var lengths: Tensor? { inputs.count > 4 ? inputs[4] : nil }
        private func length(_ b: Int) -> Int { lengths.map { Int($0.data[b]) } ?? steps }

        mutating func run() {
            project()
            startStates()
            // Rᵀ for the GEMM of a batch; one row of state uses R as stored.
            if batch > 1 { transpose(recurrence, rows: rows, columns: hidden, into: buffers.transposedR) }
            var longest = 0
            for b in 0..<batch { longest = max(longest, length(b)) }
            let columns = steps * batch
            for k in 0..<longest {
                // Row b's gates start as column (time · batch + b) of the projection.
                let gates = buffers.gates
                for b in 0..<batch {
                    let row = gates + b * rows
                    guard k < length(b) else {
                        row.update(repeating: 0, count: rows)
                        continue
                    }
                    let column = buffers.projected + (reverse ? length(b) - 1 - k : k) * batch + b
                    for j in 0..<rows { row[j] = column[j * columns] }
                }
                if parameters.kind == .lstm { lstmStep(k, gates: gates) } else { gruStep(k, gates: gates) }
            }
            let plane = batch * hidden
            let directions = parameters.directionCount
            for state in 0..<parameters.stateCount {
                let row = output.data + ((steps + state) * directions + direction) * plane
                row.update(from: state == 0 ? buffers.h : buffers.c, count: plane)
                // onnxruntime gives zero final states to an entry of length 0, not its initial ones.
                for b in 0..<batch where length(b) == 0 { (row + b * hidden).update(repeating: 0, count: hidden) }
            }
        }

        /// projected = W · Xᵀ + the biases outside the reset gate, for every step.
        private func project() {
            let columns = steps * batch
            BLAS.sgemm(m: rows, n: columns, k: inputSize, a: inputs[1].data + direction * rows * inputSize, lda: inputSize,
                       b: buffers.transposedX, ldb: columns, c: buffers.projected, ldc: columns, path: path)
            guard inputs.count > 3 else { return }
            let wb = inputs[3].data + direction * 2 * rows, rb = wb + rows
            // GRU with linear_before_reset adds Rb_h inside r ⊙ (·), after the product.
            let inside = parameters.kind == .gru && parameters.linearBeforeReset ? 2 * hidden : rows
            for j in 0..<rows {
                let bias = wb[j] + (j < inside ? rb[j] : 0)
                let line = buffers.projected + j * columns
                for column in 0..<columns { line[column] += bias }
            }
        }

        private func startStates() {
            let plane = batch * hidden
            if inputs.count > 5 {
                buffers.h.update(from: inputs[5].data + direction * plane, count: plane)
            } else {
                buffers.h.update(repeating: 0, count: plane)
            }
            if parameters.kind == .lstm && inputs.count > 6 {
                buffers.c.update(from: inputs[6].data + direction * plane, count: plane)
            } else {
                buffers.c.update(repeating: 0, count: plane)
            }
        }

        /// c (batch, columns) (+)= state (batch, hidden) · R[first..<first + columns]ᵀ.
        private func recurrentProduct(_ state: UnsafePointer<Float>, firstRow first: Int, columns: Int,
                                      into c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
            if batch == 1 {
                BLAS.sgemm(transposeB: true, m: 1, n: columns, k: hidden, a: state, lda: hidden,
                           b: recurrence + first * hidden, ldb: hidden, beta: accumulate ? 1 : 0, c: c, ldc: ldc, path: path)
            } else {
                BLAS.sgemm(m: batch, n: columns, k: hidden, a: state, lda: hidden, b: buffers.transposedR + first, ldb: rows,
                           beta: accumulate ? 1 : 0, c: c, ldc: ldc, path: path)
            }
        }

        /// Where step k of row b writes in Y, or nil when the row has finished.
        private func yRow(_ k: Int, _ b: Int) -> UnsafeMutablePointer<Float>? {
            guard k < length(b) else { return nil }
            let time = reverse ? length(b) - 1 - k : k
            return output.data + ((time * parameters.directionCount + direction) * batch + b) * hidden
        }

        private func clip(_ values: UnsafeMutablePointer<Float>, count: Int) {
            guard let bound = parameters.clip else { return }
            for j in 0..<count { values[j] = min(max(values[j], -bound), bound) }
        }

        /// Gates i, o, f, c of each row: it = σ(·), ft = σ(·) (or 1 − it),
        /// c̃ = tanh(·), Ct = ft ⊙ Ct−1 + it ⊙ c̃, ot = σ(·), Ht = ot ⊙ tanh(Ct);
        /// peepholes add P ⊙ C before the activations.
        private func lstmStep(_ k: Int, gates: UnsafeMutablePointer<Float>) {
            recurrentProduct(buffers.h, firstRow: 0, columns: rows, into: gates, ldc: rows, accumulate: true)
            let peepholes = inputs.count > 7 ? inputs[7].data + direction * 3 * hidden : nil
            for b in 0..<batch {
                guard let y = yRow(k, b) else { continue }
                let g = gates + b * rows
                let (i, o, f, candidate) = (g, g + hidden, g + 2 * hidden, g + 3 * hidden)
                let (h, c) = (buffers.h + b * hidden, buffers.c + b * hidden)
                if let peepholes {
                    for j in 0..<hidden {
                        i[j] += peepholes[j] * c[j]
                        f[j] += peepholes[2 * hidden + j] * c[j]
                    }
                }
                clip(i, count: hidden)
                clip(f, count: hidden)
                clip(candidate, count: hidden)
                VectorMath.apply(.sigmoid, from: i, to: i, count: hidden)
                if parameters.inputForget {
                    for j in 0..<hidden { f[j] = 1 - i[j] }
                } else {
                    VectorMath.apply(.sigmoid, from: f, to: f, count: hidden)
                }
                VectorMath.apply(.tanh, from: candidate, to: candidate, count: hidden)
                for j in 0..<hidden { c[j] = f[j] * c[j] + i[j] * candidate[j] }
                if let peepholes {
                    for j in 0..<hidden { o[j] += peepholes[hidden + j] * c[j] }
                }
                clip(o, count: hidden)
                VectorMath.apply(.sigmoid, from: o, to: o, count: hidden)
                VectorMath.apply(.tanh, from: c, to: candidate, count: hidden)
                for j in 0..<hidden { h[j] = o[j] * candidate[j] }
                y.update(from: h, count: hidden)
            }
        }

        /// Gates z, r, h of each row: zt = σ(·), rt = σ(·), h̃ = tanh(Xt·Whᵀ +
        /// (rt ⊙ Ht−1)·Rhᵀ + Rbh + Wbh), or with linear_before_reset
        /// tanh(Xt·Whᵀ + rt ⊙ (Ht−1·Rhᵀ + Rbh) + Wbh); Ht = (1 − zt) ⊙ h̃ + zt ⊙ Ht−1.
        private func gruStep(_ k: Int, gates: UnsafeMutablePointer<Float>) {
            let scratch = buffers.scratch
            if parameters.linearBeforeReset {
                recurrentProduct(buffers.h, firstRow: 0, columns: rows, into: scratch, ldc: rows, accumulate: false)
            } else {
                recurrentProduct(buffers.h, firstRow: 0, columns: 2 * hidden, into: gates, ldc: rows, accumulate: true)
            }
            let rbh = inputs.count > 3 ? inputs[3].data + direction * 2 * rows + rows + 2 * hidden : nil
            for b in 0..<batch where k < length(b) {
                let g = gates + b * rows
                let (z, r) = (g, g + hidden)
                if parameters.linearBeforeReset {
                    let recurrent = scratch + b * rows
                    for j in 0..<(2 * hidden) { g[j] += recurrent[j] }
                }
                clip(g, count: 2 * hidden)
                VectorMath.apply(.sigmoid, from: z, to: z, count: 2 * hidden)
                let candidate = g + 2 * hidden
                if parameters.linearBeforeReset {
                    let recurrent = scratch + b * rows + 2 * hidden
                    for j in 0..<hidden { candidate[j] += r[j] * (recurrent[j] + (rbh?[j] ?? 0)) }
                } else {
                    // rt ⊙ Ht−1, for the product below.
                    let h = buffers.h + b * hidden, reset = scratch + b * hidden
                    for j in 0..<hidden { reset[j] = r[j] * h[j] }
                }
            }
            if !parameters.linearBeforeReset {
                // Rows past their length multiply a stale reset row; their result is not used.
                recurrentProduct(scratch, firstRow: 2 * hidden, columns: hidden, into: gates + 2 * hidden, ldc: rows, accumulate: true)
            }
            for b in 0..<batch {
                guard let y = yRow(k, b) else { continue }
                let g = gates + b * rows
                let (z, candidate, h) = (g, g + 2 * hidden, buffers.h + b * hidden)
                clip(candidate, count: hidden)
                VectorMath.apply(.tanh, from: candidate, to: candidate, count: hidden)
                for j in 0..<hidden { h[j] = (1 - z[j]) * candidate[j] + z[j] * h[j] }
                y.update(from: h, count: hidden)
            }
        }
    }

    /// destination (columns, rows) = source (rows, columns)ᵀ, in 32 × 32 tiles.
    static func transpose(_ source: UnsafePointer<Float>, rows: Int, columns: Int, into destination: UnsafeMutablePointer<Float>) {
        let tile = 32
        for rowStart in stride(from: 0, to: rows, by: tile) {
            for columnStart in stride(from: 0, to: columns, by: tile) {
                for row in rowStart..<min(rowStart + tile, rows) {
                    for column in columnStart..<min(columnStart + tile, columns) {
                        destination[column * rows + row] = source[row * columns + column]
                    }
                }
            }
        }
    }
}
