/// An HTTP/1.x protocol version from a request line (`HTTP/1.1`).
///
/// Any thread may create, compare and pass one.
public struct HTTPVersion: Hashable, Sendable, CustomStringConvertible {
    /// The major version: always 1 for a parsed request.
    public var major: Int
    /// The minor version.
    public var minor: Int

    /// A version. Never switches; any thread.
    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// HTTP/1.0: no persistent connection unless the client asks, no chunked coding.
    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    /// HTTP/1.1.
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)

    /// `true` for 1.1 and later 1.x: persistent by default, chunked coding, `100 Continue`.
    public var isAtLeast1_1: Bool { major > 1 || (major == 1 && minor >= 1) }

    /// "HTTP/1.1".
    public var description: String { "HTTP/\(major).\(minor)" }
}
