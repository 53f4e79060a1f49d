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
        let arguments = try RunArguments(inputs: inputs, inputCount: inputCount, outputs: outputs, outputCount: outputCount,
                                         declaredInputs: handle.inputs, declaredOutputs: handle.outputs)
        arguments.copyInputs(into: handle.inputTensors)
        let results: [String: Tensor]
        do throws(RuntimeError) { results = try handle.session.run(handle.inputTensors) } catch { throw Failure(error) }
        try arguments.writeOutputs(results)
    }
}
