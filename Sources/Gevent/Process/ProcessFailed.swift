/// A child process run by ``checkOutput(_:input:timeout:environment:workingDirectory:standardError:)`` or a
/// checked ``Subprocess/run(_:input:timeout:check:environment:workingDirectory:standardOutput:standardError:)``
/// did not exit with code 0: Python's `subprocess.CalledProcessError`.
///
/// It carries the status and what the process wrote, so the reason can be shown without running it again.
/// Any thread may create, read and pass one.
public struct ProcessFailed: Error, CustomStringConvertible, Sendable {
    /// The command's arguments.
    public let arguments: [String]
    /// How the process ended.
    public let status: TerminationStatus
    /// Its standard output, if it was captured.
    public let output: [UInt8]
    /// Its standard error, if it was captured.
    public let errorOutput: [UInt8]

    /// Creates the error. Never switches; any thread.
    public init(arguments: [String], status: TerminationStatus, output: [UInt8] = [], errorOutput: [UInt8] = []) {
        self.arguments = arguments
        self.status = status
        self.output = output
        self.errorOutput = errorOutput
    }

    /// The exit code, or minus the signal number. Python's `returncode`.
    public var returnCode: Int32 { status.returnCode }

    /// "command [false] failed: exit code 1; stderr: ..." (stderr's last 500 bytes, if captured).
    public var description: String {
        var text = "command \(arguments) failed: \(status)"
        if !errorOutput.isEmpty {
            let tail = errorOutput.suffix(500)
            let decoded = String(decoding: tail, as: UTF8.self)
            text += "; stderr: " + decoded.trimmingTrailingNewlines()
        }
        return text
    }
}

extension String {
    fileprivate func trimmingTrailingNewlines() -> String {
        var result = Substring(self)
        while result.last == "\n" || result.last == "\r" { result.removeLast() }
        return String(result)
    }
}
