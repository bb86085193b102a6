/// Where a server listens, parsed from gevent's listener forms:
///
/// - `"127.0.0.1:8080"`, `"[::1]:8080"`: that address;
/// - `"localhost:8080"`: the first address the name resolves to (may switch greenlets);
/// - `":8080"`, `"*:8080"`, `"8080"`: every interface, IPv6 and IPv4 on one dual-stack socket when the host
///   has IPv6, else IPv4 only;
/// - `"/run/app.sock"`, `"@name"`: a Unix-domain socket.
struct ListenerAddress {
    let address: SocketAddress
    /// A wildcard IPv6 address that should accept IPv4 too (`IPV6_V6ONLY` off); falls back to IPv4.
    let dualStack: Bool

    /// Parses `text`, resolving a host name with the hub's resolver. May switch greenlets (names only).
    static func parse(_ text: String, type: SocketType) throws -> ListenerAddress {
        if text.hasPrefix("/") || text.hasPrefix("./") || text.hasPrefix("@") {
            return ListenerAddress(address: try SocketAddress(unixPath: text), dualStack: false)
        }
        var host = ""
        var portText = text
        if let colon = text.lastIndex(of: ":") {
            host = String(text[..<colon])
            portText = String(text[text.index(after: colon)...])
        }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw ServerError(
                message: "listener \"\(text)\": expected \"host:port\", \"[ipv6]:port\", \":port\" or a Unix path, "
                    + "with a port in 0...65535"
            )
        }
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
        }
        if host.isEmpty || host == "*" {
            return ListenerAddress(address: try SocketAddress(ipv6: "::", port: port), dualStack: true)
        }
        if let numeric = try? SocketAddress(ip: host, port: port) {
            return ListenerAddress(address: numeric, dualStack: false)
        }
        let answers = try getaddrinfo(host: host, port: port, type: type, flags: .passive)
        guard let first = answers.first else {
            throw ServerError(message: "listener \"\(text)\": \(host) resolved to no address")
        }
        return ListenerAddress(address: first.address, dualStack: false)
    }

    /// A bound, not yet listening socket for this address.
    func makeSocket(type: SocketType) throws -> Socket {
        do {
            return try bind(address, type: type, dualStack: dualStack)
        } catch let error as SocketError where dualStack && error.code == .addressFamilyNotSupported {
            let any = try SocketAddress(ipv4: "0.0.0.0", port: address.port ?? 0)
            return try bind(any, type: type, dualStack: false)
        }
    }

    private func bind(_ address: SocketAddress, type: SocketType, dualStack: Bool) throws -> Socket {
        let socket = try Socket(family: address.family, type: type)
        do {
            if address.family != .unix {
                try socket.setOption(.reuseAddress, to: true)
            }
            if dualStack {
                try socket.setOption(.ipv6Only, to: false)
            }
            try socket.bind(to: address)
            return socket
        } catch {
            socket.close()
            throw error
        }
    }
}
