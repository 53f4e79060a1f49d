import DemandTensor

/// Fixes every graph input's shape statically: the model's declared
/// dimensions, replaced by `--input-shape` where given.
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
                if !input.dims.isEmpty {
                    guard given.rank == input.dims.count else {
                        throw ImportError(.invalidModel,
                            "--input-shape \(input.name)=\(given) has rank \(given.rank), but the model declares rank \(input.dims.count) (\(describe(input.dims)))")
                    }
                    for (axis, dim) in input.dims.enumerated() {
                        if case .fixed(let size) = dim, size > 0, size != given[axis] {
                            throw ImportError(.invalidModel,
                                "--input-shape \(input.name)=\(given) sets dimension \(axis) to \(given[axis]), but the model fixes it at \(size)")
                        }
                    }
                }
                result.append(Input(name: input.name, elementType: input.elementType, shape: given))
                continue
            }
            var dims: [Int] = []
            for (axis, dim) in input.dims.enumerated() {
                switch dim {
                case .fixed(let size) where size > 0: dims.append(size)
                case .symbolic(let param):
                    throw ImportError(.unresolvedShape,
                        "input '\(input.name)' dimension \(axis) is symbolic ('\(param)') in \(describe(input.dims)); fix it with --input-shape \(input.name)=\(example(input.dims))")
                default:
                    throw ImportError(.unresolvedShape,
                        "input '\(input.name)' dimension \(axis) is unknown in \(describe(input.dims)); fix it with --input-shape \(input.name)=\(example(input.dims))")
                }
            }
            if input.dims.isEmpty {
                throw ImportError(.unresolvedShape, "input '\(input.name)' declares no shape; give one with --input-shape \(input.name)=DIMS")
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
