import CGeventShim

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

// The Swift functions the C interposers (preload/) call, by their C names. The C side has already decided
// that the call may become cooperative and has done the syscalls; these only wait. Each returns a
// GEVENT_SHIM_* code, and GEVENT_SHIM_CANNOT_WAIT whenever no greenlet can wait here (no hub, or the hub
// itself is running), so the interposer falls back to the real blocking call.

/// The hub and the greenlet that would wait, or nil when waiting is impossible.
func waitingGreenlet() -> (Hub, AnyGreenlet)? {
    guard let hub = Hub.currentIfExists, !hub.isInHub,
        let greenlet = try? hub.blockableGreenlet("a blocking libc call")
    else { return nil }
    return (hub, greenlet)
}

/// What an interposed call reports when an error was thrown into its greenlet while it waited: a
/// ``Timeout`` becomes ETIMEDOUT, anything else (a kill) ECANCELED. The error itself goes to the innermost
/// ``Monkey/runUnaware(_:)`` of the greenlet, which rethrows it once the unaware code returns.
private func interrupted(by error: any Error, in greenlet: AnyGreenlet) -> Int32 {
    ShimGreenletStates.recordInterruption(error, in: greenlet)
    return error is Timeout ? Int32(GEVENT_SHIM_TIMEOUT_ERROR) : Int32(GEVENT_SHIM_CANCELLED)
}

@_cdecl("gevent_shim_hub_context")
func shimHubContext(_ hub: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    guard let hub else { return nil }
    let object = Unmanaged<Hub>.fromOpaque(hub).takeUnretainedValue()
    return object.hubGreenlet.map { UnsafeMutableRawPointer($0.context) }
}

@_cdecl("gevent_shim_wait_fds")
func shimWaitFDs(_ items: UnsafePointer<gevent_shim_wait_item>?, _ count: Int32, _ timeoutNanoseconds: Int64) -> Int32 {
    guard let (_, greenlet) = waitingGreenlet() else { return Int32(GEVENT_SHIM_CANNOT_WAIT) }
    let interests = UnsafeBufferPointer(start: items, count: items == nil ? 0 : Int(count))
    let outcome: DescriptorWait.Outcome
    do {
        outcome = try DescriptorWait.wait(
            for: interests,
            checkGenerations: true,
            timeout: timeoutNanoseconds >= 0 ? .nanoseconds(timeoutNanoseconds) : nil,
            operation: "a blocking libc call (fd)",
            interruptibleBySignals: true
        )
    } catch {
        return interrupted(by: error, in: greenlet)
    }
    switch outcome {
    case .ready: return Int32(GEVENT_SHIM_READY)
    case .timedOut: return Int32(GEVENT_SHIM_TIMED_OUT)
    case .closed: return Int32(GEVENT_SHIM_CLOSED)
    case .interrupted: return Int32(GEVENT_SHIM_INTERRUPTED)
    }
}

@_cdecl("gevent_shim_sleep")
func shimSleep(_ nanoseconds: Int64) -> Int32 {
    guard let (_, greenlet) = waitingGreenlet() else { return Int32(GEVENT_SHIM_CANNOT_WAIT) }
    do {
        try sleep(.nanoseconds(nanoseconds))
    } catch {
        return interrupted(by: error, in: greenlet)
    }
    return Int32(GEVENT_SHIM_READY)
}

/// Runs a C function on the hub's ``ThreadPool`` while the calling greenlet waits (the DNS area's
/// lookups): GEVENT_SHIM_READY once it ran; GEVENT_SHIM_CANCELLED or GEVENT_SHIM_TIMEOUT_ERROR when an error
/// was thrown into the greenlet before a pool thread took the call, which then never runs.
@_cdecl("gevent_shim_offload")
func shimOffload(
    _ function: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?,
    _ argument: UnsafeMutableRawPointer?
) -> Int32 {
    guard let function, let (hub, greenlet) = waitingGreenlet() else { return Int32(GEVENT_SHIM_CANNOT_WAIT) }
    let call = UnsafeTransfer(value: argument)
    let result: AsyncResult<Void>
    do {
        result = try hub.threadPool.spawn { function(call.value) }
    } catch {
        return interrupted(by: error, in: greenlet)
    }
    // The pool thread writes into the caller's buffers, so the call cannot end before it does: an
    // interruption is kept for runUnaware and the wait goes on.
    var interruption: (any Error)?
    while !result.isReady {
        do {
            try result.wait()
        } catch {
            interruption = interruption ?? error
        }
    }
    if let interruption {
        ShimGreenletStates.recordInterruption(interruption, in: greenlet)
    }
    return Int32(GEVENT_SHIM_READY)
}

