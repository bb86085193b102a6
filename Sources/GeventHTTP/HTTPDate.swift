#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The `Date` field value (IMF-fixdate, RFC 9110 §5.6.7) and the Common Log Format time, formatted once per
/// second. One per server, hub thread only.
final class HTTPDate {
    private var second: time_t = -1
    private(set) var imfFixdate: [UInt8] = []
    private var logSecond: time_t = -1
    private var logText = ""

    /// "Wed, 02 Dec 2026 05:33:54 GMT" for now.
    func current() -> [UInt8] {
        let now = time(nil)
        if now != second {
            second = now
            imfFixdate = Array(HTTPDate.format(now, "%a, %d %b %Y %H:%M:%S GMT").utf8)
        }
        return imfFixdate
    }

    /// "02/Dec/2026:05:33:54 +0000" for now.
    func logTimestamp() -> String {
        let now = time(nil)
        if now != logSecond {
            logSecond = now
            logText = HTTPDate.format(now, "%d/%b/%Y:%H:%M:%S +0000")
        }
        return logText
    }

    private static func format(_ time: time_t, _ pattern: String) -> String {
        var moment = time
        var parts = tm()
        gmtime_r(&moment, &parts)
        // strftime's %a and %b follow the locale; a Swift program runs in the "C" locale unless it calls
        // setlocale, which is what RFC 9110's English day and month names need.
        var buffer = [CChar](repeating: 0, count: 64)
        let length = buffer.withUnsafeMutableBufferPointer { pointer in
            strftime(pointer.baseAddress, pointer.count, pattern, &parts)
        }
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
