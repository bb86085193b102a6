import CGeventOpenSSL
import COpenSSL
import Gevent

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// A TLS connection over a cooperative ``Socket``, with the socket's blocking-style calls.
///
/// ```swift
/// let context = try TLSContext.client()
/// let tls = try createTLSConnection(host: "example.com", port: 443, context: context, timeout: .seconds(5))
/// try tls.sendAll(Array("GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n".utf8))
/// let reply = try tls.recv(maxBytes: 65536)
/// ```
///
/// OpenSSL reads and writes the socket's non-blocking descriptor directly. When it needs the network
/// (`SSL_ERROR_WANT_READ` / `SSL_ERROR_WANT_WRITE`, in either direction for any call: TLS 1.3 sends tickets
/// and key updates at any time), the greenlet waits on the socket's own watchers, then retries the same call,
/// so other greenlets run meanwhile and data that is already there costs no switch. gevent's `SSLSocket`.
/// A greenlet never switches while OpenSSL holds per-thread state: this thread's error queue is cleared
/// before every `SSL_*` call and read (and emptied) before any wait.
///
/// Rules, as for ``Socket``:
/// - Waits follow the socket's ``Socket/timeout``: per wait for ``recv(into:)`` and ``send(_:)``, as one
///   deadline for ``handshake(timeout:)``, ``sendAll(_:)`` and ``shutdown(waitForPeer:timeout:)``.
/// - One greenlet may read and one may write at a time.
/// - ``close()`` from another greenlet wakes every greenlet blocked on the connection with a ``SocketError``
///   (``Errno/badFileDescriptor``, "File descriptor was closed in another greenlet").
/// - After a send times out the connection can only be closed: TLS must retry a write with the same bytes.
///
/// Hub-bound like its socket: use it on the thread that created the socket (the type is not `Sendable`).
/// Methods that wait say so; they may switch greenlets and must not be called from inside the hub.
public final class TLSSocket {
    /// The TCP connection underneath. Do not read or write it directly: TLS records would be corrupted.
    public let socket: Socket
    /// The settings this connection was made with.
    public let context: TLSContext
    /// When `true` (the default, as gevent's `suppress_ragged_eofs`), a peer that closes the connection
    /// without a TLS `close_notify` reads as the end of the stream; when `false`, ``recv(into:)`` throws
    /// ``TLSError/Kind/unexpectedEOF`` (protocols without their own length framing can then detect
    /// truncation). Never switches; hub thread only.
    public var suppressRaggedEOFs = true

    /// The OpenSSL connection; `nil` once closed.
    private var ssl: OpaquePointer?
    private var handshakeCompleted = false
    /// A fatal error happened: OpenSSL forbids SSL_shutdown afterwards, and reads end.
    private var failed = false
    /// The peer's close_notify (or a ragged end of the stream) was read: every later read returns 0 at once.
    private var reachedEnd = false
    private var sentCloseNotify = false

    init(socket: Socket, context: TLSContext, serverHostName: String?) throws {
        if context.role == .client && context.verifiesHostName && serverHostName == nil {
            throw TLSError(
                kind: .configuration,
                operation: "wrap \(socket)",
                reason: "host-name verification needs the server's name",
                hint: "pass serverHostName, or make the context with verifyHostName: false"
            )
        }
        OpenSSLErrorQueue.clear()
        guard let ssl = SSL_new(context.context) else {
            throw TLSError(
                kind: .configuration,
                operation: "wrap \(socket)",
                reason: OpenSSLErrorQueue.drainText(fallback: "SSL_new failed (out of memory)")
            )
        }
        guard let bio = gevent_tls_socket_bio_new(socket.fileDescriptor.rawValue) else {
            SSL_free(ssl)
            throw TLSError(kind: .configuration, operation: "wrap \(socket)", reason: "BIO_new failed (out of memory)")
        }
        // One BIO for both directions; the SSL object owns it from here on.
        SSL_set_bio(ssl, bio, bio)
        self.ssl = ssl
        self.socket = socket
        self.context = context
        switch context.role {
        case .server:
            SSL_set_accept_state(ssl)
        case .client:
            SSL_set_connect_state(ssl)
            if let serverHostName {
                try setServerHostName(serverHostName, on: ssl)
            }
        }
    }

