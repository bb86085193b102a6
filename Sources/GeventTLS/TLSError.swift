/// A TLS operation failed: what kind of failure, what we were doing, OpenSSL's reason and what to do next.
///
/// `description` reads, for example, "TLS handshake with 127.0.0.1:4433: certificate verification failed:
/// certificate has expired (X509 error 10); renew the server's certificate, or check this machine's clock".
/// Failures of the connection underneath are not `TLSError`s: they stay ``SocketError``s (a reset, a socket
/// closed by another greenlet) and ``SocketTimeoutError``s, as for plain sockets. Any thread may create, read
/// and pass one.
public struct TLSError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, for `catch` and `switch`.
    public enum Kind: Equatable, Sendable {
        /// A context could not be set up: an unreadable or malformed PEM file, a key that does not match its
        /// certificate, a cipher list or ALPN list OpenSSL rejects.
        case configuration
        /// We rejected the peer's certificate, for the reason given.
        case certificateVerificationFailed(TLSVerificationFailure)
        /// The peer sent no certificate although this server requires one.
        case peerCertificateMissing
        /// The peer rejected the handshake (it sent a TLS alert: it does not trust our certificate, shares no
        /// protocol version or cipher with us, ...).
        case rejectedByPeer
        /// The peer does not speak TLS: a plain HTTP request, or bytes that are not a TLS record.
        case notTLS
        /// The peer closed the connection before the handshake finished.
        case closedDuringHandshake
        /// The peer closed the connection without a TLS `close_notify` (a truncation attack or a careless
        /// peer). Only thrown when ``TLSSocket/suppressRaggedEOFs`` is `false`.
        case unexpectedEOF
        /// Another protocol failure: a malformed record, a failed MAC, no shared protocol version or cipher.
        case protocolFailure
    }

    /// What went wrong.
    public let kind: Kind
    /// What was being done, for example "TLS handshake with 127.0.0.1:4433" or "load the private key from
    /// key.pem".
    public let operation: String
    /// What OpenSSL or the verifier reported, for example "certificate has expired".
    public let reason: String
    /// What to do about it, when we can tell; `nil` otherwise.
    public let hint: String?

    /// Creates the error. Never switches; any thread.
    ///
    /// - Parameters:
    ///   - kind: what went wrong.
    ///   - operation: what was being done.
    ///   - reason: the underlying library's text.
    ///   - hint: what to do next, or `nil`.
    public init(kind: Kind, operation: String, reason: String, hint: String? = nil) {
        self.kind = kind
        self.operation = operation
        self.reason = reason
        self.hint = hint
    }

    /// "operation: summary: reason; hint".
    public var description: String {
        let summary: String
        switch kind {
        case .configuration: summary = "invalid TLS configuration"
        case .certificateVerificationFailed: summary = "certificate verification failed"
        case .peerCertificateMissing: summary = "the peer sent no certificate"
        case .rejectedByPeer: summary = "the peer rejected the handshake"
        case .notTLS: summary = "the peer does not speak TLS"
        case .closedDuringHandshake: summary = "the peer closed the connection during the handshake"
        case .unexpectedEOF: summary = "the peer closed the connection without a TLS close_notify"
        case .protocolFailure: summary = "TLS protocol failure"
        }
        let hintText = hint.map { "; \($0)" } ?? ""
        return "\(operation): \(summary): \(reason)\(hintText)"
    }
}

/// Why a certificate was rejected, from OpenSSL's verification result (`X509_V_ERR_*`).
///
/// Any thread may create, read and pass one.
public enum TLSVerificationFailure: Equatable, Sendable, CustomStringConvertible {
    /// The certificate (or one in its chain) is past its `notAfter` date.
    case expired
    /// The certificate (or one in its chain) is not valid yet.
    case notYetValid
    /// The chain does not lead to a certificate authority we trust (unknown issuer, a self-signed
    /// certificate, a self-signed root not in our trust store).
    case unknownAuthority
    /// The certificate is valid but not for the host name we connected to.
    case hostNameMismatch
    /// The certificate is valid but not for the IP address we connected to.
    case ipAddressMismatch
    /// Another verification error: OpenSSL's `X509_V_ERR_*` code and text.
    case other(code: Int, text: String)

    /// Classifies OpenSSL's verification result `code`.
    init(code: Int, text: String) {
        switch code {
        case 10: self = .expired  // X509_V_ERR_CERT_HAS_EXPIRED
        case 9: self = .notYetValid  // X509_V_ERR_CERT_NOT_YET_VALID
        // UNABLE_TO_GET_ISSUER_CERT, _LOCALLY, DEPTH_ZERO_SELF_SIGNED_CERT, SELF_SIGNED_CERT_IN_CHAIN,
        // UNABLE_TO_VERIFY_LEAF_SIGNATURE
        case 2, 18, 19, 20, 21: self = .unknownAuthority
        case 62: self = .hostNameMismatch  // X509_V_ERR_HOSTNAME_MISMATCH
        case 64: self = .ipAddressMismatch  // X509_V_ERR_IP_ADDRESS_MISMATCH
        default: self = .other(code: code, text: text)
        }
    }

    /// "certificate has expired", "unknown certificate authority", ...
    public var description: String {
        switch self {
        case .expired: return "certificate has expired"
        case .notYetValid: return "certificate is not yet valid"
        case .unknownAuthority: return "certificate is not signed by a trusted certificate authority"
        case .hostNameMismatch: return "certificate does not match the host name"
        case .ipAddressMismatch: return "certificate does not match the IP address"
        case .other(let code, let text): return "\(text) (X509 error \(code))"
        }
    }

    /// What to do about it, from the verifying side's point of view.
    var hint: String {
        switch self {
        case .expired:
            return "renew the peer's certificate, or check this machine's clock"
        case .notYetValid:
            return "check this machine's clock, or wait until the certificate's notBefore date"
        case .unknownAuthority:
            return "trust the CA that issued it (TLSTrustRoots.file with its PEM), or have the peer send its "
                + "intermediate certificates"
        case .hostNameMismatch, .ipAddressMismatch:
            return "connect with a name the certificate lists (see its subjectAltName), or reissue it for this "
                + "name"
        case .other:
            return "see the X509 error code in OpenSSL's verify(1) manual"
        }
    }
}
