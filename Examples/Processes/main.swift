// gevent's examples/processes.py: several programs run at once, each from its own greenlet, and their
// outputs are collected as they finish. The pipes are read cooperatively and the exits are seen through a
// pidfd per child on the hub's loop, so the three commands take as long as the slowest, not their sum, and
// a ticker greenlet keeps running all along.
//
//     swift run Processes
import Gevent

let commands: [[String]] = [
    ["/bin/sh", "-c", "sleep 0.5; uname -sr"],
    ["/bin/sh", "-c", "sleep 0.3; ls /"],
    ["/bin/sh", "-c", "sleep 0.4; echo 'the third one, on stderr too' >&2; echo done"],
]

let started = ContinuousClock.now
var ticks = 0
let ticker = spawn {
    while true {
        try sleep(.milliseconds(100))
        ticks += 1
    }
}
let jobs = commands.map { command in
    spawn { () throws -> CompletedProcess in
        try Subprocess.run(command, timeout: .seconds(10))
    }
}
for (command, job) in zip(commands, jobs) {
    let result = try job.get()
    let output = String(decoding: result.output, as: UTF8.self)
    let errors = String(decoding: result.errorOutput, as: UTF8.self)
    print("\(command.last!): \(result.status), \(result.output.count) bytes")
    print(output.split(separator: "\n").prefix(3).map { "    \($0)" }.joined(separator: "\n"))
    if !errors.isEmpty { print("    stderr: \(errors)", terminator: "") }
}
try ticker.kill()
let elapsed = ContinuousClock.now - started
print(
    "all \(commands.count) commands ran concurrently in \(elapsed) (the slowest sleeps 0.5 s); the ticker ran \(ticks) times"
)
