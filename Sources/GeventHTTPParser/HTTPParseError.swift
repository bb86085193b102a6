public import HTTPTypes

/// A request the parser refuses, with the status the server answers it with.
///
/// Every rejection is final for the connection: after a malformed message the byte stream can no longer be
/// split into requests safely, so the server answers ``status`` and closes. Any thread may create, read and
/// pass one.
public struct HTTPParseError: Error, Equatable, CustomStringConvertible, Sendable {
    /// What rule the request broke; tests and logs match on it.
    public enum Kind: String, Sendable {
        /// The request line is longer than ``HTTPParserLimits/maxRequestLineLength`` (414).
        case requestLineTooLong
        /// The request line is not `method SP request-target SP HTTP-version` (400).
        case malformedRequestLine
        /// The request target is not in a form this method allows (400).
        case invalidTarget
        /// An HTTP version other than 1.x (505).
        case unsupportedVersion
        /// The head is longer than ``HTTPParserLimits/maxHeadSize`` (431).
        case headTooLarge
        /// More fields than ``HTTPParserLimits/maxFieldCount`` (431).
        case tooManyFields
        /// A field line breaks RFC 9112 §5: no colon, whitespace before it, an invalid name, a control
        /// character or obs-fold (400).
        case malformedField
        /// A line ends with a bare LF, or a CR is not followed by LF (400).
        case invalidLineEnding
        /// HTTP/1.1 without exactly one `Host`, or a `Host` that is not a host (400).
        case invalidHost
        /// A `Content-Length` that is not a number, or several that differ (400).
        case invalidContentLength
        /// `Content-Length` and `Transfer-Encoding` together, `Transfer-Encoding` on HTTP/1.0, or a
        /// coding list that does not end in `chunked` (400).
        case invalidFraming
        /// A transfer coding other than `chunked` before the final `chunked` (501).
        case unsupportedTransferCoding
        /// A chunk-size line, chunk data terminator or trailer section breaks RFC 9112 §7.1 (400).
        case malformedChunk
        /// The body is longer than the server allows (413).
        case bodyTooLarge
        /// The connection ended inside a message (400, though nobody may be left to read it).
        case truncatedMessage
    }

    /// The rule broken.
    public let kind: Kind
    /// What exactly was wrong, for logs (never echoed to the client).
    public let detail: String

    /// Creates the error. Never switches; any thread.
    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    /// The status the server answers with: 400, 413, 414, 431, 501 or 505.
    public var status: HTTPResponse.Status {
        switch kind {
        case .requestLineTooLong: return .uriTooLong
        case .headTooLarge, .tooManyFields: return .requestHeaderFieldsTooLarge
        case .unsupportedVersion: return .httpVersionNotSupported
        case .unsupportedTransferCoding: return .notImplemented
        case .bodyTooLarge: return .contentTooLarge
        default: return .badRequest
        }
    }

    /// "malformedField: whitespace between the field name and the colon".
    public var description: String { "\(kind.rawValue): \(detail)" }
}
