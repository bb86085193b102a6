// The first example of gevent's introduction, with sleeps standing in for the network:
// spawn one greenlet per "lookup", wait for all of them with a timeout, print the values.
//
//     swift run IntroExample
import Gevent

/// Pretends to resolve a name: waits as long as a slow DNS server would, then answers.
func lookup(_ name: String, latency: Duration, address: String) throws -> String {
    try sleep(latency)
    return address
}

let started = ContinuousClock.now
let names: [(String, Duration, String)] = [
    ("www.google.com", .milliseconds(300), "74.125.79.106"),
    ("www.example.com", .milliseconds(200), "208.77.188.166"),
    ("www.python.org", .milliseconds(250), "82.94.164.162"),
    ("slow.example.net", .seconds(5), "10.9.9.9"),
]
let jobs = names.map { name, latency, address in
    spawn { try lookup(name, latency: latency, address: address) }
}
let finished = try joinAll(jobs, timeout: .seconds(1))
for (job, (name, _, _)) in zip(jobs, names) {
    print("\(name): \(job.value ?? "(not finished within the timeout)")")
}
let elapsed = ContinuousClock.now - started
print(
    "\(finished.count) of \(jobs.count) lookups finished within the 1 s timeout; all ran concurrently (elapsed \(elapsed))"
)
try killAll(jobs)
