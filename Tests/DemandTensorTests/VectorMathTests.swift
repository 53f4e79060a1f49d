@testable import DemandTensor
import Foundation
import Testing

/// The SIMD exp family against Double libm over a dense sweep, including the
/// tails of each vector loop (counts that are not multiples of 8).
struct VectorMathTests {
    /// `count` evenly spaced values in [low, high], through `F` and through `exact`.
    private func worstError<F: VectorFunction>(_ function: F.Type, _ low: Float, _ high: Float, count: Int = 20_001,
                                              relative: Bool, _ exact: (Double) -> Double) -> (error: Double, at: Float) {
        let inputs = (0..<count).map { low + (high - low) * Float($0) / Float(count - 1) }
        var outputs = [Float](repeating: .nan, count: count)
        inputs.withUnsafeBufferPointer { source in
            outputs.withUnsafeMutableBufferPointer { VectorMath.map(function, from: source.baseAddress!, to: $0.baseAddress!, count: count) }
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

    @Test func expIsWithinAFewUlpAcrossItsRange() {
        let worst = worstError(ExpFunction.self, -87, 88, relative: true) { Foundation.exp($0) }
        #expect(worst.error < 4e-7, "exp relative error \(worst.error) at \(worst.at)")
        let clamped = worstError(ExpFunction.self, -200, -100, count: 9, relative: false) { _ in 0 }
        #expect(clamped.error < 1e-37, "exp far below the range should be ~0, off by \(clamped.error) at \(clamped.at)")
    }

    @Test func sigmoidSiluTanhErfGelu() {
        let cases: [(String, Double, (error: Double, at: Float))] = [
            ("sigmoid", 2e-7, worstError(SigmoidFunction.self, -30, 30, relative: false) { 1 / (1 + Foundation.exp(-$0)) }),
            ("silu", 3e-6, worstError(SiluFunction.self, -30, 30, relative: false) { $0 / (1 + Foundation.exp(-$0)) }),
            ("tanh", 3e-7, worstError(TanhFunction.self, -12, 12, relative: false) { Foundation.tanh($0) }),
            ("erf", 5e-7, worstError(ErfFunction.self, -6, 6, relative: false) { Foundation.erf($0) }),
            ("gelu", 2e-6, worstError(GeluFunction.self, -10, 10, relative: false) { 0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot())) }),
        ]
        for (name, bound, worst) in cases {
            #expect(worst.error < bound, "\(name) absolute error \(worst.error) at \(worst.at)")
        }
    }

    @Test func nanPropagates() {
        var values: [Float] = [.nan, 1, .nan]
        values.withUnsafeMutableBufferPointer { VectorMath.map(ExpFunction.self, from: $0.baseAddress!, to: $0.baseAddress!, count: 3) }
        #expect(values[0].isNaN && values[2].isNaN)
        #expect(abs(values[1] - 2.718_281_8) < 1e-6)
    }
}
