/// A wait on a child process passed its timeout: Python's `subprocess.TimeoutExpired`.
///
/// ``Subprocess/wait(timeout:)`` and ``Subprocess/communicate(input:timeout:)`` leave the child running
/// (call them again, or ``Subprocess/kill()`` it); ``Subprocess/run(_:input:timeout:check:environment:workingDirectory:standardOutput:standardError:)``
/// and ``checkOutput(_:input:timeout:environment:workingDirectory:standardError:)`` kill it before
/// throwing. ``output`` and ``errorOutput`` hold what was read until then. Any thread may create, read and
/// pass one.
public struct SubprocessTimeoutError: Error, CustomStringConvertible, Sendable {
    /// The command's arguments.
    public let arguments: [String]
    /// The timeout that passed.
    public let timeout: Duration
    /// Standard output read before the timeout (empty if it was not a pipe).
    public let output: [UInt8]
    /// Standard error read before the timeout (empty if it was not a pipe).
    public let errorOutput: [UInt8]

    /// Creates the error. Never switches; any thread.
    public init(arguments: [String], timeout: Duration, output: [UInt8] = [], errorOutput: [UInt8] = []) {
        self.arguments = arguments
        self.timeout = timeout
        self.output = output
        self.errorOutput = errorOutput
    }

    /// "command [sleep, 3] timed out after 0.1 seconds".
    public var description: String {
        "command \(arguments) timed out after \(timeout)"
    }
}
