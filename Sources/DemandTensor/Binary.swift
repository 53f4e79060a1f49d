#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An elementwise function of two inputs, broadcast numpy-style. Add itself
/// is `Operator.add` (it fuses an activation); `.add` here is ONNX Sum.
public enum BinaryFunction: Hashable, Sendable {
    /// Sum: one or more inputs.
    case add
    /// A − B.
    case sub
    /// A · B.
    case mul
    /// A / B.
    case div
    /// A raised to B.
    case pow
    /// 1 where A = B, else 0.
    case equal
    /// 1 where A < B, else 0.
    case less
    /// 1 where A > B, else 0.
    case greater
    /// One or more inputs.
    case max
    /// One or more inputs.
    case min
    /// Inputs X, slope: x where x ≥ 0, slope·x elsewhere; slope broadcasts onto
    /// X, and the output has X's shape.
    case prelu
    /// ONNX Mod with fmod 0, integer semantics: A − B·⌊A / B⌋, so a nonzero
    /// result takes the divisor's sign (Python's %). ONNX allows it only on
    /// integers, which the runtime holds as float32, exact below 2^24.
    case mod
    /// ONNX Mod with fmod 1 (C fmod): A − B·trunc(A / B), so a nonzero result
    /// takes the dividend's sign.
    case fmod
    /// Logical And on bools held as floats (nonzero is true): 1 or 0.
    case and
    /// Logical Or on bools held as floats (nonzero is true): 1 or 0.
    case or
    /// Logical Xor on bools held as floats (nonzero is true): 1 or 0.
    case xor

    /// The ONNX op type, for messages.
    var typeName: String {
        switch self {
        case .add: "Sum"
        case .sub: "Sub"
        case .mul: "Mul"
        case .div: "Div"
        case .pow: "Pow"
        case .equal: "Equal"
        case .less: "Less"
        case .greater: "Greater"
        case .max: "Max"
        case .min: "Min"
        case .prelu: "PRelu"
        case .mod, .fmod: "Mod"
        case .and: "And"
        case .or: "Or"
        case .xor: "Xor"
        }
    }

    /// Sum, Max and Min take one or more inputs; the rest exactly two.
    var isVariadic: Bool { self == .add || self == .max || self == .min }
}

/// One binary function as a type, so that each kernel loop is specialized
/// for it at compile time: no closure call and no switch per element.
protocol BinaryKernel {
    static func apply(_ a: Float, _ b: Float) -> Float
}

private enum AddKernel: BinaryKernel { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a + b } }
private enum SubKernel: BinaryKernel { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a - b } }
private enum MulKernel: BinaryKernel { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a * b } }
private enum DivKernel: BinaryKernel { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a / b } }
private enum PowKernel: BinaryKernel { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { powf(a, b) } }
private enum EqualKernel: BinaryKernel { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a == b ? 1 : 0 } }
private enum LessKernel: BinaryKernel { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a < b ? 1 : 0 } }
private enum GreaterKernel: BinaryKernel { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a > b ? 1 : 0 } }
private enum MaxKernel: BinaryKernel { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a > b ? a : b } }
private enum MinKernel: BinaryKernel { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a < b ? a : b } }
private enum PReluKernel: BinaryKernel { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a < 0 ? a * b : a } }
private enum FmodKernel: BinaryKernel { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { fmodf(a, b) } }
private enum AndKernel: BinaryKernel { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a != 0 && b != 0 ? 1 : 0 } }
private enum OrKernel: BinaryKernel { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a != 0 || b != 0 ? 1 : 0 } }
private enum XorKernel: BinaryKernel { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { (a != 0) != (b != 0) ? 1 : 0 } }
private enum ModKernel: BinaryKernel {
    @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float {
        let remainder = fmodf(a, b)
        return remainder != 0 && (remainder < 0) != (b < 0) ? remainder + b : remainder
    }
}

/// Broadcast elementwise kernels: same shapes run one loop over contiguous
/// memory; otherwise a `StridedLayout` splits the output into rows along
/// which each input has stride 1 (its own values) or 0 (one value repeated,
/// e.g. a per-channel operand), each with its own tight loop; other strides
/// take a general strided loop.
enum Binary {
    static func run(_ function: BinaryFunction, _ inputs: [Tensor], output: Tensor) {
        switch function {
        case .add: variadic(AddKernel.self, inputs, output: output)
        case .max: variadic(MaxKernel.self, inputs, output: output)
        case .min: variadic(MinKernel.self, inputs, output: output)
        case .sub: pair(SubKernel.self, inputs[0], inputs[1], output: output)
        case .mul: pair(MulKernel.self, inputs[0], inputs[1], output: output)
        case .div: pair(DivKernel.self, inputs[0], inputs[1], output: output)
        case .pow: power(inputs[0], inputs[1], output: output)
        case .equal: pair(EqualKernel.self, inputs[0], inputs[1], output: output)
        case .less: pair(LessKernel.self, inputs[0], inputs[1], output: output)
        case .greater: pair(GreaterKernel.self, inputs[0], inputs[1], output: output)
        case .prelu: pair(PReluKernel.self, inputs[0], inputs[1], output: output)
        case .mod: pair(ModKernel.self, inputs[0], inputs[1], output: output)
        case .fmod: pair(FmodKernel.self, inputs[0], inputs[1], output: output)
        case .and: pair(AndKernel.self, inputs[0], inputs[1], output: output)
        case .or: pair(OrKernel.self, inputs[0], inputs[1], output: output)
        case .xor: pair(XorKernel.self, inputs[0], inputs[1], output: output)
        }
    }

