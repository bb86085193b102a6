/// Interrupts the greenlet that started it, after a delay, by throwing an error at its current switch point.
///
/// ```swift
/// let timeout = Timeout(.seconds(2))
/// try timeout.start()
/// defer { timeout.cancel() }
/// try slowOperation()            // throws `timeout` if still running after 2 s
/// ```
///
/// Or scoped: ``run(_:silent:_:)``, ``withTimeout(_:default:_:)``. The timeout throws ``error`` if one was
/// given, else itself, so nested timeouts are told apart by identity (`catch let t as Timeout where t ===
/// mine`). It can only fire while its greenlet is blocked or yielding: a greenlet that computes without
/// switching is not interrupted (gevent's documented limitation). gevent's `Timeout`.
///
/// Hub thread only, like the greenlet it interrupts.
public final class Timeout: Error, CustomStringConvertible {
    /// The delay, or `nil` for a timeout that never fires.
    public let seconds: Duration?
    /// The error thrown when the timeout fires, or `nil` to throw the timeout itself.
    public let error: (any Error)?
    private var timer: TimerWatcher?
    private weak var target: AnyGreenlet?
    private var pending = false

    /// Creates a timeout; nothing happens until ``start()``. Never switches; any thread (the timeout binds
    /// to a hub when started).
    ///
    /// - Parameters:
    ///   - seconds: the delay; `nil` never fires; `.zero` fires on the next loop iteration.
    ///   - error: what to throw into the greenlet; `nil` throws the timeout itself.
    public init(_ seconds: Duration?, error: (any Error)? = nil) {
        self.seconds = seconds
        self.error = error
    }

    /// Arms the timeout for the calling greenlet. Can be started again after it fired or was cancelled.
    ///
    /// Never switches; hub thread only.
    ///
    /// - Throws: ``TimeoutAlreadyPending`` if it is armed already (gevent raises here too).
    public func start() throws {
        guard !pending else { throw TimeoutAlreadyPending(timeout: description) }
        guard let seconds else { return }
        let hub = Hub.current
        target = hub.currentGreenlet
        pending = true
        // While pending, the timer's callback holds the timeout strongly, so a timeout fires even when the
        // caller kept no reference (gevent's loop keeps it alive the same way). fire and cancel end the cycle.
        let timer = TimerWatcher(hub: hub, label: "Timeout") {
            self.fire()
        }
        self.timer = timer
        timer.start(after: seconds)
    }

    /// `true` while armed and not yet fired. Never switches; hub thread only.
    public var isPending: Bool { pending }

    /// Disarms the timeout if it is pending; harmless otherwise. Never switches; hub thread only.
    public func cancel() {
        pending = false
        timer?.stop()
        timer = nil
    }

    private func fire() {
        pending = false
        let hub = timer?.hub
        timer = nil
        guard let target, let hub else { return }
        hub.throwInto(target, error ?? self)
    }

    /// Runs `body` under a timeout that belongs to this call alone.
    ///
    /// May switch greenlets (whatever `body` does). Hub thread only.
    ///
    /// - Parameters:
    ///   - seconds: the limit; `nil` runs `body` without one.
    ///   - silent: `true` returns `nil` when this timeout fires; `false` rethrows it.
    ///   - body: the work.
    /// - Returns: `body`'s result, or `nil` if `silent` and the timeout fired.
    /// - Throws: this call's ``Timeout`` (when not `silent`); whatever `body` throws, including other
    ///   (outer) timeouts, which pass through untouched.
    public static func run<T>(_ seconds: Duration?, silent: Bool = false, _ body: () throws -> T) throws -> T? {
        let timeout = Timeout(seconds)
        try timeout.start()
        defer { timeout.cancel() }
        do {
            return try body()
        } catch let fired as Timeout where fired === timeout {
            if silent { return nil }
            throw fired
        }
    }

    /// `"Timeout(0.5 seconds)"`, with the error when one was given.
    public var description: String {
        let delay = seconds.map { "\($0)" } ?? "never"
        if let error {
            return "Timeout(\(delay)): \(error)"
        }
        return "Timeout(\(delay))"
    }
}

extension Timeout: @unchecked Sendable {
    // Error requires Sendable. Every stored property other than the immutable `seconds` and `error` is
    // touched only on the hub thread of the greenlet that started the timeout (start checks it through
    // Hub.current and currentGreenlet); the object may travel as an error value but is not used elsewhere.
}

/// ``Timeout/start()`` was called on a timeout that is already armed.
public struct TimeoutAlreadyPending: Error, CustomStringConvertible, Sendable {
    /// The timeout's description.
    public let timeout: String

    /// A message with the fix.
    public var description: String {
        "\(timeout) is already pending; cancel() it before starting it again, or create a new Timeout"
    }
}

/// Runs `body`, returning `defaultValue` if it takes longer than `seconds`.
///
/// Only this call's own timeout is turned into `defaultValue`; an outer timeout firing during `body`
/// propagates. gevent's `with_timeout(seconds, func, timeout_value=...)`. May switch greenlets (whatever
/// `body` does). Hub thread only.
///
/// - Throws: whatever `body` throws.
public func withTimeout<T>(_ seconds: Duration?, default defaultValue: T, _ body: () throws -> T) throws -> T {
    try Timeout.run(seconds, silent: true, body) ?? defaultValue
}

/// Runs `body`; throws a ``Timeout`` if it takes longer than `seconds`.
///
/// gevent's `with_timeout(seconds, func)`. May switch greenlets (whatever `body` does). Hub thread only.
///
/// - Throws: this call's ``Timeout``, or whatever `body` throws.
public func withTimeout<T>(_ seconds: Duration?, _ body: () throws -> T) throws -> T {
    let timeout = Timeout(seconds)
    try timeout.start()
    defer { timeout.cancel() }
    return try body()
}
