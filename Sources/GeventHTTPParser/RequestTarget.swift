import HTTPTypes

/// A request target split into swift-http-types' pseudo fields (RFC 9112 §3.2): origin-form `/path?query`,
/// absolute-form `http://authority/path`, authority-form `host:port` (CONNECT only), asterisk-form `*`
/// (OPTIONS only).
struct RequestTarget {
    var scheme: String? = nil
    var authority: String? = nil
    var path: String? = nil

    static func parse(
        _ target: UnsafeRawBufferPointer.SubSequence,
        method: HTTPRequest.Method
    ) throws(HTTPParseError) -> RequestTarget {
        let first = target[target.startIndex]
        if method == .connect {
            guard target.contains(ByteClass.colon), !target.contains(UInt8(ascii: "/")) else {
                throw HTTPParseError(.invalidTarget, "CONNECT needs an authority-form target (host:port)")
            }
            try RequestTarget.checkHost(target)
            return RequestTarget(authority: String(decoding: target, as: UTF8.self))
        }
        if first == UInt8(ascii: "/") {
            try RequestTarget.checkPathAndQuery(target)
            return RequestTarget(path: String(decoding: target, as: UTF8.self))
        }
        if target.count == 1 && first == UInt8(ascii: "*") {
            guard method == .options else {
                throw HTTPParseError(.invalidTarget, "the asterisk-form target is for OPTIONS only")
            }
            return RequestTarget(path: "*")
        }
        return try absolute(target)
    }

    private static func absolute(_ target: UnsafeRawBufferPointer.SubSequence) throws(HTTPParseError) -> RequestTarget {
        guard let schemeEnd = target.firstIndex(of: ByteClass.colon),
            target[schemeEnd...].starts(with: "://".utf8)
        else {
            throw HTTPParseError(.invalidTarget, "a target that is neither /path nor scheme://authority/path")
        }
        let schemeBytes = target[target.startIndex..<schemeEnd]
        guard ByteClass.equalsIgnoringCase(schemeBytes, "http") || ByteClass.equalsIgnoringCase(schemeBytes, "https")
        else {
            throw HTTPParseError(.invalidTarget, "an absolute-form target whose scheme is not http or https")
        }
        let authorityStart = schemeEnd + 3
        var authorityEnd = authorityStart
        while authorityEnd < target.endIndex && target[authorityEnd] != UInt8(ascii: "/")
            && target[authorityEnd] != UInt8(ascii: "?")
        {
            authorityEnd += 1
        }
        let authorityBytes = target[authorityStart..<authorityEnd]
        guard !authorityBytes.isEmpty, !authorityBytes.contains(UInt8(ascii: "@")) else {
            throw HTTPParseError(.invalidTarget, "an absolute-form target with an empty authority or userinfo")
        }
        try RequestTarget.checkHost(authorityBytes)
        let rest = target[authorityEnd...]
        try RequestTarget.checkPathAndQuery(rest)
        var path = String(decoding: rest, as: UTF8.self)
        if rest.first != UInt8(ascii: "/") {
            path = "/" + path
        }
        return RequestTarget(
            scheme: String(decoding: schemeBytes, as: UTF8.self).lowercased(),
            authority: String(decoding: authorityBytes, as: UTF8.self),
            path: path
        )
    }

    /// Visible ASCII without `#` (no fragment in a request), every `%` followed by two hex digits.
    static func checkPathAndQuery(_ bytes: UnsafeRawBufferPointer.SubSequence) throws(HTTPParseError) {
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "#") {
                throw HTTPParseError(.invalidTarget, "a fragment (#) in the request target")
            }
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.endIndex, ByteClass.hexValue(bytes[index + 1]) != nil,
                    ByteClass.hexValue(bytes[index + 2]) != nil
                else {
                    throw HTTPParseError(.invalidTarget, "a % in the target not followed by two hex digits")
                }
                index += 2
            }
            index += 1
        }
    }

    /// `uri-host [ ":" port ]`: reg-name, IPv4 or a bracketed IP literal; empty is allowed (RFC 9110 §7.2).
    static func checkHost(_ bytes: UnsafeRawBufferPointer.SubSequence) throws(HTTPParseError) {
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"):
                continue
            case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "!"),
                UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"),
                UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="),
                UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "%"):
                continue
            default:
                throw HTTPParseError(.invalidHost, "byte 0x\(String(byte, radix: 16)) in a host")
            }
        }
    }
}
