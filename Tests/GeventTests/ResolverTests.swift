import Testing

@testable import Gevent

#if canImport(Glibc)
import Glibc
#endif

/// One answer as comparable text: "AF_INET SOCK_STREAM 6 127.0.0.1:80".
private func describe(_ answers: [AddressInfo]) -> [String] {
    answers.map { "\($0.family) \($0.type.map { "\($0)" } ?? "?") \($0.protocolNumber) \($0.address)" }
}

/// libc's getaddrinfo called directly by the test, as the reference: answers as text, or the EAI code.
private func libcAnswers(
    _ host: String?,
    _ service: String?,
    family: CInt,
    type: CInt,
    flags: CInt = 0
) -> Result<[String], ResolverError> {
    var hints = addrinfo()
    hints.ai_family = family
    hints.ai_socktype = type
    hints.ai_flags = flags
    var list: UnsafeMutablePointer<addrinfo>?
    let status = getaddrinfo(host, service, &hints, &list)
    guard status == 0 else {
        return .failure(ResolverError(code: .init(rawValue: status), operation: "libc", name: host ?? ""))
    }
    defer { freeaddrinfo(list) }
    var answers: [String] = []
    var node = list
    while let entry = node?.pointee {
        node = entry.ai_next
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var port = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        Glibc.getnameinfo(
            entry.ai_addr,
            entry.ai_addrlen,
            &host,
            socklen_t(host.count),
            &port,
            socklen_t(port.count),
            NI_NUMERICHOST | NI_NUMERICSERV
        )
        let hostText = text(host)
        let address = entry.ai_family == AF_INET6 ? "[\(hostText)]:\(text(port))" : "\(hostText):\(text(port))"
        let familyName = AddressFamily(rawValue: entry.ai_family).map { "\($0)" } ?? "?"
        let typeName = SocketType(rawValue: entry.ai_socktype).map { "\($0)" } ?? "?"
        answers.append("\(familyName) \(typeName) \(entry.ai_protocol) \(address)")
    }
    return .success(answers)
}

private let families: [(AddressFamily, CInt)] = [(.unspecified, AF_UNSPEC), (.inet, AF_INET), (.inet6, AF_INET6)]
private let types: [(SocketType?, CInt)] = [(.stream, CInt(SOCK_STREAM.rawValue)), (nil, 0)]

/// gevent's test__socket_dns.py for the libc-backed resolvers: same answers and same errors as libc.
@Suite("LibcResolvers", .serialized, .timeLimit(.minutes(1)))
struct LibcResolverTests {
    @Test func threadAndBlockingResolversAnswerExactlyAsLibc() throws {
        try withHub {
            let resolvers: [any Resolver] = [ThreadResolver(), BlockingResolver()]
            let hosts = hostsFileEntries()
            for name in Array(hosts.keys.sorted().prefix(8)) + ["127.0.0.1", "::1", "10.1.2.3"] {
                // A name asked for in a family /etc/hosts lacks would go on to DNS, off this machine.
                let known = hosts[name]
                for (family, rawFamily) in families
                where (known == nil && (name.first!.isNumber || name.contains(":"))) || known?.contains(family) == true
                    || (family == .unspecified && known != nil)
                {
                    for (socketType, rawType) in types {
                        let expected = libcAnswers(name, "80", family: rawFamily, type: rawType)
                        for resolver in resolvers {
                            let got = Result {
                                try resolver.getaddrinfo(
                                    host: name,
                                    service: "80",
                                    family: family,
                                    type: socketType,
                                    protocol: 0,
                                    flags: []
                                )
                            }
                            switch (expected, got) {
                            case (.success(let want), .success(let have)):
                                #expect(describe(have) == want, "\(type(of: resolver)) \(name) \(family)")
                            case (.failure(let want), .failure(let have as ResolverError)):
                                #expect(have.code == want.code, "\(type(of: resolver)) \(name) \(family)")
                                #expect(have.name == name)
                            default:
                                Issue.record("\(type(of: resolver)) \(name) \(family): libc \(expected), got \(got)")
                            }
                        }
                    }
                }
            }
        }
    }

    @Test func hostAndNameLookupsMatchLibc() throws {
        try withHub {
            for resolver in [ThreadResolver(), BlockingResolver()] as [any Resolver] {
                let entry = try resolver.gethostbynameEx("localhost")
                #expect(entry.addresses.contains("127.0.0.1"))
                #expect(try resolver.gethostbyname("localhost") == "127.0.0.1")
                #expect(try resolver.gethostbyname("10.9.8.7") == "10.9.8.7")
                let reverse = try resolver.gethostbyaddr("127.0.0.1")
                var reference = in_addr()
                inet_pton(AF_INET, "127.0.0.1", &reference)
                let libcEntry = gethostbyaddr(&reference, socklen_t(MemoryLayout<in_addr>.size), AF_INET)
                #expect(reverse.name == libcEntry.map { String(cString: $0.pointee.h_name) })
                let info = try resolver.getnameinfo(
                    SocketAddress("127.0.0.1:22"),
                    flags: [.numericHost, .numericService]
                )
                #expect(info.host == "127.0.0.1" && info.service == "22")
                let named = try resolver.getnameinfo(SocketAddress("127.0.0.1:80"), flags: [])
                #expect(named.host == reverse.name)
            }
        }
    }

