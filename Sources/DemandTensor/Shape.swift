/// The dimensions of a tensor, outermost first (NCHW for images).
public struct Shape: Hashable, Sendable, Codable, CustomStringConvertible, ExpressibleByArrayLiteral {
    /// The dimensions, outermost first.
    public var dims: [Int]

    /// A shape with dimensions `dims`, outermost first.
    public init(_ dims: [Int]) { self.dims = dims }
    /// A shape written as a literal: `[1, 3, 224, 224]`.
    public init(arrayLiteral elements: Int...) { self.dims = elements }

    /// Decodes a shape stored as a JSON array of dimensions.
    public init(from decoder: any Decoder) throws {
        dims = try decoder.singleValueContainer().decode([Int].self)
    }

    /// Encodes the shape as a JSON array of dimensions.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(dims)
    }

    /// The number of dimensions.
    public var rank: Int { dims.count }
    /// The product of the dimensions: how many elements a tensor of this shape holds.
    public var elementCount: Int { dims.reduce(1, *) }
    /// The size of dimension `axis` (0 is outermost).
    public subscript(_ axis: Int) -> Int { dims[axis] }

    /// The dimensions joined by `x`, as in `1x3x224x224`, the spelling used on
    /// the command line and in messages; "scalar" for rank 0 (one element).
    public var description: String { dims.isEmpty ? "scalar" : dims.map(String.init).joined(separator: "x") }
}
