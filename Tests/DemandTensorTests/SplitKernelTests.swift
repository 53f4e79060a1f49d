@testable import DemandTensor
import DemandZoo
import Testing

/// A layer too big for the memory budget runs in pieces: the same operator on
/// weight rows [r0, r1) (a Conv's output channels, a transB Gemm's output
/// columns), the bias slice [r0, r1) and the output slice those rows write.
/// The runtime relies on the pieces giving the unsplit output bit for bit;
/// these tests hold the kernels to that.
///
/// What was measured (this machine: AMD EPYC with AVX-512, 2 CPUs; Debian
/// OpenBLAS 0.3.21, DYNAMIC_ARCH), for the cases below, split at multiples of
/// 16, 64 (pieces 1, 2, 3, 1… granules long) and at [0, 1, 7, 50, 129, rows]
/// (also multiples of 4, 6 and 8), with 1 and 2 BLAS threads:
///
/// - AVX-512 and AVX2 paths (`dl_sgemm_isa_ex`, `dl_conv2d_gemm_isa`): every
///   split of every case is bit-identical to the whole layer, at 1 and at 2
///   threads, and the whole layer's bits do not depend on the thread count.
///   Each output element's k-order there depends only on its column, never on
///   which rows share its product. These are the assertions below, on each
///   of the two kernel sets this CPU has (the AVX2 one forced on an AVX-512 CPU).
/// - DEMANDLAYER_PORTABLE_KERNELS=1 (OpenBLAS, which picks its Cooperlake
///   kernels on this CPU): no split granularity is safe, so nothing is asserted.
///   The same counts at 1 and 2 threads; elements differing, of the output:
///   conv 3x3 pad 1 (256 ch) and 3x3 stride 2 (160 ch): 16 and 64 identical;
///   8: 9768/50176 and 7036/31360; uneven: 1224/50176 and 1223/31360.
///   conv 1x1 (320 ch, 7x7): 16 and 64: 275/15680; uneven: 108/15680.
///   conv 7x7 stride 2 on 3 ch: identical at every split.
///   gemm N 4096 and N 1000 (K 4096): 16 and 64: 3848/4096 and 950/1000;
///   uneven: 120/4096 and 120/1000 (the pieces below 129 rows).
///   (With ReLU about half as many, the negative ones becoming 0 either way.)
///   The cause: OpenBLAS 0.3.21's skylakex-class kernels send a product with
///   M·N·K ≤ 10⁶ to a small-matrix kernel that sums K in one run, where the
///   large kernel sums it in blocks; whether a piece matches depends on its
///   size, not on the row granularity (a plain C test: 256x196x576 in pieces of
///   8 rows, 46001 differ; of 9 rows, only the 4-row tail's 720; of 16, none).
/// - The same with OPENBLAS_CORETYPE=Haswell or Zen (what Debian's OpenBLAS
///   runs on a CPU without AVX-512): every conv split differs, 16 and 64
///   included (3x3 pad 1: 6487 and 3076 of 50176 at 1 thread), and the whole
///   conv already differs between 1 and 2 threads (5055 of 50176); the gemm
///   splits are all identical.
///
/// So a Conv may be cut at any row on CKernels' paths, and the runtime cuts
/// convolutions only there. A Gemm on one sample no longer goes to OpenBLAS
/// on the other paths: `dl_sgemv_rows` gives each output row a fixed summing
/// order, so its pieces are asserted on every path.
///
/// The thread count is process-wide and other suites (sessions, BLASTests)
/// change it while these run; CKernels' paths' bits do not depend on it,
/// so that cannot make these tests flaky.
@Suite(.serialized)
struct SplitKernelTests {
    static let threadCounts = [1, 2]

    /// Every split the runtime may choose: multiples of 16 and 64 rows, and rows with no common granularity.
    static func splits(rows: Int) -> [[Int]] {
        [boundaries(rows: rows, granularity: 16), boundaries(rows: rows, granularity: 64), unevenBoundaries(rows: rows)]
    }

    /// CKernels' paths this CPU has: the runtime splits convolutions only on these.
    static let exactPaths = BLAS.Path.allCases.filter { $0.isAvailable && $0.computesRowsIndependently }

