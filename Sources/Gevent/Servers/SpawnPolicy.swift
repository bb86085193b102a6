/// How a server runs its handler for each connection (or datagram). gevent's `spawn=` argument.
///
/// Never switches. `.unlimited` and `.limit` can be made on any thread; `.pool` holds a ``Pool``, which
/// belongs to its hub's thread, and must be that of the server.
public enum SpawnPolicy {
    /// A new greenlet per connection, without limit (gevent's `spawn='default'`).
    case unlimited
    /// At most this many handlers at once (gevent's `spawn=<int>`, a `Pool` of that size): while all are
    /// busy the server stops accepting, and new connections wait in the kernel's backlog until a handler
    /// finishes. Must be at least 1.
    case limit(Int)
    /// Handlers are members of this pool (gevent's `spawn=<Pool>`): the server stops accepting while the
    /// pool has no free slot, whatever else occupies it, and resumes when any member finishes. `stop`
    /// waits for and kills the server's own handlers only, not the pool's other members. The pool must
    /// belong to the server's hub.
    case pool(Pool)
}
