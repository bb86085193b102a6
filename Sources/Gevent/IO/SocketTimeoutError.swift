/// A socket operation did not complete within the socket's timeout.
///
/// Thrown by ``Socket`` operations when ``Socket/timeout`` (or the deadline of a call such as
/// ``Socket/sendAll(_:flags:)-(UnsafeRawBufferPointer,_)``) passes while waiting, and by ``waitReadable(_:timeout:)`` /
/// ``waitWritable(_:timeout:)``. It is a separate type from ``SocketError`` (gevent's `socket.timeout`), so
/// `catch is SocketTimeoutError` tells a slow peer from a failed one. A ``Timeout`` started by the caller
/// is not turned into this error: it propagates as itself. Any thread may create, read and pass one.
public struct SocketTimeoutError: Error, CustomStringConvertible, Sendable {
    /// What was being waited for, for example "recv from 127.0.0.1:80".
    public let operation: String
    /// The timeout that passed.
    public let timeout: Duration

    /// Creates the error. Never switches; any thread.
    public init(operation: String, timeout: Duration) {
        self.operation = operation
        self.timeout = timeout
    }

    /// "operation: timed out (after 0.1 seconds)".
    public var description: String {
        "\(operation): timed out (after \(timeout))"
    }
}
