import CKernels
import COpenBLAS

/// The GEMM calls the kernels make, in Swift's integer types.
///
/// Four implementations: OpenBLAS, and CKernels' `dl_sgemm` with AVX-512,
/// AVX2 + FMA or (on ARM64) NEON micro-kernels for products without
/// transposes, picked at run time (Debian's OpenBLAS runs ResNet-50 at over twice onnxruntime's time on
/// both kinds of CPU; see Sources/CKernels/include/dl_sgemm.h). All keep one
/// process-wide thread pool; `setThreadCount` changes them for every caller in
/// the process, so a session sets it once when it opens.
public enum BLAS {
    /// Which implementation computes a product.
    public enum Path: String, CaseIterable, Sendable {
        /// OpenBLAS's `cblas_sgemm`: every CPU, every transpose.
        case openBLAS = "openblas"
        /// CKernels' `dl_sgemm` on its AVX2 + FMA kernels; only where
        /// `isAvailable`, and only for alpha 1, beta 0 or 1, and no transposes
        /// (or a transposed b when a is one row); others go to OpenBLAS.
        case avx2
        /// The same on its AVX-512 kernels.
        case avx512
        /// The same on its NEON kernels (ARM64, where NEON is always present).
        case neon

        /// True when the CPU has AVX-512F (and AVX2 + FMA) and the environment allows it.
        public static let avx512Available = dl_sgemm_isa_available(DL_SGEMM_AVX512) != 0
        /// True when the CPU has AVX2 + FMA and the environment allows it.
        public static let avx2Available = dl_sgemm_isa_available(DL_SGEMM_AVX2) != 0
        /// True on ARM64 unless the environment forbids it.
        public static let neonAvailable = dl_sgemm_isa_available(DL_SGEMM_NEON) != 0

        /// What `sgemm` uses unless told otherwise: the widest of AVX-512,
        /// AVX2, NEON and OpenBLAS the CPU has, lowered by `DEMANDLAYER_CPU`
        /// (`avx512`, `avx2`, `neon` or `portable`, read once; an unknown value
        /// or one the CPU lacks is ignored with a warning on stderr) and made
        /// OpenBLAS by `DEMANDLAYER_PORTABLE_KERNELS=1`.
        public static let best: Path =
            avx512Available ? .avx512 : avx2Available ? .avx2 : neonAvailable ? .neon : .openBLAS

        /// Whether this process may run the path.
        public var isAvailable: Bool {
            switch self {
            case .openBLAS: true
            case .avx2: Path.avx2Available
            case .avx512: Path.avx512Available
            case .neon: Path.neonAvailable
            }
        }

        /// Whether each output row of a product is computed the same way
        /// whatever rows surround it, at any thread count: then a layer cut
        /// into pieces of rows gives the whole layer's bits. True of CKernels'
        /// GEMM (its sums' order depends on the column and K alone), not of
        /// OpenBLAS (Tests/DemandTensorTests/SplitKernelTests.swift).
        public var computesRowsIndependently: Bool { self != .openBLAS }

        /// The CPU level of CKernels' other kernels (depthwise convolution) on this
        /// path: the set's own, or portable C beside OpenBLAS.
        var cpuLevel: DLCpuLevel {
            switch self {
            case .openBLAS: DL_CPU_PORTABLE
            case .avx2: DL_CPU_AVX2
            case .avx512: DL_CPU_AVX512
            case .neon: DL_CPU_NEON
            }
        }

        /// The CKernels kernel set, or nil for OpenBLAS.
        var isa: DLSgemmISA? {
            switch self {
            case .openBLAS: nil
            case .avx2: DL_SGEMM_AVX2
            case .avx512: DL_SGEMM_AVX512
            case .neon: DL_SGEMM_NEON
            }
        }
    }

    /// OpenBLAS pinned to one thread before its first product, even where no thread count was ever set.
    private static let openBLASOnOneThread: Void = openblas_set_num_threads(1)

    /// Threads each of CKernels' products and passes may use (`dl_sgemm_threads`).
    public static var threadCount: Int { Int(dl_sgemm_threads()) }

