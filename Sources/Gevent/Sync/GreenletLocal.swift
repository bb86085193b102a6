/// A value with one copy per greenlet: each greenlet sees (and sets) its own.
///
/// ```swift
/// let requestID = GreenletLocal<String?> { nil }
/// spawn { requestID.value = "a"; … requestID.value … }   // "a", whatever other greenlets set
/// ```
///
/// A greenlet's copy is created from `makeInitial` the first time it reads or writes the value (gevent
/// re-runs a `local` subclass's `__init__` per greenlet the same way), and is freed when the greenlet
/// finishes, or when the `GreenletLocal` itself goes away. gevent's `gevent.local.local`.
///
/// Threads: each thread's greenlets have their own copies; the object itself is not `Sendable`, so it is
/// used on the thread that created it. Reading and writing never switch greenlets (unless `makeInitial`
/// does).
public final class GreenletLocal<T>: GreenletLocalOwner {
    private let makeInitial: () -> T
    // The greenlets holding a copy, so that deinit can free them; weak, since a greenlet that finished has
    // dropped its copy already.
    private var holders: [ObjectIdentifier: WeakGreenlet] = [:]

    /// Creates the local; `makeInitial` gives each greenlet its first value. Never switches; any thread.
    public init(_ makeInitial: @escaping () -> T) {
        self.makeInitial = makeInitial
    }

    deinit {
        let key = ObjectIdentifier(self)
        for holder in holders.values {
            holder.greenlet?.localStorage?.entries[key] = nil
        }
    }

    /// The calling greenlet's value, created with `makeInitial` on first access. Setting it changes only
    /// the calling greenlet's copy.
    ///
    /// Never switches (except inside `makeInitial`); any thread with a hub (created if needed).
    public var value: T {
        get { box(for: getCurrent()).value }
        set { box(for: getCurrent()).value = newValue }
    }

    /// `true` when the calling greenlet has a copy (it read or set the value and did not ``reset()``).
    /// Never switches; any thread with a hub (created if needed).
    public var hasValue: Bool {
        getCurrent().localStorage?.entries[ObjectIdentifier(self)] != nil
    }

    /// Drops the calling greenlet's copy; the next access creates a fresh one. Never switches; any thread
    /// with a hub (created if needed).
    public func reset() {
        let greenlet = getCurrent()
        guard greenlet.localStorage?.entries.removeValue(forKey: ObjectIdentifier(self)) != nil else { return }
        holders[ObjectIdentifier(greenlet)] = nil
    }

    private func box(for greenlet: AnyGreenlet) -> LocalBox<T> {
        let key = ObjectIdentifier(self)
        let storage: GreenletLocalStorage
        if let existing = greenlet.localStorage {
            if let entry = existing.entries[key] {
                return unsafeDowncast(entry.box, to: LocalBox<T>.self)
            }
            storage = existing
        } else {
            storage = GreenletLocalStorage()
            greenlet.localStorage = storage
        }
        let box = LocalBox(makeInitial())
        storage.entries[key] = GreenletLocalStorage.Entry(box: box, owner: self)
        holders[ObjectIdentifier(greenlet)] = WeakGreenlet(greenlet: greenlet)
        return box
    }

    func greenletFinished(_ id: ObjectIdentifier) {
        holders[id] = nil
    }
}

/// What a ``GreenletLocal`` is told when a greenlet holding one of its values finishes.
protocol GreenletLocalOwner: AnyObject {
    func greenletFinished(_ id: ObjectIdentifier)
}

/// One greenlet's ``GreenletLocal`` values, keyed by the local.
final class GreenletLocalStorage {
    struct Entry {
        let box: AnyObject
        weak var owner: (any GreenletLocalOwner)?
    }

    var entries: [ObjectIdentifier: Entry] = [:]

    /// Called once the greenlet finished: the locals forget it, and its values are freed with `self`.
    func release(from greenlet: AnyGreenlet) {
        let id = ObjectIdentifier(greenlet)
        for entry in entries.values {
            entry.owner?.greenletFinished(id)
        }
        entries.removeAll()
    }
}

final class LocalBox<T> {
    var value: T

    init(_ value: T) {
        self.value = value
    }
}

struct WeakGreenlet {
    weak var greenlet: AnyGreenlet?
}
