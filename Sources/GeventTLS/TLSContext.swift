import CGeventOpenSSL
import COpenSSL
import Gevent

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// TLS settings shared by many connections: our certificate and key, whom we trust, versions, ALPN, ciphers.
///
/// ```swift
/// let server = try TLSContext.server(certificateChain: .file("cert.pem"), privateKey: .file("key.pem"))
/// let client = try TLSContext.client(trustRoots: .certificates(.file("ca.pem")))
/// ```
///
/// A context wraps an OpenSSL `SSL_CTX`, configured completely when it is made and never changed afterwards,
/// so one context can serve any number of connections on any number of threads. ``wrap(_:serverHostName:)``
/// turns a connected ``Socket`` into a ``TLSSocket``; ``createTLSConnection(host:port:context:timeout:)``
/// connects and wraps in one call. Python's `ssl.SSLContext`, which gevent's `SSLSocket` takes.
///
/// Making a context never switches greenlets (a certificate file is read with a plain blocking read, once);
/// any thread may make, share and use one.
public final class TLSContext {
    /// Which side of a connection a context is for.
    public enum Role: Sendable {
        /// Connects and verifies the server (`SSL_connect`).
        case client
        /// Accepts and presents a certificate (`SSL_accept`).
        case server
    }

    /// Which side of the connection this context is for.
    public let role: Role
    /// `true` when the peer's certificate must verify against the trust roots (clients by default; servers
    /// with ``TLSClientVerification/required(_:)``).
    public let verifiesPeer: Bool
    /// `true` when a client checks that the server's certificate is for the name it connected to.
    public let verifiesHostName: Bool
    /// The ALPN protocols offered (client) or accepted in order of preference (server), e.g. `["h2",
    /// "http/1.1"]`; empty without ALPN.
    public let alpnProtocols: [String]
    let context: OpaquePointer
    /// The ALPN list in wire format; the server's selection callback points into it for the context's life.
    private let alpnWire: UnsafeMutableBufferPointer<UInt8>?

    /// A context for a TLS server.
    ///
    /// Never switches; any thread.
    ///
    /// - Parameters:
    ///   - certificateChain: the server's certificate, followed by the intermediate certificates to send
    ///     with it (PEM, leaf first; `fullchain.pem` from Let's Encrypt).
    ///   - privateKey: the certificate's private key (PEM, unencrypted: RSA, EC or Ed25519).
    ///   - clientVerification: whether clients must present a certificate (``TLSClientVerification/none``
    ///     by default).
    ///   - minimumVersion: the oldest version accepted; TLS 1.2 by default.
    ///   - maximumVersion: the newest version offered; `nil` for the newest OpenSSL supports (TLS 1.3).
    ///   - alpnProtocols: the application protocols this server speaks, in order of preference; a client
    ///     offering none of them is served without ALPN.
    ///   - ciphers: an OpenSSL cipher list for TLS 1.2 (`"ECDHE+AESGCM"`); `nil` for OpenSSL's default.
    ///   - tls13CipherSuites: the TLS 1.3 suites (`"TLS_AES_128_GCM_SHA256"`); `nil` for OpenSSL's default.
    /// - Returns: the context.
    /// - Throws: ``TLSError`` with ``TLSError/Kind/configuration``: a file that cannot be read, no
    ///   certificate or key in it, a key that does not match the certificate, a version range, cipher list or
    ///   ALPN name OpenSSL refuses.
    public static func server(
        certificateChain: TLSPEMSource,
        privateKey: TLSPEMSource,
        clientVerification: TLSClientVerification = .none,
        minimumVersion: TLSVersion = .tls12,
        maximumVersion: TLSVersion? = nil,
        alpnProtocols: [String] = [],
        ciphers: String? = nil,
        tls13CipherSuites: String? = nil
    ) throws -> TLSContext {
        let verification: (roots: TLSTrustRoots, required: Bool)?
        switch clientVerification {
        case .none: verification = nil
        case .optional(let roots): verification = (roots, false)
        case .required(let roots): verification = (roots, true)
        }
        return try TLSContext(
            role: .server,
            identity: (certificateChain, privateKey),
            verification: verification,
            verifiesHostName: false,
            versions: (minimumVersion, maximumVersion),
            alpnProtocols: alpnProtocols,
            ciphers: (ciphers, tls13CipherSuites)
        )
    }

