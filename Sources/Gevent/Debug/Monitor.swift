import CGeventShim
import CGreenlet
import CLibev
import Logging
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// Detects greenlets that block their thread: a native thread that watches every hub and reports one that
/// has run code for longer than its threshold (``start(maxBlockingTime:)``) without switching.
///
/// Cooperative scheduling has one failure mode: a greenlet that blocks the thread (a CPU loop, a blocking
/// call nobody patched) stops every other greenlet on it. gevent's monitor thread finds those; this is the
/// same idea. A report names the greenlet's spawn site and the thread:
///
/// ```
/// swift-gevent: a greenlet spawned at App/Worker.swift:42 appears to be blocked: the hub of thread 4711
/// has not switched for 0.31 s (max blocking time 0.1 s) …
/// ```
///
/// Only time the hub's own code held the thread counts: time its thread spent ready to run but waiting for
/// a CPU (the kernel's run-queue delay, where it accounts it) is left out, and so is a check that comes
/// late because the whole process was stopped; a busy machine is not reported as a blocked greenlet.
///
/// Start it with ``start(maxBlockingTime:)`` or `GEVENT_MONITOR_THREAD_ENABLE=1` (with
/// `GEVENT_MAX_BLOCKING_TIME` in seconds, default 0.1). While it runs, every switch publishes a few words
/// for it to read; when it is off, switches do not.
///
/// Everything here may be called from any thread and never switches greenlets.
public enum Monitor {
    /// One detected blocking episode.
    public struct Report: Sendable, CustomStringConvertible {
        /// The Linux thread id of the blocked hub's thread.
        public let threadID: Int32
        /// How long the hub had not switched when the report was made, less the time its thread waited for a
        /// CPU.
        public let blockedFor: Duration
        /// Where the running greenlet was spawned (`"Module/File.swift:42"`), or `nil` when the hub itself
        /// (a loop callback, a raw link) was running.
        public let spawnSite: String?
        /// The threshold in force.
        public let maxBlockingTime: Duration
        /// The start routine of the patched pthread the running greenlet runs (area `thread`), 0 otherwise.
        let startRoutineAddress: UInt

        /// When the running greenlet is a patched pthread (area `thread`), its start routine: the symbol
        /// and the file that holds it (`"serve in /usr/bin/tinyproxy"`), or its address when it has no symbol;
        /// `nil` for every other greenlet. Resolved when read, with `dladdr`. Never switches; any thread.
        public var pthreadStartRoutine: String? {
            guard startRoutineAddress != 0 else { return nil }
            var text = [CChar](repeating: 0, count: 512)
            gevent_shim_describe_code(UnsafeRawPointer(bitPattern: startRoutineAddress), &text, text.count)
            return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }

        /// The text the default handler prints: `swift-gevent: ` and ``message``.
        public var description: String {
            "swift-gevent: \(message)"
        }

        /// What happened, in one sentence (what goes to ``GeventLogging/logger``).
        public var message: String {
            let who: String
            switch (spawnSite, pthreadStartRoutine) {
            case (_, let routine?): who = "the pthread started at \(routine) (a greenlet under GEVENT_PATCH thread)"
            case (nil, nil): who = "a callback running in the hub"
            case ("(the main greenlet)", nil): who = "the main greenlet"
            case (let site?, nil): who = "a greenlet spawned at \(site)"
            }
            let seconds = Double(blockedFor.components.seconds) + Double(blockedFor.components.attoseconds) * 1e-18
            let limit = maxBlockingTime.seconds
            return
                "\(who) appears to be blocked: the hub of thread \(threadID) has not switched for "
                + "\(roundedSeconds(seconds)) s (max blocking time \(roundedSeconds(limit)) s); every other greenlet "
                + "on that thread waits meanwhile. Make the call cooperative (Monkey.patchAll(), gevent sockets) "
                + "or run it on a ThreadPool"
        }
    }

    private static let state = LockedMonitorState()
    static let enabled = Atomic<Bool>(false)

