#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// Native OS threads that run blocking functions for greenlets: the calling greenlet waits, and the hub
/// keeps running the others.
///
/// ```swift
/// let digest = try Hub.current.threadPool.apply { sha256(fileAt: path) }   // CPU or blocking work
/// ```
///
/// Worker threads are created on demand, up to ``maxSize``, and retire after `idleTimeout` without work.
/// ``spawn(_:)`` returns an ``AsyncResult`` at once; it waits only while ``maxSize`` + 1 tasks are already
/// outstanding (as in gevent, one task may wait in the queue while ``maxSize`` run, so a thread that
/// finishes finds its next task at once). ``apply(_:)`` waits for the result; an error the task throws is what the caller's `get`
/// throws. Results come back through the hub's `ev_async` watcher, and while tasks are in flight the hub's
/// loop stays alive. Each hub has a default pool, ``Hub/threadPool``, sized by `GEVENT_THREADPOOL_SIZE`
/// (default 10). gevent's `ThreadPool`.
///
/// Tasks run on other threads, so they and their results are `Sendable`; a task must not touch the
/// calling hub's greenlets or other hub-bound objects (use `Hub.runThreadsafe` to hand something back).
/// A task may use greenlets of its own: its thread then gets a hub, destroyed when the thread retires.
///
/// Threads: a pool belongs to the hub of the thread that created it. ``spawn(_:)``, ``map(_:_:)`` and
/// ``join(timeout:)`` throw ``InvalidThreadUseError`` on any other thread; ``apply(_:)`` called from one of
/// the pool's own worker threads (a task that applies a subtask) runs inline instead.
public final class ThreadPool {
    /// The hub the pool belongs to.
    public let hub: Hub
    private let workers: ThreadPoolWorkers
    private let slots: Semaphore
    private var limit: Int
    private var outstanding = 0
    private var completed: UInt64 = 0
    private let allDone = Event()

    /// Creates a pool bound to the calling thread's hub (created if needed); no thread starts until the
    /// first task. Never switches.
    ///
    /// - Parameters:
    ///   - maxSize: the most tasks running (and threads alive) at once, 0 or more; with 0 nothing runs
    ///     until ``maxSize`` is raised. A negative value stops the program: it is a bug in the caller.
    ///   - idleTimeout: how long a worker thread waits for work before it exits; `nil` keeps it forever.
    public init(maxSize: Int, idleTimeout: Duration? = .seconds(5)) {
        precondition(maxSize >= 0, "ThreadPool(maxSize: \(maxSize)): the size must be 0 or more")
        hub = Hub.current
        limit = maxSize
        // gevent's "+1 for better throughput": one task may wait in the queue while maxSize run.
        slots = Semaphore(maxSize + 1)
        workers = ThreadPoolWorkers(maxThreads: maxSize, idleTimeout: idleTimeout)
        allDone.set()
    }

    deinit {
        for task in workers.stop() {
            task.cancel(GreenletExit())
        }
    }

    /// The most tasks running at once. Raising it lets waiting ``spawn(_:)`` calls go on; lowering it
    /// retires surplus threads once they are idle (running tasks finish).
    ///
    /// gevent's `maxsize`. Never switches; hub thread only.
    public var maxSize: Int {
        get {
            hub.preconditionOnHubThread("ThreadPool.maxSize")
            return limit
        }
        set {
            hub.preconditionOnHubThread("ThreadPool.maxSize")
            precondition(newValue >= 0, "ThreadPool.maxSize = \(newValue): the size must be 0 or more")
            let delta = newValue - limit
            limit = newValue
            workers.setMaxThreads(newValue)
            slots.adjust(by: delta)
        }
    }

    /// The number of worker threads alive now (busy or idle). gevent's `size`. Never switches; any thread.
    public var threadCount: Int {
        workers.threadCount
    }

    /// Tasks submitted that no worker thread has picked up yet. Never switches; any thread.
    var queuedCount: Int {
        workers.queuedCount
    }

    /// The number of tasks spawned whose results have not come back yet (queued or running). gevent's
    /// `len(pool)`. Never switches; hub thread only.
    public var count: Int {
        hub.preconditionOnHubThread("ThreadPool.count")
        return outstanding
    }

    /// The number of tasks whose results came back since the pool was created (finished, failed or
    /// cancelled). What a metrics exporter or a test that checks "this ran on the pool" reads. Never
    /// switches; hub thread only.
    public var completedCount: UInt64 {
        hub.preconditionOnHubThread("ThreadPool.completedCount")
        return completed
    }

    /// Runs `body` on a worker thread and returns its future result at once.
    ///
    /// gevent's `spawn`. Waits (switching greenlets) only while ``maxSize`` + 1 tasks are outstanding. Hub
    /// thread only, not from inside the hub when it has to wait.
    ///
    /// - Parameter body: the work; its error becomes the result's error.
    /// - Returns: the result, set on the hub's thread once the task finished.
    /// - Throws: ``InvalidThreadUseError`` from another thread; errors thrown into the caller while it waits
    ///   for a slot; ``BlockingSwitchOutError`` when it would wait inside the hub.
    @available(*, noasync, message: "spawn may block the thread's greenlets; it is for greenlet code, not async code")
    public func spawn<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> AsyncResult<T> {
        try hub.checkThread("ThreadPool.spawn")
        try slots.acquire()
        let result = AsyncResult<T>()
        outstanding += 1
        if outstanding == 1 { allDone.clear() }
        // Results arrive through ev_async, which does not keep the loop alive by itself.
        hub.holdLoopOpen()
        let hub = self.hub
        let pool = UnsafeTransfer(value: self)
        workers.submit(
            ThreadPoolTask(
                run: {
                    let outcome = UnsafeTransfer(value: Result { try body() })
                    return {
                        // false only when the hub was destroyed meanwhile: nobody is left to tell.
                        hub.runThreadsafe { pool.value.deliver(outcome.value, to: result) }
                    }
                },
                cancel: { error in
                    pool.value.deliver(.failure(error), to: result)
                }
            )
        )
        return result
    }

