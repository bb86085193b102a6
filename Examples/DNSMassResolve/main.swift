// gevent's dns_mass_resolve example: resolve many names with a bounded number of greenlets at once, and
// report how many resolved and how fast.
//
//     swift run -c release DNSMassResolve --count 1000 --concurrency 100
//     swift run -c release DNSMassResolve --resolver ares --server 127.0.0.1:5353 \
//         --names 'host-{i}.gevent.test' --count 1000
//
// Options: --resolver thread|ares|block (default: GEVENT_RESOLVER, else thread), --server HOST:PORT (c-ares
// name server; the default is /etc/resolv.conf's), --names PATTERN ({i} becomes 0, 1, ...; default
// "localhost", answered from /etc/hosts so it runs offline), --count N (1000), --concurrency N (100),
// --timeout SECONDS (per lookup, 5).
import Gevent

#if canImport(Glibc)
import Glibc
#endif

var options: [String: String] = [:]
var rest = CommandLine.arguments.dropFirst()
while let key = rest.popFirst() {
    guard key.hasPrefix("--"), let value = rest.popFirst() else {
        print("usage: DNSMassResolve [--resolver thread|ares|block] [--server HOST:PORT] [--names PATTERN]")
        print("                      [--count N] [--concurrency N] [--timeout SECONDS]")
        exit(2)
    }
    options[String(key.dropFirst(2))] = value
}
let count = Int(options["count"] ?? "1000") ?? 1000
let concurrency = max(Int(options["concurrency"] ?? "100") ?? 100, 1)
let pattern = options["names"] ?? "localhost"
let perLookup = Duration.milliseconds(Int((Double(options["timeout"] ?? "5") ?? 5) * 1000))

let hub = Hub.current
switch options["resolver"] {
case "ares":
    hub.resolver = try AresResolver(servers: options["server"].map { [$0] })
case "block":
    hub.resolver = BlockingResolver()
case "thread":
    hub.resolver = ThreadResolver()
default:
    break
}

let names = (0..<count).map { pattern.replacingOccurrences(of: "{i}", with: String($0)) }
var next = 0
var resolved = 0
var failed: [String: Int] = [:]
let started = ContinuousClock.now
// A fixed crowd of workers sharing one list: at most `concurrency` lookups are in flight at any time.
let workers = (0..<min(concurrency, count)).map { _ in
    spawn {
        while next < names.count {
            let name = names[next]
            next += 1
            do {
                let answers = try withTimeout(perLookup) {
                    try getaddrinfo(host: name, family: .inet, type: .stream)
                }
                if answers.isEmpty { failed["no answer", default: 0] += 1 } else { resolved += 1 }
            } catch let error as ResolverError {
                failed["\(error.code)", default: 0] += 1
            } catch is Timeout {
                failed["timeout", default: 0] += 1
            }
        }
    }
}
try joinAll(workers, raiseError: true)
let elapsed = ContinuousClock.now - started
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
let failures = failed.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
print(
    "resolver=\(type(of: hub.resolver)) names=\(count) concurrency=\(concurrency) resolved=\(resolved) "
        + "failed=\(count - resolved)\(failures.isEmpty ? "" : " (\(failures))") seconds=\(seconds) "
        + "per_second=\(Int(Double(count) / max(seconds, 1e-9)))"
)

extension String {
    /// Replaces every occurrence of `target` (no Foundation in the examples either).
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        var result = ""
        var remainder = Substring(self)
        while let range = remainder.firstRange(of: target) {
            result += remainder[..<range.lowerBound] + replacement
            remainder = remainder[range.upperBound...]
        }
        return result + remainder
    }
}
