#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

// The runtime's clock and its conversions of `Duration`, in one place: libev wants seconds as a `Double`,
// deadlines are kept as monotonic nanoseconds (one `clock_gettime`, no `ContinuousClock` call per check).

extension Duration {
    /// The duration in whole nanoseconds (saturating).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? Int64.min : Int64.max }
        return product &+ attoseconds / 1_000_000_000
    }

    /// The duration in seconds as a `Double` (libev's `ev_tstamp`).
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) * 1e-18
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds: the clock every deadline of the runtime is measured on. Never
/// switches; any thread.
@inline(__always)
func monotonicNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}
