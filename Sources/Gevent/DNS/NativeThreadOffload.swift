import CLibev

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// Runs a blocking function on a native thread while the calling greenlet waits on its hub: the seam
/// ``ThreadResolver`` uses for libc's resolver.
///
/// A small process-wide set of worker threads (created on demand up to `maxThreads`, retired after
/// `idleTimeout` without work) takes jobs from a queue. The waiting side is gevent's: the greenlet blocks,
/// the hub holds its loop open (`Hub.holdLoopOpen`) so it does not report ``LoopExit`` while the job runs,
/// and the worker hands the result back through ``Hub/runThreadsafe(_:)``, which resumes the greenlet.
///
/// This stands in for the hub's `ThreadPool` (issue 3), which was not merged when the resolver was written;
/// ``run(on:operation:_:)`` is the only entry point, so switching to `ThreadPool.spawn` later changes this
/// file alone.
final class NativeThreadOffload {
    /// The workers every ``ThreadResolver`` shares (gevent's hub thread pool has 10 threads by default).
    static let shared = NativeThreadOffload(maxThreads: 10, idleTimeout: 5)

    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private let maxThreads: Int
    private let idleTimeoutSeconds: Int
    // Guarded by `mutex`:
    private var jobs: [@Sendable () -> Void] = []
    private var firstJob = 0
    private var threadCount = 0
    private var idleCount = 0

    init(maxThreads: Int, idleTimeout: Int) {
        self.maxThreads = maxThreads
        self.idleTimeoutSeconds = idleTimeout
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        condition = .allocate(capacity: 1)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    /// Runs `body` on a worker thread; the current greenlet waits and the hub runs others meanwhile.
    ///
    /// If the waiting greenlet is interrupted (a ``Timeout``, a kill), the error propagates at once and the
    /// job's result is dropped when it arrives. May switch greenlets. Hub thread only; not from inside the
    /// hub.
    ///
    /// - Throws: what is thrown into the greenlet while it waits; ``BlockingSwitchOutError`` from inside the
    ///   hub; ``InvalidThreadUseError`` from another thread.
    func run<T: Sendable>(on hub: Hub, operation: StaticString, _ body: @escaping @Sendable () -> T) throws -> T {
        try hub.checkThread(operation)
        let greenlet = try hub.blockableGreenlet(operation)
        let sequence = greenlet.beginBlock(waitingFor: operation)
        let result = OffloadedResult<T>()
        // The greenlet travels to the worker as a retained bit pattern and is released only on the hub's
        // thread: if the hub is gone when the job ends, it is leaked rather than released on the worker.
        let greenletBits = UInt(bitPattern: Unmanaged.passRetained(greenlet).toOpaque())
        hub.holdLoopOpen()
        submit {
            result.value = body()
            hub.runThreadsafe {
                let greenlet = Unmanaged<AnyGreenlet>
                    .fromOpaque(UnsafeRawPointer(bitPattern: greenletBits)!)
                    .takeRetainedValue()
                hub.releaseLoopHold()
                hub.resume(greenlet, sequence: sequence)
            }
        }
        try hub.block(greenlet)
        guard let value = result.value else {
            fatalError("swift-gevent: BUG DETECTED: a native-thread job resumed its greenlet without a result")
        }
        return value
    }

    private func submit(_ job: @escaping @Sendable () -> Void) {
        pthread_mutex_lock(mutex)
        jobs.append(job)
        if idleCount > 0 {
            pthread_cond_signal(condition)
        } else if threadCount < maxThreads {
            threadCount += 1
            startWorker()
        }
        pthread_mutex_unlock(mutex)
    }

    /// Called with `mutex` held.
    private func startWorker() {
        var thread = pthread_t()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setdetachstate(&attributes, CInt(PTHREAD_CREATE_DETACHED))
        let context = Unmanaged.passRetained(self).toOpaque()
        let status = pthread_create(&thread, &attributes, workerEntry, context)
        pthread_attr_destroy(&attributes)
        if status != 0 {
            Unmanaged<NativeThreadOffload>.fromOpaque(context).release()
            threadCount -= 1
            if threadCount == 0 {
                // Nobody would ever run the job: that is a hang, so stop with the reason instead.
                fatalError(
                    "swift-gevent: could not start a resolver thread: \(errnoDescription(status)); "
                        + "raise the process's thread limit (ulimit -u) or use GEVENT_RESOLVER=ares"
                )
            }
        }
    }

    fileprivate func workerLoop() {
        pthread_mutex_lock(mutex)
        while true {
            if firstJob < jobs.count {
                let job = jobs[firstJob]
                firstJob += 1
                if firstJob == jobs.count {
                    jobs.removeAll(keepingCapacity: true)
                    firstJob = 0
                }
                pthread_mutex_unlock(mutex)
                job()
                pthread_mutex_lock(mutex)
                continue
            }
            var deadline = timespec()
            clock_gettime(CLOCK_MONOTONIC, &deadline)
            deadline.tv_sec += idleTimeoutSeconds
            idleCount += 1
            let status = pthread_cond_timedwait(condition, mutex, &deadline)
            idleCount -= 1
            if status == ETIMEDOUT && firstJob >= jobs.count {
                threadCount -= 1
                pthread_mutex_unlock(mutex)
                return
            }
        }
    }
}

extension NativeThreadOffload: @unchecked Sendable {
    // `jobs`, `firstJob`, `threadCount` and `idleCount` are only touched with `mutex` held; the other
    // stored properties are immutable after init.
}

/// The slot a worker writes a job's result into.
private final class OffloadedResult<T: Sendable> {
    var value: T?
}

extension OffloadedResult: @unchecked Sendable {
    // `value` is written once by the worker before it calls Hub.runThreadsafe, and read by the hub's thread
    // after the resume that runThreadsafe delivers; the hub's mutex in between orders the two.
}

private func workerEntry(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let offload = Unmanaged<NativeThreadOffload>.fromOpaque(context!).takeRetainedValue()
    offload.workerLoop()
    return nil
}
