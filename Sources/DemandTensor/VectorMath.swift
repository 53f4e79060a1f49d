import CKernels

/// exp and the functions built on it, eight floats at a time, instead of one
/// libm call per value: the elementwise nonlinearities of detection and
/// transformer models (sigmoid, SiLU, GELU, tanh, softmax) are otherwise
/// bound by expf/erff.
///
/// Three implementations of the same formulas: portable Swift SIMD (SSE2 on
/// baseline x86-64, four lanes per instruction, no FMA), the C kernels of
/// CKernels built for AVX2 + FMA, used when the CPU has them, and their NEON
/// versions on ARM64 (`Path.best`). The AVX2 and NEON ones give the same bits
/// (Tools/kernel-tests/kernel_check.c); they and the portable one differ in
/// the last bits only.
///
/// Accuracy: exp within about 2 ulp over its range (inputs clamped to
/// [−87.34, 88.38], so it neither overflows to inf nor underflows to a
/// denormal); erf within 2e-7 absolute (Abramowitz–Stegun 7.1.26);
/// tanh within 1e-7 absolute.
enum VectorMath {
    typealias Vector = SIMD8<Float>

    /// One value in every lane. Constants are written through this: Swift
    /// scalarizes arithmetic that mixes a SIMD vector with a scalar.
    @inline(__always)
    static func splat(_ value: Float) -> Vector { Vector(repeating: value) }

    @inline(__always)
    static func exp(_ x: Vector) -> Vector {
        // Comparisons and `replacing` compile to minps/maxps; NaN stays NaN.
        let low = splat(-87.336_54), high = splat(88.376_26)   // high·log2(e) stays below 127.5
        var clamped = x.replacing(with: low, where: x .< low)
        clamped = clamped.replacing(with: high, where: clamped .> high)
        // n = round(x / ln 2) by the 1.5·2^23 trick (no SSE4.1 round needed);
        // the integer then sits in the low mantissa bits of `shifted`.
        let magic = splat(12_582_912)
        let shifted = clamped * splat(1.442_695_04) + magic
        let n = shifted - magic
        // r = x − n·ln 2, with ln 2 split in two for precision.
        let r = clamped - n * splat(0.693_359_375) + n * splat(2.121_944_4e-4)
        var p = splat(1.987_569_15e-4)
        p = p * r + splat(1.398_199_95e-3)
        p = p * r + splat(8.333_451_9e-3)
        p = p * r + splat(4.166_579_59e-2)
        p = p * r + splat(1.666_666_55e-1)
        p = p * r + splat(5.000_000_12e-1)
        let expR = p * (r * r) + r + splat(1)
        // 2^n built from its exponent bits: (n + 127) << 23.
        let bits = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- SIMD8<Int32>(repeating: 0x4B40_0000 - 127)
        return expR * unsafeBitCast(bits &<< SIMD8<Int32>(repeating: 23), to: Vector.self)
    }

    @inline(__always)
    static func sigmoid(_ x: Vector) -> Vector { splat(1) / (splat(1) + exp(-x)) }

    /// 1 − 2/(e^{2x} + 1)
    @inline(__always)
    static func tanh(_ x: Vector) -> Vector { splat(1) - splat(2) / (exp(x + x) + splat(1)) }

    /// Abramowitz–Stegun 7.1.26 on |x|, with the sign put back.
    @inline(__always)
    static func erf(_ x: Vector) -> Vector {
        let negative = x .< splat(0)
        let magnitude = x.replacing(with: -x, where: negative)
        let t = splat(1) / (splat(1) + splat(0.327_591_1) * magnitude)
        var p = splat(1.061_405_429)
        p = p * t + splat(-1.453_152_027)
        p = p * t + splat(1.421_413_741)
        p = p * t + splat(-0.284_496_736)
        p = p * t + splat(0.254_829_592)
        let y = splat(1) - p * t * exp(-(magnitude * magnitude))
        return y.replacing(with: -y, where: negative)
    }
}

/// A function applied eight floats at a time; `map` specializes its loop for
/// each conforming type, so there is no call per value or per vector.
protocol VectorFunction {
    static func callAsFunction(_ x: VectorMath.Vector) -> VectorMath.Vector
}

extension VectorMath {
    /// `destination[i] = F(source[i] + bias)` for `count` floats; the two may
    /// be equal. The last partial vector is computed in a padded register.
    @inline(__always)
    static func map<F: VectorFunction>(_: F.Type, from source: UnsafePointer<Float>, to destination: UnsafeMutablePointer<Float>,
                                       count: Int, adding bias: Float = 0) {
        let shift = Vector(repeating: bias)
        var i = 0
        while i + 8 <= count {
            let x = UnsafeRawPointer(source + i).loadUnaligned(as: Vector.self)
            UnsafeMutableRawPointer(destination + i).storeBytes(of: F.callAsFunction(x + shift), as: Vector.self)
            i += 8
        }
        if i < count {
            var x = Vector(repeating: 0)
            for lane in 0..<(count - i) { x[lane] = source[i + lane] }
            let y = F.callAsFunction(x + shift)
            for lane in 0..<(count - i) { destination[i + lane] = y[lane] }
        }
    }
}

