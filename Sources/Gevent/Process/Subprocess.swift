import CGeventIO

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// A child process, started with `posix_spawn`, whose pipes and exit greenlets wait for cooperatively:
/// gevent's `subprocess.Popen`.
///
/// ```swift
/// let child = try Subprocess(["sort"], standardInput: .pipe, standardOutput: .pipe)
/// let (output, _) = try child.communicate(input: Array("pear\napple\n".utf8), timeout: .seconds(5))
/// let status = try child.wait()                            // .exited(code: 0)
/// ```
///
/// Starting:
/// - `arguments[0]` is the program: a path if it contains a `/`, else looked up in the `PATH` of
///   `environment` (or of this process). A program that cannot be started throws at once
///   (``SubprocessError`` with ``Errno`` 2 for a name that does not exist).
/// - Only descriptors 0, 1 and 2 and those passed in `inheriting` reach the child (Python's
///   `close_fds=True`); every descriptor this package creates is close-on-exec besides.
/// - The child starts with no blocked signals and `SIGPIPE` at its default, whatever the parent does.
///
/// Waiting: the exit is seen through a pidfd on the hub's own loop (`ChildWatcher`), so any hub on any
/// thread may start and wait for children, no `SIGCHLD` handler is installed, and no other child of the
/// process is reaped by us. A child still running keeps ``Hub/join(timeout:)`` waiting, as in gevent. A
/// `Subprocess` dropped before its child ends still has it reaped when it does; ``Hub/destroy()`` stops
/// watching, so a child that ends after its hub is destroyed stays a zombie until this process exits.
///
/// `Subprocess` is ``Waitable``: ``wait(_:timeout:count:)`` takes it next to greenlets and events.
///
/// Threads: a subprocess belongs to the hub of the thread that started it (the type is not `Sendable`);
/// other threads get ``InvalidThreadUseError``. Methods that wait say so: they may switch greenlets and
/// must not be called from inside the hub.
public final class Subprocess: Waitable {
    /// Where one of the child's standard streams comes from or goes to.
    public enum Redirect: Sendable, Equatable {
        /// The child shares this process's descriptor (the default).
        case inherit
        /// A new pipe; this process's end is the ``Subprocess/standardInput``, ``Subprocess/standardOutput``
        /// or ``Subprocess/standardError`` ``PipeEnd``.
        case pipe
        /// `/dev/null`: no input, output discarded.
        case nullDevice
        /// An open descriptor of this process (a file, a socket, one end of a pipe); it stays open here.
        case fileDescriptor(FileDescriptor)
        /// For standard error only: wherever standard output goes (Python's `stderr=STDOUT`).
        case standardOutput
    }

    /// The hub the subprocess belongs to.
    public let hub: Hub
    /// The child's process ID.
    public let processID: pid_t
    /// The command, as given (`arguments[0]` is the program).
    public let arguments: [String]
    /// This process's end of the child's standard input, when it was ``Redirect/pipe``.
    public let standardInput: PipeEnd?
    /// This process's end of the child's standard output, when it was ``Redirect/pipe``.
    public let standardOutput: PipeEnd?
    /// This process's end of the child's standard error, when it was ``Redirect/pipe``.
    public let standardError: PipeEnd?
    private let child: ChildWatcher
    private var communication: Communication?