    /// Runs `body` on a worker thread and waits for its result; the hub runs other greenlets meanwhile.
    ///
    /// gevent's `apply`. Called from one of this pool's own worker threads (a task applying a subtask), it
    /// runs `body` inline, so a pool never deadlocks on itself. May switch greenlets; hub thread (or a worker
    /// thread of this pool).
    ///
    /// - Returns: what `body` returned.
    /// - Throws: what `body` threw; errors thrown into the waiting greenlet; ``InvalidThreadUseError`` from
    ///   any other thread.
    @available(*, noasync, message: "apply blocks the thread's greenlets; it is for greenlet code, not async code")
    public func apply<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        if workers.isCurrentThreadAWorker {
            return try body()
        }
        return try spawn(body).get()
    }

    /// Applies `transform` to every item on worker threads (up to ``maxSize`` at once) and returns the
    /// results in item order.
    ///
    /// gevent's `map`. May switch greenlets; hub thread only.
    ///
    /// - Throws: the error of the first item (in item order) that failed; errors thrown into the waiting
    ///   greenlet; ``InvalidThreadUseError`` from another thread.
    @available(*, noasync, message: "map blocks the thread's greenlets; it is for greenlet code, not async code")
    public func map<S: Sequence, R: Sendable>(
        _ items: S,
        _ transform: @escaping @Sendable (S.Element) throws -> R
    ) throws -> [R] where S.Element: Sendable {
        try hub.checkThread("ThreadPool.map")
        var results: [AsyncResult<R>] = []
        results.reserveCapacity(items.underestimatedCount)
        for item in items {
            results.append(try spawn { try transform(item) })
        }
        return try results.map { try $0.get() }
    }

    /// Waits until every spawned task's result has come back.
    ///
    /// gevent's `join()`. Returns at once, without switching, when nothing is outstanding. May switch
    /// greenlets; hub thread only.
    ///
    /// - Returns: `true` when all are done, `false` if `timeout` passed first.
    /// - Throws: errors thrown into the waiting greenlet; ``InvalidThreadUseError`` from another thread.
    @available(*, noasync, message: "join blocks the thread's greenlets; it is for greenlet code, not async code")
    @discardableResult
    public func join(timeout: Duration? = nil) throws -> Bool {
        try hub.checkThread("ThreadPool.join")
        return try allDone.wait(timeout: timeout)
    }

    /// Cancels the tasks that have not started (their results fail with ``GreenletExit``) and retires every
    /// worker thread once it finishes the task it is running; those results still arrive. The pool stays
    /// usable: a later ``spawn(_:)`` starts threads again.
    ///
    /// gevent's `kill()`. Never switches; hub thread only.
    public func kill() {
        hub.preconditionOnHubThread("ThreadPool.kill")
        for task in workers.stop() {
            task.cancel(GreenletExit())
        }
    }

    /// After `fork()`, in the child: the parent's worker threads are gone. Tasks still queued run on new
    /// threads; tasks that were running on the parent's threads fail with ``GreenletExit``, as if killed.
    func reinitializeAfterFork() {
        for task in workers.reinitializeAfterFork() {
            task.cancel(GreenletExit())
        }
    }

    /// Hands a finished task's outcome to its result; runs inside the hub.
    private func deliver<T>(_ outcome: Result<T, any Error>, to result: AsyncResult<T>) {
        outstanding -= 1
        completed &+= 1
        slots.release()
        hub.releaseLoopHold()
        switch outcome {
        case .success(let value): result.set(value)
        case .failure(let error): result.setError(error)
        }
        if outstanding == 0 { allDone.set() }
    }

    /// The default size of ``Hub/threadPool``: ``GeventConfig/threadPoolSize`` of ``GeventConfig/current``
    /// (`GEVENT_THREADPOOL_SIZE`, default 10). Never switches; any thread.
    public static var defaultMaxSize: Int {
        GeventConfig.current.threadPoolSize
    }
}

extension Hub {
    /// The hub's default ``ThreadPool``, created on first use with the hub's ``GeventConfig/threadPoolSize``
    /// threads (`GEVENT_THREADPOOL_SIZE`, default 10) and ``GeventConfig/threadPoolIdleTimeout``
    /// (`GEVENT_THREADPOOL_IDLE_TIMEOUT`, default 5 s); killed by ``destroy()``.
    ///
    /// gevent's `hub.threadpool`. Never switches; hub thread only.
    public var threadPool: ThreadPool {
        preconditionOnHubThread("Hub.threadPool")
        if let pool = threadPoolStorage { return pool }
        // The precondition above makes `self` the calling thread's hub, which the pool binds to.
        let pool = ThreadPool(maxSize: config.threadPoolSize, idleTimeout: config.threadPoolIdleTimeout)
        threadPoolStorage = pool
        return pool
    }
}
