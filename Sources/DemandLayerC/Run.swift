import CDemandLayer
import DemandLayer

/// Runs one inference; see demandlayer.h. Every argument is checked before
/// the inference starts, so a bad call costs no inference and writes nothing.
@_cdecl("dl_session_run")
public func dlSessionRun(_ handle: OpaquePointer?, _ inputs: UnsafePointer<dl_input>?, _ inputCount: Int,
                         _ outputs: UnsafeMutablePointer<dl_output>?, _ outputCount: Int) -> dl_status {
    reporting("dl_session_run") { () throws(Failure) in
        let handle = try session(handle)
        handle.lock.lock(); defer { handle.lock.unlock() }
        let given = try checkedInputs(inputs, count: inputCount, handle: handle)
        let wanted = try checkedOutputs(outputs, count: outputCount, handle: handle)
        for (input, source) in given {
            handle.inputTensors[input.name]!.data.update(from: source, count: input.shape.elementCount)
        }
        let results: [String: Tensor]
        do throws(RuntimeError) { results = try handle.session.run(handle.inputTensors) } catch { throw Failure(error) }
        for (index, output) in wanted {
            guard let tensor = results[output.name], tensor.elementCount == output.shape.elementCount else {
                throw Failure(DL_ERROR_INVALID_INPUT, "output '\(output.name)' was not produced")
            }
            outputs![index].data.update(from: tensor.data, count: tensor.elementCount)
        }
        for (index, output) in wanted { outputs![index].element_count = output.shape.elementCount }
    }
}

/// Each declared input paired with the caller's floats for it: every input
/// named exactly once, with its declared shape and a data pointer.
private func checkedInputs(_ inputs: UnsafePointer<dl_input>?, count: Int, handle: SessionHandle)
    throws(Failure) -> [(TensorInfo, UnsafePointer<Float>)] {
    let declared = handle.inputs
    let list = declared.map { "'\($0.name)' \($0.shape)" }.joined(separator: ", ")
    guard count == declared.count else {
        throw Failure(DL_ERROR_INVALID_INPUT, "\(count) input(s) given; the model takes \(declared.count): \(list)")
    }
    guard let inputs else { throw .argument("inputs is NULL") }
    var given: [(TensorInfo, UnsafePointer<Float>)] = []
    for index in 0..<count {
        let input = inputs[index]
        let name = try string(input.name, "inputs[\(index)].name")
        guard let info = declared.first(where: { $0.name == name }) else {
            throw Failure(DL_ERROR_INVALID_INPUT, "inputs[\(index)]: '\(name)' is not an input of the model; its inputs are \(list)")
        }
        guard !given.contains(where: { $0.0.name == name }) else {
            throw Failure(DL_ERROR_INVALID_INPUT, "inputs[\(index)]: '\(name)' is given twice")
        }
        let shape = try shape(input.shape, rank: input.rank, what: "inputs[\(index)]")
        guard shape == info.shape.dims.map(Int64.init) else {
            throw Failure(DL_ERROR_INVALID_INPUT, "inputs[\(index)] '\(name)' has shape \(shape.map(String.init).joined(separator: "x")); the model expects \(info.shape)")
        }
        guard let data = input.data else { throw .argument("inputs[\(index)].data is NULL") }
        given.append((info, data))
    }
    return given
}

/// The caller's dimensions, checking the pointer and the rank.
private func shape(_ pointer: UnsafePointer<Int64>?, rank: Int, what: String) throws(Failure) -> [Int64] {
    guard rank >= 0, rank <= Int(DL_MAX_RANK) else { throw .argument("\(what).rank is \(rank); at most \(DL_MAX_RANK) is accepted") }
    guard rank == 0 || pointer != nil else { throw .argument("\(what).shape is NULL") }
    return (0..<rank).map { pointer![$0] }
}

/// Each wanted output (by index into the caller's array) with its
/// declaration: known names, none twice, buffers large enough.
private func checkedOutputs(_ outputs: UnsafeMutablePointer<dl_output>?, count: Int, handle: SessionHandle)
    throws(Failure) -> [(Int, TensorInfo)] {
    let declared = handle.outputs
    let list = declared.map { "'\($0.name)' \($0.shape)" }.joined(separator: ", ")
    guard count >= 1 else { throw .argument("output_count is \(count); ask for at least one output (the model's: \(list))") }
    guard let outputs else { throw .argument("outputs is NULL") }
    var wanted: [(Int, TensorInfo)] = []
    for index in 0..<count {
        let output = outputs[index]
        let name = try string(output.name, "outputs[\(index)].name")
        guard let info = declared.first(where: { $0.name == name }) else {
            throw Failure(DL_ERROR_INVALID_INPUT, "outputs[\(index)]: '\(name)' is not an output of the model; its outputs are \(list)")
        }
        guard !wanted.contains(where: { $0.1.name == name }) else {
            throw Failure(DL_ERROR_INVALID_INPUT, "outputs[\(index)]: '\(name)' is asked for twice")
        }
        guard output.data != nil else { throw .argument("outputs[\(index)].data is NULL") }
        guard output.capacity >= info.shape.elementCount else {
            throw Failure(DL_ERROR_BUFFER_TOO_SMALL, "outputs[\(index)] '\(name)' (\(info.shape)) needs \(info.shape.elementCount) floats; its capacity is \(output.capacity)")
        }
        wanted.append((index, info))
    }
    return wanted
}
