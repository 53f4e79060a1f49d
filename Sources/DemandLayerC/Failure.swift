import CDemandLayer
import DemandLayer

/// A failure of a C API call: the status it returns and the message
/// `dl_last_error()` gives on the calling thread.
struct Failure: Error {
    let status: dl_status
    let message: String

    init(_ status: dl_status, _ message: String) {
        self.status = status
        self.message = message
    }

    init(_ error: RuntimeError) {
        let status: dl_status = switch error.code {
        case .invalidOption: DL_ERROR_INVALID_OPTION
        case .budgetTooSmall: DL_ERROR_BUDGET_TOO_SMALL
        case .directIONotSupported: DL_ERROR_DIRECT_IO_NOT_SUPPORTED
        case .ioEngineUnavailable: DL_ERROR_IO_ENGINE_UNAVAILABLE
        case .openFailed: DL_ERROR_OPEN_FAILED
        case .readFailed: DL_ERROR_READ_FAILED
        case .checksumMismatch: DL_ERROR_CHECKSUM_MISMATCH
        case .invalidInput: DL_ERROR_INVALID_INPUT
        case .operatorFailed: DL_ERROR_OPERATOR_FAILED
        case .cancelled, .timedOut: DL_ERROR_CANCELLED
        case .sessionClosed: DL_ERROR_SESSION_CLOSED
        }
        self.init(status, error.description)
    }

    init(_ error: FormatError) {
        self.init(DL_ERROR_INVALID_MODEL, error.description)
    }

    static func argument(_ message: String) -> Failure { Failure(DL_ERROR_INVALID_ARGUMENT, message) }
}

/// Runs `body`, turning a thrown `Failure` into its status and thread-local
/// message: the one way every exported function reports an error.
func reporting(_ function: String, _ body: () throws(Failure) -> Void) -> dl_status {
    do {
        try body()
        return DL_OK
    } catch {
        var message = "\(function): \(error.message)"
        message.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { dl_error_set($0.baseAddress, $0.count) }
        }
        return error.status
    }
}

/// A NUL-terminated argument as a Swift string, or a failure naming `what`
/// when it is NULL or not UTF-8.
func string(_ pointer: UnsafePointer<CChar>?, _ what: String) throws(Failure) -> String {
    guard let pointer else { throw .argument("\(what) is NULL") }
    guard let value = String(validatingCString: pointer) else { throw .argument("\(what) is not valid UTF-8") }
    return value
}
