// gevent's concurrent_download example, with name lookups for downloads so it runs offline: resolve
// several names at once, each in its own greenlet, wait for all of them with a timeout, print what came
// back and how long the whole batch took.
//
//     swift run ConcurrentResolve                       # localhost names and numeric addresses (offline)
//     swift run ConcurrentResolve example.org gnu.org   # your own names (needs a working DNS)
//     GEVENT_RESOLVER=ares swift run ConcurrentResolve  # the same through c-ares
import Gevent

let arguments = Array(CommandLine.arguments.dropFirst())
let names = arguments.isEmpty ? ["localhost", "127.0.0.1", "::1", "0.0.0.0", "[not a name]"] : arguments

let started = ContinuousClock.now
let jobs = names.map { name in
    spawn { () throws -> String in
        do {
            let answers = try getaddrinfo(
                host: name,
                port: 80,
                type: .stream,
                flags: name.hasPrefix("[") ? .numericHost : []
            )
            return answers.map { "\($0.address)" }.joined(separator: ", ")
        } catch let error as ResolverError {
            return "failed: \(error)"
        }
    }
}
let finished = try joinAll(jobs, timeout: .seconds(5))
for (name, job) in zip(names, jobs) {
    if let outcome = job.value {
        print("\(name): \(outcome)")
    } else {
        print("\(name): no answer within 5 s")
    }
}
print(
    "\(finished.count) of \(names.count) lookups done with \(type(of: Hub.current.resolver)) in \(ContinuousClock.now - started)"
)
try killAll(jobs)
