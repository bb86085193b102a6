import COpenSSL

/// A TLS protocol version a ``TLSContext`` may negotiate.
///
/// Only TLS 1.2 and 1.3: older versions are broken, and Debian's OpenSSL refuses them at its default security
/// level anyway. Any thread.
public enum TLSVersion: Comparable, Sendable, CustomStringConvertible {
    /// TLS 1.2 (RFC 5246), the default minimum.
    case tls12
    /// TLS 1.3 (RFC 8446).
    case tls13

    var openSSLValue: CInt {
        switch self {
        case .tls12: return TLS1_2_VERSION
        case .tls13: return TLS1_3_VERSION
        }
    }

    init?(openSSLValue: CInt) {
        switch openSSLValue {
        case TLS1_2_VERSION: self = .tls12
        case TLS1_3_VERSION: self = .tls13
        default: return nil
        }
    }

    /// "TLSv1.2" or "TLSv1.3", as OpenSSL names them.
    public var description: String {
        switch self {
        case .tls12: return "TLSv1.2"
        case .tls13: return "TLSv1.3"
        }
    }
}
