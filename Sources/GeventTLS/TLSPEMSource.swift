/// Where PEM text comes from: a file, or bytes already in memory.
///
/// Files are read once, when the ``TLSContext`` is made (a blocking read of a local file, at configuration
/// time). Any thread.
public enum TLSPEMSource: Sendable {
    /// A PEM file, for example `/etc/ssl/private/server.key`.
    case file(String)
    /// PEM text, for example what a secret store returned.
    case memory([UInt8])

    /// Names the source in error messages: the path, or "PEM in memory".
    var name: String {
        switch self {
        case .file(let path): return path
        case .memory: return "PEM in memory"
        }
    }
}
