/// A set of greenlets managed together: spawn into it, wait for all, kill all, map work over it.
///
/// ```swift
/// let group = Group()
/// for url in urls { try group.spawn { try fetch(url) } }
/// try group.join()                                   // all finished
/// let sizes = try group.map(urls) { try fetch($0).count }
/// ```
///
/// A greenlet leaves the group when it finishes. ``Pool`` is a group with a bounded number of members.
/// gevent's `Group` (`GreenletSet`) with the mapping methods of its `GroupMappingMixin`.
///
/// Threads: a group belongs to the hub of the thread that created it. Methods that can block throw
/// ``InvalidThreadUseError`` on other threads; the others stop the program with that message. Only the
/// methods documented so switch greenlets.
public class Group {
    struct Member {
        let greenlet: AnyGreenlet
        let token: LinkToken
    }

    /// The hub the group belongs to.
    public let hub: Hub
    private var members: [ObjectIdentifier: Member] = [:]
    private var dying: Set<ObjectIdentifier> = []
    private let becameEmpty = Event()

    /// Creates an empty group bound to the calling thread's hub (created if needed). Never switches.
    public init() {
        hub = Hub.current
        becameEmpty.set()
    }

    /// Creates a group holding `greenlets` (they leave it when they finish). Never switches.
    public convenience init(_ greenlets: [AnyGreenlet]) {
        self.init()
        for greenlet in greenlets {
            insert(greenlet)
        }
    }

    // MARK: - Members

    /// The number of members. Never switches; hub thread only.
    public final var count: Int {
        hub.preconditionOnHubThread("Group.count")
        return members.count
    }

    /// The members, in no particular order. Never switches; hub thread only.
    public final var greenlets: [AnyGreenlet] {
        hub.preconditionOnHubThread("Group.greenlets")
        return members.values.map(\.greenlet)
    }

    /// `true` when `greenlet` is a member. Never switches; hub thread only.
    public final func contains(_ greenlet: AnyGreenlet) -> Bool {
        hub.preconditionOnHubThread("Group.contains")
        return members[ObjectIdentifier(greenlet)] != nil
    }

    /// Adds `greenlet` (started or not); it leaves the group when it finishes. Adding a member again does
    /// nothing.
    ///
    /// gevent's `add`. A ``Group`` never blocks here; a full ``Pool`` waits for a free slot.
    /// May switch greenlets (pools only); hub thread only.
    ///
    /// - Parameters:
    ///   - greenlet: the greenlet.
    ///   - block: for a pool, `false` throws ``PoolFull`` at once instead of waiting.
    ///   - timeout: for a pool, the longest to wait for a slot.
    /// - Throws: ``PoolFull`` (pools); errors thrown into the waiting greenlet; ``InvalidThreadUseError``.
    @available(*, noasync, message: "add may block the thread's greenlets; it is for greenlet code, not async code")
    public final func add(_ greenlet: AnyGreenlet, block: Bool = true, timeout: Duration? = nil) throws {
        try hub.checkThread("Group.add")
        guard members[ObjectIdentifier(greenlet)] == nil else { return }
        try acquireSlot(block: block, timeout: timeout)
        insert(greenlet)
    }

    private func insert(_ greenlet: AnyGreenlet) {
        let token = greenlet.rawLink { [weak self] finished in
            self?.memberFinished(finished)
        }
        members[ObjectIdentifier(greenlet)] = Member(greenlet: greenlet, token: token)
        becameEmpty.clear()
    }

    /// Removes `greenlet` from the group without touching it (for a pool, its slot is freed). Unknown
    /// greenlets are ignored. gevent's `discard`. Never switches; hub thread only.
    public final func discard(_ greenlet: AnyGreenlet) {
        hub.preconditionOnHubThread("Group.discard")
        guard let member = remove(greenlet) else { return }
        greenlet.unlink(member.token)
    }

    private func memberFinished(_ greenlet: AnyGreenlet) {
        _ = remove(greenlet)
    }

    private func remove(_ greenlet: AnyGreenlet) -> Member? {
        let id = ObjectIdentifier(greenlet)
        guard let member = members.removeValue(forKey: id) else { return nil }
        dying.remove(id)
        releaseSlot()
        if members.isEmpty { becameEmpty.set() }
        return member
    }

    /// Adds `greenlet` and starts it. gevent's `start`. May switch greenlets (a full pool waits); hub thread
    /// only.
    ///
    /// - Throws: as ``add(_:block:timeout:)``.
    @available(*, noasync, message: "start may block the thread's greenlets; it is for greenlet code, not async code")
    public final func start(_ greenlet: AnyGreenlet, block: Bool = true, timeout: Duration? = nil) throws {
        try add(greenlet, block: block, timeout: timeout)
        greenlet.start()
    }

