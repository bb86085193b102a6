import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// What the shim keeps per greenlet: the interruption sinks of ``Monkey/runUnaware(_:)`` calls in progress
/// and the buffer that gethostbyname and friends return (each greenlet is a thread to unaware code).
final class ShimGreenletState {
    weak var greenlet: AnyGreenlet?
    /// Innermost last.
    var sinks: [ShimInterruptionSink] = []
    var buffer: UnsafeMutableRawPointer?
    var bufferSize = 0

    init(greenlet: AnyGreenlet) {
        self.greenlet = greenlet
    }

    deinit {
        free(buffer)
    }
}

extension ShimGreenletState: @unchecked Sendable {
    // Used only on the hub thread of `greenlet` (the entry is looked up by the greenlet running there); the
    // registry's Mutex protects only the table that holds it.
}

/// Collects the first error that interrupted a hooked call inside one ``Monkey/runUnaware(_:)``.
final class ShimInterruptionSink {
    var error: (any Error)?
}

enum ShimGreenletStates {
    private static let table = Mutex<[ObjectIdentifier: ShimGreenletState]>([:])

    /// The state of `greenlet` (hub thread), created on demand; a user greenlet's is dropped when it ends.
    static func state(for greenlet: AnyGreenlet) -> ShimGreenletState {
        let key = ObjectIdentifier(greenlet)
        let (state, created) = table.withLock { table -> (ShimGreenletState, Bool) in
            // An entry whose greenlet is gone belongs to a dead object at the same address.
            if let existing = table[key], existing.greenlet === greenlet {
                return (existing, false)
            }
            let fresh = ShimGreenletState(greenlet: greenlet)
            table[key] = fresh
            return (fresh, true)
        }
        if created && greenlet.kind == .user {
            _ = greenlet.rawLink { finished in
                let key = ObjectIdentifier(finished)
                table.withLock { table in
                    if table[key]?.greenlet === finished {
                        table[key] = nil
                    }
                }
            }
        }
        return state
    }

    static func recordInterruption(_ error: any Error, in greenlet: AnyGreenlet) {
        let key = ObjectIdentifier(greenlet)
        let state = table.withLock { $0[key] }
        guard let state, state.greenlet === greenlet, let sink = state.sinks.last, sink.error == nil else { return }
        sink.error = error
    }

    static func buffer(_ size: Int, for greenlet: AnyGreenlet) -> UnsafeMutableRawPointer? {
        let state = state(for: greenlet)
        if state.bufferSize < size {
            guard let grown = realloc(state.buffer, size) else { return nil }
            state.buffer = grown
            state.bufferSize = size
        }
        return state.buffer
    }
}