    /// Sum, Max, Min of any number of inputs: the first is broadcast into the
    /// output, and each further input is folded into it in place.
    private static func variadic<K: BinaryKernel>(_ kernel: K.Type, _ inputs: [Tensor], output: Tensor) {
        switch inputs.count {
        case 1:
            StridedCopy.broadcast(inputs[0], output: output)
        case 2:
            pair(kernel, inputs[0], inputs[1], output: output)
        default:
            StridedCopy.broadcast(inputs[0], output: output)
            for input in inputs.dropFirst() { pair(kernel, output, input, output: output) }
        }
    }

    /// A^B, with the exponents models use in normalization (a scalar 2, 0.5
    /// or 1) as plain arithmetic rather than powf.
    private static func power(_ a: Tensor, _ b: Tensor, output: Tensor) {
        // With one exponent value the output holds A's values in A's order.
        if b.elementCount == 1 {
            let (x, y, count) = (a.data, output.data, output.elementCount)
            switch b.data[0] {
            case 2: for i in 0..<count { y[i] = x[i] * x[i] }; return
            case 0.5: for i in 0..<count { y[i] = x[i].squareRoot() }; return
            case 1: y.update(from: x, count: count); return
            default: break
            }
        }
        pair(PowKernel.self, a, b, output: output)
    }

    /// `output = f(a, b)` broadcast; `a` may be `output` itself (same shape).
    private static func pair<K: BinaryKernel>(_ kernel: K.Type, _ a: Tensor, _ b: Tensor, output: Tensor) {
        if a.shape.elementCount == output.elementCount && b.shape.elementCount == output.elementCount {
            row(kernel, a.data, 1, b.data, 1, output.data, count: output.elementCount)
            return
        }
        let layout = StridedLayout(broadcasting: [a.shape, b.shape], onto: output.shape)
        var cursor = RowCursor(layout)
        let length = layout.rowLength
        let (strideA, strideB) = (layout.strides[0][layout.dims.count - 1], layout.strides[1][layout.dims.count - 1])
        for rowIndex in 0..<layout.rowCount {
            row(kernel, a.data + cursor.offsets[0], strideA, b.data + cursor.offsets[1], strideB,
                output.data + rowIndex * length, count: length)
            cursor.advance()
        }
    }

    @inline(__always)
    private static func row<K: BinaryKernel>(_: K.Type, _ a: UnsafePointer<Float>, _ strideA: Int, _ b: UnsafePointer<Float>, _ strideB: Int,
                                             _ y: UnsafeMutablePointer<Float>, count: Int) {
        switch (strideA, strideB) {
        case (1, 1):
            for i in 0..<count { y[i] = K.apply(a[i], b[i]) }
        case (1, 0):
            let right = b[0]
            for i in 0..<count { y[i] = K.apply(a[i], right) }
        case (0, 1):
            let left = a[0]
            for i in 0..<count { y[i] = K.apply(left, b[i]) }
        default:
            for i in 0..<count { y[i] = K.apply(a[i * strideA], b[i * strideB]) }
        }
    }

    /// ONNX Where: `output = condition ≠ 0 ? x : y`, all three broadcast.
    static func select(condition: Tensor, _ x: Tensor, _ y: Tensor, output: Tensor) {
        let layout = StridedLayout(broadcasting: [condition.shape, x.shape, y.shape], onto: output.shape)
        var cursor = RowCursor(layout)
        let (length, last) = (layout.rowLength, layout.dims.count - 1)
        let (strideC, strideX, strideY) = (layout.strides[0][last], layout.strides[1][last], layout.strides[2][last])
        for rowIndex in 0..<layout.rowCount {
            let (c, a, b) = (condition.data + cursor.offsets[0], x.data + cursor.offsets[1], y.data + cursor.offsets[2])
            let destination = output.data + rowIndex * length
            if strideC == 1 && strideX == 1 && strideY == 1 {
                for i in 0..<length { destination[i] = c[i] != 0 ? a[i] : b[i] }
            } else {
                for i in 0..<length { destination[i] = c[i * strideC] != 0 ? a[i * strideX] : b[i * strideY] }
            }
            cursor.advance()
        }
    }
}
