extension Hub {
    /// The resolver the module-level DNS functions (``getaddrinfo(host:port:family:type:protocol:flags:)``,
    /// ``gethostbyname(_:)``, ...), ``createConnection(host:port:timeout:sourceAddress:allErrors:)`` and the
    /// servers use on this hub.
    ///
    /// Created on first use from ``GeventConfig/resolver`` (`GEVENT_SWIFT_RESOLVER`, else `GEVENT_RESOLVER`:
    /// `thread`, the default: ``ThreadResolver``; `ares`:
    /// ``AresResolver``, falling back to ``ThreadResolver`` with a warning if c-ares cannot start; `block`:
    /// ``BlockingResolver``). Assign another to replace it; the previous one is not closed (it may still
    /// be in use). ``destroy()`` closes the hub's resolver. gevent's `hub.resolver`. Never switches; hub
    /// thread only.
    public var resolver: any Resolver {
        get {
            preconditionOnHubThread("Hub.resolver")
            if let resolverStorage {
                return resolverStorage
            }
            let made = makeDefaultResolver()
            resolverStorage = made
            return made
        }
        set {
            preconditionOnHubThread("Hub.resolver")
            resolverStorage = newValue
        }
    }

    private func makeDefaultResolver() -> any Resolver {
        switch config.resolver {
        case .thread:
            return ThreadResolver()
        case .block:
            return BlockingResolver()
        case .ares:
            do {
                return try AresResolver()
            } catch {
                reportWarning(
                    "the ares resolver was asked for, but c-ares could not start (\(error)); using the thread "
                        + "resolver"
                )
                return ThreadResolver()
            }
        }
    }
}