    /// Starts the monitor thread (once per process); later calls only change the threshold.
    ///
    /// - Parameter maxBlockingTime: how long a hub may go without switching before it is reported.
    public static func start(maxBlockingTime: Duration = .milliseconds(100)) {
        let mustStart = state.withLock { state in
            state.maxBlockingTime = maxBlockingTime
            state.stopRequested = false
            if state.running { return false }
            state.running = true
            return true
        }
        enabled.store(true, ordering: .relaxed)
        guard mustStart else { return }
        var thread = pthread_t()
        // An OS thread even when pthread_create is patched to start greenlets.
        let status = gevent_shim_real_pthread_create(
            &thread,
            nil,
            { _ in
                Monitor.run()
                return nil
            },
            nil
        )
        if status != 0 {
            state.withLock { $0.running = false }
            enabled.store(false, ordering: .relaxed)
            reportWarning("could not start the monitor thread: \(errnoDescription(status))")
            return
        }
        pthread_detach(thread)
    }

    /// Stops the monitor thread (it ends within half the threshold). Hubs stop publishing at once.
    public static func stop() {
        enabled.store(false, ordering: .relaxed)
        state.withLock { $0.stopRequested = true }
    }

    /// `true` while the monitor thread runs.
    public static var isRunning: Bool {
        state.withLock { $0.running && !$0.stopRequested }
    }

    /// Receives every report, on the monitor thread; `nil` (the default) logs it through
    /// ``GeventLogging/logger`` (by default to stderr).
    public static var reportHandler: (@Sendable (Report) -> Void)? {
        get { state.withLock { $0.handler } }
        set { state.withLock { $0.handler = newValue } }
    }

    static func register(_ activity: HubActivity) {
        state.withLock { $0.watched[ObjectIdentifier(activity)] = WatchedHub(activity: activity) }
    }

    static func unregister(_ activity: HubActivity) {
        _ = state.withLock { $0.watched.removeValue(forKey: ObjectIdentifier(activity)) }
    }

    private static func run() {
        while true {
            let (period, stop) = state.withLock { ($0.maxBlockingTime, $0.stopRequested) }
            if stop {
                state.withLock { $0.running = false }
                return
            }
            // Two looks per threshold: a hub is reported once its own code held the thread for the
            // threshold since a look that saw it switch, and that can lag the episode's start by a period.
            let interval = period / 2
            var pause = timespec(
                tv_sec: Int(interval.components.seconds),
                tv_nsec: Int(interval.components.attoseconds / 1_000_000_000)
            )
            var remaining = timespec()
            let asleep = ContinuousClock.now
            while nanosleep(&pause, &remaining) != 0 && errno == EINTR {
                pause = remaining
            }
            // A sleep that overran by a whole threshold means this process was stopped or starved
            // (SIGSTOP, a suspended machine, a debugger): every thread stood still, so the hubs' silence
            // over that time says nothing about their greenlets.
            let overran = ContinuousClock.now - asleep >= interval + period
            check(maxBlockingTime: period, interval: interval, evidenceIsVoid: overran)
        }
    }

