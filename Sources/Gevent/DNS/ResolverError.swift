#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// A name could not be resolved: which call, which name, and libc's reason.
///
/// Every resolver reports failures with the same codes (`EAI_*`) and libc's `gai_strerror` text, so code
/// that handles "no such name" works whichever resolver runs: `description` reads
/// `getaddrinfo("nosuch.invalid"): Name or service not known (EAI_NONAME)`. gevent's `socket.gaierror` and
/// `socket.herror`. Any thread may create, read and pass one.
public struct ResolverError: Error, CustomStringConvertible, Sendable {
    /// A resolver failure kind: an `EAI_*` value.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The `EAI_*` value (negative on glibc).
        public let rawValue: CInt

        /// Wraps an `EAI_*` value. Never switches; any thread.
        public init(rawValue: CInt) {
            self.rawValue = rawValue
        }

        /// `EAI_NONAME`: the name does not exist (or, with numeric-only flags, is not a number).
        public static let nameNotFound = Code(rawValue: EAI_NONAME)
        /// `EAI_NODATA`: the name exists but has no address of the family asked for.
        public static let noData = Code(rawValue: -5)
        /// `EAI_ADDRFAMILY`: the host has no address of the family asked for (a numeric IPv4 address with
        /// ``AddressFamily/inet6``, for example).
        public static let noAddressInFamily = Code(rawValue: -9)
        /// `EAI_AGAIN`: the name server did not answer in time or failed temporarily; try again later.
        public static let temporaryFailure = Code(rawValue: EAI_AGAIN)
        /// `EAI_FAIL`: the name server failed permanently.
        public static let permanentFailure = Code(rawValue: EAI_FAIL)
        /// `EAI_FAMILY`: the address family is not supported.
        public static let familyNotSupported = Code(rawValue: EAI_FAMILY)
        /// `EAI_SOCKTYPE`: the socket type is not supported.
        public static let socketTypeNotSupported = Code(rawValue: EAI_SOCKTYPE)
        /// `EAI_SERVICE`: the service (port name) is not known for the socket type.
        public static let serviceNotFound = Code(rawValue: EAI_SERVICE)
        /// `EAI_BADFLAGS`: invalid flags.
        public static let badFlags = Code(rawValue: EAI_BADFLAGS)
        /// `EAI_MEMORY`: out of memory.
        public static let outOfMemory = Code(rawValue: EAI_MEMORY)
        /// `EAI_SYSTEM`: a system error; see ``ResolverError/systemErrno``.
        public static let system = Code(rawValue: EAI_SYSTEM)
        /// `EAI_OVERFLOW`: an answer did not fit its buffer.
        public static let overflow = Code(rawValue: EAI_OVERFLOW)

        /// "EAI_NONAME", or the number for codes without a name here.
        public var description: String {
            switch self {
            case .nameNotFound: return "EAI_NONAME"
            case .noData: return "EAI_NODATA"
            case .noAddressInFamily: return "EAI_ADDRFAMILY"
            case .temporaryFailure: return "EAI_AGAIN"
            case .permanentFailure: return "EAI_FAIL"
            case .familyNotSupported: return "EAI_FAMILY"
            case .socketTypeNotSupported: return "EAI_SOCKTYPE"
            case .serviceNotFound: return "EAI_SERVICE"
            case .badFlags: return "EAI_BADFLAGS"
            case .outOfMemory: return "EAI_MEMORY"
            case .system: return "EAI_SYSTEM"
            case .overflow: return "EAI_OVERFLOW"
            default: return "EAI code \(rawValue)"
            }
        }
    }

    /// What failed.
    public let code: Code
    /// The call: "getaddrinfo", "gethostbyname", "gethostbyaddr", "getnameinfo".
    public let operation: String
    /// The name or address that was asked for.
    public let name: String
    /// The reason: libc's `gai_strerror` text for ``code`` unless a resolver knows more.
    public let message: String
    /// The errno value for ``Code/system`` failures.
    public let systemErrno: Errno?

    /// Creates the error with libc's text for `code`. Never switches; any thread.
    public init(code: Code, operation: String, name: String, systemErrno: Errno? = nil) {
        self.init(
            code: code,
            operation: operation,
            name: name,
            message: ResolverError.text(for: code, systemErrno),
            systemErrno: systemErrno
        )
    }

    /// Creates the error with a message of its own. Never switches; any thread.
    public init(code: Code, operation: String, name: String, message: String) {
        self.init(code: code, operation: operation, name: name, message: message, systemErrno: nil)
    }

    private init(code: Code, operation: String, name: String, message: String, systemErrno: Errno?) {
        self.code = code
        self.operation = operation
        self.name = name
        self.message = message
        self.systemErrno = systemErrno
    }

    /// `operation("name"): message (EAI_…)`.
    public var description: String {
        "\(operation)(\"\(name)\"): \(message) (\(code))"
    }

    private static func text(for code: Code, _ systemErrno: Errno?) -> String {
        if code == .system, let systemErrno {
            return systemErrno.description
        }
        return String(cString: gai_strerror(code.rawValue))
    }
}
