import CDemandLayer
import DemandLayer
import Foundation

/// What a `dl_session *` points to: the session and one tensor per graph
/// input, allocated at create, into which each run copies the caller's floats
/// (so a run allocates no input memory).
///
/// Threads: `lock` serializes C calls on one handle, because the input
/// tensors are shared by every run; `Session` itself would only serialize
/// its own part.
final class SessionHandle {
    let session: Session
    let inputs: [TensorInfo]
    let outputs: [TensorInfo]
    let inputTensors: [String: Tensor]
    let lock = NSLock()

    init(_ session: Session) {
        self.session = session
        inputs = session.model.inputs
        outputs = session.model.outputs
        inputTensors = DemandLayerC.inputTensors(inputs)
    }
}

/// The session behind `handle`, or a failure when it is NULL or destroyed.
func session(_ handle: OpaquePointer?) throws(Failure) -> SessionHandle {
    guard handle != nil else { throw .argument("session is NULL") }
    guard let session = sessions.lookup(handle) else { throw .argument("session is not a live dl_session (already destroyed?)") }
    return session
}

/// The defaults of `SessionOptions` in C form; see demandlayer.h.
@_cdecl("dl_session_options_init")
public func dlSessionOptionsInit(_ options: UnsafeMutablePointer<dl_session_options>?) {
    guard let options else { return }
    let defaults = SessionOptions()
    options.pointee = dl_session_options(
        struct_size: MemoryLayout<dl_session_options>.size, policy: DL_POLICY_PIPELINED, depth: Int32(clamping: defaults.depth),
        budget_bytes: 0, io_engine: DL_IO_AUTO, threads: 0, placement: DL_PLACEMENT_AUTO, execute_cpu: -1, stages_cpu: -1)
}

/// `SessionOptions` from the C struct, checking every field.
func sessionOptions(_ pointer: UnsafePointer<dl_session_options>?) throws(Failure) -> SessionOptions {
    var options = SessionOptions()
    guard let pointer else { return options }
    let c = pointer.pointee
    // The struct as first released ended at `threads`; callers built with it get the default placement.
    let firstReleaseSize = MemoryLayout<dl_session_options>.offset(of: \dl_session_options.placement)!
    guard c.struct_size == MemoryLayout<dl_session_options>.size || c.struct_size == firstReleaseSize else {
        throw .argument("options.struct_size is \(c.struct_size), expected \(MemoryLayout<dl_session_options>.size): fill the options with dl_session_options_init")
    }
    let policies: [Policy] = [.pipelined, .resident, .bulk, .linear, .mmap, .deepeye, .partial]   // by dl_policy value
    guard Int(c.policy.rawValue) < policies.count else { throw Failure(DL_ERROR_INVALID_OPTION, "options.policy \(c.policy.rawValue) is not a dl_policy") }
    options.policy = policies[Int(c.policy.rawValue)]
    options.io = try OptionFields.ioEngine(c.io_engine)
    options.depth = Int(c.depth)
    if c.budget_bytes != 0 { options.budgetBytes = try OptionFields.bytes(c.budget_bytes, "budget_bytes") }
    if let threads = try OptionFields.threadCount(c.threads) { options.threadCount = threads }
    guard c.struct_size == MemoryLayout<dl_session_options>.size else { return options }
    options.placement = try OptionFields.placement(c.placement, executeCPU: c.execute_cpu, stagesCPU: c.stages_cpu)
    return options
}

/// Makes a session; see demandlayer.h.
@_cdecl("dl_session_create")
public func dlSessionCreate(_ modelHandle: OpaquePointer?, _ options: UnsafePointer<dl_session_options>?,
                            _ sessionOut: UnsafeMutablePointer<OpaquePointer?>?) -> dl_status {
    reporting("dl_session_create") { () throws(Failure) in
        let model = try model(modelHandle).model
        guard let sessionOut else { throw .argument("session_out is NULL") }
        let options = try sessionOptions(options)
        let session: Session
        do throws(RuntimeError) { session = try Session(model: model, options: options) } catch { throw Failure(error) }
        sessionOut.pointee = sessions.insert(SessionHandle(session))
    }
}

/// Stops and frees a session; see demandlayer.h.
@_cdecl("dl_session_destroy")
public func dlSessionDestroy(_ handle: OpaquePointer?) {
    guard let removed = sessions.remove(handle) else { return }
    removed.lock.lock()
    removed.session.close()
    removed.lock.unlock()
}

/// Bytes of weight memory the session holds; see demandlayer.h.
@_cdecl("dl_session_arena_bytes")
public func dlSessionArenaBytes(_ handle: OpaquePointer?) -> UInt64 {
    sessions.lookup(handle).map { UInt64($0.session.arenaBytes + $0.session.wideningBytes) } ?? 0
}

/// The last inference's statistics; see demandlayer.h.
@_cdecl("dl_session_stats")
public func dlSessionStats(_ handle: OpaquePointer?, _ statsOut: UnsafeMutablePointer<dl_stats>?,
                           _ layers: UnsafeMutablePointer<dl_layer_stats>?, _ layerCapacity: Int) -> dl_status {
    reporting("dl_session_stats") { () throws(Failure) in
        let handle = try session(handle)
        guard let statsOut else { throw .argument("stats_out is NULL") }
        guard statsOut.pointee.struct_size == MemoryLayout<dl_stats>.size else {
            throw .argument("stats_out->struct_size is \(statsOut.pointee.struct_size), expected sizeof(dl_stats) = \(MemoryLayout<dl_stats>.size)")
        }
        guard let stats = handle.session.lastStats else { throw Failure(DL_ERROR_NO_STATS, "no inference has finished on this session yet") }
        statsOut.pointee = dl_stats(
            struct_size: MemoryLayout<dl_stats>.size, latency_ns: stats.latencyNanoseconds, bytes_read: UInt64(stats.bytesRead),
            peak_weight_bytes: UInt64(stats.peakWeightBytes), execute_stall_ns: stats.executeStallNanoseconds, layer_count: stats.layers.count)
        guard let layers else { return }
        for (index, times) in stats.layers.prefix(max(layerCapacity, 0)).enumerated() {
            layers[index] = dl_layer_stats(
                read: dl_span(times.read), restore: dl_span(times.restore), execute: dl_span(times.execute), stall_ns: times.stallNanoseconds)
        }
    }
}

extension dl_span {
    init(_ span: InferenceStats.Span) {
        self.init(start_ns: span.startNanoseconds, end_ns: span.endNanoseconds)
    }
}
