#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// A POSIX signal number, as a type of its own.
///
/// Used by ``signalHandler(_:_:)``, ``waitForSignal(_:timeout:)``, ``Subprocess/sendSignal(_:)`` and
/// ``TerminationStatus/signaled(_:coreDumped:)``. The named constants cover the signals programs usually
/// send or catch; any other number is still carried (`Signal(rawValue: SIGWINCH)`). Creating and comparing
/// values never switches and is safe from any thread.
public struct Signal: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The signal number.
    public let rawValue: CInt

    /// Wraps a signal number. Never switches; any thread.
    public init(rawValue: CInt) {
        self.rawValue = rawValue
    }

    /// `SIGHUP`: the terminal went away; daemons take it as "reload".
    public static let hangup = Signal(rawValue: SIGHUP)
    /// `SIGINT`: Ctrl-C.
    public static let interrupt = Signal(rawValue: SIGINT)
    /// `SIGQUIT`: Ctrl-\.
    public static let quit = Signal(rawValue: SIGQUIT)
    /// `SIGABRT`: `abort()`.
    public static let abort = Signal(rawValue: SIGABRT)
    /// `SIGKILL`: ends the process; cannot be caught.
    public static let kill = Signal(rawValue: SIGKILL)
    /// `SIGUSR1`.
    public static let user1 = Signal(rawValue: SIGUSR1)
    /// `SIGUSR2`.
    public static let user2 = Signal(rawValue: SIGUSR2)
    /// `SIGSEGV`: an invalid memory access.
    public static let segmentationFault = Signal(rawValue: SIGSEGV)
    /// `SIGPIPE`: a write to a pipe nobody reads any more.
    public static let pipe = Signal(rawValue: SIGPIPE)
    /// `SIGALRM`: `alarm()`'s timer.
    public static let alarm = Signal(rawValue: SIGALRM)
    /// `SIGTERM`: the polite request to end.
    public static let terminate = Signal(rawValue: SIGTERM)
    /// `SIGCHLD`: a child stopped or ended.
    public static let child = Signal(rawValue: SIGCHLD)
    /// `SIGCONT`: continue after a stop.
    public static let `continue` = Signal(rawValue: SIGCONT)
    /// `SIGSTOP`: stops the process; cannot be caught.
    public static let stop = Signal(rawValue: SIGSTOP)
    /// `SIGWINCH`: the terminal's size changed.
    public static let windowChanged = Signal(rawValue: SIGWINCH)

    /// "SIGTERM (15)", or "signal 40" for numbers without a name here.
    public var description: String {
        let names: [CInt: String] = [
            SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL", SIGTRAP: "SIGTRAP",
            SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE", SIGKILL: "SIGKILL", SIGUSR1: "SIGUSR1",
            SIGSEGV: "SIGSEGV", SIGUSR2: "SIGUSR2", SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM", SIGTERM: "SIGTERM",
            SIGCHLD: "SIGCHLD", SIGCONT: "SIGCONT", SIGSTOP: "SIGSTOP", SIGTSTP: "SIGTSTP", SIGTTIN: "SIGTTIN",
            SIGTTOU: "SIGTTOU", SIGURG: "SIGURG", SIGXCPU: "SIGXCPU", SIGXFSZ: "SIGXFSZ", SIGVTALRM: "SIGVTALRM",
            SIGPROF: "SIGPROF", SIGWINCH: "SIGWINCH", SIGIO: "SIGIO", SIGPWR: "SIGPWR", SIGSYS: "SIGSYS",
        ]
        guard let name = names[rawValue] else { return "signal \(rawValue)" }
        return "\(name) (\(rawValue))"
    }
}
