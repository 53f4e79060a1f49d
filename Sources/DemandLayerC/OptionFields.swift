import CDemandLayer
import DemandLayer

/// The fields `dl_session_options` and `dl_runtime_options` share, read from
/// C: each checked, a value out of range a failure naming the field.
enum OptionFields {
    static func ioEngine(_ value: dl_io_engine) throws(Failure) -> IOEngineChoice {
        let engines: [IOEngineChoice] = [.auto, .uring, .aio, .pread]
        guard Int(value.rawValue) < engines.count else { throw Failure(DL_ERROR_INVALID_OPTION, "options.io_engine \(value.rawValue) is not a dl_io_engine") }
        return engines[Int(value.rawValue)]
    }

    /// The kernel thread count, or nil for the default (0).
    static func threadCount(_ value: Int32) throws(Failure) -> Int? {
        guard value >= 0 else { throw Failure(DL_ERROR_INVALID_OPTION, "options.threads must be 0 (the default) or more (got \(value))") }
        return value == 0 ? nil : Int(value)
    }

    static func placement(_ value: dl_placement, executeCPU: Int32, stagesCPU: Int32) throws(Failure) -> ThreadPlacement {
        switch value {
        case DL_PLACEMENT_AUTO: return .automatic
        case DL_PLACEMENT_NONE: return .unpinned
        case DL_PLACEMENT_CPUS:
            guard executeCPU >= 0, stagesCPU >= 0 else {
                throw Failure(DL_ERROR_INVALID_OPTION, "options.execute_cpu and options.stages_cpu must be CPU numbers with DL_PLACEMENT_CPUS (got \(executeCPU), \(stagesCPU))")
            }
            return .cpus(execute: Int(executeCPU), stages: Int(stagesCPU))
        default: throw Failure(DL_ERROR_INVALID_OPTION, "options.placement \(value.rawValue) is not a dl_placement")
        }
    }

    /// A byte count as an `Int`, named `field` when it does not fit.
    static func bytes(_ value: UInt64, _ field: String) throws(Failure) -> Int {
        guard let bytes = Int(exactly: value) else { throw Failure(DL_ERROR_INVALID_OPTION, "options.\(field) \(value) is too large") }
        return bytes
    }
}
