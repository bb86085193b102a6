/// A handler used an ``HTTPResponseWriter`` in a way HTTP cannot carry: a second head, more or fewer
/// bytes than the announced `Content-Length`, a body on a 204 or 304, writing after ``HTTPResponseWriter/finish(trailers:)``.
///
/// The server reports it like any handler error and closes the connection if the head was sent. Any
/// thread may create, read and pass one.
public struct HTTPResponseError: Error, CustomStringConvertible, Sendable {
    /// What went wrong and what to do instead.
    public let message: String

    /// Creates the error. Never switches; any thread.
    public init(message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
