import DemandTensor
import Foundation

/// The tests' one tolerance rule: max |actual − expected| against
/// max(1, max |expected|). A NaN anywhere counts as an infinite error.
public struct Closeness: Sendable {
    public private(set) var maxError: Float = 0
    public private(set) var scale: Float = 1
    public private(set) var worstIndex = 0
    public private(set) var worstActual: Float = 0
    public private(set) var worstExpected: Float = 0

    public init(actual: Tensor, expected: Tensor) {
        precondition(actual.shape == expected.shape, "comparing \(actual.shape) with \(expected.shape)")
        for index in 0..<expected.elementCount {
            let (a, b) = (actual.data[index], expected.data[index])
            let error = (a - b).isNaN ? Float.infinity : abs(a - b)
            if error > maxError || index == 0 {
                (maxError, worstIndex, worstActual, worstExpected) = (error, index, a, b)
            }
            scale = max(scale, abs(b))
        }
    }

    public func passes(tolerance: Float) -> Bool { maxError <= tolerance * scale }

    public func describe(tolerance: Float) -> String {
        "max |error| \(maxError) > \(tolerance) × \(scale) at element \(worstIndex): got \(worstActual), expected \(worstExpected)"
    }
}

/// A tensor stored as raw little-endian float32 in C order, as `Tools/reference.py` writes them.
public func loadFloat32(_ path: String, shape: Shape) throws -> Tensor {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    guard data.count == shape.elementCount * 4 else {
        throw FixtureError("\(path) holds \(data.count) bytes; shape \(shape) needs \(shape.elementCount * 4)")
    }
    let values = data.withUnsafeBytes { raw in
        (0..<shape.elementCount).map {
            Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))
        }
    }
    return Tensor(shape: shape, values: values)
}

/// A fixture that is missing, stale or malformed, with what to do about it.
public struct FixtureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
