import CDemandLayer
import DemandLayer
import Foundation

/// What a `dl_runtime *` points to: the runtime and the `dl_runtime_model`
/// handles given out for its models, so that destroying it frees them too.
///
/// Lifetime: the handle table holds it from create to destroy; each of its
/// model handles holds it too, so a call inside one of them keeps the runtime
/// alive. Threads: any; `lock` guards `members` and `destroyed`.
final class RuntimeHandle {
    let runtime: Runtime
    private let lock = NSLock()
    private var members: [OpaquePointer] = []
    private var destroyed = false

    init(_ runtime: Runtime) {
        self.runtime = runtime
    }

    /// Gives out a handle for `member`, just added to the runtime; a failure
    /// (and the member taken out again) when the runtime was destroyed meanwhile.
    func insert(_ member: RuntimeModel) throws(Failure) -> OpaquePointer {
        let pointer: OpaquePointer? = lock.withLock {
            guard !destroyed else { return nil }
            let pointer = runtimeModels.insert(RuntimeModelHandle(member, owner: self))
            members.append(pointer)
            return pointer
        }
        guard let pointer else {
            runtime.remove(member)
            throw Failure(DL_ERROR_SESSION_CLOSED, "the runtime was destroyed while the model was being added")
        }
        return pointer
    }

    /// Takes `pointer`, one of this runtime's model handles, out of the table
    /// and the runtime; a failure when it is not live.
    func remove(_ pointer: OpaquePointer) throws(Failure) {
        guard let handle = runtimeModels.remove(pointer) else {
            throw .argument("member is not a live dl_runtime_model (already removed?)")
        }
        lock.withLock { members.removeAll { $0 == pointer } }
        runtime.remove(handle.member)
    }

    /// Frees every model handle, then closes the runtime (which removes the models).
    func destroy() {
        let all = lock.withLock {
            destroyed = true
            defer { members.removeAll() }
            return members
        }
        for pointer in all { _ = runtimeModels.remove(pointer) }
        runtime.close()
    }
}

/// The runtime behind `handle`, or a failure when it is NULL or destroyed.
func runtime(_ handle: OpaquePointer?) throws(Failure) -> RuntimeHandle {
    guard handle != nil else { throw .argument("runtime is NULL") }
    guard let runtime = runtimes.lookup(handle) else { throw .argument("runtime is not a live dl_runtime (already destroyed?)") }
    return runtime
}

/// The defaults of `Runtime.Options` in C form; see demandlayer.h.
@_cdecl("dl_runtime_options_init")
public func dlRuntimeOptionsInit(_ options: UnsafeMutablePointer<dl_runtime_options>?) {
    guard let options else { return }
    options.pointee = dl_runtime_options(
        struct_size: MemoryLayout<dl_runtime_options>.size, budget_bytes: 0, held_reserve_bytes: 0, scheduling: DL_SCHEDULING_FIFO,
        io_engine: DL_IO_AUTO, threads: 0, placement: DL_PLACEMENT_AUTO, execute_cpu: -1, stages_cpu: -1, lanes: 0)
}

/// `Runtime.Options` from the C struct, checking every field.
func runtimeOptions(_ pointer: UnsafePointer<dl_runtime_options>?) throws(Failure) -> Runtime.Options {
    guard let pointer else { throw .argument("options is NULL: a runtime needs at least options.budget_bytes (fill them with dl_runtime_options_init)") }
    let c = pointer.pointee
    guard c.struct_size == MemoryLayout<dl_runtime_options>.size else {
        throw .argument("options.struct_size is \(c.struct_size), expected \(MemoryLayout<dl_runtime_options>.size): fill the options with dl_runtime_options_init")
    }
    guard c.budget_bytes != 0 else {
        throw Failure(DL_ERROR_INVALID_OPTION, "options.budget_bytes is 0: give the weight memory all the runtime's models may hold at once")
    }
    var options = Runtime.Options(budgetBytes: try OptionFields.bytes(c.budget_bytes, "budget_bytes"))
    if c.held_reserve_bytes != 0 { options.heldReserveBytes = try OptionFields.bytes(c.held_reserve_bytes, "held_reserve_bytes") }
    let schedulings: [Runtime.Scheduling] = [.fifo, .priority, .shortest]
    guard Int(c.scheduling.rawValue) < schedulings.count else {
        throw Failure(DL_ERROR_INVALID_OPTION, "options.scheduling \(c.scheduling.rawValue) is not a dl_scheduling")
    }
    options.scheduling = schedulings[Int(c.scheduling.rawValue)]
    options.io = try OptionFields.ioEngine(c.io_engine)
    if let threads = try OptionFields.threadCount(c.threads) { options.threadCount = threads }
    options.placement = try OptionFields.placement(c.placement, executeCPU: c.execute_cpu, stagesCPU: c.stages_cpu)
    guard c.lanes >= 0 else { throw Failure(DL_ERROR_INVALID_OPTION, "options.lanes is \(c.lanes): give 0 or 1 for one lane, or how many requests may execute at once") }
    options.lanes = max(Int(c.lanes), 1)
    return options
}

