#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// Flags for ``Socket`` sends and receives (`MSG_*`). Never switches; any thread.
///
/// `MSG_NOSIGNAL` is always added to sends (a closed peer gives ``Errno/brokenPipe``, never `SIGPIPE`), and
/// `MSG_DONTWAIT` is unnecessary: sockets are non-blocking underneath and their ``Socket/timeout`` says how
/// long to wait.
public struct MessageFlags: OptionSet, Hashable, Sendable {
    /// The `MSG_*` bits.
    public let rawValue: CInt

    /// Wraps `MSG_*` bits. Never switches; any thread.
    public init(rawValue: CInt) {
        self.rawValue = rawValue
    }

    /// `MSG_PEEK`: return data without removing it from the queue.
    public static let peek = MessageFlags(rawValue: CInt(MSG_PEEK))
    /// `MSG_WAITALL`: a receive waits until the whole buffer is filled (or end of stream, or an error).
    public static let waitAll = MessageFlags(rawValue: CInt(MSG_WAITALL))
    /// `MSG_OOB`: out-of-band data.
    public static let outOfBand = MessageFlags(rawValue: CInt(MSG_OOB))
    /// `MSG_TRUNC`: for datagrams, return the real length even when it did not fit the buffer.
    public static let truncate = MessageFlags(rawValue: CInt(MSG_TRUNC))
}
