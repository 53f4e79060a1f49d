/// ONNX Gemm by one cblas_sgemm: Y (M, N) = alpha · A' · B' + beta · C.
/// C, when present and beta ≠ 0, is first broadcast into Y scaled by beta and
/// sgemm accumulates onto it; the activation is one pass at the end.
enum Gemm {
    static func run(_ parameters: GemmParameters, a: Tensor, b: Tensor, c: Tensor?, output: Tensor, path: BLAS.Path = .best) {
        let (m, n) = (output.shape[0], output.shape[1])
        let k = parameters.transposeA ? a.shape[0] : a.shape[1]
        var beta: Float = 0
        if let c, parameters.beta != 0 {
            broadcast(c, scaledBy: parameters.beta, into: output.data, rows: m, columns: n)
            beta = 1
        }
        BLAS.sgemm(transposeA: parameters.transposeA, transposeB: parameters.transposeB, m: m, n: n, k: k,
                   alpha: parameters.alpha, a: a.data, lda: a.shape[1], b: b.data, ldb: b.shape[1],
                   beta: beta, c: output.data, ldc: n, path: path)
        parameters.activation.apply(to: output.data, count: m * n)
    }

    /// Writes scale · C broadcast to (rows, columns); C is one of (), (1),
    /// (columns), (1, columns), (rows, 1) or (rows, columns).
    private static func broadcast(_ c: Tensor, scaledBy scale: Float, into y: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
        let source = c.data
        if c.elementCount == 1 {
            y.update(repeating: scale * source[0], count: rows * columns)
        } else if c.shape.rank == 2 && c.shape[1] == 1 {
            for row in 0..<rows { (y + row * columns).update(repeating: scale * source[row], count: columns) }
        } else if c.elementCount == columns {
            for row in 0..<rows {
                let destination = y + row * columns
                for column in 0..<columns { destination[column] = scale * source[column] }
            }
        } else {
            for i in 0..<(rows * columns) { y[i] = scale * source[i] }
        }
    }
}
