/// Starting or using a ``Subprocess`` failed: the program could not be started, a system call failed, or
/// the call does not fit how the process was set up.
///
/// `description` reads "spawn this_name_must_not_exist: No such file or directory (errno 2)" or
/// "communicate(input:) for [cat]: standardInput is not .pipe; create the Subprocess with standardInput:
/// .pipe to send input". Any thread may create, read and pass one.
public struct SubprocessError: Error, CustomStringConvertible, Sendable {
    /// What was being done: "spawn /bin/nope", "communicate(input:) for [cat]".
    public let operation: String
    /// The errno the system reported, or `nil` for a usage error.
    public let code: Errno?
    /// The explanation for a usage error, or a better text than libc's for `code`.
    public let reason: String?

    /// Creates the error. Never switches; any thread.
    public init(operation: String, code: Errno?, reason: String? = nil) {
        self.operation = operation
        self.code = code
        self.reason = reason
    }

    /// "operation: reason (errno N)", "operation: libc text (errno N)" or "operation: reason".
    public var description: String {
        switch (code, reason) {
        case (let code?, let reason?): return "\(operation): \(reason) (errno \(code.rawValue))"
        case (let code?, nil): return "\(operation): \(code)"
        case (nil, let reason?): return "\(operation): \(reason)"
        case (nil, nil): return operation
        }
    }
}
