/// How a child process ended.
///
/// ``returnCode`` folds it into one number the way Python's `subprocess` does: the exit code, or the
/// negated signal number. Creating and comparing values never switches and is safe from any thread.
public enum TerminationStatus: Hashable, Sendable, CustomStringConvertible {
    /// The process called `exit` (or returned from `main`) with this code, 0–255.
    case exited(code: Int32)
    /// A signal ended the process.
    case signaled(Signal, coreDumped: Bool)

    /// The exit code, or minus the signal number (`-9` for `SIGKILL`): Python's `returncode`.
    public var returnCode: Int32 {
        switch self {
        case .exited(let code): return code
        case .signaled(let signal, _): return -signal.rawValue
        }
    }

    /// `true` for exit code 0.
    public var isSuccess: Bool { self == .exited(code: 0) }

    /// "exit code 3", "killed by SIGKILL (9)", "killed by SIGSEGV (11), core dumped".
    public var description: String {
        switch self {
        case .exited(let code): return "exit code \(code)"
        case .signaled(let signal, let coreDumped): return "killed by \(signal)" + (coreDumped ? ", core dumped" : "")
        }
    }
}
