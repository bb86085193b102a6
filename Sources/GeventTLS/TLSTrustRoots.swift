/// The certificate authorities a ``TLSContext`` trusts when it verifies a peer.
///
/// Any thread.
public enum TLSTrustRoots: Sendable {
    /// The system's trust store (Debian's `ca-certificates`, `/etc/ssl/certs`).
    case system
    /// The CA certificates in a PEM source (one or more `BEGIN CERTIFICATE` blocks), for example a private CA
    /// or a test CA. Only these are trusted, not the system's.
    case certificates(TLSPEMSource)
}
