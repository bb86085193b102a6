#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// The error that kills a greenlet by default; a greenlet that ends with it counts as successful.
///
/// ``AnyGreenlet/kill(_:block:timeout:)`` throws it into the target greenlet at its current switch point.
/// A greenlet that lets it propagate ends "successfully": ``AnyGreenlet/isSuccessful`` is `true`,
/// ``AnyGreenlet/error`` is `nil`, value links fire and error links do not. It is not printed to stderr.
/// It is gevent's `GreenletExit`.
///
/// Creating one never switches and may happen on any thread.
public struct GreenletExit: Error, CustomStringConvertible, Sendable {
    /// Creates the error. Never switches; any thread.
    public init() {}

    /// `"GreenletExit"`.
    public var description: String { "GreenletExit" }
}

/// Thrown into the main greenlet when it waits for something that can never happen.
///
/// The hub's event loop ends when no referenced watcher is active and no callback is queued. If a greenlet
/// is still waiting at that moment, nothing can ever wake it: the hub throws `LoopExit` into the main
/// greenlet, wherever it is blocked, listing what was still blocked and which unreferenced watchers were
/// still active, so the deadlock can be found. It is gevent's `LoopExit` ("This operation would block
/// forever").
public struct LoopExit: Error, CustomStringConvertible, Sendable {
    /// The greenlets that were blocked when the loop ran dry, as "name: what it waits for".
    public let blockedGreenlets: [String]
    /// The watchers still active that do not keep the loop alive (unreferenced ones, such as a monitor's
    /// timer), as "count × label (unreferenced)". Referenced watchers are never listed: one that was still
    /// active would have kept the loop running.
    public let unreferencedWatchers: [String]

    /// Creates the error (normally only the hub does). Never switches; any thread.
    public init(blockedGreenlets: [String], unreferencedWatchers: [String]) {
        self.blockedGreenlets = blockedGreenlets
        self.unreferencedWatchers = unreferencedWatchers
    }

    /// The message, the blocked greenlets and the unreferenced watchers still active.
    public var description: String {
        var text = "LoopExit: This operation would block forever (the event loop has nothing left that could wake"
        text += " a waiting greenlet)"
        if !blockedGreenlets.isEmpty {
            text += "; blocked: " + blockedGreenlets.joined(separator: ", ")
        }
        text += "; unreferenced watchers still active: "
        text += unreferencedWatchers.isEmpty ? "none" : unreferencedWatchers.joined(separator: ", ")
        return text
    }
}

/// A blocking call was made from inside the hub (an event-loop callback such as a raw link).
///
/// The hub runs the loop; if it blocked, nothing would be left to wake it. Blocking calls made on the hub
/// throw this instead of deadlocking. Move the work into a greenlet (``spawn(file:line:_:)``) or use
/// ``AnyGreenlet/link(_:)``, whose callbacks run in their own greenlet. It is gevent's
/// `BlockingSwitchOutError`.
public struct BlockingSwitchOutError: Error, CustomStringConvertible, Sendable {
    /// The blocking operation that was attempted.
    public let operation: String

    /// Creates the error. Never switches; any thread.
    public init(operation: String) {
        self.operation = operation
    }

    /// A message naming the operation and what to do instead.
    public var description: String {
        "Impossible to call blocking function in the event loop callback: \(operation) was called on the hub; "
            + "run it in a greenlet (spawn { }) or use link { }, whose callback runs in its own greenlet"
    }
}

/// A hub-bound object (a greenlet, a timeout, a hub) was used from a thread that is not its hub's thread.
///
/// Greenlets, timeouts and the other coordination objects belong to the hub that created them, and a hub to
/// one OS thread. Use from another thread is reported with this error instead of corrupting the hub or
/// hanging. To hand work to another hub, use ``Hub/runThreadsafe(_:)``. It is gevent's
/// `InvalidThreadUseError`.
public struct InvalidThreadUseError: Error, CustomStringConvertible, Sendable {
    /// What was used, for example "Greenlet.join".
    public let operation: String

    /// Creates the error. Never switches; any thread.
    public init(operation: String) {
        self.operation = operation
    }

    /// A message naming the operation and the fix.
    public var description: String {
        "\(operation) was called from a thread that does not own this object's hub; hub-bound objects may only "
            + "be used on the thread that created them (use Hub.runThreadsafe to hand work to that hub)"
    }
}

/// A greenlet could not be given a stack.
///
/// The slab its stack would come from could not be mapped (out of address space, or the process reached
/// `vm.max_map_count`: with `mprotect` guard regions each greenlet stack is two memory mappings), or
/// `GEVENT_STACK_GUARD=madvise` asks for guard regions the kernel does not have (`EINVAL`, before Linux
/// 6.13). The greenlet ends with this error instead of running.
public struct GreenletStackError: Error, CustomStringConvertible, Sendable {
    /// The errno value `mmap`, `madvise` or `mprotect` gave.
    public let errno: Int32
    /// The stack size that was requested, in bytes.
    public let requestedSize: Int

    /// Creates the error. Never switches; any thread.
    public init(errno: Int32, requestedSize: Int) {
        self.errno = errno
        self.requestedSize = requestedSize
    }

    /// A message with the errno text and what to check.
    public var description: String {
        let start = "could not map a \(requestedSize / 1024) KiB greenlet stack: \(errnoDescription(errno)); "
        if errno == EINVAL {
            return start + "GEVENT_STACK_GUARD=madvise needs Linux 6.13 or later (MADV_GUARD_INSTALL); use auto"
        }
        return start
            + "with mprotect guard regions (GEVENT_STACK_GUARD=mprotect, or Linux before 6.13) each live greenlet "
            + "needs two memory mappings: raise vm.max_map_count (sysctl -w vm.max_map_count=2200000) "
            + "or lower GEVENT_STACK_SIZE"
    }
}
