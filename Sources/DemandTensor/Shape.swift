/// The dimensions of a tensor, outermost first (NCHW for images).
public struct Shape: Hashable, Sendable, Codable, CustomStringConvertible, ExpressibleByArrayLiteral {
    public var dims: [Int]

    public init(_ dims: [Int]) { self.dims = dims }
    public init(arrayLiteral elements: Int...) { self.dims = elements }

    public init(from decoder: any Decoder) throws {
        dims = try decoder.singleValueContainer().decode([Int].self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(dims)
    }

    public var rank: Int { dims.count }
    public var elementCount: Int { dims.reduce(1, *) }
    public subscript(_ axis: Int) -> Int { dims[axis] }

    /// "1x3x224x224", the spelling used on the command line and in messages.
    public var description: String { dims.map(String.init).joined(separator: "x") }
}
