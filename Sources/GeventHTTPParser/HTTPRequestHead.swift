public import HTTPTypes

/// A parsed request head: the swift-http-types request plus what HTTP/1.1 adds (version, framing,
/// connection handling).
///
/// ``request`` carries the method, the target (`path`; `scheme` and `authority` from an absolute-form
/// target, else `authority` from `Host`) and every field as received, `Host` included. Any thread may read
/// and pass one.
public struct HTTPRequestHead: Sendable {
    /// The request as swift-http-types models it.
    public var request: HTTPRequest
    /// The protocol version of the request line.
    public var version: HTTPVersion
    /// The request target exactly as sent (`/a?b`, `http://h/a`, `h:443`, `*`).
    public var target: String
    /// How the body is delimited.
    public var framing: HTTPBodyFraming
    /// Whether the client lets the connection persist after this request: HTTP/1.1 unless
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
    public var keepAlive: Bool
    /// `Expect: 100-continue` on HTTP/1.1: the client waits for `100 Continue` before sending the body.
    public var expectsContinue: Bool
    /// `Connection: upgrade` with an `Upgrade` field, or a `CONNECT`: the handler may take the connection.
    public var wantsUpgrade: Bool
}

/// How a request body is delimited (RFC 9112 §6.3).
public enum HTTPBodyFraming: Equatable, Sendable {
    /// No body (no `Content-Length`, no `Transfer-Encoding`).
    case none
    /// Exactly this many bytes (`Content-Length`).
    case length(Int)
    /// `Transfer-Encoding: chunked`.
    case chunked
}