    private func setServerHostName(_ name: String, on ssl: OpaquePointer) throws {
        let isAddress = TLSSocket.isIPAddress(name)
        var accepted = true
        if context.verifiesHostName {
            let parameters = SSL_get0_param(ssl)
            if isAddress {
                accepted = X509_VERIFY_PARAM_set1_ip_asc(parameters, name) == 1
            } else {
                X509_VERIFY_PARAM_set_hostflags(parameters, CUnsignedInt(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
                accepted = SSL_set1_host(ssl, name) == 1
            }
        }
        // RFC 6066: SNI carries host names only, never addresses.
        if accepted && !isAddress {
            accepted = gevent_tls_set_host_name(ssl, name) == 1
        }
        if !accepted {
            throw TLSError(
                kind: .configuration,
                operation: "set the server name \"\(name)\"",
                reason: OpenSSLErrorQueue.drainText(fallback: "OpenSSL refused the name"),
                hint: "pass a DNS name or an IP address"
            )
        }
    }

    private static func isIPAddress(_ text: String) -> Bool {
        var storage = in6_addr()
        return inet_pton(AF_INET, text, &storage) == 1 || inet_pton(AF_INET6, text, &storage) == 1
    }

    deinit {
        if let ssl {
            SSL_free(ssl)
        }
    }

    // MARK: - State

    /// `true` once ``close()`` was called. Never switches; hub thread only.
    public var isClosed: Bool { ssl == nil }

    /// `true` once the handshake has completed. Never switches; hub thread only.
    public var isHandshakeComplete: Bool { handshakeCompleted }

    /// The socket's ``Socket/timeout``, which this connection's waits follow. Never switches; hub thread
    /// only.
    public var timeout: Duration? {
        get { socket.timeout }
        set { socket.timeout = newValue }
    }

    /// The negotiated protocol version; `nil` before the handshake. Never switches; hub thread only.
    public var protocolVersion: TLSVersion? {
        guard handshakeCompleted, let ssl else { return nil }
        return TLSVersion(openSSLValue: SSL_version(ssl))
    }

    /// The negotiated cipher suite in OpenSSL's naming ("TLS_AES_256_GCM_SHA384",
    /// "ECDHE-ECDSA-AES128-GCM-SHA256"); `nil` before the handshake. Never switches; hub thread only.
    public var cipher: String? {
        guard handshakeCompleted, let ssl, let cipher = SSL_get_current_cipher(ssl) else { return nil }
        return SSL_CIPHER_get_name(cipher).map { String(cString: $0) }
    }

    /// The application protocol agreed through ALPN ("h2", "http/1.1"); `nil` before the handshake or when
    /// none was agreed. Never switches; hub thread only.
    public var alpnProtocol: String? {
        guard handshakeCompleted, let ssl else { return nil }
        var data: UnsafePointer<UInt8>?
        var length: CUnsignedInt = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// The peer's certificate, summarised; `nil` before the handshake or when the peer sent none (clients
    /// of a server that does not ask). Never switches; hub thread only.
    public var peerCertificate: TLSCertificateSummary? {
        guard handshakeCompleted, let ssl, let certificate = SSL_get1_peer_certificate(ssl) else { return nil }
        defer { X509_free(certificate) }
        return TLSCertificateSummary(certificate)
    }

    // MARK: - Handshake

    /// Performs the TLS handshake, if it has not happened yet.
    ///
    /// Reads and writes are performed after an implicit handshake too; call this to choose when the
    /// handshake's cost and errors come, and to bound it. A client verifies the server's certificate here.
    /// May switch greenlets. Hub thread only; not from inside the hub.
    ///
    /// - Parameter timeout: the longest the whole handshake may take; `nil` uses the socket's
    ///   ``Socket/timeout``.
    /// - Throws: ``TLSError`` (``TLSError/Kind/certificateVerificationFailed(_:)`` with the reason,
    ///   ``TLSError/Kind/notTLS``, ``TLSError/Kind/rejectedByPeer``, ...); ``SocketTimeoutError`` when the
    ///   timeout passes; ``SocketError`` when the connection fails or is closed in another greenlet; what is
    ///   thrown into the greenlet while it waits.
    @available(*, noasync, message: "handshake blocks the thread's greenlets; it is for greenlet code")
    public func handshake(timeout: Duration? = nil) throws {
        guard !handshakeCompleted else { return }
        var deadline = Deadline(timeout ?? socket.timeout, wholeCall: true)
        _ = try perform("TLS handshake", &deadline) { SSL_do_handshake($0) }
        handshakeCompleted = true
    }

    private func handshakeIfNeeded() throws {
        if !handshakeCompleted {
            try handshake()
        }
    }

    // MARK: - Receiving

    /// Receives up to `buffer.count` bytes of application data into `buffer`, waiting until at least one
    /// byte (or the end of the stream) arrives.
    ///
    /// Does the handshake first if it has not happened. May switch greenlets (only when no decrypted data is
    /// waiting). Hub thread only; not from inside the hub.
    ///
    /// - Returns: the number of bytes received; 0 at the end of the stream (the peer's `close_notify`, or a
    ///   plain close with ``suppressRaggedEOFs``).
    /// - Throws: ``TLSError``; ``SocketTimeoutError``; ``SocketError``; ``ConcurrentObjectUseError`` when
    ///   another greenlet is reading; what is thrown into the greenlet while it waits.
    @available(*, noasync, message: "recv blocks the thread's greenlets; it is for greenlet code")
    public func recv(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try handshakeIfNeeded()
        guard buffer.count > 0, !reachedEnd else { return 0 }
        var deadline = Deadline(socket.timeout, wholeCall: false)
        let count = CInt(clamping: buffer.count)
        return try Int(perform("recv", &deadline, reading: true) { SSL_read($0, buffer.baseAddress, count) })
    }

    /// Receives up to `maxBytes` bytes of application data. See ``recv(into:)``.
    ///
    /// - Returns: the bytes; empty at the end of the stream.
    @available(*, noasync, message: "recv blocks the thread's greenlets; it is for greenlet code")
    public func recv(maxBytes: Int) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: max(maxBytes, 0)) { buffer, count in
            count = try recv(into: UnsafeMutableRawBufferPointer(buffer))
        }
    }

    // MARK: - Sending

    /// Sends some of `bytes` (one or more TLS records), waiting until at least one record is written.
    ///
    /// Does the handshake first if it has not happened. May switch greenlets (only when the send buffer is
    /// full). Hub thread only; not from inside the hub.
    ///
    /// - Returns: how many bytes were sent.
    /// - Throws: ``TLSError``; ``SocketTimeoutError``; ``SocketError`` (``Errno/brokenPipe``,
    ///   ``Errno/connectionReset`` when the peer went away); what is thrown into the greenlet while it waits.
    @available(*, noasync, message: "send blocks the thread's greenlets; it is for greenlet code")
    public func send(_ bytes: UnsafeRawBufferPointer) throws -> Int {
        try handshakeIfNeeded()
        guard bytes.count > 0 else { return 0 }
        var deadline = Deadline(socket.timeout, wholeCall: false)
        let count = CInt(clamping: bytes.count)
        return try Int(perform("send", &deadline) { SSL_write($0, bytes.baseAddress, count) })
    }

    /// Sends some of `bytes` (any byte sequence). See ``send(_:)-(UnsafeRawBufferPointer)``.
    @available(*, noasync, message: "send blocks the thread's greenlets; it is for greenlet code")
    @inlinable
    public func send<Bytes: Sequence<UInt8>>(_ bytes: Bytes) throws -> Int {
        if let sent = try bytes.withContiguousStorageIfAvailable({ try send(UnsafeRawBufferPointer($0)) }) {
            return sent
        }
        return try Array(bytes).withUnsafeBytes { try send($0) }
    }

    /// Sends all of `bytes`, waiting as often as needed.
    ///
    /// The socket's ``Socket/timeout`` bounds the whole call, not each wait (gevent's `sendall`). May switch
    /// greenlets (only when the send buffer is full). Hub thread only; not from inside the hub.
    ///
    /// - Throws: as ``send(_:)-(UnsafeRawBufferPointer)``; some bytes may have been sent.
    @available(*, noasync, message: "sendAll blocks the thread's greenlets; it is for greenlet code")
    public func sendAll(_ bytes: UnsafeRawBufferPointer) throws {
        try handshakeIfNeeded()
        var deadline = Deadline(socket.timeout, wholeCall: true)
        var offset = 0
        while offset < bytes.count {
            let start = bytes.baseAddress! + offset
            let count = CInt(clamping: bytes.count - offset)
            offset += try Int(perform("sendAll", &deadline) { SSL_write($0, start, count) })
        }
    }

    /// Sends all of `bytes` (any byte sequence). See ``sendAll(_:)-(UnsafeRawBufferPointer)``.
    @available(*, noasync, message: "sendAll blocks the thread's greenlets; it is for greenlet code")
    @inlinable
    public func sendAll<Bytes: Sequence<UInt8>>(_ bytes: Bytes) throws {
        if try bytes.withContiguousStorageIfAvailable({ try sendAll(UnsafeRawBufferPointer($0)) }) != nil {
            return
        }
        try Array(bytes).withUnsafeBytes { try sendAll($0) }
    }

    // MARK: - Ending

    /// Sends a TLS `close_notify`, telling the peer no more data follows; with `waitForPeer`, also reads
    /// (and discards) until the peer's own `close_notify` or end of stream.
    ///
    /// The socket stays open: ``close()`` it afterwards (or reuse it as plain TCP once both sides have shut
    /// TLS down, gevent's `unwrap`). Harmless before the handshake (then nothing is sent). May switch
    /// greenlets. Hub thread only; not from inside the hub.
    ///
    /// - Parameters:
    ///   - waitForPeer: wait for the peer's `close_notify` too (a bidirectional shutdown).
    ///   - timeout: the longest the whole shutdown may take; `nil` uses the socket's ``Socket/timeout``.
    /// - Throws: ``TLSError``; ``SocketTimeoutError``; ``SocketError``; what is thrown into the greenlet.
    @available(*, noasync, message: "shutdown blocks the thread's greenlets; it is for greenlet code")
    public func shutdown(waitForPeer: Bool = false, timeout: Duration? = nil) throws {
        guard handshakeCompleted, !failed else { return }
        var deadline = Deadline(timeout ?? socket.timeout, wholeCall: true)
        if !sentCloseNotify {
            // 0: close_notify sent, the peer's not yet seen; 1: both done. Either is success here.
            _ = try perform("TLS shutdown", &deadline, successFrom: 0) { SSL_shutdown($0) }
            sentCloseNotify = true
        }
        guard waitForPeer else { return }
        var scratch = [UInt8](repeating: 0, count: 4096)
        while !reachedEnd {
            let count = CInt(scratch.count)
            _ = try scratch.withUnsafeMutableBytes { buffer in
                try perform("TLS shutdown", &deadline, reading: true) { SSL_read($0, buffer.baseAddress, count) }
            }
        }
    }

    /// Closes the connection and the socket. Harmless if already closed.
    ///
    /// After a completed handshake a `close_notify` is sent if the socket takes it at once (it never waits,
    /// as nginx does); OpenSSL's state is freed. Greenlets blocked on the connection are woken with a
    /// ``SocketError`` (``Errno/badFileDescriptor``). Never switches; hub thread only.
    public func close() {
        guard let ssl else { return }
        if handshakeCompleted && !failed && !sentCloseNotify && !socket.isClosed {
            OpenSSLErrorQueue.clear()
            _ = SSL_shutdown(ssl)
            OpenSSLErrorQueue.clear()
        }
        self.ssl = nil
        SSL_free(ssl)
        socket.close()
    }

    // MARK: - Driving OpenSSL

    /// The time a call may spend waiting: `timeout` per wait, or one deadline for the whole call.
    private struct Deadline {
        let timeout: Duration?
        let wholeCall: Bool
        private var end: ContinuousClock.Instant?

        init(_ timeout: Duration?, wholeCall: Bool) {
            self.timeout = timeout
            self.wholeCall = wholeCall
        }

        /// The timeout for the next wait; `nil` waits as long as it takes.
        mutating func nextWait() -> Duration? {
            guard wholeCall, let timeout, timeout > .zero else { return timeout }
            let end = self.end ?? ContinuousClock.now + timeout
            self.end = end
            return max(end - ContinuousClock.now, .zero)
        }
    }

    /// Runs one `SSL_*` call until it succeeds, waiting on the socket whenever OpenSSL asks for the network.
    ///
    /// - Parameters:
    ///   - successFrom: the smallest result that means success (1 for most calls; 0 for `SSL_shutdown`, whose
    ///     0 means "sent, the peer's not seen yet").
    ///   - reading: the call reads application data, so a ragged end of stream may read as the end.
    /// - Returns: the call's result; 0 for a read at the end of the stream.
    private func perform(
        _ operation: StaticString,
        _ deadline: inout Deadline,
        successFrom: CInt = 1,
        reading: Bool = false,
        _ call: (OpaquePointer) -> CInt
    ) throws -> CInt {
        while true {
            // The BIO holds the descriptor's number: once the socket is closed (here or directly) that number
            // may belong to another file, so OpenSSL must not touch it again.
            guard let ssl, !socket.isClosed else {
                throw SocketError(
                    code: .badFileDescriptor,
                    operation: "\(operation) on a closed TLS socket",
                    reason: "the TLS socket was closed"
                )
            }
            OpenSSLErrorQueue.clear()
            let result = call(ssl)
            let savedErrno = errno
            if result >= successFrom { return result }
            let code = SSL_get_error(ssl, result)
            // Read (and empty) the queue now: the wait below may run other greenlets' OpenSSL calls.
            let entries = OpenSSLErrorQueue.drain()
            switch code {
            case SSL_ERROR_WANT_READ:
                try socket.waitForRead(operation, timeout: deadline.nextWait(), reportedTimeout: deadline.timeout)
            case SSL_ERROR_WANT_WRITE:
                try socket.waitForWrite(operation, timeout: deadline.nextWait(), reportedTimeout: deadline.timeout)
            case SSL_ERROR_ZERO_RETURN:
                reachedEnd = true
                if handshakeCompleted { return 0 }
                throw TLSError(
                    kind: .closedDuringHandshake,
                    operation: socket.describe(operation),
                    reason: "close_notify before the handshake finished"
                )
            default:
                let failure = try failure(operation, code: code, entries: entries, savedErrno: savedErrno, ssl: ssl)
                if reading && suppressRaggedEOFs { return 0 }
                throw failure
            }
        }
    }

    /// Throws the error a failed call means; returns the ``TLSError/Kind/unexpectedEOF`` error for a ragged
    /// end of stream after the handshake, which the caller may treat as the end instead.
    private func failure(
        _ operation: StaticString,
        code: CInt,
        entries: [OpenSSLErrorQueue.Entry],
        savedErrno: CInt,
        ssl: OpaquePointer
    ) throws -> TLSError {
        failed = true
        let what = socket.describe(operation)
        let sslReason = entries.first { $0.library == ERR_LIB_SSL }?.reason
        let endOfStream =
            (code == SSL_ERROR_SYSCALL && entries.isEmpty && savedErrno == 0)
            || sslReason == SSL_R_UNEXPECTED_EOF_WHILE_READING
        if endOfStream {
            guard handshakeCompleted else {
                throw TLSError(
                    kind: .closedDuringHandshake,
                    operation: what,
                    reason: "the connection ended before the handshake finished",
                    hint: context.role == .client
                        ? "the server may not speak TLS on this port, or refused our ClientHello without an alert"
                        : "the client gave up; a port scanner or a health check does this"
                )
            }
            reachedEnd = true
            return TLSError(
                kind: .unexpectedEOF,
                operation: what,
                reason: "the connection ended without close_notify",
                hint: "the data may be truncated; use a protocol with its own length framing, or set "
                    + "suppressRaggedEOFs"
            )
        }
        if code == SSL_ERROR_SYSCALL && entries.isEmpty {
            throw SocketError(code: Errno(rawValue: savedErrno), operation: what)
        }
        let reasonText = entries.isEmpty ? "SSL error \(code)" : entries.map(\.text).joined(separator: "; ")
        throw TLSSocket.classify(
            sslReason,
            reasonText: reasonText,
            operation: what,
            role: context.role,
            verifyResult: Int(SSL_get_verify_result(ssl))
        )
    }

    private static func classify(
        _ sslReason: CInt?,
        reasonText: String,
        operation: String,
        role: TLSContext.Role,
        verifyResult: Int
    ) -> TLSError {
        switch sslReason {
        case SSL_R_CERTIFICATE_VERIFY_FAILED:
            let text = X509_verify_cert_error_string(verifyResult).map { String(cString: $0) } ?? reasonText
            let failure = TLSVerificationFailure(code: verifyResult, text: text)
            return TLSError(
                kind: .certificateVerificationFailed(failure),
                operation: operation,
                reason: failure.description,
                hint: failure.hint
            )
        case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
            return TLSError(
                kind: .peerCertificateMissing,
                operation: operation,
                reason: reasonText,
                hint: "this server requires a client certificate signed by a CA it trusts"
            )
        case SSL_R_HTTP_REQUEST, SSL_R_HTTPS_PROXY_REQUEST:
            return TLSError(
                kind: .notTLS,
                operation: operation,
                reason: "the client sent a plain HTTP request to a TLS port",
                hint: "use https:// for this port"
            )
        case SSL_R_WRONG_VERSION_NUMBER, SSL_R_PACKET_LENGTH_TOO_LONG, SSL_R_RECORD_LENGTH_MISMATCH:
            return TLSError(
                kind: .notTLS,
                operation: operation,
                reason: "the bytes received are not a TLS record (\(reasonText))",
                hint: role == .client
                    ? "the server speaks plain text or another protocol on this port; check the port and scheme"
                    : "the client speaks plain text or another protocol; TLS clients only on this port"
            )
        case SSL_R_UNSUPPORTED_PROTOCOL, SSL_R_NO_PROTOCOLS_AVAILABLE, SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
            return TLSError(
                kind: sslReason == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION ? .rejectedByPeer : .protocolFailure,
                operation: operation,
                reason: reasonText,
                hint: "no TLS version in common; check minimumVersion and maximumVersion on both sides"
            )
        case SSL_R_NO_SHARED_CIPHER:
            return TLSError(
                kind: .protocolFailure,
                operation: operation,
                reason: reasonText,
                hint: "no cipher in common; check the ciphers and tls13CipherSuites lists on both sides"
            )
        case let reason? where reason >= SSL_AD_REASON_OFFSET:
            return TLSError(
                kind: .rejectedByPeer,
                operation: operation,
                reason: reasonText,
                hint: alertHint(reason)
            )
        default:
            return TLSError(kind: .protocolFailure, operation: operation, reason: reasonText)
        }
    }

    /// What to do about an alert the peer sent.
    private static func alertHint(_ reason: CInt) -> String? {
        switch reason {
        case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
            return "the peer does not trust the CA that issued our certificate; give the peer that CA (curl "
                + "--cacert) or use a certificate from a CA it trusts"
        case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
            return "the peer says our certificate has expired; renew it"
        case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
            return "the peer rejected our certificate (wrong host name, or unusable); check what it expects"
        case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
            return "the server requires a client certificate; pass certificateChain and privateKey to "
                + "TLSContext.client"
        default:
            return nil
        }
    }
}