    /// Starts a program.
    ///
    /// Never switches (the calling thread is held only until the child has called `exec`). The subprocess
    /// belongs to the calling thread's hub (created if needed).
    ///
    /// - Parameters:
    ///   - arguments: the program and its arguments; must not be empty.
    ///   - environment: the child's whole environment; `nil` passes this process's.
    ///   - workingDirectory: the child's working directory; `nil` keeps this process's. A relative program
    ///     path is resolved after changing to it, as `posix_spawn` does.
    ///   - standardInput: the child's standard input.
    ///   - standardOutput: the child's standard output.
    ///   - standardError: the child's standard error; ``Redirect/standardOutput`` merges it into output.
    ///   - passedDescriptors: more descriptors the child receives under the same numbers (Python's `pass_fds`).
    ///   - closeOtherDescriptors: `true` (the default) closes every other descriptor from 3 up in the child;
    ///     `false` lets descriptors without close-on-exec through, as a plain `fork`/`exec` would.
    /// - Throws: ``SubprocessError``: the program was not found or could not be executed (with its errno),
    ///   the arguments are empty or contain a NUL byte, ``Redirect/standardOutput`` was given for another
    ///   stream than standard error, a pipe could not be created.
    public init(
        _ arguments: [String],
        environment: [String: String]? = nil,
        workingDirectory: String? = nil,
        standardInput: Redirect = .inherit,
        standardOutput: Redirect = .inherit,
        standardError: Redirect = .inherit,
        inheriting passedDescriptors: [FileDescriptor] = [],
        closeOtherDescriptors: Bool = true
    ) throws {
        let hub = Hub.current
        let spawned = try Spawn.start(
            arguments,
            environment: environment,
            workingDirectory: workingDirectory,
            redirects: [standardInput, standardOutput, standardError],
            passedDescriptors: passedDescriptors,
            closeOtherDescriptors: closeOtherDescriptors
        )
        let watcher: ChildWatcher
        do {
            watcher = try ChildWatcher(hub: hub, processID: spawned.processID)
        } catch {
            // Without a pidfd nothing could wait for the child: end it now rather than leave it unwatched.
            Glibc.kill(spawned.processID, SIGKILL)
            var status: CInt = 0
            _ = waitpid(spawned.processID, &status, 0)
            for fd in spawned.parentEnds where fd >= 0 { Glibc.close(fd) }
            throw error
        }
        self.hub = hub
        self.arguments = arguments
        processID = spawned.processID
        child = watcher
        self.standardInput =
            spawned.parentEnds[0] >= 0
            ? PipeEnd(ownedNonBlocking: spawned.parentEnds[0], readable: false, hub: hub) : nil
        self.standardOutput =
            spawned.parentEnds[1] >= 0
            ? PipeEnd(ownedNonBlocking: spawned.parentEnds[1], readable: true, hub: hub) : nil
        self.standardError =
            spawned.parentEnds[2] >= 0
            ? PipeEnd(ownedNonBlocking: spawned.parentEnds[2], readable: true, hub: hub) : nil
    }

    /// A child made by ``fork()``: watched like a spawned one, without pipes.
    init(forkedChild processID: pid_t, hub: Hub) throws {
        self.hub = hub
        self.processID = processID
        arguments = ["(forked pid \(processID))"]
        child = try ChildWatcher(hub: hub, processID: processID)
        standardInput = nil
        standardOutput = nil
        standardError = nil
    }

    // MARK: - Status

    /// How the child ended, once the hub has reaped it; `nil` while it runs. Never switches (and never makes
    /// a system call: ``poll()`` checks now); hub thread only.
    public var status: TerminationStatus? {
        hub.preconditionOnHubThread("Subprocess.status")
        return child.status
    }

    /// The exit code, or minus the signal number, once reaped; `nil` while the child runs. Python's
    /// `returncode`. Never switches; hub thread only.
    public var returnCode: Int32? { status?.returnCode }

    /// Checks whether the child has ended (reaping it if so) without waiting. Python's `poll()`.
    ///
    /// Never switches; hub thread only.
    ///
    /// - Returns: how it ended, or `nil` if it still runs.
    /// - Throws: ``SubprocessError`` if the status was lost (another `waitpid` reaped the child);
    ///   ``InvalidThreadUseError`` from another thread.
    public func poll() throws -> TerminationStatus? {
        try hub.checkThread("Subprocess.poll")
        child.reap()
        if let lost = child.lost { throw lost }
        return child.status
    }

    /// Waits until the child ends.
    ///
    /// Returns at once if it already has. May switch greenlets; hub thread only, not from inside the hub.
    ///
    /// - Parameter timeout: the longest to wait; `nil` waits as long as it takes.
    /// - Returns: how the child ended.
    /// - Throws: ``SubprocessTimeoutError`` when `timeout` passes first (the child keeps running);
    ///   ``SubprocessError`` if the status was lost; errors thrown into the waiting greenlet;
    ///   ``InvalidThreadUseError`` from another thread.
    @available(*, noasync, message: "wait blocks the thread's greenlets; it is for greenlet code")
    @discardableResult
    public func wait(timeout: Duration? = nil) throws -> TerminationStatus {
        try hub.checkThread("Subprocess.wait")
        if child.status == nil && child.lost == nil {
            guard try child.exited.wait(timeout: timeout) else {
                throw SubprocessTimeoutError(arguments: arguments, timeout: timeout ?? .zero)
            }
        }
        if let lost = child.lost { throw lost }
        return child.status!
    }

    // MARK: - Signals

    /// Sends `signal` to the child. Does nothing once the child has been reaped (its number may belong to
    /// another process by then; the pidfd makes that impossible to get wrong).
    ///
    /// Never switches; hub thread only.
    ///
    /// - Throws: ``SubprocessError`` (``Errno`` `EPERM`, `EINVAL` for a bad number);
    ///   ``InvalidThreadUseError`` from another thread.
    public func sendSignal(_ signal: Signal) throws {
        try hub.checkThread("Subprocess.sendSignal")
        try child.send(signal)
    }

