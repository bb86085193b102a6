/// A second greenlet tried to wait on something only one greenlet may wait on at a time.
///
/// A socket has one waiter per direction: two greenlets reading from the same socket (or two writing to
/// it) at once would steal each other's data, so the second gets this error at once instead of a silent
/// interleaving. Share a socket between greenlets only with a lock around each direction, or give each
/// greenlet its own connection. gevent's `ConcurrentObjectUseError` ("This socket is already used by
/// another greenlet"). Any thread may create, read and pass one.
public struct ConcurrentObjectUseError: Error, CustomStringConvertible, Sendable {
    /// What the second greenlet tried, for example "recv on fd 7".
    public let operation: String
    /// The greenlet already waiting, as its description.
    public let currentUser: String

    /// Creates the error. Never switches; any thread.
    public init(operation: String, currentUser: String) {
        self.operation = operation
        self.currentUser = currentUser
    }

    /// A message naming both sides and the fix.
    public var description: String {
        "\(operation): this socket is already used by another greenlet (\(currentUser) is waiting on it in the "
            + "same direction); only one greenlet may read and one may write a socket at a time: guard it with "
            + "a lock or give each greenlet its own socket"
    }
}
