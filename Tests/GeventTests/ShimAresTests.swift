import CGeventShim
import Gevent
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The DNS area with the ares resolver: libc's getaddrinfo and getnameinfo, called as unaware code calls
/// them (the interposers are linked into this binary), answered by the hub's c-ares channel against a real
/// DNS server (dnsmasq on 127.0.0.1), with no thread per lookup. Patching and the resolver setting are
/// process-wide, so each scenario runs in a child process.
@Suite("Shim DNS through c-ares", .serialized, .timeLimit(.minutes(1)))
struct ShimAresTests {
    @Test func aThousandConcurrentInterposedLookupsRunWithoutAThread() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            runConcurrentInterposedLookups()
        }
        expectScenarioPassed(result)
    }

    @Test func answersMatchLibcForHostsFileNamesNumericAddressesAndReverseLookups() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            runLibcEquivalence()
        }
        expectScenarioPassed(result)
    }
}

/// What one libc getaddrinfo call gave: its status, and "family socktype protocol address" per node (with
/// the canonical name where one is reported), in order.
private struct LibcAnswer: Equatable, CustomStringConvertible {
    var status: Int32
    var nodes: [String]

    var description: String { "status \(status): \(nodes)" }

    /// The same nodes without their order (c-ares orders answers its own way).
    var unordered: LibcAnswer { LibcAnswer(status: status, nodes: nodes.sorted()) }
}

private func libcGetaddrinfo(
    _ host: String?,
    _ service: String?,
    family: CInt,
    socketType: CInt,
    flags: CInt
)
    -> LibcAnswer
{
    var hints = addrinfo()
    hints.ai_family = family
    hints.ai_socktype = socketType
    hints.ai_flags = flags
    var result: UnsafeMutablePointer<addrinfo>?
    let status = getaddrinfo(host, service, &hints, &result)
    var nodes: [String] = []
    var node = result
    while let current = node {
        var numeric = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        var port = [CChar](repeating: 0, count: 32)
        let info = current.pointee
        _ = Glibc.getnameinfo(
            info.ai_addr,
            info.ai_addrlen,
            &numeric,
            socklen_t(numeric.count),
            &port,
            socklen_t(port.count),
            NI_NUMERICHOST | NI_NUMERICSERV
        )
        let canonical = info.ai_canonname.map { " canonical " + String(cString: $0) } ?? ""
        nodes.append(
            "\(info.ai_family) \(info.ai_socktype) \(info.ai_protocol) \(text(numeric)):"
                + "\(text(port))\(canonical)"
        )
        node = info.ai_next
    }
    freeaddrinfo(result)
    return LibcAnswer(status: status, nodes: nodes)
}

private func libcGetnameinfo(_ address: String, flags: CInt) -> String {
    var socketAddress = sockaddr_in()
    socketAddress.sin_family = sa_family_t(AF_INET)
    socketAddress.sin_port = UInt16(80).bigEndian
    inet_pton(AF_INET, address, &socketAddress.sin_addr)
    var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
    var service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
    let status = withUnsafePointer(to: &socketAddress) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            getnameinfo(
                $0,
                socklen_t(MemoryLayout<sockaddr_in>.size),
                &host,
                socklen_t(host.count),
                &service,
                socklen_t(service.count),
                flags
            )
        }
    }
    return "status \(status) host \(text(host)) service \(text(service))"
}

