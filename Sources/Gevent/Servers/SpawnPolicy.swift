/// How a server runs its handler for each connection (or datagram). gevent's `spawn=` argument.
///
/// Never switches; any thread.
public enum SpawnPolicy: Sendable, Hashable {
    /// A new greenlet per connection, without limit (gevent's `spawn='default'`).
    case unlimited
    /// At most this many handlers at once (gevent's `spawn=<int>`, a `Pool` of that size): while all are
    /// busy the server stops accepting, and new connections wait in the kernel's backlog until a handler
    /// finishes. Must be at least 1.
    case limit(Int)
}