    /// A context for a TLS client.
    ///
    /// By default the server's certificate must verify against the system's trust store and be for the
    /// host name given to ``wrap(_:serverHostName:)`` (which is also sent as SNI). Never switches; any thread.
    ///
    /// - Parameters:
    ///   - trustRoots: the CAs to trust: ``TLSTrustRoots/system`` (default) or a PEM file of CAs.
    ///   - verifyPeer: `false` accepts any certificate (for tests against self-signed servers only: anyone
    ///     on the path can then read and change the traffic).
    ///   - verifyHostName: `false` accepts a valid certificate for any name; needs `verifyPeer`.
    ///   - certificateChain: a client certificate for servers that ask for one (mutual TLS); with
    ///     `privateKey`.
    ///   - privateKey: the client certificate's key.
    ///   - minimumVersion: the oldest version accepted; TLS 1.2 by default.
    ///   - maximumVersion: the newest version offered; `nil` for TLS 1.3.
    ///   - alpnProtocols: the application protocols to offer, in order of preference.
    ///   - ciphers: an OpenSSL cipher list for TLS 1.2; `nil` for OpenSSL's default.
    ///   - tls13CipherSuites: the TLS 1.3 suites; `nil` for OpenSSL's default.
    /// - Returns: the context.
    /// - Throws: ``TLSError`` with ``TLSError/Kind/configuration``, as for ``server(certificateChain:privateKey:clientVerification:minimumVersion:maximumVersion:alpnProtocols:ciphers:tls13CipherSuites:)``,
    ///   and for `verifyHostName` without `verifyPeer` or a certificate without a key.
    public static func client(
        trustRoots: TLSTrustRoots = .system,
        verifyPeer: Bool = true,
        verifyHostName: Bool = true,
        certificateChain: TLSPEMSource? = nil,
        privateKey: TLSPEMSource? = nil,
        minimumVersion: TLSVersion = .tls12,
        maximumVersion: TLSVersion? = nil,
        alpnProtocols: [String] = [],
        ciphers: String? = nil,
        tls13CipherSuites: String? = nil
    ) throws -> TLSContext {
        guard !verifyHostName || verifyPeer else {
            throw TLSError(
                kind: .configuration,
                operation: "make a TLS client context",
                reason: "verifyHostName needs verifyPeer",
                hint: "pass verifyHostName: false as well, or keep verifyPeer: true"
            )
        }
        var identity: (TLSPEMSource, TLSPEMSource)?
        switch (certificateChain, privateKey) {
        case (nil, nil):
            identity = nil
        case (let chain?, let key?):
            identity = (chain, key)
        default:
            throw TLSError(
                kind: .configuration,
                operation: "make a TLS client context",
                reason: "a client certificate needs its private key, and a key its certificate",
                hint: "pass both certificateChain and privateKey, or neither"
            )
        }
        return try TLSContext(
            role: .client,
            identity: identity,
            verification: verifyPeer ? (trustRoots, true) : nil,
            verifiesHostName: verifyHostName,
            versions: (minimumVersion, maximumVersion),
            alpnProtocols: alpnProtocols,
            ciphers: (ciphers, tls13CipherSuites)
        )
    }

