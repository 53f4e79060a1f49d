/// One operator attribute as stored in a model manifest.
///
/// Encoded as a one-key JSON object so integers and floats never blur:
/// `{"i": 1}`, `{"f": 0.1}`, `{"ints": [1, 1]}`, `{"floats": [0.5]}`, `{"s": "relu"}`.
public enum AttributeValue: Hashable, Sendable, Codable, CustomStringConvertible {
    /// An integer (`{"i": 1}`).
    case int(Int)
    /// A float (`{"f": 0.1}`).
    case float(Float)
    /// A list of integers (`{"ints": [1, 1]}`).
    case ints([Int])
    /// A list of floats (`{"floats": [0.5]}`).
    case floats([Float])
    /// A string (`{"s": "relu"}`).
    case string(String)

    private enum Key: String, CodingKey { case i, f, ints, floats, s }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        guard container.allKeys.count == 1, let key = container.allKeys.first else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: decoder.codingPath,
                debugDescription: "an attribute is an object with exactly one of the keys i, f, ints, floats, s"))
        }
        switch key {
        case .i: self = .int(try container.decode(Int.self, forKey: .i))
        case .f: self = .float(try container.decode(Float.self, forKey: .f))
        case .ints: self = .ints(try container.decode([Int].self, forKey: .ints))
        case .floats: self = .floats(try container.decode([Float].self, forKey: .floats))
        case .s: self = .string(try container.decode(String.self, forKey: .s))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        switch self {
        case .int(let v): try container.encode(v, forKey: .i)
        case .float(let v): try container.encode(v, forKey: .f)
        case .ints(let v): try container.encode(v, forKey: .ints)
        case .floats(let v): try container.encode(v, forKey: .floats)
        case .string(let v): try container.encode(v, forKey: .s)
        }
    }

    public var description: String {
        switch self {
        case .int(let v): "\(v)"
        case .float(let v): "\(v)"
        case .ints(let v): "\(v)"
        case .floats(let v): "\(v)"
        case .string(let v): "\"\(v)\""
        }
    }
}