    /// Tolerance: none, bit for bit.
    @Test(.enabled(if: BLAS.Path.best != .openBLAS,
                   "conv pieces match the whole layer bit for bit only on CKernels' AVX2, AVX-512 and NEON paths, the only ones the runtime splits convolutions on, and none is available: the CPU lacks them or the environment forbids them (OpenBLAS's do not: measurements atop SplitKernelTests.swift)"),
          arguments: conv, exactPaths)
    func convPiecesMatchTheWholeLayer(_ testCase: Case, path: BLAS.Path) throws {
        try expectPiecesMatch(testCase, path: path)
    }

    /// Tolerance: none, bit for bit, on every path (dl_sgemv_rows where OpenBLAS would run).
    @Test(arguments: gemm, BLAS.Path.allCases.filter(\.isAvailable))
    func gemmPiecesMatchTheWholeLayer(_ testCase: Case, path: BLAS.Path) throws {
        try expectPiecesMatch(testCase, path: path)
    }

    private func expectPiecesMatch(_ testCase: Case, path: BLAS.Path) throws {
        let saved = BLAS.threadCount
        defer { BLAS.setThreadCount(saved) }
        let inputs = Self.inputs(testCase)
        for threads in Self.threadCounts {
            BLAS.setThreadCount(threads)
            for boundaries in Self.splits(rows: testCase.rows) {
                let outcome = try Self.run(testCase, inputs: inputs, boundaries: boundaries, path: path)
                #expect(outcome.difference == nil, "\(testCase.name), \(path): \(outcome.describe(boundaries))")
            }
        }
    }