/// What one libc gethostbyname2_r (or, with `address`, gethostbyaddr_r) call gave, with a buffer of
/// `bufferSize` bytes: its return value, h_errno (on failure) and the entry's name, aliases and addresses.
private func libcHostQuery(
    _ name: String,
    family: CInt = AF_INET,
    address: Bool = false,
    bufferSize: Int = 4096
)
    -> String
{
    var storage = hostent()
    var buffer = [CChar](repeating: 0, count: bufferSize)
    var result: UnsafeMutablePointer<hostent>?
    var hostError: CInt = 0
    let status: CInt
    if address {
        var bytes = in6_addr()
        inet_pton(family, name, &bytes)
        let length = family == AF_INET ? MemoryLayout<in_addr>.size : MemoryLayout<in6_addr>.size
        status = gethostbyaddr_r(&bytes, socklen_t(length), family, &storage, &buffer, bufferSize, &result, &hostError)
    } else {
        status = gethostbyname2_r(name, family, &storage, &buffer, bufferSize, &result, &hostError)
    }
    guard let entry = result?.pointee else { return "status \(status) h_errno \(hostError) no entry" }
    var aliases: [String] = []
    var alias = entry.h_aliases
    while let text = alias?.pointee {
        aliases.append(String(cString: text))
        alias = alias! + 1
    }
    var addresses: [String] = []
    var next = entry.h_addr_list
    while let bytes = next?.pointee {
        var numeric = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        inet_ntop(entry.h_addrtype, bytes, &numeric, socklen_t(numeric.count))
        addresses.append(text(numeric))
        next = next! + 1
    }
    return "status \(status) \(String(cString: entry.h_name)) aliases \(aliases) family \(entry.h_addrtype) "
        + "length \(entry.h_length) \(addresses.sorted())"
}

/// Switches the process to the ares resolver and patches the DNS area; the hub's resolver asks `server`.
private func patchedAresHub(server: String) -> Hub {
    var config = GeventConfig.current
    config.resolver = .ares
    GeventConfig.current = config
    Monkey.patch(.dns)
    let hub = Hub.current
    do {
        hub.resolver = try AresResolver(servers: [server], timeout: .seconds(2))
    } catch {
        require(false, "c-ares did not start: \(error)")
    }
    return hub
}

/// A failed check of a scenario that must return before the child exits.
private struct ScenarioFailure: Error {
    let message: String
}

private func check(_ condition: Bool, _ message: @autoclosure () -> String) throws(ScenarioFailure) {
    if !condition { throw ScenarioFailure(message: message()) }
}

private func runConcurrentInterposedLookups() {
    // The work runs in a function that returns, so that dnsmasq is stopped and every object it made is
    // released before the child exits (LeakSanitizer cannot see a greenlet-switching thread's locals).
    do {
        try concurrentInterposedLookups()
    } catch {
        require(false, error.message)
    }
    scenarioPassed()
}

private func concurrentInterposedLookups() throws(ScenarioFailure) {
    let dns: DNSMasq
    do {
        dns = try DNSMasq(names: 1000)
    } catch {
        throw ScenarioFailure(message: "\(error)")
    }
    defer { dns.stop() }
    let hub = patchedAresHub(server: dns.server)
    let names = dns.ipv4.keys.filter { $0.hasPrefix("host-") }.sorted()
    let completedBefore = hub.threadPool.completedCount
    let callsBefore = gevent_shim_cooperative_calls()
    var active = 0
    var peak = 0
    var mismatches: [String] = []
    let lookups = names.map { name in
        spawn {
            active += 1
            peak = max(peak, active)
            defer { active -= 1 }
            let answer = libcGetaddrinfo(name, "80", family: AF_INET, socketType: CInt(SOCK_STREAM.rawValue), flags: 0)
            let expected = dns.ipv4[name]!.map { "\(AF_INET) \(SOCK_STREAM.rawValue) \(IPPROTO_TCP) \($0):80" }
            if answer.status != 0 || answer.nodes != expected {
                mismatches.append("\(name): \(answer), expected \(expected)")
            }
        }
    }
    do {
        try joinAll(lookups, raiseError: true)
    } catch {
        try check(false, "a lookup greenlet failed: \(error)")
    }
    try check(names.count == 1000, "dnsmasq serves \(names.count) host- names")
    try check(mismatches.isEmpty, "\(mismatches.count) wrong answers, as \(mismatches.prefix(3))")
    try check(peak > 500, "lookups were not concurrent: at most \(peak) at once")
    try check(gevent_shim_cooperative_calls() - callsBefore >= 1000, "the lookups did not go through the shim")
    try check(
        hub.threadPool.completedCount == completedBefore,
        "\(hub.threadPool.completedCount - completedBefore) lookups ran on pool threads"
    )
    let served = dns.ipv4["host-7.\(DNSMasq.domain)"]![0]
    let reverse = libcGetnameinfo(served, flags: NI_NAMEREQD)
    try check(reverse == "status 0 host host-7.\(DNSMasq.domain) service http", "getnameinfo(\(served)): \(reverse)")
    let byName = libcHostQuery("host-9.\(DNSMasq.domain)")
    let nine = dns.ipv4["host-9.\(DNSMasq.domain)"]!
    try check(
        byName == "status 0 host-9.\(DNSMasq.domain) aliases [] family \(AF_INET) length 4 \(nine)",
        "gethostbyname2_r(host-9): \(byName)"
    )
    let byAddress = libcHostQuery(nine[0], address: true)
    try check(byAddress.contains(" host-9.\(DNSMasq.domain) "), "gethostbyaddr_r(\(nine[0])): \(byAddress)")
    let absent = libcHostQuery("absent.\(DNSMasq.domain)")
    try check(absent == "status 0 h_errno \(HOST_NOT_FOUND) no entry", "gethostbyname2_r(absent): \(absent)")
    let missing = libcGetaddrinfo("absent.\(DNSMasq.domain)", "80", family: AF_INET, socketType: 0, flags: 0)
    try check(missing.status == EAI_NONAME, "an NXDOMAIN name gave \(missing)")
    do {
        try hub.destroy()
    } catch {
        try check(false, "destroy: \(error)")
    }
}

