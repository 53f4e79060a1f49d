@testable import DemandTensor
import DemandZoo
import Testing

/// Every GEMM path this process may run (OpenBLAS, and CKernels' dl_sgemm on
/// its AVX2 and AVX-512 kernels where the CPU has them) against a Double
/// reference, over shapes that hit every tail of both blockings (6-row tiles;
/// 64-column panels cut into 16-lane vectors (AVX-512) or 16- and 8-column
/// tiles (AVX2), and 1–4-column dot-product tails; 256-deep K slices; 256-
/// and 512-wide column blocks),
/// strided operands, and 1 and 2 threads.
@Suite(.serialized)
struct BLASTests {
    static let paths = BLAS.Path.allCases.filter(\.isAvailable)
    /// CKernels' paths, whose bits must not depend on the thread count or on the rows around a row.
    static let exactPaths = paths.filter(\.computesRowsIndependently)

    /// (m, n, k): one tile of each set; tails in every dimension; k = 1; n = 1...4
    /// (the dot-product kernel alone), 16 + 1...4 and 64 + 1...4 (a vector
    /// kernel and the dot kernel in one panel), 7, 12, 64 + 21 and 64 + 40 (a
    /// masked 16- or 8-column tile after full ones); several K slices;
    /// several column blocks; ResNet-50's smallest N (49 = 3·16 + 1, 196 = 3·64 + 4).
    static let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (6, 16, 256), (6, 64, 256), (7, 65, 257), (5, 63, 3), (13, 130, 300), (64, 1100, 147), (40, 49, 600),
        (1, 1000, 70), (7, 1, 1), (6, 2, 9), (11, 3, 300), (13, 4, 513), (5, 12, 1), (9, 20, 33), (8, 68, 17), (6, 7, 1),
        (12, 196, 40), (3, 300, 260), (5, 85, 9), (7, 104, 70),
    ]

    /// Row strides one more than the row lengths, so a kernel that assumes packed rows fails.
    private struct Product {
        let m, n, k: Int
        var lda: Int { k + 1 }
        var ldb: Int { n + 3 }
        var ldc: Int { n + 2 }
        let a: [Float], b: [Float]

        init(_ m: Int, _ n: Int, _ k: Int) {
            (self.m, self.n, self.k) = (m, n, k)
            var random = SeededRandom(name: "BLAS \(m)x\(n)x\(k)")
            a = (0..<(m * (k + 1))).map { _ in random.nextSigned() }
            b = (0..<(k * (n + 3))).map { _ in random.nextSigned() }
        }

        /// C through `BLAS.sgemm`, with NaN in the gaps between rows to show they stay untouched.
        func compute(_ path: BLAS.Path) -> [Float] {
            var c = [Float](repeating: .nan, count: max(1, m * ldc))
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    c.withUnsafeMutableBufferPointer { c in
                        BLAS.sgemm(m: m, n: n, k: k, a: a.baseAddress!, lda: lda, b: b.baseAddress!, ldb: ldb,
                                   c: c.baseAddress!, ldc: ldc, path: path)
                    }
                }
            }
            return c
        }

        /// The worst |C − exact| / (1 + Σ|products|) over C, and whether the row gaps stayed NaN.
        func check(_ c: [Float]) -> (error: Double, gapsUntouched: Bool) {
            var worst = 0.0
            var gapsUntouched = true
            for i in 0..<m {
                for j in 0..<n {
                    var exact = 0.0, magnitude = 0.0
                    for p in 0..<k {
                        let product = Double(a[i * lda + p]) * Double(b[p * ldb + j])
                        exact += product
                        magnitude += abs(product)
                    }
                    let error = abs(Double(c[i * ldc + j]) - exact) / (1 + magnitude)
                    worst = error.isNaN ? .infinity : max(worst, error)
                }
                if i + 1 < m { gapsUntouched = gapsUntouched && c[(i * ldc + n)..<((i + 1) * ldc)].allSatisfy(\.isNaN) }
            }
            return (worst, gapsUntouched)
        }
    }

    @Test func theWidestPathTheCPUHasIsUsed() {
        #expect(BLAS.Path.best == (BLAS.Path.avx512Available ? .avx512 : BLAS.Path.avx2Available ? .avx2
                                   : BLAS.Path.neonAvailable ? .neon : .openBLAS))
        #expect(!BLAS.Path.avx512Available || BLAS.Path.avx2Available, "an AVX-512 level includes AVX2")
        #expect(!(BLAS.Path.neonAvailable && BLAS.Path.avx2Available), "NEON is ARM64's, AVX2 x86-64's")
        if !BLAS.Path.avx512Available { print("note: AVX-512F is unavailable (CPU, DEMANDLAYER_CPU or DEMANDLAYER_PORTABLE_KERNELS); its path is not tested") }
        if BLAS.Path.best == .openBLAS { print("note: no CKernels GEMM path (AVX2 + FMA or ARM64 NEON) is available; only the OpenBLAS path is tested") }
    }

    /// Tolerance: relative error 1e-6 of Σ|products| per element (float32 sums of up to 1100 terms).
    @Test(arguments: paths)
    func productsMatchTheDoubleReference(path: BLAS.Path) {
        for (m, n, k) in Self.shapes {
            let product = Product(m, n, k)
            let (error, gapsUntouched) = product.check(product.compute(path))
            #expect(error < 1e-6, "\(path) \(m)x\(n)x\(k): relative error \(error)")
            #expect(gapsUntouched, "\(path) \(m)x\(n)x\(k) wrote between rows of C")
        }
    }

    /// CKernels' paths split work by output rows or columns only, so the
    /// thread count cannot change a bit (sessions with different thread counts
    /// agree). Tolerance: none, bit for bit.
    @Test(.enabled(if: BLAS.Path.best != .openBLAS, "no CKernels GEMM path (the CPU lacks AVX2 + FMA and is not ARM64, or DEMANDLAYER_CPU=portable or DEMANDLAYER_PORTABLE_KERNELS=1 forbids it): only OpenBLAS runs here, which promises no such thing"),
          arguments: exactPaths)
    func threadCountDoesNotChangeTheResult(path: BLAS.Path) throws {
        let saved = BLAS.threadCount
        defer { BLAS.setThreadCount(saved) }
        // Column pieces (1100, 3136 columns: 18 and 49 64-wide units dealt into
        // 8 or 12 pieces), row pieces (49 and 196 columns: too few units to share).
        for (m, n, k) in [(64, 1100, 147), (40, 49, 600), (300, 200, 100), (256, 196, 300), (64, 3136, 64), (61, 1003, 259)] {
            let product = Product(m, n, k)
            BLAS.setThreadCount(1)
            let one = product.compute(path)
            for threads in [2, 3] {
                BLAS.setThreadCount(threads)
                let many = product.compute(path)
                #expect(one.map(\.bitPattern) == many.map(\.bitPattern), "\(path) \(m)x\(n)x\(k): 1 and \(threads) threads differ")
            }
        }
    }

    /// Each output row is computed the same way whatever rows surround it:
    /// rows [r0, r1) of A on their own give rows [r0, r1) of the whole product,
    /// bit for bit (what a layer streamed in pieces relies on). Tolerance: none.
    @Test(.enabled(if: BLAS.Path.best != .openBLAS, "no CKernels GEMM path (the CPU lacks AVX2 + FMA and is not ARM64, or DEMANDLAYER_CPU=portable or DEMANDLAYER_PORTABLE_KERNELS=1 forbids it): only OpenBLAS runs here, which promises no such thing"),
          arguments: exactPaths)
    func rowPiecesMatchTheWholeProduct(path: BLAS.Path) throws {
        for (m, n, k) in [(40, 49, 600), (61, 1003, 259), (13, 4, 513), (25, 196, 40)] {
            let product = Product(m, n, k)
            let whole = product.compute(path)
            var pieces = [Float](repeating: .nan, count: whole.count)
            for (r0, r1) in [(0, 1), (1, 7), (7, 8), (8, 19), (19, m)] where r0 < m {
                let rows = min(r1, m) - r0
                product.a.withUnsafeBufferPointer { a in
                    product.b.withUnsafeBufferPointer { b in
                        pieces.withUnsafeMutableBufferPointer { c in
                            BLAS.sgemm(m: rows, n: n, k: k, a: a.baseAddress! + r0 * product.lda, lda: product.lda, b: b.baseAddress!,
                                       ldb: product.ldb, c: c.baseAddress! + r0 * product.ldc, ldc: product.ldc, path: path)
                        }
                    }
                }
            }
            #expect(whole.map(\.bitPattern) == pieces.map(\.bitPattern), "\(path) \(m)x\(n)x\(k): pieces differ from the whole")
        }
    }

    /// The fused bias and ReLU give the same bits as sgemm followed by the
    /// activation pass Conv2d runs otherwise (CKernels' paths may only move
    /// where the rounding happens if they keep the same rounding). Tolerance: none.
    @Test(.enabled(if: BLAS.Path.best != .openBLAS, "no CKernels GEMM path (the CPU lacks AVX2 + FMA and is not ARM64, or DEMANDLAYER_CPU=portable or DEMANDLAYER_PORTABLE_KERNELS=1 forbids it): OpenBLAS has no fused epilogue"),
          arguments: exactPaths, [false, true])
    func fusedBiasAndReluMatchTheSeparatePass(path: BLAS.Path, relu: Bool) throws {
        for (m, n, k) in [(7, 65, 257), (64, 1100, 147), (13, 130, 300), (11, 3, 300), (9, 20, 33), (5, 12, 1)] {
            let product = Product(m, n, k)
            var random = SeededRandom(name: "bias \(m)")
            let bias = (0..<m).map { _ in random.nextSigned() }
            var separate = product.compute(path)
            var fused = [Float](repeating: .nan, count: separate.count)
            let taken = product.a.withUnsafeBufferPointer { a in
                product.b.withUnsafeBufferPointer { b in
                    fused.withUnsafeMutableBufferPointer { c in
                        BLAS.sgemmAddingBias(m: m, n: n, k: k, a: a.baseAddress!, lda: product.lda, b: b.baseAddress!, ldb: product.ldb,
                                             c: c.baseAddress!, ldc: product.ldc, rowBias: bias, relu: relu, path: path)
                    }
                }
            }
            #expect(taken)
            let activation: Activation = relu ? .relu : .none
            separate.withUnsafeMutableBufferPointer { c in
                for i in 0..<m {
                    let row = c.baseAddress! + i * product.ldc
                    activation.apply(from: row, to: row, count: n, adding: bias[i])
                }
            }
            #expect(fused.map(\.bitPattern) == separate.map(\.bitPattern), "\(path) \(m)x\(n)x\(k) relu \(relu)")
            if relu { #expect(fused.contains(0) && fused.contains { $0 > 0 }, "the ReLU case must clamp some values") }
        }
    }

    /// A fully connected layer on one sample (a one row, b transposed, the
    /// bias already in c and beta 1), which CKernels' paths turn around.
    /// Tolerance: relative error 1e-6 of Σ|terms|.
    @Test(arguments: paths)
    func oneRowTimesTransposedBAccumulates(path: BLAS.Path) {
        let (n, k) = (1000, 300)
        var random = SeededRandom(name: "fully connected")
        let a = (0..<k).map { _ in random.nextSigned() }
        let b = (0..<(n * k)).map { _ in random.nextSigned() }   // (n, k)
        let bias = (0..<n).map { _ in random.nextSigned() }
        var c = bias
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    BLAS.sgemm(transposeB: true, m: 1, n: n, k: k, a: a.baseAddress!, lda: k, b: b.baseAddress!, ldb: k,
                               beta: 1, c: c.baseAddress!, ldc: n, path: path)
                }
            }
        }
        var worst = 0.0
        for j in 0..<n {
            var exact = Double(bias[j]), magnitude = abs(Double(bias[j]))
            for p in 0..<k {
                exact += Double(a[p]) * Double(b[j * k + p])
                magnitude += abs(Double(a[p]) * Double(b[j * k + p]))
            }
            let error = abs(Double(c[j]) - exact) / (1 + magnitude)
            worst = error.isNaN ? .infinity : max(worst, error)
        }
        #expect(worst < 1e-6, "\(path): relative error \(worst)")
    }
}
