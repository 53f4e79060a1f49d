import CKernels
@testable import DemandTensor
import DemandZoo
import Synchronization
import Testing

/// Elementwise passes (residual adds, activations, pooling, a conv's unfused
/// activation) split across the GEMM's pool threads: every element is covered
/// once, and the thread count does not change a bit.
@Suite(.serialized) struct ParallelRangesTests {
    @Test func rangesCoverEveryElementOnceOnAnyThreadCount() {
        let saved = BLAS.threadCount
        defer { BLAS.setThreadCount(saved) }
        for threads in [1, 2, 3] {
            BLAS.setThreadCount(threads)
            for (count, grain) in [(100_003, 1000), (65_536, 16_384), (40_000, 40_000), (32_768, 7)] {
                let seen = Mutex<[Range<Int>]>([])
                ParallelRanges.run(count: count, grain: grain, minimum: 1) { start, end in seen.withLock { $0.append(start..<end) } }
                let ranges = seen.withLock { $0 }.sorted { $0.lowerBound < $1.lowerBound }
                var next = 0
                for range in ranges {
                    #expect(range.lowerBound == next && range.count <= grain && !range.isEmpty, "\(threads) threads, \(count)/\(grain): \(range)")
                    next = range.upperBound
                }
                #expect(next == count, "\(threads) threads, \(count)/\(grain): covered up to \(next)")
            }
        }
    }

    @Test func passesGiveTheSameBitsOnOneAndTwoThreads() throws {
        let saved = BLAS.threadCount
        defer { BLAS.setThreadCount(saved) }
        var random = SeededRandom(seed: 17)
        let a = Tensor(zeros: [1, 24, 57, 61]), b = Tensor(zeros: [1, 24, 57, 61])
        random.fill(a.buffer, bound: 2)
        random.fill(b.buffer, bound: 2)
        let pool = try Operator(type: "MaxPool", attributes: ["kernel_shape": .ints([3, 3]), "strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1])])
        let average = try Operator(type: "AveragePool", attributes: ["kernel_shape": .ints([3, 3]), "strides": .ints([1, 1]), "pads": .ints([1, 1, 1, 1])])
        let cases: [(String, Operator, [Tensor])] = [
            ("Add+relu", try Operator(type: "Add", attributes: ["activation": .string("relu")]), [a, b]),
            ("SiLU", try Operator(type: "Silu", attributes: [:]), [a]),
            ("Exp", try Operator(type: "Exp", attributes: [:]), [a]),
            ("MaxPool", pool, [a]),
            ("Concat", try Operator(type: "Concat", attributes: ["axis": .int(1)]), [a, b, a]),
            ("Concat axis 2", try Operator(type: "Concat", attributes: ["axis": .int(2)]), [b, a]),
            ("Slice of channels", try Operator(type: "Slice", attributes: ["starts": .ints([3]), "ends": .ints([20]), "axes": .ints([1])]), [a]),
            ("AveragePool", average, [a]),
            ("Conv+SiLU", try Operator(type: "Conv", attributes: ["kernel_shape": .ints([3, 3]), "pads": .ints([1, 1, 1, 1]), "activation": .string("silu")]),
             [a, Tensor(shape: [16, 24, 3, 3], values: (0..<(16 * 24 * 9)).map { Float(($0 * 7) % 13) * 0.01 - 0.06 }),
              Tensor(shape: [16], values: (0..<16).map { Float($0) * 0.1 - 0.8 })]),
        ]
        for (name, op, inputs) in cases {
            var results: [[UInt32]] = []
            for threads in [1, 2] {
                BLAS.setThreadCount(threads)
                let output = Tensor(zeros: try op.outputShape(inputs: inputs.map(\.shape)))
                try op.execute(inputs: inputs, output: output, workspace: Workspace(floatCount: op.workspaceFloatCount(inputs: inputs.map(\.shape))))
                results.append(output.array.map(\.bitPattern))
            }
            #expect(results[0] == results[1], "\(name): 1 and 2 threads differ")
        }
        // The concat is its inputs side by side (one image: each input one run).
        let joined = Tensor(zeros: [1, 72, 57, 61])
        try Operator(type: "Concat", attributes: ["axis": .int(1)]).execute(inputs: [a, b, a], output: joined, workspace: Workspace())
        #expect(joined.array == a.array + b.array + a.array)
        // A slice of whole channels is that run of the input.
        let slice = try Operator(type: "Slice", attributes: ["starts": .ints([3]), "ends": .ints([20]), "axes": .ints([1])])
        let sliced = Tensor(zeros: [1, 17, 57, 61])
        try slice.execute(inputs: [a], output: sliced, workspace: Workspace())
        #expect(sliced.array == Array(a.array[(3 * 57 * 61)..<(20 * 57 * 61)]))
        // And the add is what it says: relu(a + b), exactly.
        BLAS.setThreadCount(2)
        let sum = Tensor(zeros: a.shape)
        try cases[0].1.execute(inputs: [a, b], output: sum, workspace: Workspace())
        let expected = zip(a.array, b.array).map { max($0 + $1, 0) }
        #expect(sum.array == expected)
    }
}

/// The kernels count their own scratch (`dl_kernel_scratch_bytes`), which no
/// budget covers. Other suites run kernels in this process at the same time,
/// so only what this thread itself keeps is asserted here; that repeated
/// calls and exiting threads leave the count where it was is checked by
/// Tools/kernel-tests/kernel_check.c, alone in its process.
@Suite struct KernelScratchTests {
    @Test(.enabled(if: BLAS.Path.best != .openBLAS, "no CKernels GEMM path (the CPU lacks AVX2 + FMA and is not ARM64, or DEMANDLAYER_CPU=portable or DEMANDLAYER_PORTABLE_KERNELS=1 forbids it): convolutions go to OpenBLAS, whose buffers are its own"))
    func aThreadsKeptBuffersAreCounted() throws {
        var random = SeededRandom(seed: 5)
        let x = Tensor(zeros: [1, 32, 40, 40])
        random.fill(x.buffer, bound: 1)
        let w = Tensor(zeros: [48, 32, 3, 3])
        random.fill(w.buffer, bound: 0.2)
        // A stride-2 conv: packed columns, through this thread's packing buffers (520 KiB).
        let conv = try Operator(type: "Conv", attributes: ["kernel_shape": .ints([3, 3]), "pads": .ints([1, 1, 1, 1]), "strides": .ints([2, 2])])
        let output = Tensor(zeros: try conv.outputShape(inputs: [x.shape, w.shape]))
        try conv.execute(inputs: [x, w], output: output, workspace: Workspace())
        #expect(dl_kernel_scratch_bytes() >= 512 << 10, "\(dl_kernel_scratch_bytes()) bytes held after a conv")
        #expect(dl_kernel_scratch_peak_bytes() >= 512 << 10, "peak \(dl_kernel_scratch_peak_bytes())")
    }
}
