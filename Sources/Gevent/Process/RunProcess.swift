extension Subprocess {
    /// Runs a command to its end and returns its status and output: Python's `subprocess.run`.
    ///
    /// Input is written and both outputs are read concurrently (``communicate(input:timeout:)``). If
    /// `timeout` passes, the child is killed and reaped before ``SubprocessTimeoutError`` (with what it wrote
    /// so far) is thrown. May switch greenlets; hub thread only (the calling thread's hub), not from inside
    /// the hub.
    ///
    /// - Parameters:
    ///   - arguments: the program and its arguments.
    ///   - input: bytes for standard input; with `nil`, standard input is inherited.
    ///   - timeout: the longest the whole run may take; `nil` as long as it takes.
    ///   - check: `true` throws ``ProcessFailed`` for any status but exit code 0.
    ///   - environment: the child's whole environment; `nil` passes this process's.
    ///   - workingDirectory: the child's working directory; `nil` keeps this process's.
    ///   - standardOutput: ``Redirect/pipe`` (the default) captures it.
    ///   - standardError: ``Redirect/pipe`` (the default) captures it; ``Redirect/standardOutput`` merges it.
    /// - Returns: the status and the captured output.
    /// - Throws: ``SubprocessError`` when the program cannot be started; ``SubprocessTimeoutError``;
    ///   ``ProcessFailed`` with `check`; errors thrown into the waiting greenlet.
    @available(*, noasync, message: "run blocks the thread's greenlets; it is for greenlet code")
    public static func run(
        _ arguments: [String],
        input: [UInt8]? = nil,
        timeout: Duration? = nil,
        check: Bool = false,
        environment: [String: String]? = nil,
        workingDirectory: String? = nil,
        standardOutput: Redirect = .pipe,
        standardError: Redirect = .pipe
    ) throws -> CompletedProcess {
        let process = try Subprocess(
            arguments,
            environment: environment,
            workingDirectory: workingDirectory,
            standardInput: input == nil ? .inherit : .pipe,
            standardOutput: standardOutput,
            standardError: standardError
        )
        let output: [UInt8]
        let errorOutput: [UInt8]
        do {
            (output, errorOutput) = try process.communicate(input: input, timeout: timeout)
        } catch {
            // Whatever stopped the run (a timeout, a kill of this greenlet), the child must not outlive it.
            try? process.kill()
            _ = try? process.wait()
            throw error
        }
        let completed = CompletedProcess(
            arguments: arguments,
            status: try process.wait(),
            output: output,
            errorOutput: errorOutput
        )
        if check { try completed.checkSuccess() }
        return completed
    }
}

/// Runs a command and returns its standard output, throwing ``ProcessFailed`` (with the status and the
/// captured standard error) unless it exits with code 0: Python's `subprocess.check_output`.
///
/// ```swift
/// let revision = try checkOutput(["git", "rev-parse", "HEAD"])
/// ```
///
/// Unlike Python, standard error is captured by default (so the error can say why); pass
/// `standardError: .inherit` to let it through. May switch greenlets; hub thread only, not from inside the
/// hub.
///
/// - Parameters:
///   - arguments: the program and its arguments.
///   - input: bytes for standard input; with `nil`, standard input is inherited.
///   - timeout: the longest the run may take; the child is killed when it passes.
///   - environment: the child's whole environment; `nil` passes this process's.
///   - workingDirectory: the child's working directory; `nil` keeps this process's.
///   - standardError: ``Subprocess/Redirect/pipe`` (the default) captures it for ``ProcessFailed``.
/// - Returns: everything the command wrote to standard output.
/// - Throws: ``ProcessFailed``; ``SubprocessError`` when the program cannot be started;
///   ``SubprocessTimeoutError``; errors thrown into the waiting greenlet.
@available(*, noasync, message: "checkOutput blocks the thread's greenlets; it is for greenlet code")
public func checkOutput(
    _ arguments: [String],
    input: [UInt8]? = nil,
    timeout: Duration? = nil,
    environment: [String: String]? = nil,
    workingDirectory: String? = nil,
    standardError: Subprocess.Redirect = .pipe
) throws -> [UInt8] {
    try Subprocess.run(
        arguments,
        input: input,
        timeout: timeout,
        check: true,
        environment: environment,
        workingDirectory: workingDirectory,
        standardError: standardError
    ).output
}
