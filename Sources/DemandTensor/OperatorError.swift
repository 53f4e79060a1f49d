/// Why an operator could not be built from its attributes, or why it cannot
/// run on the shapes it was given. Messages are written for the person who
/// made the model: they name the attribute or shape at fault and what would
/// be accepted instead.
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
