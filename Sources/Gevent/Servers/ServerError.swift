/// A server was configured or used in a way that cannot work: a bad listener text, a spawn limit below 1,
/// a backlog given with an already listening socket, starting a stopped server.
///
/// Errors of the sockets and the resolver underneath (``SocketError``, ``ResolverError``) pass through as
/// themselves. Any thread may create, read and pass one.
public struct ServerError: Error, CustomStringConvertible, Sendable {
    /// What is wrong and what to do instead.
    public let message: String

    /// Creates the error. Never switches; any thread.
    public init(message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
