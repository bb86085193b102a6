public import Gevent
public import GeventHTTPParser
public import HTTPTypes

/// One request as a handler sees it: the parsed head, the client's address and the body to read.
///
/// Hub-bound: use it in the handler's greenlet only, until the handler returns.
public final class HTTPServerRequest {
    /// The head: method, target, version, fields, framing.
    public let head: HTTPRequestHead
    /// The client's address.
    public let peer: SocketAddress
    /// The body, read on demand (`100 Continue` is sent on the first read if the client asked for it).
    public let body: HTTPRequestBody

    init(head: HTTPRequestHead, peer: SocketAddress, body: HTTPRequestBody) {
        self.head = head
        self.peer = peer
        self.body = body
    }

    /// The request in swift-http-types' model (`head.request`). Never switches.
    public var request: HTTPRequest { head.request }
    /// The method. Never switches.
    public var method: HTTPRequest.Method { head.request.method }
    /// The fields as received. Never switches.
    public var headerFields: HTTPFields { head.request.headerFields }
    /// The target's path and query (`/a?b`); `*` for `OPTIONS *`; `nil` for CONNECT. Never switches.
    public var path: String? { head.request.path }
}
