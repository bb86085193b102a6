/// A function running cooperatively on its own stack, with a typed result.
///
/// ```swift
/// let job = spawn { try fetch("a") }      // created and started
/// let page = try job.get(timeout: .seconds(2))
/// ```
///
/// `Greenlet { }` creates one without starting it; ``AnyGreenlet/start()`` or ``spawn(file:line:_:)``
/// schedules it. Everything else (``AnyGreenlet/join(timeout:)``, ``AnyGreenlet/kill(_:block:timeout:)``,
/// links, state) comes from ``AnyGreenlet``. gevent's `Greenlet`.
///
/// Hub thread only: a greenlet belongs to the hub of the thread that created it.
public final class Greenlet<T>: AnyGreenlet {
    private var body: (() throws -> T)?
    private var result: T?

    /// Creates a greenlet that will run `body` when started. Never switches; creates the calling thread's
    /// hub if it has none.
    ///
    /// - Parameters:
    ///   - name: the greenlet's ``AnyGreenlet/name``; by default `"Greenlet-<minimalIdent>"`.
    ///   - stackSize: usable stack bytes for this greenlet; by default ``GeventConfig/stackSize``.
    ///   - file: the spawn site, reported with errors (filled in by the compiler).
    ///   - line: the spawn site's line (filled in by the compiler).
    ///   - body: the function to run. Its result becomes ``value``; an error it throws becomes
    ///     ``AnyGreenlet/error`` and is reported on stderr.
    public init(
        name: String? = nil,
        stackSize: Int? = nil,
        file: StaticString = #fileID,
        line: UInt = #line,
        _ body: @escaping () throws -> T
    ) {
        self.body = body
        super.init(hub: Hub.current, kind: .user, name: name, stackSize: stackSize, file: file, line: line)
    }

    override func runBody() throws {
        let body = self.body!
        self.body = nil
        result = try body()
    }

    override func killBeforeStart(_ error: any Error) {
        body = nil
        super.killBeforeStart(error)
    }

    /// The value the greenlet returned, or `nil` while it runs, if it failed, or if it was killed.
    ///
    /// gevent's `value`. Never switches; hub thread only.
    public var value: T? {
        hub.preconditionOnHubThread("Greenlet.value")
        return result
    }

    /// Returns the greenlet's value, waiting for it to finish if needed.
    ///
    /// gevent's `get(block, timeout)`. May switch greenlets when it waits. Hub thread only; not from
    /// inside the hub.
    ///
    /// - Parameters:
    ///   - block: `false` never waits: a greenlet that has not finished throws a ``Timeout``.
    ///   - timeout: the longest to wait; `nil` waits as long as it takes.
    /// - Returns: the value the body returned.
    /// - Throws: the error the greenlet failed with; the ``GreenletExit`` (or other error) it was killed
    ///   with, since a killed greenlet has no value; a ``Timeout`` when it did not finish in time; errors
    ///   thrown into the caller while it waits.
    @available(*, noasync, message: "get blocks the thread's greenlets; it is for greenlet code, not async code")
    public func get(block: Bool = true, timeout: Duration? = nil) throws -> T {
        try hub.checkThread("Greenlet.get")
        if state != .finished {
            guard block else { throw Timeout(nil) }
            let timer = Timeout(timeout)
            try timer.start()
            defer { timer.cancel() }
            try hub.waitUntilReady(self, operation: "get")
        }
        if let failure {
            throw failure
        }
        return result!
    }
}

/// Creates a greenlet running `body` and starts it.
///
/// The greenlet first runs when the caller blocks or yields. gevent's `spawn`. Never switches; creates the
/// calling thread's hub if it has none.
///
/// - Parameters:
///   - file: the spawn site, reported with errors (filled in by the compiler).
///   - line: the spawn site's line.
///   - body: the function to run.
/// - Returns: the started greenlet.
@discardableResult
public func spawn<T>(file: StaticString = #fileID, line: UInt = #line, _ body: @escaping () throws -> T) -> Greenlet<T>
{
    let greenlet = Greenlet(file: file, line: line, body)
    greenlet.start()
    return greenlet
}

/// Creates a greenlet running `body` and starts it after `delay`.
///
/// gevent's `spawn_later`. Never switches; creates the calling thread's hub if it has none.
@discardableResult
public func spawn<T>(
    after delay: Duration,
    file: StaticString = #fileID,
    line: UInt = #line,
    _ body: @escaping () throws -> T
) -> Greenlet<T> {
    let greenlet = Greenlet(file: file, line: line, body)
    greenlet.start(after: delay)
    return greenlet
}

/// Creates and starts a greenlet without recording where it was spawned: the cheapest way to run a
/// function in a greenlet.
///
/// Errors are still reported on stderr, named after the greenlet. gevent's `spawn_raw`. Never switches;
/// creates the calling thread's hub if it has none.
@discardableResult
public func spawnRaw<T>(_ body: @escaping () throws -> T) -> Greenlet<T> {
    let greenlet = Greenlet(file: "(spawnRaw)", line: 0, body)
    greenlet.start()
    return greenlet
}

/// The greenlet running now on this thread (the main greenlet when none other runs).
///
/// gevent's `getcurrent()`. Never switches; creates the calling thread's hub if it has none.
public func getCurrent() -> AnyGreenlet {
    Hub.current.currentGreenlet
}