enum SigmoidFunction: VectorFunction {
    @inline(__always) static func callAsFunction(_ x: VectorMath.Vector) -> VectorMath.Vector { VectorMath.sigmoid(x) }
}

enum SiluFunction: VectorFunction {
    @inline(__always) static func callAsFunction(_ x: VectorMath.Vector) -> VectorMath.Vector { x / (VectorMath.splat(1) + VectorMath.exp(-x)) }
}

enum TanhFunction: VectorFunction {
    @inline(__always) static func callAsFunction(_ x: VectorMath.Vector) -> VectorMath.Vector { VectorMath.tanh(x) }
}

enum ExpFunction: VectorFunction {
    @inline(__always) static func callAsFunction(_ x: VectorMath.Vector) -> VectorMath.Vector { VectorMath.exp(x) }
}

enum ErfFunction: VectorFunction {
    @inline(__always) static func callAsFunction(_ x: VectorMath.Vector) -> VectorMath.Vector { VectorMath.erf(x) }
}

/// x/2 · (1 + erf(x/√2))
enum GeluFunction: VectorFunction {
    @inline(__always) static func callAsFunction(_ x: VectorMath.Vector) -> VectorMath.Vector {
        VectorMath.splat(0.5) * x * (VectorMath.splat(1) + VectorMath.erf(x * VectorMath.splat(0.707_106_78)))
    }
}

/// x/2 · (1 + tanh(√(2/π) · (x + 0.044715·x³)))
enum GeluTanhFunction: VectorFunction {
    @inline(__always) static func callAsFunction(_ x: VectorMath.Vector) -> VectorMath.Vector {
        let inner = VectorMath.splat(0.797_884_56) * (x + VectorMath.splat(0.044_715) * x * x * x)
        return VectorMath.splat(0.5) * x * (VectorMath.splat(1) + VectorMath.tanh(inner))
    }
}

extension VectorMath {
    /// Which implementation runs.
    enum Path: CaseIterable {
        /// Swift SIMD8, any CPU.
        case portable
        /// CKernels' AVX2 + FMA functions; only where `avx2Available`.
        case avx2
        /// CKernels' NEON functions (ARM64); only where `neonAvailable`.
        case neon

        static let avx2Available = dl_kernels_have_avx2() != 0
        static let neonAvailable = dl_kernels_have_neon() != 0
        /// AVX2 or NEON where the CPU has it.
        static let best: Path = avx2Available ? .avx2 : neonAvailable ? .neon : .portable

        /// Whether this process may run the path.
        var isAvailable: Bool {
            switch self {
            case .portable: true
            case .avx2: Path.avx2Available
            case .neon: Path.neonAvailable
            }
        }
    }