    @Test func errorsCarryLibcTextTheCodeAndTheName() throws {
        try withHub {
            for resolver in [ThreadResolver(), BlockingResolver()] as [any Resolver] {
                #expect {
                    _ = try resolver.getaddrinfo(
                        host: "not-a-number",
                        service: nil,
                        family: .unspecified,
                        type: .stream,
                        protocol: 0,
                        flags: .numericHost
                    )
                } throws: { error in
                    guard let error = error as? ResolverError else { return false }
                    let libcText = String(cString: gai_strerror(EAI_NONAME))
                    return error.code == .nameNotFound && "\(error)".contains(libcText)
                        && "\(error)".contains("not-a-number")
                }
                #expect {
                    _ = try resolver.getaddrinfo(
                        host: "127.0.0.1",
                        service: "no-such-service-name",
                        family: .inet,
                        type: .stream,
                        protocol: 0,
                        flags: []
                    )
                } throws: { error in
                    (error as? ResolverError)?.code == .serviceNotFound
                }
            }
            #expect {
                _ = try getaddrinfo(host: "127.0.0.1", port: -1)
            } throws: { error in
                (error as? ResolverError)?.code == .serviceNotFound && "\(error)".contains("-1")
            }
        }
    }

    @Test func moduleLevelFunctionsUseTheHubResolver() throws {
        try withHub {
            let hub = Hub.current
            #expect(hub.resolver is ThreadResolver)
            let answers = try getaddrinfo(host: "localhost", port: 8080, family: .inet, type: .stream)
            #expect(answers.first?.address == (try SocketAddress("127.0.0.1:8080")))
            #expect(try gethostbyname("localhost") == "127.0.0.1")
            #expect(try gethostbynameEx("localhost").addresses.contains("127.0.0.1"))
            hub.resolver = BlockingResolver()
            #expect(hub.resolver is BlockingResolver)
            #expect(try getnameinfo(SocketAddress("127.0.0.1:7"), flags: .numericHost).host == "127.0.0.1")
        }
    }
}

/// The hub's ThreadPool as ThreadResolver uses it: blocking libc work off the hub's thread.
@Suite("ThreadPoolForBlockingCalls", .serialized, .timeLimit(.minutes(1)))
struct ThreadPoolForBlockingCallsTests {
    @Test func jobsRunInParallelWhileOtherGreenletsRun() throws {
        try withHub {
            let hub = Hub.current
            var ticks = 0
            let ticker = spawn {
                while true {
                    try sleep(.milliseconds(10))
                    ticks += 1
                }
            }
            let started = ContinuousClock.now
            let jobs = (0..<5).map { index in
                spawn { () throws -> Int in
                    try hub.threadPool.apply { () -> Int in
                        usleep(200_000)
                        return index * 10
                    }
                }
            }
            let results = try jobs.map { try $0.get() }
            let elapsed = elapsedMilliseconds(since: started)
            #expect(results == [0, 10, 20, 30, 40])
            #expect(elapsed < 800, "5 jobs of 200 ms took \(elapsed) ms: not parallel")
            #expect(ticks >= 5, "the hub was blocked while jobs ran (\(ticks) ticks)")
            try ticker.kill()
        }
    }

    @Test func aWaitingMainGreenletGetsNoLoopExitWhileAJobRuns() throws {
        try withHub {
            let value = try Hub.current.threadPool.apply { () -> String in
                usleep(100_000)
                return "done"
            }
            #expect(value == "done")
        }
    }

    @Test func anInterruptedWaitReturnsAtOnceAndTheLateResultIsDropped() throws {
        try withHub {
            let hub = Hub.current
            let started = ContinuousClock.now
            let timeout = Timeout(.milliseconds(50))
            try timeout.start()
            #expect {
                _ = try hub.threadPool.apply { () -> Int in
                    usleep(300_000)
                    return 1
                }
            } throws: { error in
                (error as? Timeout) === timeout
            }
            timeout.cancel()
            #expect(elapsedMilliseconds(since: started) < 250)
            // The hub stays alive until the job's result has come back, then everything is quiet.
            #expect(try hub.join(timeout: .seconds(2)))
        }
    }
}