    private init(
        role: Role,
        identity: (chain: TLSPEMSource, key: TLSPEMSource)?,
        verification: (roots: TLSTrustRoots, required: Bool)?,
        verifiesHostName: Bool,
        versions: (minimum: TLSVersion, maximum: TLSVersion?),
        alpnProtocols: [String],
        ciphers: (tls12: String?, tls13: String?)
    ) throws {
        let alpnWire = try TLSContext.alpnWireFormat(alpnProtocols)
        OpenSSLErrorQueue.clear()
        let method = role == .server ? TLS_server_method() : TLS_client_method()
        guard let context = SSL_CTX_new(method) else {
            alpnWire?.deallocate()
            throw TLSError(
                kind: .configuration,
                operation: "make a TLS context",
                reason: OpenSSLErrorQueue.drainText(fallback: "SSL_CTX_new failed")
            )
        }
        self.context = context
        self.alpnWire = alpnWire
        self.role = role
        self.verifiesPeer = verification?.required ?? false
        self.verifiesHostName = verifiesHostName
        self.alpnProtocols = alpnProtocols
        // A throw from here on runs deinit, which frees the context and the ALPN list.
        try configure(identity: identity, verification: verification, versions: versions, ciphers: ciphers)
    }

    deinit {
        SSL_CTX_free(context)
        alpnWire?.deallocate()
    }

    private func configure(
        identity: (chain: TLSPEMSource, key: TLSPEMSource)?,
        verification: (roots: TLSTrustRoots, required: Bool)?,
        versions: (minimum: TLSVersion, maximum: TLSVersion?),
        ciphers: (tls12: String?, tls13: String?)
    ) throws {
        gevent_tls_ctx_set_defaults(context)
        try configureVersions(versions)
        if let tls12 = ciphers.tls12, SSL_CTX_set_cipher_list(context, tls12) != 1 {
            throw configurationError(
                "set the TLS 1.2 cipher list \"\(tls12)\"",
                hint: "use names from `openssl ciphers -v`, for example \"ECDHE+AESGCM\""
            )
        }
        if let tls13 = ciphers.tls13, SSL_CTX_set_ciphersuites(context, tls13) != 1 {
            throw configurationError(
                "set the TLS 1.3 cipher suites \"\(tls13)\"",
                hint: "use names like \"TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256\""
            )
        }
        if let identity {
            try loadCertificateChain(identity.chain)
            try loadPrivateKey(identity.key, certificate: identity.chain)
        }
        if let verification {
            try loadTrustRoots(verification.roots)
            var mode = SSL_VERIFY_PEER
            if role == .server && verification.required {
                mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT
            }
            SSL_CTX_set_verify(context, mode, nil)
        } else {
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        }
        if let alpnWire {
            switch role {
            case .client:
                // Unlike most of OpenSSL, 0 means success here.
                if SSL_CTX_set_alpn_protos(context, alpnWire.baseAddress, CUnsignedInt(alpnWire.count)) != 0 {
                    throw configurationError("set the ALPN protocols \(alpnProtocols)")
                }
            case .server:
                gevent_tls_ctx_set_alpn_server(context, alpnWire.baseAddress, CUnsignedInt(alpnWire.count))
            }
        }
    }

    private func configureVersions(_ versions: (minimum: TLSVersion, maximum: TLSVersion?)) throws {
        if let maximum = versions.maximum, maximum < versions.minimum {
            throw TLSError(
                kind: .configuration,
                operation: "set the TLS versions",
                reason: "maximumVersion \(maximum) is older than minimumVersion \(versions.minimum)",
                hint: "raise maximumVersion or lower minimumVersion"
            )
        }
        if gevent_tls_ctx_set_min_proto_version(context, versions.minimum.openSSLValue) != 1 {
            throw configurationError("set the minimum TLS version \(versions.minimum)")
        }
        if let maximum = versions.maximum, gevent_tls_ctx_set_max_proto_version(context, maximum.openSSLValue) != 1 {
            throw configurationError("set the maximum TLS version \(maximum)")
        }
    }

