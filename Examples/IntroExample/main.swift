// The demo of what swift-gevent is for: fetching many URLs at once from code that reads as if it did one
// thing at a time. A local HTTP server (on 127.0.0.1, on a thread of its own) answers every request after
// a delay, the way a slow remote service would; the same URLs are then fetched three ways and timed side
// by side: one after another with libcurl; from one greenlet each with gevent's cooperative `Socket`; and
// from one greenlet each with libcurl's blocking easy API, a C library that knows nothing of greenlets,
// which `Monkey.patchAll()` makes cooperative. Names are resolved with the hub's resolver. When the
// preload library is built (scripts/build-preload.sh), a last line runs an unmodified C program
// (Examples/UnawareC/fetch_all.c) under gevent-run against the same server.
//
//     swift run IntroExample               # 10 URLs, each answered after 200 ms
//     swift run IntroExample 50 100        # 50 URLs, 100 ms each
import CCurl
import Gevent

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

let usage = "usage: IntroExample [URLS (1-500, default 10)] [DELAY_MS (0-10000, default 200)]"
let arguments = CommandLine.arguments.dropFirst()
guard arguments.count <= 2,
    let count = arguments.first.map({ Int($0) }) ?? 10, (1...500).contains(count),
    let delayMilliseconds = arguments.dropFirst().first.map({ Int($0) }) ?? 200,
    (0...10_000).contains(delayMilliseconds)
else {
    print(usage)
    exit(2)
}

// Patch first, before any thread starts (the server's, libcurl's resolver threads): patching is
// process-wide and is meant for the start of main.
Monkey.patchAll()
curl_global_init(Int(CURL_GLOBAL_ALL))

let server = try DelayedServer(delay: .milliseconds(delayMilliseconds))
print("a local HTTP server on 127.0.0.1:\(server.port) answers each request after \(delayMilliseconds) ms")

// Real name resolution through the hub's resolver: localhost and this machine's own name.
for name in ["localhost", hostName()] {
    let addresses = try getaddrinfo(host: name, port: server.port, type: .stream).map { "\($0.address.host ?? "?")" }
    print(
        "  \(name) resolves to \(Set(addresses).sorted().joined(separator: ", ")) (\(type(of: Hub.current.resolver)))"
    )
}

let urls = (1...count).map { "http://localhost:\(server.port)/\($0)" }
print("fetching \(count) URLs, http://localhost:\(server.port)/1 ... /\(count):")

let sequential = try measure("sequential, libcurl, one after another") {
    try urls.map { try fetchWithCurl($0) }
}
_ = try measure("greenlets, gevent Socket", against: sequential) {
    let jobs = urls.indices.map { index in
        spawn { try fetchWithSocket(host: "localhost", port: server.port, path: "/\(index + 1)") }
    }
    try joinAll(jobs, raiseError: true)
    return try jobs.map { try $0.get() }
}
_ = try measure("greenlets, libcurl after Monkey.patchAll()", against: sequential) {
    let jobs = urls.map { url in spawn { try fetchWithCurl(url) } }
    try joinAll(jobs, raiseError: true)
    return try jobs.map { try $0.get() }
}

print(runUnmodifiedProgram(port: server.port, count: count))