@_cdecl("gevent_shim_fd_closing")
func shimFDClosing(_ fd: Int32) {
    DescriptorWait.closing(fd)
}

@_cdecl("gevent_shim_greenlet_buffer")
func shimGreenletBuffer(_ size: Int) -> UnsafeMutableRawPointer? {
    guard let hub = Hub.currentIfExists else { return nil }
    return ShimGreenletStates.buffer(size, for: hub.currentGreenlet)
}

// MARK: - Lookups through the hub's c-ares resolver (resolver `ares`)

/// Whether an interposed lookup can go to the hub's c-ares resolver, and the greenlet that would wait.
private enum AresLookup {
    case cannotWait
    case notAres
    case ready(AresResolver, AnyGreenlet)

    init() {
        guard let (hub, greenlet) = waitingGreenlet() else {
            self = .cannotWait
            return
        }
        guard let resolver = hub.resolver as? AresResolver else {
            self = .notAres
            return
        }
        self = .ready(resolver, greenlet)
    }
}

/// A failed c-ares lookup as libc reports it: its `EAI_*` code, and errno for `EAI_SYSTEM`.
private func answerFailure(_ error: ResolverError, status: UnsafeMutablePointer<CInt>) -> Int32 {
    status.pointee = error.code.rawValue
    if let systemErrno = error.systemErrno {
        errno = systemErrno.rawValue
    }
    return Int32(GEVENT_SHIM_READY)
}

/// The `AI_*` flags c-ares implements as glibc does; others (AI_IDN...) take the thread path.
private let aresAddressInfoFlags =
    AI_PASSIVE | AI_CANONNAME | AI_NUMERICHOST | AI_NUMERICSERV | AI_V4MAPPED
    | AI_ALL | AI_ADDRCONFIG

/// An interposed `getaddrinfo` answered by the hub's ``AresResolver``, the list built as glibc builds it (one
/// allocation per node holding its address, the canonical name apart) so that glibc's `freeaddrinfo`
/// frees it. The C side has already answered what needs no lookup.
@_cdecl("gevent_shim_ares_getaddrinfo")
func shimAresGetaddrinfo(
    _ node: UnsafePointer<CChar>?,
    _ service: UnsafePointer<CChar>?,
    _ hints: UnsafePointer<addrinfo>?,
    _ result: UnsafeMutablePointer<UnsafeMutablePointer<addrinfo>?>?,
    _ status: UnsafeMutablePointer<CInt>?
) -> Int32 {
    let lookup = AresLookup()
    if case .cannotWait = lookup { return Int32(GEVENT_SHIM_CANNOT_WAIT) }
    let flags = hints?.pointee.ai_flags ?? (AI_V4MAPPED | AI_ADDRCONFIG)
    let socketType = hints?.pointee.ai_socktype ?? 0
    guard case .ready(let resolver, let greenlet) = lookup, let result, let status, flags & ~aresAddressInfoFlags == 0,
        let family = AddressFamily(rawValue: hints?.pointee.ai_family ?? AF_UNSPEC), family != .unix,
        [0, CInt(SOCK_STREAM.rawValue), CInt(SOCK_DGRAM.rawValue), CInt(SOCK_RAW.rawValue)].contains(socketType)
    else { return Int32(GEVENT_SHIM_NOT_HANDLED) }
    let answers: [AddressInfo]
    do {
        answers = try resolver.getaddrinfo(
            host: node.map { String(cString: $0) },
            service: service.map { String(cString: $0) },
            family: family,
            type: socketType == 0 ? nil : SocketType(rawValue: socketType),
            protocol: hints?.pointee.ai_protocol ?? 0,
            flags: AddressInfoFlags(rawValue: flags)
        )
    } catch let error as ResolverError {
        return answerFailure(error, status: status)
    } catch {
        return interrupted(by: error, in: greenlet)
    }
    guard !answers.isEmpty else {
        status.pointee = EAI_NONAME
        return Int32(GEVENT_SHIM_READY)
    }
    guard let list = glibcAddressInfoList(answers, flags: flags) else {
        status.pointee = EAI_MEMORY
        return Int32(GEVENT_SHIM_READY)
    }
    result.pointee = list
    status.pointee = 0
    return Int32(GEVENT_SHIM_READY)
}

