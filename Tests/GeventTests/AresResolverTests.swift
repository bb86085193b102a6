import Gevent
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Sorted "address" texts of the answers.
private func addresses(_ answers: [AddressInfo]) -> [String] {
    answers.compactMap(\.address.host).sorted()
}

/// AresResolver against a real DNS server (dnsmasq on 127.0.0.1 serving a generated hosts file), and
/// against libc for /etc/hosts and numeric names. gevent's test__socket_dns.py for the ares resolver.
@Suite("AresResolver", .serialized, .timeLimit(.minutes(1)))
struct AresResolverTests {
    @Test func resolvesEveryNameOfTheServedHostsFileConcurrently() throws {
        let dns = try DNSMasq()
        defer { dns.stop() }
        try withHub {
            let resolver = try AresResolver(servers: [dns.server], timeout: .seconds(2))
            defer { resolver.close() }
            let names = dns.ipv4.keys.sorted()
            var mismatches: [String] = []
            var next = 0
            var active = 0
            var peak = 0
            // A bounded crowd: 100 greenlets take names from a shared list until it is empty.
            let workers = (0..<100).map { _ in
                spawn {
                    while next < names.count {
                        let name = names[next]
                        next += 1
                        active += 1
                        peak = max(peak, active)
                        defer { active -= 1 }
                        let answers = try resolver.getaddrinfo(
                            host: name,
                            service: "80",
                            family: .inet,
                            type: .stream,
                            protocol: 0,
                            flags: []
                        )
                        if addresses(answers) != dns.ipv4[name]!.sorted() {
                            mismatches.append("\(name): \(answers)")
                        }
                    }
                }
            }
            try joinAll(workers, raiseError: true)
            #expect(names.count > 3000)
            #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
            #expect(peak > 50, "queries were not concurrent (peak \(peak))")
        }
    }

    @Test func answersFamiliesHostEntriesReverseLookupsAndNameInfo() throws {
        let dns = try DNSMasq(names: 100)
        defer { dns.stop() }
        try withHub {
            let resolver = try AresResolver(servers: [dns.server], timeout: .seconds(2))
            defer { resolver.close() }
            let dual = "dual-3.\(DNSMasq.domain)"
            let both = try resolver.getaddrinfo(
                host: dual,
                service: nil,
                family: .unspecified,
                type: .stream,
                protocol: 0,
                flags: []
            )
            #expect(addresses(both) == (dns.ipv4[dual]! + dns.ipv6[dual]!).sorted())
            let six = try resolver.getaddrinfo(
                host: dual,
                service: nil,
                family: .inet6,
                type: .stream,
                protocol: 0,
                flags: []
            )
            #expect(addresses(six) == dns.ipv6[dual]!)
            // No type: one answer per socket type, as glibc gives.
            let anyType = try resolver.getaddrinfo(
                host: dual,
                service: "53",
                family: .inet,
                type: nil,
                protocol: 0,
                flags: []
            )
            #expect(Set(anyType.compactMap(\.type)) == [.stream, .datagram, .raw])
            #expect(anyType.allSatisfy { $0.address.port == 53 })

            let multi = "multi.\(DNSMasq.domain)"
            let entry = try resolver.gethostbynameEx(multi)
            #expect(entry.name == multi)
            #expect(entry.addresses.sorted() == dns.ipv4[multi]!.sorted())
            #expect(dns.ipv4[multi]!.contains(try resolver.gethostbyname(multi)))

            let name = "host-42.\(DNSMasq.domain)"
            let address = dns.ipv4[name]![0]
            #expect(try resolver.gethostbyaddr(address).name == name)
            let info = try resolver.getnameinfo(SocketAddress(ipv4: address, port: 80), flags: .numericService)
            #expect(info.host == name)
            #expect(info.service == "80")
        }
    }

