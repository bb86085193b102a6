// gevent's concurrent_download.py: download several URLs at once with a blocking client library made
// cooperative by patching. Here the library is libcurl's easy API (plain blocking C), `Monkey.patchAll()`
// makes its waits switch greenlets, and one greenlet per URL runs the downloads side by side. Without
// arguments it downloads from a small local server started for the purpose (so it runs offline); with
// arguments it downloads those URLs.
//
//     swift run ConcurrentDownload                                   # three URLs of a local server
//     swift run ConcurrentDownload http://127.0.0.1:8000/a http://127.0.0.1:8000/b
import CCurl
import Gevent

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

Monkey.patchAll()  // before any thread starts (libcurl's resolver threads, the local server)
curl_global_init(Int(CURL_GLOBAL_ALL))

var urls = Array(CommandLine.arguments.dropFirst())
var localServer: StreamServer?
if urls.isEmpty {
    let server = try StreamServer(listener: "127.0.0.1:0") { client, _ in
        let reader = client.makeReader()
        let path = String(decoding: try reader.readLine(maxLength: 4096), as: UTF8.self).split(separator: " ")
        while try !reader.readLine(maxLength: 4096).allSatisfy({ $0 == 13 || $0 == 10 }) {}
        try sleep(.milliseconds(100))  // a slow server: the downloads overlap
        let body = "the text of \(path.count > 1 ? String(path[1]) : "/")\n"
        try client.sendAll(
            Array("HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)".utf8)
        )
    }
    try server.start()
    localServer = server
    let port = server.address.port ?? 0
    urls = ["/python", "/gevent", "/swift"].map { "http://127.0.0.1:\(port)\($0)" }
}

/// Downloads `url` with libcurl (blocking C) and returns the body.
func download(_ url: String) throws -> [UInt8] {
    guard let handle = curl_easy_init() else { throw CurlError(message: "curl_easy_init failed") }
    defer { curl_easy_cleanup(handle) }
    var body: [UInt8] = []
    ccurl_easy_setopt_string(handle, CURLOPT_URL, url)
    ccurl_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
    ccurl_easy_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 1)
    ccurl_easy_setopt_write_function(handle) { data, size, count, target in
        let bytes = UnsafeRawBufferPointer(start: data, count: size * count)
        target!.assumingMemoryBound(to: [UInt8].self).pointee += bytes
        return size * count
    }
    let code = withUnsafeMutablePointer(to: &body) { target in
        ccurl_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, target)
        return curl_easy_perform(handle)
    }
    guard code == CURLE_OK else { throw CurlError(message: "\(url): \(String(cString: curl_easy_strerror(code)))") }
    return body
}

struct CurlError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

let started = ContinuousClock.now
let jobs = urls.map { url in
    spawn { () throws -> Int in
        print("Starting \(url)")
        let body = try download(url)
        print("\(url): \(body.count) bytes: \(String(decoding: body.prefix(50), as: UTF8.self).debugDescription)")
        return body.count
    }
}
try joinAll(jobs, timeout: .seconds(30))
let failed = jobs.filter { $0.error != nil || !$0.isReady }
for job in failed { print("failed: \(job.error.map { "\($0)" } ?? "no answer within 30 s")") }
print("\(jobs.count - failed.count) of \(jobs.count) downloads in \(ContinuousClock.now - started)")
localServer?.close()
exit(failed.isEmpty ? 0 : 1)
