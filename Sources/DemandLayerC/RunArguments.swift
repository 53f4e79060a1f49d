import CDemandLayer
import DemandLayer

/// The inputs and outputs of one `dl_session_run` or `dl_runtime_model_run`,
/// checked against the model's declarations before the inference starts, so
/// a bad call costs no inference and writes nothing: every input named
/// exactly once with its declared shape and a data pointer; every wanted
/// output known, asked for once, with a data pointer and room enough.
///
/// Lifetime: it keeps the caller's pointers, so it lives only inside the call.
struct RunArguments {
    /// Each declared input given, with the caller's floats for it.
    private let inputs: [(info: TensorInfo, data: UnsafePointer<Float>)]
    /// Each wanted output (by index into the caller's array) with its declaration.
    private let wanted: [(index: Int, info: TensorInfo)]
    private let outputs: UnsafeMutablePointer<dl_output>

    /// Checks the caller's arrays against the model's `declaredInputs` and `declaredOutputs`.
    init(inputs: UnsafePointer<dl_input>?, inputCount: Int, outputs: UnsafeMutablePointer<dl_output>?, outputCount: Int,
         declaredInputs: [TensorInfo], declaredOutputs: [TensorInfo]) throws(Failure) {
        self.inputs = try Self.checkedInputs(inputs, count: inputCount, declared: declaredInputs)
        let (wanted, outputs) = try Self.checkedOutputs(outputs, count: outputCount, declared: declaredOutputs)
        self.wanted = wanted
        self.outputs = outputs
    }

    /// Copies the caller's floats into `tensors`: one tensor per declared
    /// input, by name, of its declared shape.
    func copyInputs(into tensors: [String: Tensor]) {
        for (info, data) in inputs { tensors[info.name]!.data.update(from: data, count: info.shape.elementCount) }
    }

    /// Writes the wanted outputs from `results` into the caller's buffers and
    /// sets their `element_count`; writes nothing unless every one is there.
    func writeOutputs(_ results: [String: Tensor]) throws(Failure) {
        for (_, info) in wanted where results[info.name]?.elementCount != info.shape.elementCount {
            throw Failure(DL_ERROR_INVALID_INPUT, "output '\(info.name)' was not produced")
        }
        for (index, info) in wanted {
            outputs[index].data.update(from: results[info.name]!.data, count: info.shape.elementCount)
            outputs[index].element_count = info.shape.elementCount
        }
    }

    private static func checkedInputs(_ inputs: UnsafePointer<dl_input>?, count: Int, declared: [TensorInfo])
        throws(Failure) -> [(info: TensorInfo, data: UnsafePointer<Float>)] {
        guard count == declared.count else {
            throw Failure(DL_ERROR_INVALID_INPUT, "\(count) input(s) given; the model takes \(declared.count): \(list(declared))")
        }
        guard let inputs else { throw .argument("inputs is NULL") }
        var given: [(info: TensorInfo, data: UnsafePointer<Float>)] = []
        for index in 0..<count {
            let input = inputs[index]
            let info = try declaration(input.name, at: index, of: .inputs, declared: declared, taken: given.map(\.info))
            let name = info.name
            let shape = try shape(input.shape, rank: input.rank, what: "inputs[\(index)]")
            guard shape == info.shape.dims.map(Int64.init) else {
                throw Failure(DL_ERROR_INVALID_INPUT, "inputs[\(index)] '\(name)' has shape \(shape.isEmpty ? "scalar" : shape.map(String.init).joined(separator: "x")); the model expects \(info.shape)")
            }
            guard let data = input.data else { throw .argument("inputs[\(index)].data is NULL") }
            given.append((info, data))
        }
        return given
    }

    /// Which of the caller's arrays a name is in.
    private enum Side: String {
        case inputs, outputs
    }

    /// The declaration `side[index]` names: a name the model declares on that
    /// side, not named earlier in the array (`taken`).
    private static func declaration(_ name: UnsafePointer<CChar>?, at index: Int, of side: Side, declared: [TensorInfo], taken: [TensorInfo])
        throws(Failure) -> TensorInfo {
        let place = "\(side.rawValue)[\(index)]"
        let name = try string(name, "\(place).name")
        guard let info = declared.first(where: { $0.name == name }) else {
            throw Failure(DL_ERROR_INVALID_INPUT, "\(place): '\(name)' is not an \(side.rawValue.dropLast()) of the model; its \(side.rawValue) are \(list(declared))")
        }
        guard !taken.contains(where: { $0.name == name }) else {
            throw Failure(DL_ERROR_INVALID_INPUT, "\(place): '\(name)' is \(side == .inputs ? "given" : "asked for") twice")
        }
        return info
    }

    /// The declarations as messages list them: 'name' shape, ...
    private static func list(_ declared: [TensorInfo]) -> String {
        declared.map { "'\($0.name)' \($0.shape)" }.joined(separator: ", ")
    }

    /// The caller's dimensions, checking the pointer and the rank.
    private static func shape(_ pointer: UnsafePointer<Int64>?, rank: Int, what: String) throws(Failure) -> [Int64] {
        guard rank >= 0, rank <= Int(DL_MAX_RANK) else { throw .argument("\(what).rank is \(rank); at most \(DL_MAX_RANK) is accepted") }
        guard rank == 0 || pointer != nil else { throw .argument("\(what).shape is NULL") }
        return (0..<rank).map { pointer![$0] }
    }

    private static func checkedOutputs(_ outputs: UnsafeMutablePointer<dl_output>?, count: Int, declared: [TensorInfo])
        throws(Failure) -> ([(index: Int, info: TensorInfo)], UnsafeMutablePointer<dl_output>) {
        guard count >= 1 else { throw .argument("output_count is \(count); ask for at least one output (the model's: \(list(declared)))") }
        guard let outputs else { throw .argument("outputs is NULL") }
        var wanted: [(index: Int, info: TensorInfo)] = []
        for index in 0..<count {
            let output = outputs[index]
            let info = try declaration(output.name, at: index, of: .outputs, declared: declared, taken: wanted.map(\.info))
            let name = info.name
            guard output.data != nil else { throw .argument("outputs[\(index)].data is NULL") }
            guard output.capacity >= info.shape.elementCount else {
                throw Failure(DL_ERROR_BUFFER_TOO_SMALL, "outputs[\(index)] '\(name)' (\(info.shape)) needs \(info.shape.elementCount) floats; its capacity is \(output.capacity)")
            }
            wanted.append((index, info))
        }
        return (wanted, outputs)
    }
}

/// One zeroed tensor per declared input, by name, for the caller's floats to be copied into.
func inputTensors(_ declared: [TensorInfo]) -> [String: Tensor] {
    Dictionary(uniqueKeysWithValues: declared.map { ($0.name, Tensor(zeros: $0.shape)) })
}