    private static func check(maxBlockingTime: Duration, interval: Duration, evidenceIsVoid: Bool) {
        let now = ContinuousClock.now
        var reports: [Report] = []
        let handler = state.withLock { state -> (@Sendable (Report) -> Void)? in
            for key in Array(state.watched.keys) {
                var watched = state.watched[key]!
                let snapshot = watched.activity.snapshot()
                // Time the hub's thread was ready to run but had no CPU is the machine's doing, not its
                // greenlet's: on a loaded machine a hub that merely waits for a core is not blocked.
                let waited = snapshot.polling ? nil : runQueueDelay(ofThread: watched.activity.threadID)
                let starved: Duration =
                    if let waited, let before = watched.runQueueDelayAtSince, waited > before {
                        .nanoseconds(waited - before)
                    } else {
                        .zero
                    }
                let blocked = now - watched.since - starved
                if snapshot.polling || snapshot.sequence != watched.lastSequence || snapshot.sequence == nil {
                    if watched.reported {
                        // The reported episode is over: it lasted from the last look that saw the hub
                        // switch (one interval before `since`) until this one.
                        watched.activity.addBlocked(blocked + interval)
                    }
                    watched.lastSequence = snapshot.sequence
                    watched.since = now
                    watched.runQueueDelayAtSince = waited
                    watched.reported = false
                } else if evidenceIsVoid && !watched.reported {
                    watched.since = now
                    watched.runQueueDelayAtSince = waited
                } else if !watched.reported, blocked >= maxBlockingTime {
                    watched.reported = true
                    reports.append(
                        Report(
                            threadID: watched.activity.threadID,
                            blockedFor: blocked + interval,
                            spawnSite: snapshot.spawnSite,
                            maxBlockingTime: maxBlockingTime,
                            startRoutineAddress: snapshot.startRoutine
                        )
                    )
                }
                state.watched[key] = watched
            }
            return state.handler
        }
        for report in reports {
            if let handler {
                handler(report)
            } else {
                var metadata: Logger.Metadata = [
                    "gevent-report": "monitor",
                    "thread-id": "\(report.threadID)",
                    "blocked-seconds": "\(roundedSeconds(report.blockedFor.seconds))",
                    "max-blocking-seconds": "\(roundedSeconds(report.maxBlockingTime.seconds))",
                ]
                if let site = report.spawnSite {
                    metadata["spawn-site"] = "\(site)"
                }
                GeventLogging.logger.warning("\(report.message)", metadata: metadata)
            }
        }
    }
}

/// The monitor's state behind a pthread mutex. Not Synchronization.Mutex: ThreadSanitizer does not see
/// its synchronization, and the monitor is shared by every hub's thread.
private final class LockedMonitorState {
    private let lock = NativeCondition()
    private var value = MonitorState()  // guarded by `lock`

    func withLock<R>(_ body: (inout MonitorState) throws -> R) rethrows -> R {
        try lock.withLock { try body(&value) }
    }
}

extension LockedMonitorState: @unchecked Sendable {
    // `value` is only read or written with `lock` held.
}

private struct MonitorState {
    var running = false
    var stopRequested = false
    var maxBlockingTime: Duration = .milliseconds(100)
    var handler: (@Sendable (Monitor.Report) -> Void)?
    var watched: [ObjectIdentifier: WatchedHub] = [:]
}

private struct WatchedHub {
    let activity: HubActivity
    var lastSequence: UInt64?
    var since = ContinuousClock.now
    /// ``runQueueDelay(ofThread:)`` at `since`, when the kernel accounts it.
    var runQueueDelayAtSince: Int64?
    var reported = false
}

