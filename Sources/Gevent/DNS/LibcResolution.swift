import CCares

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// libc's resolver functions, wrapped into Swift values: what ``ThreadResolver`` runs on native threads and
/// ``BlockingResolver`` runs in place. Every function is thread-safe (the `_r` variants) and returns a
/// `Result` so it can cross threads. Never switches; any thread; blocks the calling thread while libc
/// resolves.
enum LibcResolution {
    static func getaddrinfo(
        host: String?,
        service: String?,
        family: AddressFamily,
        type: SocketType?,
        protocol: CInt,
        flags: AddressInfoFlags
    ) -> Result<[AddressInfo], ResolverError> {
        var hints = addrinfo()
        hints.ai_flags = flags.rawValue
        hints.ai_family = family.rawValue
        hints.ai_socktype = type?.rawValue ?? 0
        hints.ai_protocol = `protocol`
        var list: UnsafeMutablePointer<addrinfo>?
        let status = Glibc.getaddrinfo(host, service, &hints, &list)
        let savedErrno = errno
        guard status == 0 else {
            return .failure(
                ResolverError(
                    code: ResolverError.Code(rawValue: status),
                    operation: "getaddrinfo",
                    name: host ?? service ?? "",
                    systemErrno: status == EAI_SYSTEM ? Errno(rawValue: savedErrno) : nil
                )
            )
        }
        defer { freeaddrinfo(list) }
        return .success(addressInfos(from: list))
    }

    /// Converts libc's (or c-ares's identically shaped) answer list.
    static func addressInfos(from list: UnsafeMutablePointer<addrinfo>?) -> [AddressInfo] {
        var answers: [AddressInfo] = []
        var node = list
        while let entry = node?.pointee {
            node = entry.ai_next
            guard let family = AddressFamily(rawValue: entry.ai_family), let raw = entry.ai_addr,
                let address = SocketAddress(UnsafeRawPointer(raw), length: entry.ai_addrlen)
            else { continue }
            answers.append(
                AddressInfo(
                    family: family,
                    type: SocketType(rawValue: entry.ai_socktype),
                    protocolNumber: entry.ai_protocol,
                    canonicalName: entry.ai_canonname.map { String(cString: $0) },
                    address: address
                )
            )
        }
        return answers
    }

    static func gethostbyname(_ name: String) -> Result<String, ResolverError> {
        switch getaddrinfo(host: name, service: nil, family: .inet, type: .stream, protocol: 0, flags: []) {
        case .success(let answers):
            guard let host = answers.first?.address.host else {
                return .failure(ResolverError(code: .noData, operation: "gethostbyname", name: name))
            }
            return .success(host)
        case .failure(let error):
            return .failure(
                ResolverError(code: error.code, operation: "gethostbyname", name: name, message: error.message)
            )
        }
    }

    static func gethostbynameEx(_ name: String) -> Result<HostEntry, ResolverError> {
        withHostBuffer(operation: "gethostbyname", name: name) { entry, buffer, length, result, hostErrno in
            gethostbyname_r(name, entry, buffer, length, result, hostErrno)
        }
    }

    static func gethostbyaddr(_ text: String) -> Result<HostEntry, ResolverError> {
        var storage = in6_addr()
        var family = AF_INET6
        var length = MemoryLayout<in6_addr>.size
        if inet_pton(AF_INET, text, &storage) == 1 {
            family = AF_INET
            length = MemoryLayout<in_addr>.size
        } else if inet_pton(AF_INET6, text, &storage) != 1 {
            // A name: resolve it first, as gevent does, then look up the address's names.
            switch getaddrinfo(host: text, service: nil, family: .unspecified, type: .stream, protocol: 0, flags: []) {
            case .success(let answers):
                guard let host = answers.first?.address.host else {
                    return .failure(ResolverError(code: .noData, operation: "gethostbyaddr", name: text))
                }
                return gethostbyaddr(host)
            case .failure(let error):
                return .failure(
                    ResolverError(code: error.code, operation: "gethostbyaddr", name: text, message: error.message)
                )
            }
        }
        let addressLength = socklen_t(length)
        return withHostBuffer(operation: "gethostbyaddr", name: text) { entry, buffer, size, result, hostErrno in
            gethostbyaddr_r(&storage, addressLength, family, entry, buffer, size, result, hostErrno)
        }
    }

    static func getnameinfo(
        _ address: SocketAddress,
        flags: NameInfoFlags
    ) -> Result<
        (host: String, service: String), ResolverError
    > {
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        let status = address.withSockaddr { pointer, length in
            Glibc.getnameinfo(
                pointer,
                length,
                &host,
                socklen_t(host.count),
                &service,
                socklen_t(service.count),
                flags.rawValue
            )
        }
        let savedErrno = errno
        guard status == 0 else {
            return .failure(
                ResolverError(
                    code: ResolverError.Code(rawValue: status),
                    operation: "getnameinfo",
                    name: address.description,
                    systemErrno: status == EAI_SYSTEM ? Errno(rawValue: savedErrno) : nil
                )
            )
        }
        return .success((string(host), string(service)))
    }

    /// Runs a `gethostby*_r` call with a buffer that grows on `ERANGE`.
    private static func withHostBuffer(
        operation: String,
        name: String,
        _ call: (
            UnsafeMutablePointer<hostent>, UnsafeMutablePointer<CChar>, Int,
            UnsafeMutablePointer<UnsafeMutablePointer<hostent>?>, UnsafeMutablePointer<CInt>
        ) -> CInt
    ) -> Result<HostEntry, ResolverError> {
        var size = 1024
        while true {
            var entry = hostent()
            var result: UnsafeMutablePointer<hostent>?
            var hostErrno: CInt = 0
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: size)
            defer { buffer.deallocate() }
            let status = call(&entry, buffer, size, &result, &hostErrno)
            if status == ERANGE && size < 1 << 20 {
                size *= 4
                continue
            }
            guard status == 0, let found = result?.pointee else {
                return .failure(ResolverError(code: code(forHostErrno: hostErrno), operation: operation, name: name))
            }
            return .success(hostEntry(found))
        }
    }

    /// Maps `h_errno` values onto the `EAI_*` codes every resolver reports.
    static func code(forHostErrno hostErrno: CInt) -> ResolverError.Code {
        switch hostErrno {
        case HOST_NOT_FOUND: return .nameNotFound
        case TRY_AGAIN: return .temporaryFailure
        case NO_RECOVERY: return .permanentFailure
        case NO_DATA: return .noData
        default: return .nameNotFound
        }
    }

    /// Converts a `hostent` (libc's or c-ares's).
    static func hostEntry(_ entry: hostent) -> HostEntry {
        let name = entry.h_name.map { String(cString: $0) } ?? ""
        var aliases: [String] = []
        if var alias = entry.h_aliases {
            while let text = alias.pointee {
                aliases.append(String(cString: text))
                alias += 1
            }
        }
        var addresses: [String] = []
        if var address = entry.h_addr_list {
            let capacity = Int(INET6_ADDRSTRLEN)
            while let bytes = address.pointee {
                var text = [CChar](repeating: 0, count: capacity)
                if inet_ntop(entry.h_addrtype, bytes, &text, socklen_t(capacity)) != nil {
                    addresses.append(string(text))
                }
                address += 1
            }
        }
        return HostEntry(name: name, aliases: aliases, addresses: addresses)
    }

    static func string(_ buffer: [CChar]) -> String {
        buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}