    @Test func unknownNamesFailWithLibcsCodeTextAndTheName() throws {
        let dns = try DNSMasq(names: 10)
        defer { dns.stop() }
        try withHub {
            let resolver = try AresResolver(servers: [dns.server], timeout: .seconds(2))
            defer { resolver.close() }
            let missing = "nosuch.\(DNSMasq.domain)"
            #expect {
                _ = try resolver.getaddrinfo(
                    host: missing,
                    service: nil,
                    family: .inet,
                    type: .stream,
                    protocol: 0,
                    flags: []
                )
            } throws: { error in
                guard let error = error as? ResolverError else { return false }
                return error.code == .nameNotFound && error.name == missing
                    && "\(error)".contains(String(cString: gai_strerror(EAI_NONAME)))
            }
            #expect(throws: ResolverError.self) { _ = try resolver.gethostbyname(missing) }
            #expect {
                _ = try resolver.getaddrinfo(
                    host: "not-a-number",
                    service: nil,
                    family: .inet,
                    type: .stream,
                    protocol: 0,
                    flags: .numericHost
                )
            } throws: { error in
                (error as? ResolverError)?.code == .nameNotFound
            }
        }
    }

    @Test func matchesLibcForHostsFileAndNumericNames() throws {
        let dns = try DNSMasq(names: 10)
        defer { dns.stop() }
        try withHub {
            let ares = try AresResolver(servers: [dns.server], timeout: .seconds(2))
            defer { ares.close() }
            let libc = BlockingResolver()
            let hosts = hostsFileEntries()
            for name in ["localhost", "127.0.0.1", "::1", "192.0.2.7"] {
                // libc would ask DNS (off this machine) for a name in a family /etc/hosts lacks.
                let known = hosts[name]
                for family in [AddressFamily.inet, .inet6, .unspecified]
                where name.first!.isNumber || name.contains(":") || known?.contains(family) == true
                    || (family == .unspecified && known != nil)
                {
                    let expected = Result {
                        try libc.getaddrinfo(
                            host: name,
                            service: "80",
                            family: family,
                            type: .stream,
                            protocol: 0,
                            flags: []
                        )
                    }
                    let got = Result {
                        try ares.getaddrinfo(
                            host: name,
                            service: "80",
                            family: family,
                            type: .stream,
                            protocol: 0,
                            flags: []
                        )
                    }
                    switch (expected, got) {
                    case (.success(let want), .success(let have)):
                        // c-ares orders answers its own way (documented): compare as sets.
                        #expect(Set(have.map(\.address)) == Set(want.map(\.address)), "\(name) \(family)")
                    case (.failure(let want as ResolverError), .failure(let have as ResolverError)):
                        #expect(have.code == want.code, "\(name) \(family)")
                    default:
                        Issue.record("\(name) \(family): libc \(expected), ares \(got)")
                    }
                }
            }
        }
    }

    @Test func aServerThatDoesNotAnswerTimesOutThroughTheLoopsTimer() throws {
        try withHub {
            // A UDP socket that never reads: queries to it go unanswered.
            let silent = try Socket(family: .inet, type: .datagram)
            try silent.bind(to: SocketAddress("127.0.0.1:0"))
            let resolver = try AresResolver(
                servers: [try silent.localAddress.description],
                timeout: .milliseconds(100),
                tries: 1
            )
            defer { resolver.close() }
            var ticks = 0
            let ticker = spawn {
                while true {
                    try sleep(.milliseconds(10))
                    ticks += 1
                }
            }
            let started = ContinuousClock.now
            #expect {
                _ = try resolver.gethostbyname("slow.\(DNSMasq.domain)")
            } throws: { error in
                (error as? ResolverError)?.code == .temporaryFailure
            }
            let elapsed = elapsedMilliseconds(since: started)
            #expect(elapsed >= 80 && elapsed < 3000)
            #expect(ticks >= 3, "the hub was blocked during the query")
            try ticker.kill()
            silent.close()
        }
    }

    @Test func aTimeoutInterruptsALoopOfQueriesInTime() throws {
        try withHub {
            let silent = try Socket(family: .inet, type: .datagram)
            try silent.bind(to: SocketAddress("127.0.0.1:0"))
            let resolver = try AresResolver(servers: [try silent.localAddress.description], timeout: .seconds(5))
            defer { resolver.close() }
            let started = ContinuousClock.now
            let finished = try withTimeout(.milliseconds(200), default: false) { () throws -> Bool in
                while true {
                    do {
                        _ = try resolver.gethostbyname("never.\(DNSMasq.domain)")
                    } catch is ResolverError {
                        // gevent's loop of failing lookups: only resolver errors are expected here.
                    }
                }
            }
            #expect(!finished)
            #expect(elapsedMilliseconds(since: started) < 1500)
            silent.close()
        }
    }

    @Test func closingFailsQueriesInFlightAndLaterOnes() throws {
        try withHub {
            let errors = ErrorLog()
            defer { withExtendedLifetime(errors) {} }
            let silent = try Socket(family: .inet, type: .datagram)
            try silent.bind(to: SocketAddress("127.0.0.1:0"))
            let resolver = try AresResolver(servers: [try silent.localAddress.description], timeout: .seconds(5))
            let query = spawn { try resolver.gethostbyname("pending.\(DNSMasq.domain)") }
            try sleep(.milliseconds(20))
            resolver.close()
            #expect {
                _ = try query.get()
            } throws: { error in
                (error as? ResolverError)?.code == .temporaryFailure && "\(error)".contains("closed")
            }
            #expect(throws: ResolverError.self) { _ = try resolver.gethostbyname("later") }
            silent.close()
        }
    }

    @Test func asTheHubResolverItServesModuleLevelCallsAndIsClosedWithTheHub() throws {
        let dns = try DNSMasq(names: 10)
        defer { dns.stop() }
        try withHub {
            let hub = Hub.current
            hub.resolver = try AresResolver(servers: [dns.server], timeout: .seconds(2))
            let answers = try getaddrinfo(host: "host-3.\(DNSMasq.domain)", port: 443, family: .inet, type: .stream)
            #expect(
                answers.map(\.address) == [try SocketAddress(ipv4: dns.ipv4["host-3.\(DNSMasq.domain)"]![0], port: 443)]
            )
            // A query left in flight when the hub is destroyed: destroy closes the resolver first.
            _ = spawn { _ = try? gethostbyname("host-4.\(DNSMasq.domain)") }
        }
    }

    @Test func rejectsNameServersThatAreNotAddresses() throws {
        try withHub {
            #expect {
                _ = try AresResolver(servers: ["not a server"])
            } throws: { error in
                "\(error)".contains("numeric addresses")
            }
        }
    }

    /// The environment is read once per process, so this runs in a child process of its own.
    @Test func theEnvironmentChoosesTheHubResolverAndItsSettings() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            runResolverEnvironmentScenario()
        }
        expectScenarioPassed(result)
    }
}

private func runResolverEnvironmentScenario() {
    setenv("GEVENT_RESOLVER", "ares", 1)
    setenv("GEVENT_RESOLVER_NAMESERVERS", "127.0.0.1:9, [::1]:9", 1)
    setenv("GEVENT_RESOLVER_TIMEOUT", "0.25", 1)
    let hub = Hub.current
    let resolver = hub.resolver as? AresResolver
    require(resolver != nil, "GEVENT_RESOLVER=ares gave \(type(of: hub.resolver))")
    require(resolver?.servers == ["127.0.0.1:9", "[::1]:9"], "servers: \(resolver?.servers ?? [])")
    require(resolver?.timeout == .milliseconds(250), "timeout: \(String(describing: resolver?.timeout))")
    do {
        try hub.destroy()
    } catch {
        require(false, "destroy: \(error)")
    }
    scenarioPassed()
}