private func runLibcEquivalence() {
    let stream = CInt(SOCK_STREAM.rawValue)
    // What plain libc answers, before anything is patched.
    let questions: [(String?, String?, CInt, CInt, CInt)] = [
        ("localhost", "80", AF_INET, stream, 0),
        ("localhost", "http", AF_UNSPEC, stream, 0),
        ("localhost", nil, AF_INET, 0, 0),
        ("localhost", "80", AF_INET, stream, AI_CANONNAME),
        ("127.1", "80", AF_INET, stream, 0),
        ("::1", "22", AF_INET6, stream, 0),
        ("not-an-address", "80", AF_INET, stream, AI_NUMERICHOST),
        (nil, "8080", AF_INET, stream, AI_PASSIVE),
        ("localhost", "no-such-service-name", AF_INET, stream, 0),
    ]
    let plain = questions.map { libcGetaddrinfo($0.0, $0.1, family: $0.2, socketType: $0.3, flags: $0.4) }
    let plainName = libcGetnameinfo("127.0.0.1", flags: NI_NUMERICSERV)
    let hostQuestions: [(String, CInt, Bool, Int)] = [
        ("localhost", AF_INET, false, 4096), ("127.1", AF_INET, false, 4096), ("127.0.0.1", AF_INET, true, 4096),
        ("localhost", AF_INET, false, 16),
    ]
    let plainHosts = hostQuestions.map { libcHostQuery($0.0, family: $0.1, address: $0.2, bufferSize: $0.3) }
    let hub = patchedAresHub(server: "127.0.0.1:9")  // nothing answers there: only /etc/hosts may
    let completedBefore = hub.threadPool.completedCount
    let callsBefore = gevent_shim_cooperative_calls()
    let patched = questions.map { libcGetaddrinfo($0.0, $0.1, family: $0.2, socketType: $0.3, flags: $0.4) }
    for (index, question) in questions.enumerated() {
        require(
            patched[index].unordered == plain[index].unordered,
            "getaddrinfo\(question): libc gave \(plain[index]), the shim with c-ares \(patched[index])"
        )
    }
    let name = libcGetnameinfo("127.0.0.1", flags: NI_NUMERICSERV)
    for (index, question) in hostQuestions.enumerated() {
        let answer = libcHostQuery(question.0, family: question.1, address: question.2, bufferSize: question.3)
        require(answer == plainHosts[index], "hostent \(question): libc gave \(plainHosts[index]), c-ares \(answer)")
    }
    require(name == plainName, "getnameinfo(127.0.0.1): libc gave \(plainName), the shim with c-ares \(name)")
    require(gevent_shim_cooperative_calls() > callsBefore, "no lookup went to c-ares")
    require(hub.threadPool.completedCount == completedBefore, "a lookup ran on a pool thread")
    do {
        try hub.destroy()
    } catch {
        require(false, "destroy: \(error)")
    }
    scenarioPassed()
}