    /// Sends `SIGTERM`. Never switches; hub thread only. - Throws: as ``sendSignal(_:)``.
    public func terminate() throws {
        try sendSignal(.terminate)
    }

    /// Sends `SIGKILL`. Never switches; hub thread only. - Throws: as ``sendSignal(_:)``.
    public func kill() throws {
        try sendSignal(.kill)
    }

    // MARK: - Communicating

    /// Writes `input` to the child's standard input, closes it, reads standard output and standard error to
    /// their ends, and waits for the child to exit.
    ///
    /// Input, output and error are pumped by three greenlets at once, so a child that writes megabytes to
    /// both pipes while its input is still being written never deadlocks. Standard input is closed even
    /// without `input`, so a child reading it sees its end; a child that exits without reading all its input
    /// is not an error. If `timeout` passes, the pumping greenlets keep going and a later call picks up
    /// where this one stopped: nothing read is lost, and the input of the first call goes on being written
    /// (a later call's `input` is not used). Python's `communicate`.
    ///
    /// May switch greenlets; hub thread only, not from inside the hub.
    ///
    /// - Parameters:
    ///   - input: bytes for standard input, which must then be ``Redirect/pipe``.
    ///   - timeout: the longest to wait for all of it; `nil` as long as it takes.
    /// - Returns: everything read from standard output and standard error (empty for a stream that is not a
    ///   pipe).
    /// - Throws: ``SubprocessTimeoutError`` with what was read so far; ``SubprocessError`` when `input` is
    ///   given but standard input is not a pipe; a read error; errors thrown into the waiting greenlet;
    ///   ``InvalidThreadUseError`` from another thread.
    @available(*, noasync, message: "communicate blocks the thread's greenlets; it is for greenlet code")
    public func communicate(
        input: [UInt8]? = nil,
        timeout: Duration? = nil
    ) throws -> (output: [UInt8], errorOutput: [UInt8]) {
        try hub.checkThread("Subprocess.communicate")
        if input != nil && standardInput == nil {
            throw SubprocessError(
                operation: "communicate(input:) for \(arguments)",
                code: nil,
                reason: "standardInput is not .pipe; create the Subprocess with standardInput: .pipe to send input"
            )
        }
        let communication = self.communication ?? Communication(self, input: input ?? [])
        self.communication = communication
        let finished = try Timeout.run(timeout, silent: true) { () throws -> Bool in
            _ = try joinAll(communication.pumps, raiseError: true)
            try wait()
            return true
        }
        guard finished != nil else {
            throw SubprocessTimeoutError(
                arguments: arguments,
                timeout: timeout ?? .zero,
                output: communication.output.bytes,
                errorOutput: communication.errorOutput.bytes
            )
        }
        self.communication = nil
        return (communication.output.bytes, communication.errorOutput.bytes)
    }

    // MARK: - Waitable

    /// `true` once the child has been reaped. Never switches; hub thread only.
    public var isReady: Bool { child.exited.isSet }

    /// Calls `callback` inside the hub once the child has been reaped. Never switches; hub thread only.
    public func rawLinkReady(_ callback: @escaping () -> Void) -> LinkToken {
        child.exited.rawLinkReady(callback)
    }

    /// Cancels a callback from ``rawLinkReady(_:)``. Never switches; hub thread only.
    public func unlink(_ token: LinkToken) {
        child.exited.unlink(token)
    }
}

/// The greenlets and buffers of one ``Subprocess/communicate(input:timeout:)`` (kept across a timeout).
private final class Communication {
    final class Bytes {
        var bytes: [UInt8] = []
    }
    let output = Bytes()
    let errorOutput = Bytes()
    var pumps: [AnyGreenlet] = []

    init(_ process: Subprocess, input: [UInt8]) {
        if let stdin = process.standardInput, !stdin.isClosed {
            pumps.append(
                spawn {
                    defer { stdin.close() }
                    do {
                        try stdin.writeAll(input)
                    } catch let error as SocketError where error.code == .brokenPipe {
                        // The child exited or closed its input early: what it did not read is not an error.
                    }
                }
            )
        }
        for (pipe, sink) in [(process.standardOutput, output), (process.standardError, errorOutput)] {
            guard let pipe, !pipe.isClosed else { continue }
            pumps.append(
                spawn {
                    try pipe.readToEnd { sink.bytes.append(contentsOf: $0) }
                    pipe.close()
                }
            )
        }
    }
}