/// `answers` as glibc lays them out, or nil (nothing left allocated) when memory runs out.
private func glibcAddressInfoList(_ answers: [AddressInfo], flags: CInt) -> UnsafeMutablePointer<addrinfo>? {
    var head: UnsafeMutablePointer<addrinfo>?
    var tail: UnsafeMutablePointer<addrinfo>?
    for answer in answers {
        let node: UnsafeMutablePointer<addrinfo>? = answer.address.withSockaddr { address, length in
            let headerSize = MemoryLayout<addrinfo>.stride
            guard let raw = malloc(headerSize + Int(length)) else { return nil }
            let addressCopy = (raw + headerSize).bindMemory(to: sockaddr.self, capacity: 1)
            UnsafeMutableRawPointer(addressCopy).copyMemory(from: address, byteCount: Int(length))
            var canonical: UnsafeMutablePointer<CChar>?
            if let name = answer.canonicalName {
                canonical = strdup(name)
                guard canonical != nil else {
                    free(raw)
                    return nil
                }
            }
            let node = raw.bindMemory(to: addrinfo.self, capacity: 1)
            node.initialize(
                to: addrinfo(
                    ai_flags: flags,
                    ai_family: answer.family.rawValue,
                    ai_socktype: answer.type?.rawValue ?? 0,
                    ai_protocol: answer.protocolNumber,
                    ai_addrlen: length,
                    ai_addr: addressCopy,
                    ai_canonname: canonical,
                    ai_next: nil
                )
            )
            return node
        }
        guard let node else {
            freeaddrinfo(head)
            return nil
        }
        if let tail {
            tail.pointee.ai_next = node
        } else {
            head = node
        }
        tail = node
    }
    return head
}

/// The `NI_*` flags c-ares implements as glibc does.
private let aresNameInfoFlags = NI_NUMERICHOST | NI_NUMERICSERV | NI_NAMEREQD | NI_NOFQDN | NI_DGRAM

/// An interposed `getnameinfo` that looks a host name up, answered by the hub's ``AresResolver`` into the
/// caller's buffers (EAI_OVERFLOW when a name does not fit, as glibc).
@_cdecl("gevent_shim_ares_getnameinfo")
func shimAresGetnameinfo(
    _ address: UnsafePointer<sockaddr>?,
    _ addressLength: socklen_t,
    _ host: UnsafeMutablePointer<CChar>?,
    _ hostLength: socklen_t,
    _ service: UnsafeMutablePointer<CChar>?,
    _ serviceLength: socklen_t,
    _ flags: CInt,
    _ status: UnsafeMutablePointer<CInt>?
) -> Int32 {
    let lookup = AresLookup()
    if case .cannotWait = lookup { return Int32(GEVENT_SHIM_CANNOT_WAIT) }
    guard case .ready(let resolver, let greenlet) = lookup, let status, let address, flags & ~aresNameInfoFlags == 0,
        let socketAddress = SocketAddress(UnsafeRawPointer(address), length: addressLength),
        socketAddress.family == .inet || socketAddress.family == .inet6
    else { return Int32(GEVENT_SHIM_NOT_HANDLED) }
    let names: (host: String, service: String)
    do {
        names = try resolver.getnameinfo(socketAddress, flags: NameInfoFlags(rawValue: flags))
    } catch let error as ResolverError {
        return answerFailure(error, status: status)
    } catch {
        return interrupted(by: error, in: greenlet)
    }
    let fits = { (text: String, length: socklen_t) in text.utf8.count < Int(length) }
    guard fits(names.host, hostLength), service == nil || serviceLength == 0 || fits(names.service, serviceLength)
    else {
        status.pointee = EAI_OVERFLOW
        return Int32(GEVENT_SHIM_READY)
    }
    if let host {
        strcpy(host, names.host)
    }
    if let service, serviceLength > 0 {
        strcpy(service, names.service)
    }
    status.pointee = 0
    return Int32(GEVENT_SHIM_READY)
}

