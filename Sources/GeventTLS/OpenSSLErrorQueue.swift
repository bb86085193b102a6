import CGeventOpenSSL
import COpenSSL

/// This thread's OpenSSL error queue. OpenSSL keeps it per OS thread, and every greenlet of a hub shares that
/// thread, so it is cleared before every `SSL_*` call and read empty before any switch: no greenlet ever
/// sees another's errors. Never switches; the hub's thread.
enum OpenSSLErrorQueue {
    /// One entry of the queue.
    struct Entry {
        let code: UInt
        var library: CInt { gevent_tls_error_library(code) }
        var reason: CInt { gevent_tls_error_reason(code) }
        /// OpenSSL's reason text, for example "certificate verify failed".
        var text: String {
            if let reason = ERR_reason_error_string(code) {
                return String(cString: reason)
            }
            return "OpenSSL error \(String(code, radix: 16))"
        }
    }

    @inline(__always)
    static func clear() {
        ERR_clear_error()
    }

    /// Takes every entry, oldest first; the queue is empty afterwards.
    static func drain() -> [Entry] {
        var entries: [Entry] = []
        while case let code = ERR_get_error(), code != 0 {
            entries.append(Entry(code: code))
        }
        return entries
    }

    /// The texts of the queue's entries joined, or `fallback` when it is empty; the queue is emptied.
    static func drainText(fallback: String) -> String {
        let entries = drain()
        if entries.isEmpty { return fallback }
        return entries.map(\.text).joined(separator: "; ")
    }
}
