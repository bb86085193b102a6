#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// Readiness conditions of a descriptor, as ``poll(_:timeout:)`` asks for and reports them (`poll(2)`'s
/// `POLL*` bits). Never switches; any thread.
public struct PollEvents: OptionSet, Hashable, Sendable, CustomStringConvertible {
    /// The `POLL*` bits.
    public let rawValue: Int16

    /// Wraps `POLL*` bits. Never switches; any thread.
    public init(rawValue: Int16) {
        self.rawValue = rawValue
    }

    /// `POLLIN`: data (or end of file, or a connection to accept) can be read.
    public static let readable = PollEvents(rawValue: Int16(POLLIN))
    /// `POLLOUT`: data can be written.
    public static let writable = PollEvents(rawValue: Int16(POLLOUT))
    /// `POLLERR`: an error is pending (reported only, never asked for).
    public static let error = PollEvents(rawValue: Int16(POLLERR))
    /// `POLLHUP`: the peer hung up (reported only).
    public static let hangUp = PollEvents(rawValue: Int16(POLLHUP))
    /// `POLLNVAL`: the descriptor is not open (reported only).
    public static let invalid = PollEvents(rawValue: Int16(POLLNVAL))

    /// "[readable, hangUp]".
    public var description: String {
        let names: [(PollEvents, String)] = [
            (.readable, "readable"), (.writable, "writable"), (.error, "error"), (.hangUp, "hangUp"),
            (.invalid, "invalid"),
        ]
        return "[" + names.filter { contains($0.0) }.map(\.1).joined(separator: ", ") + "]"
    }
}
