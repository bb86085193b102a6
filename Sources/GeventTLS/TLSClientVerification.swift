/// Whether a TLS server asks its clients for a certificate, and which CAs it accepts one from.
///
/// Any thread.
public enum TLSClientVerification: Sendable {
    /// No client certificate is requested (the usual HTTPS server).
    case none
    /// A certificate is requested; a client without one is let in, a client with one that does not verify
    /// is refused.
    case optional(TLSTrustRoots)
    /// A certificate is required and must verify against these roots (mutual TLS).
    case required(TLSTrustRoots)
}