/// Nanoseconds thread `threadID` of this process has spent runnable but waiting for a CPU: the second
/// field of `/proc/self/task/<tid>/schedstat`. `nil` where the kernel does not account it (no
/// `CONFIG_SCHED_INFO`) or the thread is gone. Called on the monitor thread only, where no hub runs, so
/// the shim's `open` and `read` are libc's.
private func runQueueDelay(ofThread threadID: Int32) -> Int64? {
    let descriptor = open("/proc/self/task/\(threadID)/schedstat", O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    // "<on-cpu ns> <run-queue ns> <timeslices>\n": three decimal numbers, well under 64 bytes.
    var buffer = [UInt8](repeating: 0, count: 64)
    let length = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
    guard length > 0 else { return nil }
    let fields = buffer[..<length].split(separator: UInt8(ascii: " "))
    guard fields.count >= 2 else { return nil }
    return Int64(String(decoding: fields[1], as: UTF8.self))
}

private func roundedSeconds(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let fraction = hundredths % 100
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}

/// What a hub publishes for the monitor: a sequence lock over "which greenlet runs" plus a polling flag.
///
/// Only the hub's thread writes (on each switch and around each poll); the monitor thread reads. Writers
/// make the sequence odd, store the fields, then make it even; a reader accepts a snapshot only when the
/// sequence was even and unchanged around its reads, so it never combines a torn pointer and length.
final class HubActivity: Sendable {
    let threadID: Int32
    private let sequence = Atomic<UInt64>(0)
    private let polling = Atomic<Bool>(false)
    private let fileStart = Atomic<UInt>(0)
    private let fileLength = Atomic<Int>(0)
    private let line = Atomic<UInt>(0)
    private let startRoutine = Atomic<UInt>(0)

    private let blocked = Atomic<Int64>(0)

    init(threadID: Int32) {
        self.threadID = threadID
    }

    /// Time the hub went without switching beyond the monitor's threshold, summed over finished episodes
    /// (``Hub/Statistics/blockedBeyondThreshold``).
    var blockedNanoseconds: Int64 {
        blocked.load(ordering: .relaxed)
    }

    /// Adds one finished blocking episode (monitor thread).
    func addBlocked(_ duration: Duration) {
        blocked.add(Int64(duration / .nanoseconds(1)), ordering: .relaxed)
    }

    /// The hub switched to `greenlet` (or back to itself when `nil`).
    func publish(running greenlet: AnyGreenlet?) {
        let current = sequence.load(ordering: .relaxed)
        sequence.store(current &+ 1, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
        if let greenlet, greenlet.kind == .main {
            let label: StaticString = "(the main greenlet)"
            fileStart.store(UInt(bitPattern: label.utf8Start), ordering: .relaxed)
            fileLength.store(label.utf8CodeUnitCount, ordering: .relaxed)
            line.store(0, ordering: .relaxed)
        } else if let greenlet, greenlet.spawnFile.hasPointerRepresentation {
            fileStart.store(UInt(bitPattern: greenlet.spawnFile.utf8Start), ordering: .relaxed)
            fileLength.store(greenlet.spawnFile.utf8CodeUnitCount, ordering: .relaxed)
            line.store(greenlet.spawnLine, ordering: .relaxed)
        } else {
            fileStart.store(0, ordering: .relaxed)
        }
        // A code address, never freed: the record itself may be gone by the time the monitor reads this.
        let record = greenlet?.context.pointee.thread_record
        let routine = record.map { UInt(bitPattern: gevent_shim_thread_start_routine($0)) } ?? 0
        startRoutine.store(routine, ordering: .relaxed)
        sequence.store(current &+ 2, ordering: .releasing)
    }

    func setPolling(_ value: Bool) {
        polling.store(value, ordering: .relaxed)
        if !value {
            // Work after a poll counts as new activity.
            let current = sequence.load(ordering: .relaxed)
            sequence.store(current &+ 2, ordering: .releasing)
        }
    }

    /// A consistent view, or a `nil` sequence if the hub was mid-update.
    func snapshot() -> (sequence: UInt64?, polling: Bool, spawnSite: String?, startRoutine: UInt) {
        let before = sequence.load(ordering: .acquiring)
        let isPolling = polling.load(ordering: .relaxed)
        let start = fileStart.load(ordering: .relaxed)
        let length = fileLength.load(ordering: .relaxed)
        let lineNumber = line.load(ordering: .relaxed)
        let routine = startRoutine.load(ordering: .relaxed)
        atomicMemoryFence(ordering: .acquiring)
        let after = sequence.load(ordering: .relaxed)
        guard before == after, before & 1 == 0 else { return (nil, isPolling, nil, 0) }
        var site: String?
        if start != 0, let pointer = UnsafePointer<UInt8>(bitPattern: start) {
            // The pointer is a StaticString's: static data that is never freed.
            let file = String(decoding: UnsafeBufferPointer(start: pointer, count: length), as: UTF8.self)
            site = lineNumber == 0 ? file : "\(file):\(lineNumber)"
        }
        return (before, isPolling, site, routine)
    }
}
