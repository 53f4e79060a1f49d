/// numpy matmul by cblas_sgemm: A (..., M, K) · B (..., K, N) → (..., M, N),
/// batch dims broadcast, a 1-D A read as (1, K) and a 1-D B as (K, 1) with
/// that axis dropped from the output. Operands are used in place: a
/// broadcast operand is the same pointer for every batch, never a copy.
/// When B is shared by the whole batch and A's batches are contiguous (the
/// linear layers of a transformer), the batch folds into M: one sgemm.
enum MatMul {
    /// The matrix sizes and the batch dims both operands broadcast to.
    struct Geometry {
        let m, k, n: Int
        let batch: [Int]
        let batchStridesA: [Int], batchStridesB: [Int]

        init(a: Shape, b: Shape) {
            let (ra, rb) = (a.rank, b.rank)
            m = ra >= 2 ? a[ra - 2] : 1
            k = a[ra - 1]
            n = rb >= 2 ? b[rb - 1] : 1
            let batchA = Shape(ra > 2 ? Array(a.dims[..<(ra - 2)]) : [])
            let batchB = Shape(rb > 2 ? Array(b.dims[..<(rb - 2)]) : [])
            var batch = [Int](repeating: 1, count: max(batchA.rank, batchB.rank))
            for axis in batch.indices {
                let da = axis < batch.count - batchA.rank ? 1 : batchA[axis - (batch.count - batchA.rank)]
                let db = axis < batch.count - batchB.rank ? 1 : batchB[axis - (batch.count - batchB.rank)]
                batch[axis] = max(da, db)
            }
            self.batch = batch
            let (matrixA, matrixB) = (m * k, k * n)
            batchStridesA = StridedLayout.broadcastStrides(of: batchA, over: Shape(batch)).map { $0 * matrixA }
            batchStridesB = StridedLayout.broadcastStrides(of: batchB, over: Shape(batch)).map { $0 * matrixB }
        }
    }

    static func run(a: Tensor, b: Tensor, output: Tensor) {
        let g = Geometry(a: a.shape, b: b.shape)
        let (m, k, n) = (g.m, g.k, g.n)
        let layout = StridedLayout(dims: g.batch, operandStrides: [g.batchStridesA, g.batchStridesB])
        let last = layout.dims.count - 1
        let (strideA, strideB) = (layout.strides[0][last], layout.strides[1][last])
        if layout.dims.count == 1 && (layout.dims[0] == 1 || (strideA == m * k && strideB == 0)) {
            BLAS.sgemm(m: layout.dims[0] * m, n: n, k: k, a: a.data, lda: k, b: b.data, ldb: n, c: output.data, ldc: n)
            return
        }
        var cursor = RowCursor(layout)
        var matrix = 0
        for _ in 0..<layout.rowCount {
            for j in 0..<layout.rowLength {
                BLAS.sgemm(m: m, n: n, k: k, a: a.data + cursor.offsets[0] + j * strideA, lda: k,
                           b: b.data + cursor.offsets[1] + j * strideB, ldb: n, c: output.data + matrix * m * n, ldc: n)
                matrix += 1
            }
            cursor.advance()
        }
    }
}