    /// Sets the thread count of CKernels' products and passes (`dl_sgemm_set_threads`);
    /// values below 1 mean 1. OpenBLAS runs on one thread whatever the count: its
    /// results can depend on its thread count and on how a product's rows are cut
    /// (OpenBLAS 0.3.21 on AMD Zen 3: a 16x3477x216 product differs in 36323 of its
    /// 55632 elements between one and two threads), and every path must give the
    /// same bits on any thread count.
    public static func setThreadCount(_ threadCount: Int) {
        openblas_set_num_threads(1)
        dl_sgemm_set_threads(Int32(clamping: max(1, threadCount)))
    }

    /// Wakes the kernels' sleeping pool threads ahead of work about to come
    /// (`dl_sgemm_pool_wake`), so their wake-up overlaps the caller's setup.
    package static func wakeThreads() { dl_sgemm_pool_wake() }

    /// Row-major `c = alpha * op(a) * op(b) + beta * c` (`cblas_sgemm`), where
    /// op(a) is (m, k), op(b) is (k, n) and c is (m, n); `lda`, `ldb`, `ldc` are
    /// row strides in floats of the matrices as stored.
    static func sgemm(
        transposeA: Bool = false, transposeB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int,
        path: Path = .best
    ) {
        precondition(m <= Int(Int32.max) && n <= Int(Int32.max) && k <= Int(Int32.max), "sgemm dimensions \(m)x\(n)x\(k) exceed Int32")
        precondition(lda <= Int(Int32.max) && ldb <= Int(Int32.max) && ldc <= Int(Int32.max), "sgemm strides exceed Int32")
        // dl_sgemm computes plain C = A·B; it returns -1 only when it could not
        // allocate its packing buffers, and OpenBLAS then does the product.
        if let isa = path.isa, path.isAvailable, !transposeA && alpha == 1 && (beta == 0 || beta == 1) {
            let accumulate: Int32 = beta == 1 ? 1 : 0
            if !transposeB && dl_sgemm_isa_ex(isa, Int32(m), Int32(n), Int32(k), a, Int32(lda), b, Int32(ldb), c, Int32(ldc),
                                              accumulate, nil, 0) == 0 {
                return
            }
            // A fully connected layer on one sample, c (1, n) = a (1, k) · bᵀ
            // with b stored (n, k): computed as cᵀ (n, 1) = b · aᵀ, so the
            // OpenBLAS pool never wakes (its threads spin after each call,
            // taking a core from the next layer on a small machine).
            if transposeB && m == 1 && dl_sgemm_isa_ex(isa, Int32(n), 1, Int32(k), b, Int32(ldb), a, 1, c, 1, accumulate, nil, 0) == 0 {
                return
            }
        }
        // Elsewhere, one row of A times a transposed B (a fully connected
        // layer on one sample) by dl_sgemv_rows: each output row's bits do not
        // depend on the rows around it, so a layer streamed in pieces of rows
        // gives the same output as the whole (OpenBLAS's small-matrix kernel
        // rounds a small piece differently).
        if transposeB && !transposeA && m == 1 && (beta == 0 || beta == 1) {
            dl_sgemv_rows(Int32(n), Int32(k), a, b, Int32(ldb), c, alpha, beta == 1 ? 1 : 0)
            return
        }
        _ = openBLASOnOneThread
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// `c = a · b`, then `rowBias[i]` added to row i of c (if given), then
    /// `addend` (laid out as c, if given), then
    /// max(·, 0) if `relu`, in one pass on CKernels' paths (`dl_sgemm_isa_fused`),
    /// with the same rounding as the separate steps. Returns false, having done
    /// nothing useful to c, when that path is not taken (`path` is OpenBLAS,
    /// the CPU lacks it, or its buffers could not be allocated): the caller then
    /// runs `sgemm` and its own bias and activation pass.
    static func sgemmAddingBias(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, rowBias: UnsafePointer<Float>?, addend: UnsafePointer<Float>? = nil, relu: Bool,
        path: Path = .best
    ) -> Bool {
        guard let isa = path.isa, path.isAvailable else { return false }
        precondition(m <= Int(Int32.max) && n <= Int(Int32.max) && k <= Int(Int32.max), "sgemm dimensions \(m)x\(n)x\(k) exceed Int32")
        precondition(lda <= Int(Int32.max) && ldb <= Int(Int32.max) && ldc <= Int(Int32.max), "sgemm strides exceed Int32")
        return dl_sgemm_isa_fused(isa, Int32(m), Int32(n), Int32(k), a, Int32(lda), b, Int32(ldb), c, Int32(ldc), 0, rowBias, addend,
                                  relu ? 1 : 0) == 0
    }
}