    /// The C kernels of one vectorized path (CKernels' kernels.c and
    /// kernels_neon.c): the same functions, giving the same bits on either.
    private struct Kernels {
        typealias Unary = @convention(c) (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void
        typealias Biased = @convention(c) (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int, Float) -> Void
        let sigmoid, silu: Biased
        let tanh, erf, gelu, geluTanh, exp, softmaxLine: Unary
        let expSum: @convention(c) (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int, Float) -> Float
        let expAccumulate: @convention(c) (UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void

        static let avx2 = Kernels(sigmoid: dl_avx2_sigmoid, silu: dl_avx2_silu, tanh: dl_avx2_tanh, erf: dl_avx2_erf, gelu: dl_avx2_gelu,
                                  geluTanh: dl_avx2_gelu_tanh, exp: dl_avx2_exp, softmaxLine: dl_avx2_softmax_line,
                                  expSum: dl_avx2_exp_sum, expAccumulate: dl_avx2_exp_accumulate)
        static let neon = Kernels(sigmoid: dl_neon_sigmoid, silu: dl_neon_silu, tanh: dl_neon_tanh, erf: dl_neon_erf, gelu: dl_neon_gelu,
                                  geluTanh: dl_neon_gelu_tanh, exp: dl_neon_exp, softmaxLine: dl_neon_softmax_line,
                                  expSum: dl_neon_exp_sum, expAccumulate: dl_neon_exp_accumulate)

        /// The path's kernels; nil for the portable one, which is written here in Swift.
        static func of(_ path: Path) -> Kernels? {
            switch path {
            case .avx2: avx2
            case .neon: neon
            case .portable: nil
            }
        }
    }

    /// The functions `apply` computes.
    enum Function: CaseIterable {
        case sigmoid, silu, tanh, erf, gelu, geluTanh, exp
    }

    /// `destination[i] = f(source[i] + bias)` for `count` floats; the two
    /// may be equal. Only sigmoid and SiLU take a bias.
    static func apply(_ function: Function, from source: UnsafePointer<Float>, to destination: UnsafeMutablePointer<Float>,
                      count: Int, adding bias: Float = 0, path: Path = .best) {
        precondition(bias == 0 || function == .sigmoid || function == .silu, "\(function) takes no bias")
        if let kernels = Kernels.of(path) {
            switch function {
            case .sigmoid: kernels.sigmoid(source, destination, count, bias)
            case .silu: kernels.silu(source, destination, count, bias)
            case .tanh: kernels.tanh(source, destination, count)
            case .erf: kernels.erf(source, destination, count)
            case .gelu: kernels.gelu(source, destination, count)
            case .geluTanh: kernels.geluTanh(source, destination, count)
            case .exp: kernels.exp(source, destination, count)
            }
            return
        }
        switch function {
        case .sigmoid: map(SigmoidFunction.self, from: source, to: destination, count: count, adding: bias)
        case .silu: map(SiluFunction.self, from: source, to: destination, count: count, adding: bias)
        case .tanh: map(TanhFunction.self, from: source, to: destination, count: count)
        case .erf: map(ErfFunction.self, from: source, to: destination, count: count)
        case .gelu: map(GeluFunction.self, from: source, to: destination, count: count)
        case .geluTanh: map(GeluTanhFunction.self, from: source, to: destination, count: count)
        case .exp: map(ExpFunction.self, from: source, to: destination, count: count)
        }
    }

    /// `y[i] = exp(x[i] − shift)` for one softmax line; returns Σ y.
    static func expSum(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, shift: Float, path: Path = .best) -> Float {
        if let kernels = Kernels.of(path) { return kernels.expSum(x, y, count, shift) }
        let center = splat(shift)
        var lanes = Vector()
        var i = 0
        while i + 8 <= count {
            let e = exp(UnsafeRawPointer(x + i).loadUnaligned(as: Vector.self) - center)
            UnsafeMutableRawPointer(y + i).storeBytes(of: e, as: Vector.self)
            lanes += e
            i += 8
        }
        var sum = lanes.sum()
        if i < count {
            var v = center
            for lane in 0..<(count - i) { v[lane] = x[i + lane] }
            let e = exp(v - center)
            for lane in 0..<(count - i) {
                y[i + lane] = e[lane]
                sum += e[lane]
            }
        }
        return sum
    }

    /// `y = softmax(x)` over one contiguous line of `count` ≥ 1 floats, max-subtracted.
    static func softmaxLine(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, path: Path = .best) {
        if let kernels = Kernels.of(path) {
            kernels.softmaxLine(x, y, count)
            return
        }
        var maxima = splat(x[0])
        var i = 0
        while i + 8 <= count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: Vector.self)
            maxima = maxima.replacing(with: v, where: v .> maxima)
            i += 8
        }
        var maximum = maxima.max()
        while i < count {
            maximum = x[i] > maximum ? x[i] : maximum
            i += 1
        }
        let scale = 1 / expSum(x, y, count: count, shift: maximum, path: path)
        for i in 0..<count { y[i] *= scale }
    }

    /// `y[i] = exp(x[i] − maxima[i])` and `sums[i] += y[i]`: one row of a
    /// softmax whose lines run across rows.
    static func expAccumulate(_ x: UnsafePointer<Float>, maxima: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                              sums: UnsafeMutablePointer<Float>, count: Int, path: Path = .best) {
        if let kernels = Kernels.of(path) {
            kernels.expAccumulate(x, maxima, y, sums, count)
            return
        }
        var i = 0
        while i + 8 <= count {
            let e = exp(UnsafeRawPointer(x + i).loadUnaligned(as: Vector.self) - UnsafeRawPointer(maxima + i).loadUnaligned(as: Vector.self))
            UnsafeMutableRawPointer(y + i).storeBytes(of: e, as: Vector.self)
            let total = UnsafeRawPointer(sums + i).loadUnaligned(as: Vector.self) + e
            UnsafeMutableRawPointer(sums + i).storeBytes(of: total, as: Vector.self)
            i += 8
        }
        if i < count {
            var v = Vector()
            for lane in 0..<(count - i) { v[lane] = x[i + lane] - maxima[i + lane] }
            let e = exp(v)
            for lane in 0..<(count - i) {
                y[i + lane] = e[lane]
                sums[i + lane] += e[lane]
            }
        }
    }
}
