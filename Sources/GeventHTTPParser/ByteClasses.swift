/// The character classes of RFC 9110 §5.6 over raw bytes, and the comparisons the parser needs without
/// making strings.
enum ByteClass {
    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let colon = UInt8(ascii: ":")
    static let comma = UInt8(ascii: ",")
    static let semicolon = UInt8(ascii: ";")

    /// `tchar`: the characters of a token (method, field name, coding, extension name).
    @inline(__always)
    static func isToken(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// `field-vchar` and the SP / HTAB allowed inside a field value: VCHAR, obs-text, SP, HTAB.
    @inline(__always)
    static func isFieldValue(_ byte: UInt8) -> Bool {
        byte == tab || (byte >= 0x20 && byte != 0x7F)
    }

    /// `VCHAR`: visible ASCII.
    @inline(__always)
    static func isVisible(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte < 0x7F
    }

    @inline(__always)
    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == space || byte == tab
    }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// The value of a hex digit, or `nil`.
    @inline(__always)
    static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }

    /// `bytes` equals the lowercase ASCII `lowercase`, ignoring ASCII case.
    @inline(__always)
    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer.SubSequence, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = lowercase.utf8Start
        var index = 0
        for byte in bytes {
            // Folding with 0x20 is exact here: `lowercase` holds letters, digits and '-' only.
            if byte | 0x20 != expected[index] { return false }
            index += 1
        }
        return true
    }

    /// The range of `bytes` without leading and trailing SP / HTAB (`OWS`).
    @inline(__always)
    static func trimmed(_ bytes: UnsafeRawBufferPointer.SubSequence) -> UnsafeRawBufferPointer.SubSequence {
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end && isWhitespace(bytes[start]) { start += 1 }
        while end > start && isWhitespace(bytes[end - 1]) { end -= 1 }
        return bytes[start..<end]
    }

    /// The elements of a comma-separated list (`#element`), trimmed; empty elements are kept, so a
    /// caller can reject them.
    static func forEachListElement(
        _ bytes: UnsafeRawBufferPointer.SubSequence,
        _ body: (UnsafeRawBufferPointer.SubSequence) throws(HTTPParseError) -> Void
    ) throws(HTTPParseError) {
        var start = bytes.startIndex
        while true {
            var end = start
            while end < bytes.endIndex && bytes[end] != comma { end += 1 }
            try body(trimmed(bytes[start..<end]))
            if end == bytes.endIndex { return }
            start = end + 1
        }
    }
}
