/// Every address ``createConnection(host:port:timeout:sourceAddress:allErrors:)`` tried failed; thrown
/// instead of the last error when `allErrors` is set (Python's `ExceptionGroup` from
/// `create_connection(all_errors=True)`). Any thread may create, read and pass one.
public struct ConnectionAttemptsError: Error, CustomStringConvertible {
    /// The host that was asked for, with the port.
    public let target: String
    /// Each address tried, with the error it gave, in the order tried.
    public let attempts: [(address: SocketAddress, error: any Error)]

    /// Creates the error. Never switches; any thread.
    public init(target: String, attempts: [(address: SocketAddress, error: any Error)]) {
        self.target = target
        self.attempts = attempts
    }

    /// "could not connect to host:port: a: error; b: error".
    public var description: String {
        let parts = attempts.map { "\($0.address): \($0.error)" }.joined(separator: "; ")
        return "could not connect to \(target) (\(attempts.count) addresses tried): \(parts)"
    }
}