    private func loadCertificateChain(_ source: TLSPEMSource) throws {
        let operation = "load the certificate chain from \(source.name)"
        let certificates = try TLSContext.readCertificates(source, operation: operation)
        defer { for certificate in certificates { X509_free(certificate) } }
        OpenSSLErrorQueue.clear()
        if SSL_CTX_use_certificate(context, certificates[0]) != 1 {
            throw configurationError(operation)
        }
        for intermediate in certificates.dropFirst() where gevent_tls_ctx_add1_chain_cert(context, intermediate) != 1 {
            throw configurationError(operation)
        }
    }

    private func loadPrivateKey(_ source: TLSPEMSource, certificate: TLSPEMSource) throws {
        let operation = "load the private key from \(source.name)"
        let bytes = try TLSContext.readPEM(source, operation: operation)
        OpenSSLErrorQueue.clear()
        let key = bytes.withUnsafeBytes { raw -> OpaquePointer? in
            let bio = BIO_new_mem_buf(raw.baseAddress, CInt(raw.count))
            defer { BIO_free(bio) }
            // A callback that gives no passphrase: OpenSSL's default would prompt on the terminal.
            return PEM_read_bio_PrivateKey(bio, nil, { _, _, _, _ in 0 }, nil)
        }
        guard let key else {
            let reason = OpenSSLErrorQueue.drainText(fallback: "no private key")
            throw TLSError(
                kind: .configuration,
                operation: operation,
                reason: reason,
                hint: "expected an unencrypted PEM key (-----BEGIN PRIVATE KEY-----); decrypt an encrypted one "
                    + "with `openssl pkey -in KEY -out KEY.plain`"
            )
        }
        defer { EVP_PKEY_free(key) }
        let mismatch = TLSError(
            kind: .configuration,
            operation: operation,
            reason: "the private key does not match the certificate in \(certificate.name)",
            hint: "pass the key that was generated together with that certificate"
        )
        if SSL_CTX_use_PrivateKey(context, key) != 1 {
            let entries = OpenSSLErrorQueue.drain()
            if entries.contains(where: { $0.library == ERR_LIB_X509 && $0.reason == X509_R_KEY_VALUES_MISMATCH }) {
                throw mismatch
            }
            throw TLSError(
                kind: .configuration,
                operation: operation,
                reason: entries.isEmpty ? "SSL_CTX_use_PrivateKey failed" : entries.map(\.text).joined(separator: "; ")
            )
        }
        if SSL_CTX_check_private_key(context) != 1 {
            OpenSSLErrorQueue.clear()
            throw mismatch
        }
    }

    private func loadTrustRoots(_ roots: TLSTrustRoots) throws {
        switch roots {
        case .system:
            OpenSSLErrorQueue.clear()
            if SSL_CTX_set_default_verify_paths(context) != 1 {
                throw configurationError(
                    "load the system's trust store",
                    hint: "install Debian's ca-certificates package"
                )
            }
        case .certificates(let source):
            let operation = "load the trusted CA certificates from \(source.name)"
            let certificates = try TLSContext.readCertificates(source, operation: operation)
            defer { for certificate in certificates { X509_free(certificate) } }
            let store = SSL_CTX_get_cert_store(context)
            for certificate in certificates where X509_STORE_add_cert(store, certificate) != 1 {
                throw configurationError(operation)
            }
        }
    }

    private func configurationError(_ operation: String, hint: String? = nil) -> TLSError {
        TLSError(
            kind: .configuration,
            operation: operation,
            reason: OpenSSLErrorQueue.drainText(fallback: "OpenSSL refused it"),
            hint: hint
        )
    }

    // MARK: - Reading PEM