    /// One operator and the shapes it runs on: (input, weight, bias) for Conv,
    /// (A, B, C) for Gemm. The weight's first dimension is the one cut.
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let type: String
        let attributes: [String: AttributeValue]
        let inputs: [Shape]
        var testDescription: String { name }
        /// Weight rows: output channels for Conv, output columns for Gemm.
        var rows: Int { inputs[1][0] }
    }

    static let activations: [(name: String, attributes: [String: AttributeValue])] = [
        ("no activation", [:]), ("relu", ["activation": .string("relu")]),
    ]

    /// ResNet- and VGG-like convolutions: 3x3 same (AVX2, AVX-512: packed columns;
    /// portable: im2col bands), 1x1 pointwise (one sgemm on the input), 3x3
    /// stride 2, and a first layer's 7x7 stride 2 on 3 channels.
    static let conv: [Case] = activations.flatMap { activation in [
        Case(name: "conv 3x3 pad 1, 64→256 ch, 14x14, \(activation.name)", type: "Conv",
             attributes: ["pads": .ints([1, 1, 1, 1])].merging(activation.attributes) { $1 },
             inputs: [[1, 64, 14, 14], [256, 64, 3, 3], [256]]),
        Case(name: "conv 1x1, 128→320 ch, 7x7, \(activation.name)", type: "Conv",
             attributes: activation.attributes,
             inputs: [[1, 128, 7, 7], [320, 128, 1, 1], [320]]),
        Case(name: "conv 3x3 stride 2 pad 1, 64→160 ch, 28x28, \(activation.name)", type: "Conv",
             attributes: ["pads": .ints([1, 1, 1, 1]), "strides": .ints([2, 2])].merging(activation.attributes) { $1 },
             inputs: [[1, 64, 28, 28], [160, 64, 3, 3], [160]]),
        Case(name: "conv 7x7 stride 2 pad 3, 3→128 ch, 64x64, \(activation.name)", type: "Conv",
             attributes: ["pads": .ints([3, 3, 3, 3]), "strides": .ints([2, 2])].merging(activation.attributes) { $1 },
             inputs: [[1, 3, 64, 64], [128, 3, 7, 7], [128]]),
    ] }

    /// Fully connected layers on one sample: Y (1, N) = A (1, K) · Bᵀ + C, B stored (N, K).
    static let gemm: [Case] = activations.flatMap { activation in [
        Case(name: "gemm transB, K 4096, N 4096, \(activation.name)", type: "Gemm",
             attributes: ["transB": .int(1), "alpha": .float(1), "beta": .float(1)].merging(activation.attributes) { $1 },
             inputs: [[1, 4096], [4096, 4096], [4096]]),
        Case(name: "gemm transB, K 4096, N 1000, \(activation.name)", type: "Gemm",
             attributes: ["transB": .int(1), "alpha": .float(1), "beta": .float(1)].merging(activation.attributes) { $1 },
             inputs: [[1, 4096], [1000, 4096], [1000]]),
    ] }

    /// Piece boundaries 0 = b0 < b1 < … = rows, each inner one a multiple of
    /// `granularity`, the pieces 1, 2, 3, 1, 2, 3… granules long (so pieces of
    /// different sizes meet).
    static func boundaries(rows: Int, granularity: Int) -> [Int] {
        var result = [0]
        var granules = 1
        while result.last! < rows {
            result.append(min(rows, result.last! + granules * granularity))
            granules = granules % 3 + 1
        }
        return result
    }

    /// Pieces of 1, 6, 43 and 79 rows, then the rest: no common granularity.
    static func unevenBoundaries(rows: Int) -> [Int] {
        [0, 1, 7, 50, 129].filter { $0 < rows } + [rows]
    }

    /// The inputs, the whole output and the pieces' output of one case, for one
    /// set of piece boundaries, at the current BLAS thread count.
    struct Outcome {
        let whole: Tensor
        let pieces: Tensor

        /// How many floats differ in bits, and the first that does.
        var difference: (count: Int, first: Int)? {
            var count = 0, first = -1
            for i in 0..<whole.elementCount where whole.data[i].bitPattern != pieces.data[i].bitPattern {
                if count == 0 { first = i }
                count += 1
            }
            return count == 0 ? nil : (count, first)
        }

        func describe(_ boundaries: [Int]) -> String {
            guard let (count, first) = difference else { return "pieces \(boundaries): bit-identical" }
            let (expected, actual) = (whole.data[first], pieces.data[first])
            return "pieces \(boundaries), \(BLAS.threadCount) threads: \(count) of \(whole.elementCount) floats differ; "
                + "first at \(first): whole \(expected) (0x\(String(expected.bitPattern, radix: 16))), "
                + "pieces \(actual) (0x\(String(actual.bitPattern, radix: 16)))"
        }
    }

    /// Seeded inputs for `testCase`, the same on every run.
    static func inputs(_ testCase: Case) -> [Tensor] {
        var random = SeededRandom(name: testCase.name)
        return testCase.inputs.map { random.tensor($0, scale: 1) }
    }

    /// Runs `testCase` whole, then piece by piece into one NaN-filled buffer
    /// (so a float no piece writes shows up as a difference), on `path`.
    static func run(_ testCase: Case, inputs: [Tensor], boundaries: [Int], path: BLAS.Path) throws -> Outcome {
        let op = try Operator(type: testCase.type, attributes: testCase.attributes)
        let workspace = Workspace()
        workspace.gemmPath = path
        let outputShape = try op.outputShape(inputs: testCase.inputs)
        let whole = Tensor(zeros: outputShape)
        try op.execute(inputs: inputs, output: whole, workspace: workspace)

        let pieces = Tensor(shape: outputShape, values: .init(repeating: .nan, count: outputShape.elementCount))
        let (weight, bias) = (inputs[1], inputs[2])
        // weight is (rows, …): one row is rowFloats floats
        let rowFloats = weight.elementCount / testCase.rows
        for (r0, r1) in zip(boundaries, boundaries.dropFirst()) {
            var weightShape = weight.shape
            weightShape.dims[0] = r1 - r0
            let pieceInputs = [inputs[0], Tensor(shape: weightShape, borrowing: weight.data + r0 * rowFloats),
                               Tensor(shape: [r1 - r0], borrowing: bias.data + r0)]
            // Batch 1 (Conv) or M = 1 (Gemm): the piece's output is one
            // contiguous run of the whole output, (r1 − r0) · outputRowFloats long.
            let pieceShape = try op.outputShape(inputs: pieceInputs.map(\.shape))
            let outputRowFloats = pieceShape.elementCount / (r1 - r0)
            try op.execute(inputs: pieceInputs, output: Tensor(shape: pieceShape, borrowing: pieces.data + r0 * outputRowFloats),
                           workspace: workspace)
        }
        return Outcome(whole: whole, pieces: pieces)
    }
}
