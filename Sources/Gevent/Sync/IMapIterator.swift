/// The results of ``Group/imap(_:maxSize:_:)`` or ``Group/imapUnordered(_:maxSize:_:)``, read with
/// ``next()``.
///
/// ```swift
/// let sizes = pool.imap(urls) { try fetch($0).count }
/// while let size = try sizes.next() { print(size) }
/// ```
///
/// A helper greenlet spawns one member per item (waiting while the pool is full); each result is queued
/// as its member finishes. gevent's `IMap`/`IMapUnordered`. Hub thread only; ``next()`` may switch
/// greenlets.
public final class IMapIterator<R> {
    private enum Entry {
        case result(Int, Result<R, any Error>)
        /// Every item was spawned and has finished: `end` items in all, and the error that stopped the
        /// helper early, if one did.
        case finished(end: Int, error: (any Error)?)
    }

    /// The hub the iterator belongs to.
    public let hub: Hub
    private let results = Queue<Entry>()
    private let ordered: Bool
    private let resultSlots: Semaphore?
    private var nextIndex = 0
    private var buffered: [Int: Result<R, any Error>] = [:]
    private var terminal: (end: Int, error: (any Error)?)?
    private var done = false
    private var outstanding = 0
    private var spawnedCount = 0
    private var spawningFinished = false
    private var spawningError: (any Error)?

    init<S: Sequence>(
        group: Group,
        items: S,
        maxSize: Int?,
        ordered: Bool,
        transform: @escaping (S.Element) throws -> R
    ) {
        hub = group.hub
        self.ordered = ordered
        if let maxSize {
            precondition(maxSize > 0, "imap(maxSize: \(maxSize)): the size must be at least 1, or nil for no limit")
        }
        resultSlots = maxSize.map { Semaphore($0) }
        // The helper keeps the iterator alive until every item is spawned.
        let helper = Greenlet(file: "(imap)", line: 0) { [self] in
            spawnAll(group: group, items: items, transform: transform)
        }
        helper.start()
    }

    private func spawnAll<S: Sequence>(group: Group, items: S, transform: @escaping (S.Element) throws -> R) {
        do {
            for item in items {
                try resultSlots?.acquire()
                let index = spawnedCount
                spawnedCount += 1
                outstanding += 1
                let member = try group.spawn { try transform(item) }
                member.rawLink { [self] _ in
                    memberFinished(index, member)
                }
            }
        } catch {
            spawningError = error
        }
        spawningFinished = true
        postFinishedIfDone()
    }

    private func memberFinished(_ index: Int, _ member: Greenlet<R>) {
        outstanding -= 1
        let result: Result<R, any Error> =
            if let failure = member.failure { .failure(failure) } else { .success(member.value!) }
        // Unbounded, and called inside the hub: never blocks.
        try? results.put(.result(index, result))
        postFinishedIfDone()
    }

    private func postFinishedIfDone() {
        guard spawningFinished && outstanding == 0 else { return }
        spawningFinished = false  // post once
        try? results.put(.finished(end: spawnedCount, error: spawningError))
    }

    /// The next result, waiting for it if needed; `nil` after the last one.
    ///
    /// In item order for `imap`, in completion order for `imapUnordered`. An item whose transform failed
    /// throws its error here, at its place, and the following call goes on with the next item. If the
    /// helper stopped early (it was killed), its error is thrown after the results of the items it spawned.
    /// May switch greenlets; hub thread only, not from inside the hub.
    ///
    /// - Throws: an item's error; errors thrown into the waiting greenlet; ``InvalidThreadUseError``.
    @available(*, noasync, message: "next blocks the thread's greenlets; it is for greenlet code, not async code")
    public func next() throws -> R? {
        try hub.checkThread("IMapIterator.next")
        if done { return nil }
        // gevent frees a result slot before reading, letting the helper run one item ahead.
        resultSlots?.release()
        while true {
            if ordered, let result = buffered.removeValue(forKey: nextIndex) {
                nextIndex += 1
                return try result.get()
            }
            if let terminal, !ordered || nextIndex >= terminal.end {
                done = true
                if let error = terminal.error { throw error }
                return nil
            }
            switch try results.get() {
            case .result(let index, let result):
                if !ordered { return try result.get() }
                buffered[index] = result
            case .finished(let end, let error):
                terminal = (end, error)
            }
        }
    }
}
