#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// `strerror` text with the number, e.g. "Cannot allocate memory (errno 12)".
func errnoDescription(_ code: Int32) -> String {
    // glibc's strerror returns static text for every errno value it knows, and is thread-safe for them.
    "\(String(cString: strerror(code))) (errno \(code))"
}

/// Writes a whole string to fd 2 with `write(2)`, bypassing stdio buffering so reports interleave
/// correctly with C code that writes to stderr.
func writeToStandardError(_ text: String) {
    var text = text
    text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let n = write(2, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += n
        }
    }
}

/// The current time as an ISO 8601 UTC timestamp, "2026-11-22T07:40:38Z" (gevent's error reports).
func utcTimestamp() -> String {
    var now = time(nil)
    var parts = tm()
    gmtime_r(&now, &parts)
    var buffer = [CChar](repeating: 0, count: 32)
    let length = buffer.withUnsafeMutableBufferPointer { buf in
        strftime(buf.baseAddress, buf.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
    }
    return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
