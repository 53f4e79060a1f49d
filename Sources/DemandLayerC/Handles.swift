import CDemandLayer
import Foundation

/// The handles the C API has given out and not yet taken back, by address.
///
/// A C caller can pass a handle twice to a close function, or pass one after
/// closing it; looking every handle up here turns those mistakes into
/// DL_ERROR_INVALID_ARGUMENT instead of a crash. It is process-wide because a
/// C handle is a bare pointer with nowhere else to keep that record.
/// Threads: any; `lock` guards `live`.
final class HandleTable<Object: AnyObject>: @unchecked Sendable {
    private let lock = NSLock()
    private var live: [UInt: Unmanaged<Object>] = [:]

    /// Keeps `object` alive and returns its handle.
    func insert(_ object: Object) -> OpaquePointer {
        let unmanaged = Unmanaged.passRetained(object)
        let pointer = OpaquePointer(unmanaged.toOpaque())
        lock.withLock { live[UInt(bitPattern: unmanaged.toOpaque())] = unmanaged }
        return pointer
    }

    /// The object behind `handle`, retained for the caller, or nil when the
    /// handle is NULL or not live.
    func lookup(_ handle: OpaquePointer?) -> Object? {
        guard let handle else { return nil }
        return lock.withLock { live[UInt(bitPattern: UnsafeRawPointer(handle))]?.takeUnretainedValue() }
    }

    /// Takes `handle` back: the table lets go of its object, which lives on
    /// while anyone else (a call in progress) holds it. Nil when not live.
    func remove(_ handle: OpaquePointer?) -> Object? {
        guard let handle else { return nil }
        let unmanaged = lock.withLock { live.removeValue(forKey: UInt(bitPattern: UnsafeRawPointer(handle))) }
        guard let unmanaged else { return nil }
        let object = unmanaged.takeUnretainedValue()
        unmanaged.release()
        return object
    }
}

let models = HandleTable<ModelHandle>()
let sessions = HandleTable<SessionHandle>()
let runtimes = HandleTable<RuntimeHandle>()
let runtimeModels = HandleTable<RuntimeModelHandle>()