/// An interposed `gethostbyname_r`, `gethostbyname2_r` (`name` set) or `gethostbyaddr_r` (`address` set)
/// answered by the hub's ``AresResolver`` into the caller's hostent and buffer, as glibc reports: 0 and a
/// NULL result with `*hostError` HOST_NOT_FOUND, NO_DATA or NO_RECOVERY for a failed lookup, EAGAIN with
/// TRY_AGAIN when no server answered, ERANGE with NETDB_INTERNAL when the buffer is too small.
@_cdecl("gevent_shim_ares_host_query")
func shimAresHostQuery(
    _ name: UnsafePointer<CChar>?,
    _ address: UnsafeRawPointer?,
    _ addressLength: socklen_t,
    _ family: CInt,
    _ storage: UnsafeMutablePointer<hostent>?,
    _ buffer: UnsafeMutablePointer<CChar>?,
    _ bufferLength: Int,
    _ result: UnsafeMutablePointer<UnsafeMutablePointer<hostent>?>?,
    _ hostError: UnsafeMutablePointer<CInt>?,
    _ status: UnsafeMutablePointer<CInt>?
) -> Int32 {
    let lookup = AresLookup()
    if case .cannotWait = lookup { return Int32(GEVENT_SHIM_CANNOT_WAIT) }
    let addressSize = family == AF_INET ? MemoryLayout<in_addr>.size : MemoryLayout<in6_addr>.size
    guard case .ready(let resolver, let greenlet) = lookup, let storage, let buffer, let result, let hostError,
        let status, family == AF_INET || family == AF_INET6,
        name != nil || (address != nil && Int(addressLength) == addressSize)
    else { return Int32(GEVENT_SHIM_NOT_HANDLED) }
    result.pointee = nil
    let entry: HostEntry
    do {
        if let name {
            entry = try resolver.hostEntry(name: String(cString: name), family: family)
        } else {
            entry = try resolver.hostEntry(address: address!, length: addressSize, family: family)
        }
    } catch let error as ResolverError {
        switch error.code {
        case .nameNotFound: hostError.pointee = HOST_NOT_FOUND
        case .noData, .noAddressInFamily: hostError.pointee = NO_DATA
        case .temporaryFailure: hostError.pointee = TRY_AGAIN
        default: hostError.pointee = NO_RECOVERY
        }
        status.pointee = error.code == .temporaryFailure ? EAGAIN : 0
        return Int32(GEVENT_SHIM_READY)
    } catch {
        return interrupted(by: error, in: greenlet)
    }
    let addresses = entry.addresses.compactMap { text -> [UInt8]? in
        var bytes = [UInt8](repeating: 0, count: addressSize)
        return inet_pton(family, text, &bytes) == 1 ? bytes : nil
    }
    guard !addresses.isEmpty else {
        hostError.pointee = NO_DATA
        status.pointee = 0
        return Int32(GEVENT_SHIM_READY)
    }
    guard packHostEntry(entry, addresses, family: family, into: storage, buffer: buffer, length: bufferLength) else {
        hostError.pointee = NETDB_INTERNAL
        status.pointee = ERANGE
        return Int32(GEVENT_SHIM_READY)
    }
    result.pointee = storage
    status.pointee = 0
    return Int32(GEVENT_SHIM_READY)
}

/// Lays `entry` out in the caller's buffer as glibc does (the pointer arrays, then the address bytes, then
/// the names) and points `storage` at it; false when it does not fit.
private func packHostEntry(
    _ entry: HostEntry,
    _ addresses: [[UInt8]],
    family: CInt,
    into storage: UnsafeMutablePointer<hostent>,
    buffer: UnsafeMutablePointer<CChar>,
    length: Int
) -> Bool {
    let pointerSize = MemoryLayout<UnsafeMutablePointer<CChar>?>.stride
    let padding = (pointerSize - Int(bitPattern: buffer) % pointerSize) % pointerSize
    let names = [entry.name] + entry.aliases
    let arrays = (entry.aliases.count + 1 + addresses.count + 1) * pointerSize
    let addressBytes = addresses.reduce(0) { $0 + $1.count }
    let nameBytes = names.reduce(0) { $0 + $1.utf8.count + 1 }
    guard padding + arrays + addressBytes + nameBytes <= length else { return false }
    let base = UnsafeMutableRawPointer(buffer) + padding
    let aliasList = base.bindMemory(to: UnsafeMutablePointer<CChar>?.self, capacity: entry.aliases.count + 1)
    let addressList = (base + (entry.aliases.count + 1) * pointerSize)
        .bindMemory(to: UnsafeMutablePointer<CChar>?.self, capacity: addresses.count + 1)
    var next = base + arrays
    for (index, bytes) in addresses.enumerated() {
        next.copyMemory(from: bytes, byteCount: bytes.count)
        addressList[index] = next.assumingMemoryBound(to: CChar.self)
        next += bytes.count
    }
    addressList[addresses.count] = nil
    var placed: [UnsafeMutablePointer<CChar>] = []
    for text in names {
        let start = next.assumingMemoryBound(to: CChar.self)
        let utf8 = Array(text.utf8)
        next.copyMemory(from: utf8, byteCount: utf8.count)
        next.storeBytes(of: 0, toByteOffset: utf8.count, as: UInt8.self)
        next += utf8.count + 1
        placed.append(start)
    }
    for index in entry.aliases.indices {
        aliasList[index] = placed[index + 1]
    }
    aliasList[entry.aliases.count] = nil
    storage.initialize(
        to: hostent(
            h_name: placed[0],
            h_aliases: aliasList,
            h_addrtype: family,
            h_length: CInt(addresses[0].count),
            h_addr_list: addressList
        )
    )
    return true
}
