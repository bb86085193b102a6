import CGeventShim
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// One task for a worker thread: `run` executes it there and returns how to report its outcome, which the
/// worker calls once it no longer counts the task as running; `cancel` (hub thread) fails its result instead.
struct ThreadPoolTask: Sendable {
    let run: @Sendable () -> @Sendable () -> Void
    let cancel: @Sendable (any Error) -> Void
}

/// Marks the threads of a pool, so that ``ThreadPool/apply(_:)`` called from one of its own tasks runs
/// inline instead of waiting for a free thread (gevent: "apply runs synchronously from a worker thread").
private let workerKey: pthread_key_t = {
    var key = pthread_key_t()
    let status = pthread_key_create(&key, nil)
    precondition(status == 0, "swift-gevent: pthread_key_create failed: \(errnoDescription(status))")
    return key
}()

/// The part of a ``ThreadPool`` its worker threads share: the task queue and the thread counts, guarded
/// by one pthread mutex, with a condition variable idle workers sleep on.
final class ThreadPoolWorkers {
    private let condition = NativeCondition()
    // Everything below is guarded by `condition`'s mutex.
    private var tasks = Ring<ThreadPoolTask>()
    private var threads = 0
    private var idleThreads = 0
    private var retireRequests = 0
    private var maxThreads: Int
    private let idleTimeout: Int64?
    /// The task each worker thread is running, by the thread's number: after `fork()` those threads are
    /// gone from the child, and their tasks' results must be failed there rather than awaited forever.
    private var running: [Int: ThreadPoolTask] = [:]
    private var nextWorkerNumber = 0

    init(maxThreads: Int, idleTimeout: Duration?) {
        self.maxThreads = maxThreads
        self.idleTimeout = idleTimeout.map { max(0, $0.nanoseconds) }
    }

    /// The number of worker threads alive now. Any thread.
    var threadCount: Int {
        condition.withLock { threads }
    }

    /// Tasks queued that no thread has picked up yet. Any thread.
    var queuedCount: Int {
        condition.withLock { tasks.count }
    }

    /// `true` on one of this pool's worker threads.
    var isCurrentThreadAWorker: Bool {
        pthread_getspecific(workerKey) == Unmanaged.passUnretained(self).toOpaque()
    }

    /// Queues `task` and makes sure a thread will run it: an idle one, one that was about to retire, or a
    /// new one while fewer than `maxThreads` exist. Any thread; never blocks on anything but the mutex.
    func submit(_ task: ThreadPoolTask) {
        var startThread = false
        condition.withLock {
            tasks.append(task)
            if tasks.count > idleThreads {
                if retireRequests > 0 {
                    // A thread asked to retire keeps working instead.
                    retireRequests -= 1
                } else if threads < maxThreads {
                    threads += 1
                    startThread = true
                }
            }
        }
        // Signalled after unlocking: a worker woken while the mutex is still held (at once, when it shares
        // the CPU) would only block on the mutex and cost two more context switches.
        condition.signal()
        if startThread {
            startWorkerThread()
        }
    }

    /// Changes the thread limit; surplus threads retire once they are idle. Any thread.
    func setMaxThreads(_ newValue: Int) {
        condition.withLock {
            maxThreads = newValue
            retireRequests = max(0, threads - newValue)
            condition.broadcast()
        }
    }

    /// Removes the queued tasks (returned, for the caller to cancel) and asks every thread to retire once it
    /// finishes what it is running. Any thread.
    func stop() -> [ThreadPoolTask] {
        condition.withLock {
            retireRequests = threads
            condition.broadcast()
            return tasks.drain()
        }
    }

    /// In a child process after `fork()`: forgets the parent's worker threads (they do not exist here),
    /// re-creates the mutex they may have held, and starts threads for the tasks still queued. Returns the
    /// tasks those threads were running, whose results the caller fails. Only the forking thread exists.
    func reinitializeAfterFork() -> [ThreadPoolTask] {
        condition.reinitializeAfterFork()
        let lost = Array(running.values)
        running.removeAll()
        threads = 0
        idleThreads = 0
        retireRequests = 0
        let needed = min(tasks.count, maxThreads)
        threads = needed
        for _ in 0..<needed {
            startWorkerThread()
        }
        return lost
    }

    private func startWorkerThread() {
        let context = Unmanaged.passRetained(self)
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        var thread = pthread_t()
        // An OS thread even when pthread_create is patched to start greenlets.
        let status = gevent_shim_real_pthread_create(
            &thread,
            &attributes,
            { argument in
                let workers = Unmanaged<ThreadPoolWorkers>.fromOpaque(argument!).takeRetainedValue()
                workers.workerMain()
                return nil
            },
            context.toOpaque()
        )
        pthread_attr_destroy(&attributes)
        guard status != 0 else { return }
        context.release()
        reportWarning("ThreadPool: \(ThreadPoolStartError(errno: status))")
        let orphans = condition.withLock { () -> [ThreadPoolTask] in
            threads -= 1
            return threads == 0 ? tasks.drain() : []
        }
        for task in orphans {
            task.cancel(ThreadPoolStartError(errno: status))
        }
    }

    /// A worker thread's life: run queued tasks; sleep while there are none; exit when asked to retire or
    /// after `idleTimeout` without work.
    private func workerMain() {
        pthread_setspecific(workerKey, Unmanaged.passUnretained(self).toOpaque())
        condition.lock()
        let number = nextWorkerNumber
        nextWorkerNumber &+= 1
        while true {
            var next = tasks.popFirst()
            if next != nil {
                running[number] = next
                condition.unlock()
                var report: (@Sendable () -> Void)? = next!.run()
                // Released before relocking: the task's captures may hold the last reference to the pool,
                // whose deinit stops the workers under this same (non-recursive) mutex.
                next = nil
                condition.lock()
                // No longer running before its outcome is reported: a fork after the report must not fail
                // the task again in the child.
                running[number] = nil
                condition.unlock()
                report!()
                report = nil
                condition.lock()
                continue
            }
            if retireRequests > 0 {
                retireRequests -= 1
                break
            }
            idleThreads += 1
            let deadline = idleTimeout.map { monotonicNanoseconds() + $0 }
            let signaled = condition.wait(until: deadline)
            idleThreads -= 1
            if !signaled && tasks.isEmpty {
                break
            }
        }
        threads -= 1
        condition.unlock()
        pthread_setspecific(workerKey, nil)
        // A task that used greenlets gave this thread a hub: free its loop and stacks with the thread.
        if let hub = Hub.currentIfExists {
            try? hub.destroy()
        }
    }
}

extension ThreadPoolWorkers: @unchecked Sendable {
    // Every mutable property is guarded by `condition`'s mutex; `idleTimeout` is immutable.
}
