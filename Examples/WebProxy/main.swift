// gevent's webproxy.py: a small web proxy. `GET /` answers a form; `GET /http://host/path` fetches that URL
// and returns it, with the page's absolute links rewritten to go through the proxy again. The server is
// GeventHTTP's HTTPServer (one greenlet per connection); the fetch is libcurl's blocking easy API made
// cooperative by `Monkey.patchAll()`, so one slow upstream never holds up the other visitors. Only http://
// URLs are fetched (a proxy that followed any scheme would read local files).
//
//     swift run WebProxy 8088 &
//     curl -s 'http://127.0.0.1:8088/http://example.com/'
import CCurl
import Gevent
import GeventHTTP

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

Monkey.patchAll()  // before any thread starts (libcurl's resolver threads)
curl_global_init(Int(CURL_GLOBAL_ALL))

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count <= 1, let port = Int(arguments.first ?? "8088"), (0...65535).contains(port) else {
    print("usage: WebProxy [PORT]   (0: any free port; default 8088)")
    exit(2)
}

/// What the upstream answered.
struct Fetched {
    var status: Int
    var contentType: String?
    var body: [UInt8]
}

struct FetchError: Error, CustomStringConvertible {
    let description: String
}

/// Fetches `url` with libcurl (blocking C; under the patch it waits cooperatively). Redirects are followed.
func fetch(_ url: String) throws -> Fetched {
    guard let handle = curl_easy_init() else { throw FetchError(description: "curl_easy_init failed") }
    defer { curl_easy_cleanup(handle) }
    var body: [UInt8] = []
    ccurl_easy_setopt_string(handle, CURLOPT_URL, url)
    ccurl_easy_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http")
    ccurl_easy_setopt_string(handle, CURLOPT_REDIR_PROTOCOLS_STR, "http")
    ccurl_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
    ccurl_easy_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 1)
    ccurl_easy_setopt_long(handle, CURLOPT_TIMEOUT, 30)
    ccurl_easy_setopt_write_function(handle) { data, size, count, target in
        let bytes = UnsafeRawBufferPointer(start: data, count: size * count)
        target!.assumingMemoryBound(to: [UInt8].self).pointee += bytes
        return size * count
    }
    let code = withUnsafeMutablePointer(to: &body) { target in
        ccurl_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, target)
        return curl_easy_perform(handle)
    }
    guard code == CURLE_OK else {
        throw FetchError(description: "\(url): \(String(cString: curl_easy_strerror(code)))")
    }
    var status = 0
    ccurl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
    var type: UnsafeMutablePointer<CChar>?
    ccurl_easy_getinfo_string(handle, CURLINFO_CONTENT_TYPE, &type)
    return Fetched(status: status, contentType: type.map { String(cString: $0) }, body: body)
}

/// Points the page's absolute http:// links (`href="http://…"`, `src='http://…'`) back at the proxy.
func rewriteLinks(_ html: [UInt8]) -> [UInt8] {
    var result: [UInt8] = []
    result.reserveCapacity(html.count + 256)
    let patterns = ["href=\"http://", "href='http://", "src=\"http://", "src='http://"].map { Array($0.utf8) }
    var index = 0
    while index < html.count {
        if let pattern = patterns.first(where: { html[index...].starts(with: $0) }) {
            let attribute = pattern.count - "http://".utf8.count
            result += pattern[..<attribute]
            result.append(UInt8(ascii: "/"))
            result += pattern[attribute...]
            index += pattern.count
        } else {
            result.append(html[index])
            index += 1
        }
    }
    return result
}

let form = """
    <html><body><form action="/" method="get">
    <p>URL to fetch through the proxy: <input name="url" value="http://"> <input type="submit" value="Go"></p>
    </form></body></html>

    """

let server = try HTTPServer(listener: "127.0.0.1:\(port)") { request, response in
    let target = request.path ?? "/"
    if target.hasPrefix("/?url=") {
        // The form's answer: redirect to /URL.
        let url = String(target.dropFirst("/?url=".count)).removingPercentEncoding()
        var head = HTTPResponse(status: .seeOther)
        head.headerFields[.location] = "/" + url
        try response.respond(head, body: "")
        return
    }
    guard target != "/" else {
        try response.respond(HTTPResponse(status: .ok, headerFields: [.contentType: "text/html"]), body: form)
        return
    }
    let url = String(target.dropFirst())
    guard url.hasPrefix("http://") else {
        try response.respond(HTTPResponse(status: .badRequest), body: "only http:// URLs: /http://host/path\n")
        return
    }
    let fetched: Fetched
    do {
        fetched = try fetch(url)
    } catch {
        try response.respond(HTTPResponse(status: .badGateway), body: "\(error)\n")
        return
    }
    var head = HTTPResponse(status: HTTPResponse.Status(code: fetched.status))
    if let type = fetched.contentType {
        head.headerFields[.contentType] = type
    }
    let isHTML = fetched.contentType?.lowercased().hasPrefix("text/html") ?? false
    try response.respond(head, body: isHTML ? rewriteLinks(fetched.body) : fetched.body)
}
try server.start()
print("listening on http://127.0.0.1:\(server.address.port ?? port)")
fflush(nil)  // every stream: the listening line must reach a pipe now
try server.serveForever()

extension String {
    /// `%2F` → `/` and `+` → space, as a form submission encodes its fields.
    func removingPercentEncoding() -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(self.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
                let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
