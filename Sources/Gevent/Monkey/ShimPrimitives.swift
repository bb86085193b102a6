import CGeventShim
import CLibev
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

// The shim's own small waiting primitives: an fd watcher, a wait for "any of these fds, or a deadline",
// and "run this on a native thread while the greenlet waits".
//
// TO BE REPLACED: these stand in for IOWatcher/waitReadable (Sources/Gevent/IO, issue 4) and ThreadPool
// (Sources/Gevent/Threads, issue 3), which were built in parallel. Once those are merged, ShimWait should
// wait through IOWatcher and ShimOffload should run on the hub's ThreadPool; the @_cdecl entry points in
// ShimEntryPoints.swift keep their C signatures.

/// A libev I/O watcher owned by Swift code on the hub's thread (the TimerWatcher pattern: its own
/// allocation, `data` points back at the unretained owner, `deinit` stops it).
final class ShimIOWatcher {
    let hub: Hub
    let pointer: UnsafeMutablePointer<ev_io>
    let callback: () -> Void

    init(hub: Hub, fd: Int32, events: Int32, callback: @escaping () -> Void) {
        self.hub = hub
        self.callback = callback
        pointer = .allocate(capacity: 1)
        gevent_ev_io_init(pointer, shimIOFired, fd, events)
        pointer.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit {
        stop()
        pointer.deallocate()
    }

    func start() {
        ev_io_start(hub.loop, pointer)
    }

    func stop() {
        ev_io_stop(hub.loop, pointer)
    }
}

private func shimIOFired(_ loop: OpaquePointer?, _ watcher: UnsafeMutablePointer<ev_io>?, _ events: Int32) {
    let unmanaged = Unmanaged<ShimIOWatcher>.fromOpaque(watcher!.pointee.data).retain()
    unmanaged.takeUnretainedValue().callback()
    unmanaged.release()
}

/// One greenlet's cooperative wait inside an interposed call: for any of some fds to become ready, for a
/// deadline, or for the fds to be closed by someone else.
final class ShimWait {
    let hub: Hub
    let greenlet: AnyGreenlet
    let sequence: UInt64
    private(set) var outcome = Int32(GEVENT_SHIM_TIMED_OUT)
    private var watchers: [ShimIOWatcher] = []
    private var timer: TimerWatcher?
    private var finished = false

    init(hub: Hub, greenlet: AnyGreenlet, sequence: UInt64) {
        self.hub = hub
        self.greenlet = greenlet
        self.sequence = sequence
    }

    func watch(fd: Int32, events: Int32) {
        let watcher = ShimIOWatcher(hub: hub, fd: fd, events: events) { [unowned self] in
            self.finish(Int32(GEVENT_SHIM_READY))
        }
        watcher.start()
        watchers.append(watcher)
    }

    func expire(after nanoseconds: Int64) {
        let timer = TimerWatcher(hub: hub, label: "libc call timeout") { [unowned self] in
            self.finish(Int32(GEVENT_SHIM_TIMED_OUT))
        }
        timer.start(after: .nanoseconds(nanoseconds))
        self.timer = timer
    }

    /// Ends the wait (hub thread): stops the watchers now, so that a closed fd leaves the loop before the
    /// real close, and wakes the greenlet.
    func finish(_ outcome: Int32) {
        guard !finished else { return }
        finished = true
        self.outcome = outcome
        stopWatching()
        if hub.isInHub {
            hub.resume(greenlet, sequence: sequence)
        } else {
            hub.enqueue(.resume(greenlet, sequence))
        }
    }

    func stopWatching() {
        for watcher in watchers {
            watcher.stop()
        }
        watchers.removeAll()
        timer?.stop()
        timer = nil
    }
}

extension ShimWait: @unchecked Sendable {
    // Every stored property is used on the hub's thread only. Other threads only hold a reference to hand
    // it back to that thread through hub.runThreadsafe (a close on another thread); `hub` and `greenlet`
    // are immutable.
}

/// The waits in progress, by fd, process-wide: a close on any thread must find the greenlets waiting on
/// that fd, wherever their hub runs.
enum ShimWaitRegistry {
    private static let waits = Mutex<[Int32: [ShimWait]]>([:])

    static func register(_ wait: ShimWait, fds: UnsafeBufferPointer<gevent_shim_wait_item>) {
        waits.withLock { table in
            for item in fds {
                table[item.fd, default: []].append(wait)
            }
        }
    }

    static func unregister(_ wait: ShimWait, fds: UnsafeBufferPointer<gevent_shim_wait_item>) {
        waits.withLock { table in
            for item in fds {
                table[item.fd]?.removeAll { $0 === wait }
                if table[item.fd]?.isEmpty == true {
                    table[item.fd] = nil
                }
            }
        }
    }

    /// Wakes every greenlet waiting on `fd` with GEVENT_SHIM_CLOSED: directly when it belongs to the
    /// calling thread's hub (before the caller closes the fd), through its hub's threadsafe queue otherwise.
    static func closing(_ fd: Int32) {
        let waiting = waits.withLock { table in table.removeValue(forKey: fd) ?? [] }
        let current = Hub.currentIfExists
        for wait in waiting {
            if wait.hub === current {
                wait.finish(Int32(GEVENT_SHIM_CLOSED))
            } else {
                wait.hub.runThreadsafe { wait.finish(Int32(GEVENT_SHIM_CLOSED)) }
            }
        }
    }
}

/// Runs a C function on a native thread while the calling greenlet waits (the DNS area's lookups).
final class ShimOffload {
    let function: @convention(c) (UnsafeMutableRawPointer?) -> Void
    let argument: UnsafeMutableRawPointer?
    let hub: Hub
    let greenlet: AnyGreenlet
    let sequence: UInt64
    /// Set on the hub thread when the worker's completion arrives.
    var done = false

    init(
        function: @escaping @convention(c) (UnsafeMutableRawPointer?) -> Void,
        argument: UnsafeMutableRawPointer?,
        hub: Hub,
        greenlet: AnyGreenlet,
        sequence: UInt64
    ) {
        self.function = function
        self.argument = argument
        self.hub = hub
        self.greenlet = greenlet
        self.sequence = sequence
    }

    /// Starts the worker thread; false if none could be created.
    func start() -> Bool {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        var thread = pthread_t()
        let retained = Unmanaged.passRetained(self).toOpaque()
        let status = pthread_create(&thread, &attributes, shimOffloadThread, retained)
        if status != 0 {
            Unmanaged<ShimOffload>.fromOpaque(retained).release()
            return false
        }
        return true
    }

    /// On the worker thread: run the call, then tell the hub.
    fileprivate func run() {
        function(argument)
        hub.runThreadsafe { [self] in
            done = true
            hub.resume(greenlet, sequence: sequence)
        }
    }
}

extension ShimOffload: @unchecked Sendable {
    // `done` is touched on the hub's thread only (in the closure the worker hands to runThreadsafe and by
    // the waiting greenlet); everything else is immutable. The C argument is used by the worker alone
    // while the greenlet waits, and the greenlet does not return before `done`.
}

private func shimOffloadThread(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let offload = Unmanaged<ShimOffload>.fromOpaque(argument!).takeRetainedValue()
    offload.run()
    return nil
}
