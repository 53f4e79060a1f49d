@testable import DemandTensor
import DemandZoo
import Testing

/// Both GEMM paths (OpenBLAS, and CKernels' AVX-512 dl_sgemm where the CPU has
/// it) against a Double reference, over shapes that hit every tail of the
/// AVX-512 blocking (6-row and 64-column tiles, 256-deep K slices, 512-wide
/// column blocks), strided operands, and 1 and 2 threads.
@Suite(.serialized)
struct BLASTests {
    static let paths = BLAS.Path.allCases.filter { $0 == .openBLAS || BLAS.Path.avx512Available }

    /// (m, n, k): one tile; tails in every dimension; several K slices; several column blocks; ResNet-50's smallest N.
    static let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (6, 64, 256), (7, 65, 257), (5, 63, 3), (13, 130, 300), (64, 1100, 147), (40, 49, 600), (1, 1000, 70),
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

    @Test func avx512IsUsedWhereTheCPUHasIt() {
        #expect(BLAS.Path.best == (BLAS.Path.avx512Available ? .avx512 : .openBLAS))
        if !BLAS.Path.avx512Available { print("note: this CPU lacks AVX-512F; only the OpenBLAS path is tested") }
    }

    @Test(arguments: paths)
    func productsMatchTheDoubleReference(path: BLAS.Path) {
        for (m, n, k) in Self.shapes {
            let product = Product(m, n, k)
            let (error, gapsUntouched) = product.check(product.compute(path))
            #expect(error < 1e-6, "\(path) \(m)x\(n)x\(k): relative error \(error)")
            #expect(gapsUntouched, "\(path) \(m)x\(n)x\(k) wrote between rows of C")
        }
    }

    /// The AVX-512 path splits work by output rows or columns only, so the
    /// thread count cannot change a bit (sessions with different thread counts agree).
    @Test(.enabled(if: BLAS.Path.avx512Available, "this CPU lacks AVX-512F; the OpenBLAS path is tested instead"))
    func threadCountDoesNotChangeTheAVX512Result() throws {
        let saved = BLAS.threadCount
        defer { BLAS.setThreadCount(saved) }
        // Column pieces (1100, 3136 columns: 49 panels dealt into 8 pieces of 6
        // or 7), row pieces (49 and 196 columns: too few panels to share).
        for (m, n, k) in [(64, 1100, 147), (40, 49, 600), (300, 200, 100), (256, 196, 300), (64, 3136, 64)] {
            let product = Product(m, n, k)
            BLAS.setThreadCount(1)
            let one = product.compute(.avx512)
            for threads in [2, 3] {
                BLAS.setThreadCount(threads)
                let many = product.compute(.avx512)
                #expect(one.map(\.bitPattern) == many.map(\.bitPattern), "\(m)x\(n)x\(k): 1 and \(threads) threads differ")
            }
        }
    }

    /// The fused bias and ReLU give the same bits as sgemm followed by the
    /// activation pass Conv2d runs otherwise (the AVX-512 path may only move
    /// where the rounding happens if it keeps the same rounding).
    @Test(.enabled(if: BLAS.Path.avx512Available, "this CPU lacks AVX-512F; the OpenBLAS path is tested instead"), arguments: [false, true])
    func fusedBiasAndReluMatchTheSeparatePass(relu: Bool) throws {
        for (m, n, k) in [(7, 65, 257), (64, 1100, 147), (13, 130, 300)] {
            let product = Product(m, n, k)
            var random = SeededRandom(name: "bias \(m)")
            let bias = (0..<m).map { _ in random.nextSigned() }
            var separate = product.compute(.avx512)
            var fused = [Float](repeating: .nan, count: separate.count)
            let taken = product.a.withUnsafeBufferPointer { a in
                product.b.withUnsafeBufferPointer { b in
                    fused.withUnsafeMutableBufferPointer { c in
                        BLAS.sgemmAddingBias(m: m, n: n, k: k, a: a.baseAddress!, lda: product.lda, b: b.baseAddress!, ldb: product.ldb,
                                             c: c.baseAddress!, ldc: product.ldc, rowBias: bias, relu: relu)
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
            #expect(fused.map(\.bitPattern) == separate.map(\.bitPattern), "\(m)x\(n)x\(k) relu \(relu)")
            if relu { #expect(fused.contains(0) && fused.contains { $0 > 0 }, "the ReLU case must clamp some values") }
        }
    }

    /// A fully connected layer on one sample (a one row, b transposed, the
    /// bias already in c and beta 1), which the AVX-512 path turns around.
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
