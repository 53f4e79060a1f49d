/// Why an operator could not be built from its attributes, or why it cannot
/// run on the shapes or values it was given. Messages are written for the
/// person who made the model: they name the attribute, shape or value at
/// fault and what would be accepted instead.
public struct OperatorError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of problem it is.
    public enum Code: String, Sendable {
        /// The op type is not one this runtime implements.
        case unknownOperator
        /// An attribute this op does not take, or a value it does not support.
        case unsupportedAttribute
        /// An attribute of the right kind with a value outside its range.
        case invalidAttribute
        /// Too few or too many inputs.
        case inputCount
        /// Inputs whose shapes do not fit the op or each other.
        case inputShape
        /// At run time: an index input (Gather's indices) holds a value out of
        /// range or not a whole number.
        case indexOutOfRange
        /// At run time: a kernel could not allocate its scratch memory and had no
        /// fallback (the process is out of memory).
        case kernelMemory
    }

    /// What kind of problem it is.
    public let code: Code
    /// What is wrong and what would be accepted instead.
    public let message: String

    /// An error of kind `code` described by `message`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
