import CDemandLayer
import DemandLayer
import Foundation

/// What a `dl_runtime_model *` points to: one model in a runtime, and the
/// input tensors its runs copy the caller's floats into.
///
/// Many threads run one model at once, so each call borrows a set of input
/// tensors of its own from `spareInputs` and gives it back when its request
/// is done (the stages read a request's inputs only until it finishes). A set
/// is made when every other is in use: the model makes as many as it has had
/// calls at once, and then no more.
///
/// Lifetime: held by the handle table from add to remove (or to the
/// runtime's destroy), and by a call in progress. It holds its runtime's
/// handle, so a call inside it keeps the runtime alive. Threads: any; `lock`
/// guards `spareInputs`.
final class RuntimeModelHandle {
    let member: RuntimeModel
    let owner: RuntimeHandle
    let inputs: [TensorInfo]
    let outputs: [TensorInfo]
    private let lock = NSLock()
    private var spareInputs: [[String: Tensor]] = []

    init(_ member: RuntimeModel, owner: RuntimeHandle) {
        self.member = member
        self.owner = owner
        inputs = member.model.inputs
        outputs = member.model.outputs
    }

    /// Runs `body` with a set of input tensors no other call is using.
    func withInputTensors<Result>(_ body: ([String: Tensor]) throws(Failure) -> Result) throws(Failure) -> Result {
        let tensors = lock.withLock { spareInputs.popLast() } ?? inputTensors(inputs)
        defer { lock.withLock { spareInputs.append(tensors) } }
        return try body(tensors)
    }
}

/// The runtime model behind `handle`, or a failure when it is NULL or removed.
func runtimeModel(_ handle: OpaquePointer?) throws(Failure) -> RuntimeModelHandle {
    guard handle != nil else { throw .argument("member is NULL") }
    guard let member = runtimeModels.lookup(handle) else { throw .argument("member is not a live dl_runtime_model (already removed?)") }
    return member
}

/// Runs one inference of a runtime's model; see demandlayer.h. Every argument
/// is checked before the request is queued, so a bad call costs no inference
/// and writes nothing.
@_cdecl("dl_runtime_model_run")
public func dlRuntimeModelRun(_ handle: OpaquePointer?, _ inputs: UnsafePointer<dl_input>?, _ inputCount: Int,
                              _ outputs: UnsafeMutablePointer<dl_output>?, _ outputCount: Int, _ priority: Int32,
                              _ timeoutNanoseconds: UInt64, _ requestOut: UnsafeMutablePointer<dl_request_stats>?) -> dl_status {
    reporting("dl_runtime_model_run") { () throws(Failure) in
        let handle = try runtimeModel(handle)
        let arguments = try RunArguments(inputs: inputs, inputCount: inputCount, outputs: outputs, outputCount: outputCount,
                                         declaredInputs: handle.inputs, declaredOutputs: handle.outputs)
        if let requestOut, requestOut.pointee.struct_size != MemoryLayout<dl_request_stats>.size {
            throw .argument("request_out->struct_size is \(requestOut.pointee.struct_size), expected sizeof(dl_request_stats) = \(MemoryLayout<dl_request_stats>.size)")
        }
        let done = try handle.withInputTensors { (tensors) throws(Failure) -> Runtime.Completion in
            arguments.copyInputs(into: tensors)
            do throws(RuntimeError) {
                return try handle.member.perform(tensors, priority: Int(priority), timeoutNanoseconds: timeoutNanoseconds == 0 ? nil : timeoutNanoseconds)
            } catch {
                throw Failure(error)
            }
        }
        try arguments.writeOutputs(done.outputs)
        requestOut?.pointee = dl_request_stats(
            struct_size: MemoryLayout<dl_request_stats>.size, wait_ns: done.waitNanoseconds, service_ns: done.serviceNanoseconds,
            sequence_number: UInt64(done.sequenceNumber), bytes_read: UInt64(done.stats.bytesRead),
            execute_stall_ns: done.stats.executeStallNanoseconds)
    }
}
