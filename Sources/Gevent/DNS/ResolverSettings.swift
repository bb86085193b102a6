#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// The resolver settings of the environment, read when a hub first needs its resolver:
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `GEVENT_RESOLVER` | `thread`, `ares` or `block` (a comma list: the first known name wins) | `thread` |
/// | `GEVENT_RESOLVER_NAMESERVERS` | comma list of name servers for ``AresResolver``: `1.2.3.4`, `1.2.3.4:5353`, `[::1]:53` | `/etc/resolv.conf` |
/// | `GEVENT_RESOLVER_TIMEOUT` | seconds ``AresResolver`` waits for a server before retrying | c-ares's (2 s per try) |
///
/// Values that cannot be used are reported once on stderr with the accepted form and ignored. They belong
/// in `GeventConfig` eventually; they live here so the core configuration did not change with this area.
struct ResolverSettings: Sendable {
    enum Kind: String, Sendable {
        case thread
        case ares
        case block
    }

    var kind: Kind = .thread
    var nameservers: [String]?
    var timeout: Duration?

    static let fromEnvironment: ResolverSettings = {
        var settings = ResolverSettings()
        if let text = environment("GEVENT_RESOLVER") {
            let names = text.split(separator: ",").map { String($0).trimmingWhitespace().lowercased() }
            if let kind = names.lazy.compactMap({ Kind(rawValue: $0) }).first {
                settings.kind = kind
            } else {
                warn("GEVENT_RESOLVER=\(text) names no known resolver (thread, ares, block); using thread")
            }
        }
        if let text = environment("GEVENT_RESOLVER_NAMESERVERS") {
            let servers = text.split(separator: ",").map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty }
            if servers.isEmpty {
                warn("GEVENT_RESOLVER_NAMESERVERS=\(text) lists no server; give e.g. 127.0.0.1:5353,[::1]:53")
            } else {
                settings.nameservers = servers
            }
        }
        if let text = environment("GEVENT_RESOLVER_TIMEOUT") {
            if let seconds = Double(text), seconds > 0, seconds <= 3600 {
                settings.timeout = .nanoseconds(Int64(seconds * 1e9))
            } else {
                warn("GEVENT_RESOLVER_TIMEOUT=\(text) is not a number of seconds in (0, 3600]; using c-ares's default")
            }
        }
        return settings
    }()

    private static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }

    private static func warn(_ message: String) {
        writeToStandardError("swift-gevent: \(message)\n")
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        String(self.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
