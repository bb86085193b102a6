/// A ``Group`` with a bounded number of members: spawning into a full pool waits until a member finishes.
///
/// ```swift
/// let pool = Pool(size: 10)
/// let pages = try pool.map(urls) { try fetch($0) }   // at most 10 fetches at a time
/// ```
///
/// The bound is a ``Semaphore`` of `size` slots; a member's slot is freed when it finishes or is
/// discarded. Adding without blocking (or with a timeout) to a full pool throws ``PoolFull``.
/// `Pool(size: 0)` is always full. gevent's `Pool`.
///
/// Threads: like ``Group``, bound to the hub of the thread that created it.
public final class Pool: Group {
    /// The most members at once, or `nil` for no limit.
    public let size: Int?
    private let slots: Semaphore?

    /// Creates an empty pool bound to the calling thread's hub (created if needed). Never switches.
    ///
    /// - Parameter size: the most members at once (0 or more), or `nil` for no limit. A negative size stops
    ///   the program: it is a bug in the caller.
    public init(size: Int?) {
        if let size {
            precondition(size >= 0, "Pool(size: \(size)): the size must be 0 or more, or nil for no limit")
        }
        self.size = size
        slots = size.map { Semaphore($0) }
        super.init()
    }

    /// The number of greenlets that can be added without waiting (`Int.max` without a limit). gevent's
    /// `free_count()`. Never switches; hub thread only.
    public override var freeCount: Int {
        hub.preconditionOnHubThread("Pool.freeCount")
        guard let size else { return Int.max }
        return max(0, size - count)
    }

    /// Waits until a slot is free.
    ///
    /// gevent's `wait_available(timeout)`. Never switches when a slot is free; otherwise may switch
    /// greenlets. Hub thread only.
    ///
    /// - Returns: the number of free slots when the wait ended (0 after a timeout).
    /// - Throws: errors thrown into the waiting greenlet; ``LoopExit``; ``InvalidThreadUseError``.
    @available(
        *,
        noasync,
        message: "waitAvailable may block the thread's greenlets; it is for greenlet code, not async code"
    )
    @discardableResult
    public override func waitAvailable(timeout: Duration? = nil) throws -> Int {
        try hub.checkThread("Pool.waitAvailable")
        guard let slots else { return Int.max }
        return try slots.wait(timeout: timeout)
    }

    override func acquireSlot(block: Bool, timeout: Duration?) throws {
        guard let slots else { return }
        guard try slots.acquire(block: block, timeout: timeout) else {
            throw PoolFull(size: size ?? 0)
        }
    }

    override func releaseSlot() {
        slots?.release()
        guard !slotFreedObservers.isEmpty else { return }
        for observer in Array(slotFreedObservers.values) {
            observer()
        }
    }

    /// Told after every freed slot: servers spawning their handlers into this pool resume accepting.
    /// Hub thread only.
    var slotFreedObservers: [ObjectIdentifier: () -> Void] = [:]
}