    /// Creates a greenlet running `body`, adds it and starts it.
    ///
    /// gevent's `spawn`. A ``Group`` never blocks here; a full ``Pool`` waits until a member finishes. May
    /// switch greenlets (pools only); hub thread only.
    ///
    /// - Parameters:
    ///   - file: the spawn site, reported with errors (filled in by the compiler).
    ///   - line: the spawn site's line.
    ///   - body: the function to run.
    /// - Returns: the started greenlet.
    /// - Throws: errors thrown into the caller while it waits for a slot; ``InvalidThreadUseError``.
    @available(*, noasync, message: "spawn may block the thread's greenlets; it is for greenlet code, not async code")
    @discardableResult
    public final func spawn<T>(
        file: StaticString = #fileID,
        line: UInt = #line,
        _ body: @escaping () throws -> T
    ) throws -> Greenlet<T> {
        let greenlet = Greenlet(file: file, line: line, body)
        try start(greenlet)
        return greenlet
    }

    // MARK: - Waiting and killing

    /// Waits until the group is empty.
    ///
    /// gevent's `join(timeout, raise_error)`. Returns at once, without switching, when the group is empty.
    /// May switch greenlets; hub thread only, not from inside the hub.
    ///
    /// - Parameters:
    ///   - timeout: the longest to wait; `nil` waits as long as it takes.
    ///   - raiseError: rethrow the error of a member (of those present when the call started) that failed.
    /// - Returns: `true` if the group became empty, `false` if the timeout passed first.
    /// - Throws: with `raiseError`, a member's error; errors thrown into the waiting greenlet; ``LoopExit``;
    ///   ``InvalidThreadUseError``.
    @available(*, noasync, message: "join blocks the thread's greenlets; it is for greenlet code, not async code")
    @discardableResult
    public final func join(timeout: Duration? = nil, raiseError: Bool = false) throws -> Bool {
        try hub.checkThread("Group.join")
        let watched = raiseError ? greenlets : []
        let emptied = try becameEmpty.wait(timeout: timeout)
        for greenlet in watched {
            if let error = greenlet.error { throw error }
        }
        return emptied
    }

    /// Kills every member (each at most once, even across calls), and with `block` waits until the group is
    /// empty.
    ///
    /// gevent's `kill(exception, block, timeout)`. Members that catch the error and go on keep the group
    /// from emptying; `timeout` bounds the wait (it then returns quietly). The calling greenlet is skipped
    /// if it is a member. May switch greenlets when `block` is `true`; hub thread only.
    ///
    /// - Throws: errors thrown into the waiting caller (an enclosing ``Timeout``); ``InvalidThreadUseError``.
    @available(*, noasync, message: "kill may block the thread's greenlets; it is for greenlet code, not async code")
    public final func kill(_ error: any Error = GreenletExit(), block: Bool = true, timeout: Duration? = nil) throws {
        try hub.checkThread("Group.kill")
        let current = hub.currentGreenlet
        _ = try Timeout.run(timeout, silent: true) {
            while true {
                let targets = members.values.filter { $0.greenlet !== current }
                if targets.isEmpty { return }
                for member in targets where !dying.contains(ObjectIdentifier(member.greenlet)) {
                    try member.greenlet.kill(error, block: false)
                    dying.insert(ObjectIdentifier(member.greenlet))
                }
                guard block else { return }
                try joinAll(targets.map(\.greenlet))
            }
        }
    }

    /// Kills `greenlet` if it is a member not already being killed by this group, and with `block` waits
    /// up to `timeout` for it to finish.
    ///
    /// gevent's `killone`. May switch greenlets when `block` is `true`; hub thread only.
    ///
    /// - Throws: errors thrown into the waiting caller; ``InvalidThreadUseError``.
    @available(*, noasync, message: "killOne may block the thread's greenlets; it is for greenlet code, not async code")
    public final func killOne(
        _ greenlet: AnyGreenlet,
        error: any Error = GreenletExit(),
        block: Bool = true,
        timeout: Duration? = nil
    ) throws {
        try hub.checkThread("Group.killOne")
        let id = ObjectIdentifier(greenlet)
        guard members[id] != nil, !dying.contains(id) else { return }
        try greenlet.kill(error, block: false)
        dying.insert(id)
        if block {
            try greenlet.join(timeout: timeout)
        }
    }

    // MARK: - Capacity (a Group has no limit; Pool overrides)

    /// The number of greenlets that can be added without waiting; `Int.max` for a group or an unbounded
    /// pool. Never switches; hub thread only.
    public var freeCount: Int {
        hub.preconditionOnHubThread("Group.freeCount")
        return Int.max
    }

    /// `true` when adding would have to wait; never for a group. gevent's `full()`. Never switches; hub
    /// thread only.
    public var isFull: Bool {
        freeCount <= 0
    }

    /// Waits until a greenlet can be added without waiting.
    ///
    /// gevent's `wait_available(timeout)`. Never switches for a group; may switch for a full pool. Hub
    /// thread only.
    ///
    /// - Returns: the number of free slots when the wait ended (0 after a timeout).
    /// - Throws: errors thrown into the waiting greenlet; ``InvalidThreadUseError``.
    @available(
        *,
        noasync,
        message: "waitAvailable may block the thread's greenlets; it is for greenlet code, not async code"
    )
    @discardableResult
    public func waitAvailable(timeout: Duration? = nil) throws -> Int {
        try hub.checkThread("Group.waitAvailable")
        return Int.max
    }

