// swift-gevent example: the reference HTTP/1.1 server, and the target of the HTTP benchmark.
//
//     swift run -c release HTTPHello --port 8080
//     curl -s http://127.0.0.1:8080/               # Hello, World!
//     curl -s --data-binary @file http://127.0.0.1:8080/echo
//
// Routes (HEAD wherever GET): GET / → "Hello, World!"; POST or PUT /echo → the request body;
// GET /slow?ms=N → sleeps N ms cooperatively, then "slept N ms"; GET /stream?chunks=N → a chunked body
// whose chunk i is "chunk i\n"; anything else → 404. Once listening it prints one line,
// "listening on http://HOST:PORT", with the real port when 0 was given. With --tls-cert CERT.pem and
// --tls-key KEY.pem it serves HTTPS and prints "listening on https://HOST:PORT".
import ArgumentParser
import Gevent
import GeventHTTP
import GeventTLS

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

@main
struct HTTPHello: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A small HTTP/1.1 server on greenlets: GET /, POST|PUT /echo, GET /slow?ms=N, GET /stream?chunks=N."
    )

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port).") var port = 0
    @Option(help: "Seconds allowed for a whole request head.") var headerTimeout: Double = 10
    @Option(help: "Seconds a kept-alive connection may wait for its next request.") var idleTimeout: Double = 60
    @Option(help: "Largest request body in bytes.") var maxBody = 16 * 1024 * 1024
    @Option(help: "TLS certificate (PEM).") var tlsCert: String?
    @Option(help: "TLS private key (PEM).") var tlsKey: String?
    @Flag(help: "Write a Common Log Format line per request to stderr.") var accessLog = false

    func validate() throws {
        if (tlsCert == nil) != (tlsKey == nil) {
            throw ValidationError("HTTPS needs both --tls-cert CERT.pem and --tls-key KEY.pem")
        }
        guard (0...65535).contains(port) else {
            throw ValidationError("--port must be in 0...65535, got \(port)")
        }
        guard headerTimeout > 0, idleTimeout > 0, maxBody >= 0 else {
            throw ValidationError("--header-timeout and --idle-timeout must be positive, --max-body not negative")
        }
    }

    func run() throws {
        var configuration = HTTPServerConfiguration()
        configuration.headerTimeout = .milliseconds(Int(headerTimeout * 1000))
        configuration.idleTimeout = .milliseconds(Int(idleTimeout * 1000))
        configuration.maxBodySize = maxBody
        configuration.backlog = 4096
        if accessLog {
            configuration.accessLog = HTTPServerConfiguration.standardErrorLog
        }
        let maxBody = self.maxBody
        let listener = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        // A key that does not match its certificate, or an unreadable file, fails here with TLSError's
        // explanation, before anything listens.
        let tls = try tlsCert.map { certificate in
            try TLSContext.server(certificateChain: .file(certificate), privateKey: .file(tlsKey!))
        }
        let server = try HTTPServer(listener: listener, configuration: configuration, tls: tls) { request, response in
            try route(request, response, maxBody: maxBody)
        }
        try server.start()
        let bound = server.address
        let shownHost = host.contains(":") ? "[\(host)]" : host
        print("listening on \(tls == nil ? "http" : "https")://\(shownHost):\(bound.port ?? port)")
        fflush(stdout)
        try server.serveForever()
    }
}

private func route(_ request: HTTPServerRequest, _ response: HTTPResponseWriter, maxBody: Int) throws {
    let target = request.path ?? ""
    let path = target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? target
    let isGet = request.method == .get || request.method == .head
    switch path {
    case "/" where isGet:
        try response.respond(textResponse(.ok), body: "Hello, World!")
    case "/echo" where request.method == .post || request.method == .put:
        let body = try request.body.collect(upTo: maxBody)
        var head = HTTPResponse(status: .ok)
        head.headerFields[.contentType] = "application/octet-stream"
        try response.respond(head, body: body)
    case "/slow" where isGet:
        guard let milliseconds = queryInteger(target, "ms"), (0...600_000).contains(milliseconds) else {
            try response.respond(textResponse(.badRequest), body: "expected /slow?ms=N with N in 0...600000\n")
            return
        }
        try sleep(.milliseconds(milliseconds))
        try response.respond(textResponse(.ok), body: "slept \(milliseconds) ms")
    case "/stream" where isGet:
        guard let chunks = queryInteger(target, "chunks"), (0...1_000_000).contains(chunks) else {
            try response.respond(textResponse(.badRequest), body: "expected /stream?chunks=N with N in 0...1000000\n")
            return
        }
        try response.writeHead(textResponse(.ok))
        for index in 0..<chunks {
            try response.write("chunk \(index)\n")
        }
        try response.finish()
    default:
        try response.respond(textResponse(.notFound), body: "not found\n")
    }
}

private func textResponse(_ status: HTTPResponse.Status) -> HTTPResponse {
    HTTPResponse(status: status, headerFields: [.contentType: "text/plain; charset=utf-8"])
}

/// The integer value of `name` in the target's query (`/slow?ms=20` → 20).
private func queryInteger(_ target: String, _ name: String) -> Int? {
    guard let query = target.split(separator: "?", maxSplits: 1).dropFirst().first else { return nil }
    for pair in query.split(separator: "&") {
        let parts = pair.split(separator: "=", maxSplits: 1)
        if parts.count == 2 && parts[0] == name {
            return Int(parts[1])
        }
    }
    return nil
}
