/// What ``Subprocess/run(_:input:timeout:check:environment:workingDirectory:standardOutput:standardError:)``
/// returns: how the process ended and what it wrote. Python's `subprocess.CompletedProcess`. Any thread may
/// read and pass one.
public struct CompletedProcess: Sendable {
    /// The command's arguments.
    public let arguments: [String]
    /// How the process ended.
    public let status: TerminationStatus
    /// Its standard output, if it was ``Subprocess/Redirect/pipe`` (else empty).
    public let output: [UInt8]
    /// Its standard error, if it was ``Subprocess/Redirect/pipe`` (else empty).
    public let errorOutput: [UInt8]

    /// The exit code, or minus the signal number. Python's `returncode`.
    public var returnCode: Int32 { status.returnCode }

    /// Throws ``ProcessFailed`` unless the process exited with code 0. Python's `check_returncode()`.
    /// Never switches; any thread.
    public func checkSuccess() throws {
        guard status.isSuccess else {
            throw ProcessFailed(arguments: arguments, status: status, output: output, errorOutput: errorOutput)
        }
    }
}
