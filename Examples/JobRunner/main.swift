// A small parallel job runner: N shell commands, at most K running at a time, through a Pool of K
// greenlets (gevent's pool.Pool). Each job's status and output are collected; a job that runs longer than
// the 1 s time limit is killed. With K = 4 the ten 0.3 s jobs go through in three rounds (about 0.9 s), and
// the whole run ends when the job that never finishes is killed, about 1 s after it started.
//
//     swift run JobRunner [K]
import Gevent

let limit = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 4 : 4
var jobs: [String] = (1...10).map { "sleep 0.3; echo job \($0)" }
jobs.append("echo 'this one fails' >&2; exit 3")
jobs.append("sleep 30")  // killed when its time limit passes

let pool = Pool(size: limit)
let started = ContinuousClock.now
var running = 0
var mostAtOnce = 0
let results = try jobs.map { command in
    try pool.spawn { () -> String in
        running += 1
        mostAtOnce = max(mostAtOnce, running)
        defer { running -= 1 }
        do {
            let result = try Subprocess.run(["/bin/sh", "-c", command], timeout: .seconds(1))
            let output = String(decoding: result.output + result.errorOutput, as: UTF8.self)
            return "\(result.status): \(output.split(separator: "\n").joined(separator: " | "))"
        } catch let timedOut as SubprocessTimeoutError {
            return "killed after \(timedOut.timeout)"
        } catch {
            return "could not run: \(error)"
        }
    }
}
for (command, result) in zip(jobs, results) {
    print("\(command.padding(toLength: 32)) -> \(try result.get())")
}
let elapsed = ContinuousClock.now - started
print("\(jobs.count) jobs, at most \(mostAtOnce) at once (limit \(limit)), in \(elapsed)")

extension String {
    func padding(toLength length: Int) -> String {
        count >= length ? self : self + String(repeating: " ", count: length - count)
    }
}
