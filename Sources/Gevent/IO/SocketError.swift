/// A socket call failed: the errno it reported and what we were doing.
///
/// `description` reads "connect to 127.0.0.1:5432: Connection refused (errno 111)". A socket that another
/// greenlet closes while this one waits on it gives ``Errno/badFileDescriptor`` with the reason "File
/// descriptor was closed in another greenlet" (gevent's `cancel_wait_ex`). Timeouts are not `SocketError`s
/// but ``SocketTimeoutError``s, so they can be caught apart. Any thread may create, read and pass one.
public struct SocketError: Error, CustomStringConvertible, Sendable {
    /// The errno value the call reported.
    public let code: Errno
    /// What was being done, for example "connect to 127.0.0.1:5432" or "recv on fd 7".
    public let operation: String
    /// A reason that replaces libc's text for `code`, when we know better (a socket closed under us).
    public let reason: String?

    /// Creates the error. Never switches; any thread.
    ///
    /// - Parameters:
    ///   - code: the errno value.
    ///   - operation: what was being done, shown before the error text.
    ///   - reason: text that replaces libc's `strerror` for `code`; `nil` uses libc's.
    public init(code: Errno, operation: String, reason: String? = nil) {
        self.code = code
        self.operation = operation
        self.reason = reason
    }

    /// "operation: text (errno N)".
    public var description: String {
        if let reason {
            return "\(operation): \(reason) (errno \(code.rawValue))"
        }
        return "\(operation): \(code)"
    }

    static let closedInAnotherGreenlet = "File descriptor was closed in another greenlet"
}
