/// A file descriptor number, as a type of its own so it is not confused with a count or a flag.
///
/// Used by ``waitReadable(_:timeout:)``, ``waitWritable(_:timeout:)``, ``select(readable:writable:timeout:)``,
/// ``poll(_:timeout:)`` and ``Socket/fileDescriptor``. It does not own the descriptor: nothing is closed when
/// a value goes away. Never switches; any thread.
public struct FileDescriptor: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The descriptor number.
    public let rawValue: CInt

    /// Wraps a descriptor number. Never switches; any thread.
    public init(rawValue: CInt) {
        self.rawValue = rawValue
    }

    /// Wraps a descriptor number. Never switches; any thread.
    public init(_ rawValue: CInt) {
        self.rawValue = rawValue
    }

    /// "fd 7".
    public var description: String { "fd \(rawValue)" }
}
