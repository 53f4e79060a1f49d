import DemandTensor

/// Fixes every graph input's shape statically: the model's declared
/// dimensions, replaced by `--input-shape` where given. A declared shape of
/// no dimensions is a scalar (rank 0, one element); an input whose type has
/// no shape at all needs `--input-shape` (`NAME=scalar` for a scalar).
enum InputShapes {
    struct Input {
        var name: String
        var elementType: Int32
        var shape: Shape
    }

    static func resolve(_ declared: [SourceGraph.Input], overrides: [String: Shape]) throws(ImportError) -> [Input] {
        let names = Set(declared.map(\.name))
        if let unknown = overrides.keys.sorted().first(where: { !names.contains($0) }) {
            throw ImportError(.invalidModel,
                "--input-shape names '\(unknown)', which is not a graph input; inputs: \(declared.map(\.name).joined(separator: ", "))")
        }
        var result: [Input] = []
        for input in declared {
            guard ElementType.isFloat(input.elementType) || ElementType.isInteger(input.elementType) else {
                throw ImportError(.unsupported, "graph input '\(input.name)' has element type \(ElementType.name(input.elementType)), which is not supported")
            }
            if let given = overrides[input.name] {
                guard given.dims.allSatisfy({ $0 > 0 }) else {
                    throw ImportError(.invalidModel, "--input-shape \(input.name)=\(given): every dimension must be positive")
                }
                if let declared = input.dims {
                    guard given.rank == declared.count else {
                        throw ImportError(.invalidModel,
                            "--input-shape \(input.name)=\(given) has rank \(given.rank), but the model declares rank \(declared.count) (\(describe(declared)))")
                    }
                    for (axis, dim) in declared.enumerated() {
                        if case .fixed(let size) = dim, size > 0, size != given[axis] {
                            throw ImportError(.invalidModel,
                                "--input-shape \(input.name)=\(given) sets dimension \(axis) to \(given[axis]), but the model fixes it at \(size)")
                        }
                    }
                }
                result.append(Input(name: input.name, elementType: input.elementType, shape: given))
                continue
            }
            guard let declared = input.dims else {
                throw ImportError(.unresolvedShape,
                    "input '\(input.name)' declares no shape; give one with --input-shape \(input.name)=scalar (a rank-0 value) or \(input.name)=1x3x224x224 (its dimensions)")
            }
            var dims: [Int] = []
            for (axis, dim) in declared.enumerated() {
                switch dim {
                case .fixed(let size) where size > 0: dims.append(size)
                case .symbolic(let param):
                    throw ImportError(.unresolvedShape,
                        "input '\(input.name)' dimension \(axis) is symbolic ('\(param)') in \(describe(declared)); fix it with --input-shape \(input.name)=\(example(declared))")
                default:
                    throw ImportError(.unresolvedShape,
                        "input '\(input.name)' dimension \(axis) is unknown in \(describe(declared)); fix it with --input-shape \(input.name)=\(example(declared))")
                }
            }
            result.append(Input(name: input.name, elementType: input.elementType, shape: Shape(dims)))
        }
        return result
    }

    private static func describe(_ dims: [SourceGraph.Input.Dimension]) -> String {
        "[" + dims.map {
            switch $0 {
            case .fixed(let size): "\(size)"
            case .symbolic(let name): name
            case .unknown: "?"
            }
        }.joined(separator: ", ") + "]"
    }

    private static func example(_ dims: [SourceGraph.Input.Dimension]) -> String {
        dims.map { if case .fixed(let size) = $0, size > 0 { "\(size)" } else { "1" } }.joined(separator: "x")
    }
}
