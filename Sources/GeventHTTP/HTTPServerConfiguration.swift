public import GeventHTTPParser

/// The limits, timeouts and logging of an ``HTTPServer``.
///
/// Defaults: request line ≤ 8 KiB (414), head ≤ 64 KiB and ≤ 100 fields (431), body ≤ 16 MiB (413), the
/// whole head within 10 s of the connection (or of its first byte on a kept-alive connection), 60 s idle
/// between requests, 60 s without progress while reading a body or writing a response, 1,000 requests
/// per connection, a listen backlog of 1,024, no access log. Any thread may create and copy one; the
/// access log closure runs on the server's thread.
public struct HTTPServerConfiguration {
    /// Request line, head and field-count limits, applied by the parser.
    public var parserLimits = HTTPParserLimits()
    /// The largest request body a handler can read; a longer `Content-Length` is answered 413 before the
    /// handler runs, a longer chunked body fails the handler's read with a 413 error.
    public var maxBodySize = 16 * 1024 * 1024
    /// The time allowed for a whole request head: from accepting the connection, or from the first byte of
    /// a later request on it. A deadline, not an inactivity timer, so a client dripping bytes is cut off.
    public var headerTimeout: Duration = .seconds(10)
    /// How long a kept-alive connection may wait for the first byte of its next request.
    public var idleTimeout: Duration = .seconds(60)
    /// How long one read of a request body or one response write may wait for the client.
    public var ioTimeout: Duration = .seconds(60)
    /// After this many requests on one connection, the response says `Connection: close`.
    public var maxRequestsPerConnection = 1000
    /// The kernel's queue of connections not yet accepted (capped by `net.core.somaxconn`, 4,096 here).
    public var backlog = 1024
    /// How long to keep reading (and discarding) after answering a malformed request with the write side
    /// shut, so the client reads the answer instead of a reset.
    public var lingerTimeout: Duration = .seconds(1)
    /// Called with one Common Log Format line per response (`host - - [date] "request line" status bytes`),
    /// without the newline; `nil` (default) logs nothing. ``HTTPServerConfiguration/standardErrorLog``
    /// writes to stderr.
    public var accessLog: ((String) -> Void)?

    /// The defaults. Never switches; any thread.
    public init() {}

    /// An access log writing each line to standard error (`configuration.accessLog = HTTPServerConfiguration.standardErrorLog`).
    /// Never switches; hub thread.
    public static func standardErrorLog(_ line: String) {
        writeLineToStandardError(line)
    }
}
