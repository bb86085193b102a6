#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// A POSIX error number, as a socket call reported it.
///
/// The named constants cover what network code usually tests for; any other value is still carried and
/// printed (`Errno(rawValue: EPROTO)`). `description` is libc's text with the number: "Connection refused
/// (errno 111)". Creating and comparing values never switches and is safe from any thread.
public struct Errno: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The errno value.
    public let rawValue: CInt

    /// Wraps an errno value. Never switches; any thread.
    public init(rawValue: CInt) {
        self.rawValue = rawValue
    }

    /// libc's text for the number, with the number: "Connection reset by peer (errno 104)".
    public var description: String { errnoDescription(rawValue) }

    /// `EBADF`: the file descriptor is not open (or was closed in another greenlet).
    public static let badFileDescriptor = Errno(rawValue: EBADF)
    /// `EAGAIN`/`EWOULDBLOCK`: a non-blocking call (timeout zero) would have had to wait.
    public static let wouldBlock = Errno(rawValue: EAGAIN)
    /// `EINPROGRESS`: a non-blocking connect was started.
    public static let inProgress = Errno(rawValue: EINPROGRESS)
    /// `ECONNREFUSED`: nothing listens at the address.
    public static let connectionRefused = Errno(rawValue: ECONNREFUSED)
    /// `ECONNRESET`: the peer reset the connection.
    public static let connectionReset = Errno(rawValue: ECONNRESET)
    /// `ECONNABORTED`: a connection was aborted before it was accepted.
    public static let connectionAborted = Errno(rawValue: ECONNABORTED)
    /// `EPIPE`: writing to a connection the peer has closed.
    public static let brokenPipe = Errno(rawValue: EPIPE)
    /// `ENOTCONN`: the socket is not connected.
    public static let notConnected = Errno(rawValue: ENOTCONN)
    /// `ETIMEDOUT`: the kernel gave up (for example on a connect).
    public static let timedOut = Errno(rawValue: ETIMEDOUT)
    /// `EADDRINUSE`: the address is already bound.
    public static let addressInUse = Errno(rawValue: EADDRINUSE)
    /// `EADDRNOTAVAIL`: the address is not local.
    public static let addressNotAvailable = Errno(rawValue: EADDRNOTAVAIL)
    /// `EMFILE`: the process has reached its file-descriptor limit (`RLIMIT_NOFILE`).
    public static let tooManyOpenFiles = Errno(rawValue: EMFILE)
    /// `ENFILE`: the system has reached its file limit.
    public static let tooManyOpenFilesInSystem = Errno(rawValue: ENFILE)
    /// `EINVAL`: an argument was invalid for this socket.
    public static let invalidArgument = Errno(rawValue: EINVAL)
    /// `ENOTSOCK`: the descriptor is not a socket.
    public static let notASocket = Errno(rawValue: ENOTSOCK)
    /// `ENETUNREACH`: no route to the network.
    public static let networkUnreachable = Errno(rawValue: ENETUNREACH)
    /// `EHOSTUNREACH`: no route to the host.
    public static let hostUnreachable = Errno(rawValue: EHOSTUNREACH)
    /// `EAFNOSUPPORT`: the address family is not supported (IPv6 disabled, for example).
    public static let addressFamilyNotSupported = Errno(rawValue: EAFNOSUPPORT)
    /// `EMSGSIZE`: a datagram is larger than the socket can send.
    public static let messageTooLong = Errno(rawValue: EMSGSIZE)
    /// `ENOBUFS`: the kernel is out of buffer space.
    public static let noBufferSpace = Errno(rawValue: ENOBUFS)
    /// `ENOMEM`: the kernel is out of memory.
    public static let outOfMemory = Errno(rawValue: ENOMEM)
}
