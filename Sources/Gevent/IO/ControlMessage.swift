#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// One ancillary-data item of ``Socket/sendMsg(_:ancillary:flags:to:)`` and ``Socket/recvMsg(maxBytes:ancillaryBytes:flags:)``:
/// a level, a type and the bytes (Python's `(cmsg_level, cmsg_type, cmsg_data)` tuples).
///
/// The usual one passes descriptors over a Unix socket: ``fileDescriptors(_:)`` builds it,
/// ``fileDescriptors`` reads it. A value type; never switches; any thread.
public struct ControlMessage: Hashable, Sendable {
    /// The protocol level, `SOL_SOCKET` for descriptor passing and credentials.
    public var level: CInt
    /// The type within the level, `SCM_RIGHTS` for descriptors.
    public var type: CInt
    /// The payload, as the kernel lays it out.
    public var data: [UInt8]

    /// An item with the given level, type and payload. Never switches; any thread.
    public init(level: CInt, type: CInt, data: [UInt8]) {
        self.level = level
        self.type = type
        self.data = data
    }

    /// `SCM_RIGHTS`: hands copies of `descriptors` to the receiving process. Never switches; any thread.
    public static func fileDescriptors(_ descriptors: [FileDescriptor]) -> ControlMessage {
        let numbers = descriptors.map(\.rawValue)
        let bytes = numbers.withUnsafeBytes { Array($0) }
        return ControlMessage(level: SOL_SOCKET, type: CInt(SCM_RIGHTS), data: bytes)
    }

    /// The descriptors of an `SCM_RIGHTS` item (new descriptors of the receiving process, which owns
    /// them), or `nil` for any other item. Never switches; any thread.
    public var fileDescriptors: [FileDescriptor]? {
        guard level == SOL_SOCKET, type == CInt(SCM_RIGHTS) else { return nil }
        let count = data.count / MemoryLayout<CInt>.size
        return data.withUnsafeBytes { raw in
            (0..<count).map {
                FileDescriptor(raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<CInt>.size, as: CInt.self))
            }
        }
    }
}
