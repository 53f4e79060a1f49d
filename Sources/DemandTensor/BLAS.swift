import COpenBLAS

/// The OpenBLAS calls the kernels make, in Swift's integer types.
///
/// OpenBLAS keeps one process-wide thread pool; `setThreadCount` changes it for
/// every caller in the process, so a session sets it once when it opens.
public enum BLAS {
    /// Threads OpenBLAS uses for each sgemm (`openblas_get_num_threads`).
    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// Sets the OpenBLAS thread count (`openblas_set_num_threads`); values below 1 mean 1.
    public static func setThreadCount(_ threadCount: Int) {
        openblas_set_num_threads(Int32(clamping: max(1, threadCount)))
    }

    /// Row-major `c = alpha * op(a) * op(b) + beta * c` (`cblas_sgemm`), where
    /// op(a) is (m, k), op(b) is (k, n) and c is (m, n); `lda`, `ldb`, `ldc` are
    /// row strides in floats of the matrices as stored.
    static func sgemm(
        transposeA: Bool = false, transposeB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        precondition(m <= Int(Int32.max) && n <= Int(Int32.max) && k <= Int(Int32.max), "sgemm dimensions \(m)x\(n)x\(k) exceed Int32")
        precondition(lda <= Int(Int32.max) && ldb <= Int(Int32.max) && ldc <= Int(Int32.max), "sgemm strides exceed Int32")
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