    /// Every certificate in `source`, leaf first; at least one. The caller frees them.
    private static func readCertificates(_ source: TLSPEMSource, operation: String) throws -> [OpaquePointer] {
        let bytes = try readPEM(source, operation: operation)
        OpenSSLErrorQueue.clear()
        var certificates: [OpaquePointer] = []
        bytes.withUnsafeBytes { raw in
            let bio = BIO_new_mem_buf(raw.baseAddress, CInt(raw.count))
            defer { BIO_free(bio) }
            while let certificate = PEM_read_bio_X509(bio, nil, nil, nil) {
                certificates.append(certificate)
            }
        }
        // Reading stops with a "no start line" error at the end of the text; anything else is a damaged block.
        let entries = OpenSSLErrorQueue.drain().filter {
            !($0.library == ERR_LIB_PEM && $0.reason == PEM_R_NO_START_LINE)
        }
        if !entries.isEmpty || certificates.isEmpty {
            for certificate in certificates { X509_free(certificate) }
            throw TLSError(
                kind: .configuration,
                operation: operation,
                reason: entries.isEmpty ? "no certificate found" : entries.map(\.text).joined(separator: "; "),
                hint: "expected PEM certificates (-----BEGIN CERTIFICATE-----)"
            )
        }
        return certificates
    }

    /// The bytes of `source`: read from its file, or as given.
    private static func readPEM(_ source: TLSPEMSource, operation: String) throws -> [UInt8] {
        switch source {
        case .memory(let bytes):
            return bytes
        case .file(let path):
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                let code = Errno(rawValue: errno)
                throw TLSError(
                    kind: .configuration,
                    operation: operation,
                    reason: "cannot open the file: \(code)",
                    hint: "check the path and that this user may read it"
                )
            }
            defer { close(fd) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 16384)
            while true {
                let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count == 0 { return bytes }
                if count < 0 {
                    if errno == EINTR { continue }
                    throw TLSError(
                        kind: .configuration,
                        operation: operation,
                        reason: "cannot read the file: \(Errno(rawValue: errno))"
                    )
                }
                bytes += chunk[..<count]
            }
        }
    }

    /// `["h2", "http/1.1"]` as `\x02h2\x08http/1.1`; `nil` for no protocols.
    private static func alpnWireFormat(_ protocols: [String]) throws -> UnsafeMutableBufferPointer<UInt8>? {
        guard !protocols.isEmpty else { return nil }
        var wire: [UInt8] = []
        for name in protocols {
            let bytes = Array(name.utf8)
            guard (1...255).contains(bytes.count) else {
                throw TLSError(
                    kind: .configuration,
                    operation: "set the ALPN protocols \(protocols)",
                    reason: "\"\(name)\" is \(bytes.count) bytes long",
                    hint: "an ALPN protocol name is 1 to 255 bytes, for example \"http/1.1\""
                )
            }
            wire.append(UInt8(bytes.count))
            wire += bytes
        }
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: wire.count)
        _ = buffer.initialize(from: wire)
        return buffer
    }

    // MARK: - Wrapping

    /// Wraps a connected socket in TLS with this context's settings; the handshake happens on
    /// ``TLSSocket/handshake(timeout:)`` or the first read or write.
    ///
    /// The ``TLSSocket`` owns `socket` from now on: use it only through the TLS socket. gevent's
    /// `SSLContext.wrap_socket(sock, server_side=..., server_hostname=...)`, with the side taken from
    /// ``role``. Never switches; hub thread of `socket`.
    ///
    /// - Parameters:
    ///   - socket: a connected stream socket (from ``Socket/connect(to:)`` or ``Socket/accept()``).
    ///   - serverHostName: for clients, the name the server's certificate must be for, also sent as SNI
    ///     (an IP address is checked against the certificate's IP addresses and not sent); ignored by servers.
    /// - Returns: the TLS socket, before its handshake.
    /// - Throws: ``TLSError`` with ``TLSError/Kind/configuration`` for a client that verifies host names and
    ///   got no `serverHostName`, or when OpenSSL runs out of memory.
    public func wrap(_ socket: Socket, serverHostName: String? = nil) throws -> TLSSocket {
        try TLSSocket(socket: socket, context: self, serverHostName: role == .client ? serverHostName : nil)
    }
}

// The SSL_CTX is configured completely in the initialiser and never changed afterwards; OpenSSL's SSL_new and
// the context's reference count are thread-safe for such a context. The ALPN buffer is immutable after init.
extension TLSContext: @unchecked Sendable {}