    func acquireSlot(block: Bool, timeout: Duration?) throws {}

    func releaseSlot() {}

    // MARK: - Mapping

    /// Runs `body` in a member greenlet and returns its result; when the caller is itself a member, runs
    /// `body` inline (so a pool never deadlocks on itself).
    ///
    /// gevent's `apply`. May switch greenlets; hub thread only, not from inside the hub.
    ///
    /// - Returns: what `body` returned.
    /// - Throws: what `body` threw (``GreenletExit`` if the member was killed); errors thrown into the
    ///   waiting caller; ``InvalidThreadUseError``.
    @available(*, noasync, message: "apply blocks the thread's greenlets; it is for greenlet code, not async code")
    public final func apply<R>(_ body: @escaping () throws -> R) throws -> R {
        try hub.checkThread("Group.apply")
        if contains(hub.currentGreenlet) {
            return try body()
        }
        return try spawn(body).get()
    }

    /// Runs `body` in a member greenlet without waiting, and calls `callback` with its result (in a new
    /// greenlet) if it succeeds.
    ///
    /// gevent's `apply_async`. Never blocks: when the pool is full, an extra greenlet outside the group
    /// waits for a slot and then applies `body`. Never switches; hub thread only.
    ///
    /// - Returns: the greenlet whose value is `body`'s result.
    @discardableResult
    public final func applyAsync<R>(
        _ body: @escaping () throws -> R,
        callback: ((R) -> Void)? = nil
    ) -> Greenlet<R> {
        hub.preconditionOnHubThread("Group.applyAsync")
        if !isFull {
            let greenlet = Greenlet(body)
            if (try? start(greenlet, block: false)) != nil {
                if let callback {
                    greenlet.linkValue { finished in
                        if let value = (finished as! Greenlet<R>).value { callback(value) }
                    }
                }
                return greenlet
            }
        }
        return Greenlet { [self] in
            let value = try apply(body)
            if let callback {
                Greenlet { callback(value) }.start()
            }
            return value
        }.started()
    }

    /// Applies `transform` to every item, each in a member greenlet, and returns the results in the order
    /// of the items.
    ///
    /// gevent's `map`. A full pool makes the caller wait while spawning. May switch greenlets; hub thread
    /// only, not from inside the hub.
    ///
    /// - Returns: the results, in item order.
    /// - Throws: the error of the first item (in item order) whose transform failed; errors thrown into
    ///   the waiting caller; ``InvalidThreadUseError``.
    @available(*, noasync, message: "map blocks the thread's greenlets; it is for greenlet code, not async code")
    public final func map<S: Sequence, R>(_ items: S, _ transform: @escaping (S.Element) throws -> R) throws -> [R] {
        try hub.checkThread("Group.map")
        var spawned: [Greenlet<R>] = []
        spawned.reserveCapacity(items.underestimatedCount)
        for item in items {
            spawned.append(try spawn { try transform(item) })
        }
        return try spawned.map { try $0.get() }
    }

    /// Applies `transform` to every item in member greenlets, lazily: the results come back in item order
    /// from ``IMapIterator/next()``.
    ///
    /// gevent's `imap`. A helper greenlet spawns the work (waiting while a pool is full); an item whose
    /// transform failed throws its error from `next()` at its place, and iteration goes on after it. Never
    /// switches; hub thread only.
    ///
    /// - Parameters:
    ///   - items: the inputs.
    ///   - maxSize: the most finished results kept waiting for the reader; `nil` for no limit.
    ///   - transform: the work for one item.
    public final func imap<S: Sequence, R>(
        _ items: S,
        maxSize: Int? = nil,
        _ transform: @escaping (S.Element) throws -> R
    ) -> IMapIterator<R> {
        hub.preconditionOnHubThread("Group.imap")
        return IMapIterator(group: self, items: items, maxSize: maxSize, ordered: true, transform: transform)
    }

    /// Like ``imap(_:maxSize:_:)``, but results come back in the order they finish.
    ///
    /// gevent's `imap_unordered`. Never switches; hub thread only.
    public final func imapUnordered<S: Sequence, R>(
        _ items: S,
        maxSize: Int? = nil,
        _ transform: @escaping (S.Element) throws -> R
    ) -> IMapIterator<R> {
        hub.preconditionOnHubThread("Group.imapUnordered")
        return IMapIterator(group: self, items: items, maxSize: maxSize, ordered: false, transform: transform)
    }
}

extension Group: CustomStringConvertible {
    /// `"<Group 3 greenlets>"`.
    public var description: String {
        "<\(type(of: self)) \(members.count) greenlets>"
    }
}

extension Greenlet {
    /// Starts the greenlet and returns it (for expressions).
    func started() -> Greenlet<T> {
        start()
        return self
    }
}
