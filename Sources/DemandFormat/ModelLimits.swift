import DemandTensor

/// The sizes a model may declare, so that no shape or byte arithmetic in the
/// reader, the shape inference or the runtime can overflow `Int`: every
/// dimension and every integer attribute (but Slice's starts and ends) fits in
/// 32 bits, and a tensor has at most 2^40 elements (4 TiB of float32, far
/// beyond any model). Each bound answers an input that once trapped the
/// reader (fixtures/fuzz/manifest/crashes).
public enum ModelLimits {
    /// The largest dimension of any shape.
    public static let largestDimension = Int(Int32.max)
    /// The most elements of any tensor.
    public static let largestElementCount = 1 << 40
    /// Integer attributes (pads, strides, dilations, axes, scales) lie in ±largestAttribute.
    public static let largestAttribute = Int(Int32.max)

    /// Why `shape` is too large to describe, or nil when it is within the limits.
    public static func problem(with shape: Shape) -> String? {
        var count = 1
        for dimension in shape.dims {
            guard dimension <= largestDimension else {
                return "dimension \(dimension) of shape \(shape) is over the limit of \(largestDimension)"
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: max(dimension, 0))
            guard !overflow, product <= largestElementCount else {
                return "shape \(shape) has more than \(largestElementCount) elements"
            }
            count = product
        }
        return nil
    }

    /// Attributes exempt from `largestAttribute`: Slice clamps its starts and
    /// ends to the dimension by definition, and ONNX writes ±2^63 for "to the end".
    public static let unboundedAttributes: Set<String> = ["starts", "ends"]

    /// Why an attribute is out of range, or nil when every integer in it is
    /// within ±largestAttribute (or the attribute is one of `unboundedAttributes`).
    public static func problem(with attribute: AttributeValue, named name: String) -> String? {
        guard !unboundedAttributes.contains(name) else { return nil }
        let values: [Int] = switch attribute {
        case .int(let value): [value]
        case .ints(let values): values
        case .float, .floats, .string: []
        }
        guard let bad = values.first(where: { $0 > largestAttribute || $0 < -largestAttribute }) else { return nil }
        return "attribute '\(name)' holds \(bad), outside ±\(largestAttribute)"
    }
}
