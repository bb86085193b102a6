import CGeventShim

/// The cooperative waits of one hub that a program's signal handler ends, as a handler ends the blocking
/// call of a plain thread (preload/shim_signal.c installs the trampoline that reports handlers).
///
/// Every wait of the hub's thread, not only the main greenlet's: to unaware code each greenlet is a thread
/// of its own, blocked in one call, and a greenlet-per-connection server stops on SIGTERM only if its accept
/// greenlet sees EINTR. The interposers then fail the call with EINTR or, for calls the kernel restarts under
/// SA_RESTART, wait again. Hub thread only.
struct ShimInterruptibleWaits {
    private struct Entry {
        /// The thread's handler count when the wait began: a handler that ran before it interrupts nothing.
        let mark: UInt64
        let interrupt: () -> Void
    }

    private var entries: [UInt64: Entry] = [:]
    private var nextID: UInt64 = 0

    /// Registers a wait in progress; `interrupt` ends it with GEVENT_SHIM_INTERRUPTED. Returns the token
    /// for ``unregister(_:)``.
    mutating func register(_ interrupt: @escaping () -> Void) -> UInt64 {
        nextID &+= 1
        entries[nextID] = Entry(mark: gevent_shim_signal_count(), interrupt: interrupt)
        return nextID
    }

    mutating func unregister(_ token: UInt64) {
        entries[token] = nil
    }

    /// Removes and returns the waits that began before the thread's latest handler ran.
    mutating func takeInterrupted() -> [() -> Void] {
        let count = gevent_shim_signal_count()
        var due: [() -> Void] = []
        for (token, entry) in entries where entry.mark < count {
            due.append(entry.interrupt)
            entries[token] = nil
        }
        return due
    }
}

extension Hub {
    /// From the hub's ev_async callback: a program's signal handler ran on this thread, so every shim wait
    /// in progress ends (each resumes its greenlet, which may switch). Hub thread only.
    func interruptShimWaits() {
        for interrupt in shimInterruptibleWaits.takeInterrupted() {
            interrupt()
        }
    }
}