/// Makes a runtime; see demandlayer.h.
@_cdecl("dl_runtime_create")
public func dlRuntimeCreate(_ options: UnsafePointer<dl_runtime_options>?, _ runtimeOut: UnsafeMutablePointer<OpaquePointer?>?) -> dl_status {
    reporting("dl_runtime_create") { () throws(Failure) in
        let options = try runtimeOptions(options)
        guard let runtimeOut else { throw .argument("runtime_out is NULL") }
        let made: Runtime
        do throws(RuntimeError) { made = try Runtime(options: options) } catch { throw Failure(error) }
        runtimeOut.pointee = runtimes.insert(RuntimeHandle(made))
    }
}

/// Opens a model in a runtime; see demandlayer.h.
@_cdecl("dl_runtime_add")
public func dlRuntimeAdd(_ runtimeHandle: OpaquePointer?, _ modelHandle: OpaquePointer?, _ name: UnsafePointer<CChar>?,
                         _ memberOut: UnsafeMutablePointer<OpaquePointer?>?) -> dl_status {
    reporting("dl_runtime_add") { () throws(Failure) in
        let handle = try runtime(runtimeHandle)
        let model = try model(modelHandle).model
        let name = try name.map { (pointer) throws(Failure) in try string(pointer, "name") }
        guard let memberOut else { throw .argument("member_out is NULL") }
        let member: RuntimeModel
        do throws(RuntimeError) { member = try handle.runtime.add(model, name: name) } catch { throw Failure(error) }
        memberOut.pointee = try handle.insert(member)
    }
}

/// Takes a model out of its runtime; see demandlayer.h.
@_cdecl("dl_runtime_remove")
public func dlRuntimeRemove(_ runtimeHandle: OpaquePointer?, _ memberHandle: OpaquePointer?) -> dl_status {
    reporting("dl_runtime_remove") { () throws(Failure) in
        let handle = try runtime(runtimeHandle)
        let member = try runtimeModel(memberHandle)
        guard member.owner === handle else { throw .argument("member belongs to another dl_runtime") }
        try handle.remove(memberHandle!)
    }
}

/// Removes every model and frees the runtime; see demandlayer.h.
@_cdecl("dl_runtime_destroy")
public func dlRuntimeDestroy(_ handle: OpaquePointer?) {
    runtimes.remove(handle)?.destroy()
}

/// The runtime's weight memory; see demandlayer.h.
@_cdecl("dl_runtime_stats")
public func dlRuntimeStats(_ handle: OpaquePointer?, _ statsOut: UnsafeMutablePointer<dl_runtime_memory>?) -> dl_status {
    reporting("dl_runtime_stats") { () throws(Failure) in
        let runtime = try runtime(handle).runtime
        guard let statsOut else { throw .argument("stats_out is NULL") }
        guard statsOut.pointee.struct_size == MemoryLayout<dl_runtime_memory>.size else {
            throw .argument("stats_out->struct_size is \(statsOut.pointee.struct_size), expected sizeof(dl_runtime_memory) = \(MemoryLayout<dl_runtime_memory>.size)")
        }
        statsOut.pointee = dl_runtime_memory(
            struct_size: MemoryLayout<dl_runtime_memory>.size, budget_bytes: UInt64(runtime.options.budgetBytes),
            ring_bytes: UInt64(runtime.ringBytes), held_reserve_bytes: UInt64(runtime.heldReserveBytes), held_bytes: UInt64(runtime.heldBytes),
            activation_bytes: UInt64(runtime.activationBytes), peak_weight_bytes: UInt64(runtime.peakWeightBytes))
    }
}
