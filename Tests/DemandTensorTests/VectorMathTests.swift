@testable import DemandTensor
import Foundation
import Testing

/// The SIMD exp family against Double libm over a dense sweep, including the
/// tails of each vector loop (counts that are not multiples of 8), on every
/// path this CPU can run (portable Swift SIMD, and AVX2 + FMA or NEON C kernels).
struct VectorMathTests {
    static let paths = VectorMath.Path.allCases.filter(\.isAvailable)

    /// `count` evenly spaced values in [low, high], through `function` and through `exact`.
    private func worstError(_ function: VectorMath.Function, _ path: VectorMath.Path, _ low: Float, _ high: Float, count: Int = 20_001,
                            relative: Bool, _ exact: (Double) -> Double) -> (error: Double, at: Float) {
        let inputs = (0..<count).map { low + (high - low) * Float($0) / Float(count - 1) }
        var outputs = [Float](repeating: .nan, count: count)
        inputs.withUnsafeBufferPointer { source in
            outputs.withUnsafeMutableBufferPointer {
                VectorMath.apply(function, from: source.baseAddress!, to: $0.baseAddress!, count: count, path: path)
            }
        }
        var worst: (error: Double, at: Float) = (0, 0)
        for (x, y) in zip(inputs, outputs) {
            let expected = exact(Double(x))
            var error = abs(Double(y) - expected)
            if relative { error /= max(abs(expected), Double(Float.leastNormalMagnitude)) }
            if !(error <= worst.error) { worst = (error.isNaN ? .infinity : error, x) }
        }
        return worst
    }

    @Test func avx2IsUsedWhereTheCPUHasIt() {
        #expect(VectorMath.Path.best == (VectorMath.Path.avx2Available ? .avx2 : VectorMath.Path.neonAvailable ? .neon : .portable))
        if VectorMath.Path.best == .portable { print("note: this CPU lacks AVX2/FMA and is not ARM64; only the portable path is tested") }
    }

    @Test(arguments: paths)
    func expIsWithinAFewUlpAcrossItsRange(path: VectorMath.Path) {
        let worst = worstError(.exp, path, -87, 88.37, relative: true) { Foundation.exp($0) }
        #expect(worst.error < 4e-7, "exp relative error \(worst.error) at \(worst.at)")
        // At the top of the float range the result saturates near 2.4e38, never inf.
        let top = worstError(.exp, path, 88.37, 200, count: 101, relative: false) { _ in 2.4e38 }
        #expect(top.error < 0.1e38, "exp near and past the top of the range is off by \(top.error) at \(top.at)")
        let clamped = worstError(.exp, path, -200, -100, count: 9, relative: false) { _ in 0 }
        #expect(clamped.error < 1e-37, "exp far below the range should be ~0, off by \(clamped.error) at \(clamped.at)")
    }

    @Test(arguments: paths)
    func sigmoidSiluTanhErfGelu(path: VectorMath.Path) {
        let cases: [(String, Double, (error: Double, at: Float))] = [
            ("sigmoid", 2e-7, worstError(.sigmoid, path, -30, 30, relative: false) { 1 / (1 + Foundation.exp(-$0)) }),
            ("silu", 3e-6, worstError(.silu, path, -30, 30, relative: false) { $0 / (1 + Foundation.exp(-$0)) }),
            ("tanh", 3e-7, worstError(.tanh, path, -12, 12, relative: false) { Foundation.tanh($0) }),
            ("erf", 5e-7, worstError(.erf, path, -6, 6, relative: false) { Foundation.erf($0) }),
            ("gelu tanh", 2e-6, worstError(.geluTanh, path, -10, 10, relative: false) {
                0.5 * $0 * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * ($0 + 0.044715 * $0 * $0 * $0)))
            }),
            ("gelu", 2e-6, worstError(.gelu, path, -10, 10, relative: false) { 0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot())) }),
        ]
        for (name, bound, worst) in cases {
            #expect(worst.error < bound, "\(name) absolute error \(worst.error) at \(worst.at)")
        }
    }

    @Test(arguments: paths)
    func nanPropagatesAndBiasIsAdded(path: VectorMath.Path) {
        var values: [Float] = [.nan, 1, .nan]
        values.withUnsafeMutableBufferPointer { VectorMath.apply(.exp, from: $0.baseAddress!, to: $0.baseAddress!, count: 3, path: path) }
        #expect(values[0].isNaN && values[2].isNaN)
        #expect(abs(values[1] - 2.718_281_8) < 1e-6)
        var biased: [Float] = Array(repeating: -1, count: 11)
        biased.withUnsafeMutableBufferPointer { VectorMath.apply(.sigmoid, from: $0.baseAddress!, to: $0.baseAddress!, count: 11, adding: 1, path: path) }
        #expect(biased.allSatisfy { $0 == 0.5 }, "sigmoid(-1 + 1) gave \(biased)")
    }

    @Test(arguments: paths)
    func softmaxHelpers(path: VectorMath.Path) {
        let x: [Float] = (0..<13).map { Float($0) / 4 }
        var y = [Float](repeating: .nan, count: 13)
        let sum = x.withUnsafeBufferPointer { source in
            y.withUnsafeMutableBufferPointer { VectorMath.expSum(source.baseAddress!, $0.baseAddress!, count: 13, shift: 3, path: path) }
        }
        let expected = x.map { Foundation.exp(Double($0) - 3) }
        #expect(abs(Double(sum) - expected.reduce(0, +)) < 1e-5)
        #expect(zip(y, expected).allSatisfy { abs(Double($0) - $1) < 1e-6 })
        var sums = [Float](repeating: 1, count: 13)
        let maxima = [Float](repeating: 3, count: 13)
        x.withUnsafeBufferPointer { source in
            y.withUnsafeMutableBufferPointer { out in
                sums.withUnsafeMutableBufferPointer {
                    VectorMath.expAccumulate(source.baseAddress!, maxima: maxima, out.baseAddress!, sums: $0.baseAddress!, count: 13, path: path)
                }
            }
        }
        #expect(zip(sums, expected).allSatisfy { abs(Double($0) - 1 - $1) < 1e-6 }, "\(sums)")
        // A whole line, its maximum in the tail (index 12), 1000 added so an unshifted exp would overflow.
        let line = x.map { $0 + 1000 }
        line.withUnsafeBufferPointer { source in
            y.withUnsafeMutableBufferPointer { VectorMath.softmaxLine(source.baseAddress!, $0.baseAddress!, count: 13, path: path) }
        }
        let total = expected.reduce(0, +)
        #expect(zip(y, expected).allSatisfy { abs(Double($0) - $1 / total) < 1e-6 }, "softmax line \(y)")
    }
}
