// swift-tools-version:6.1
import PackageDescription

// Swift 6 language mode (tools 6.1, no swiftLanguageModes override): strict concurrency is an error.
// MemberImportVisibility is left off: Glibc's `timespec` is also reachable through c-ares' and libev's
// headers, and with the feature on, which module "defines" it changed from build to build.
let swiftSettings: [SwiftSetting] = []

let package = Package(
    name: "swift-gevent",
    products: [
        .library(name: "Gevent", targets: ["Gevent"])
    ],
    targets: [
        // MARK: - C

        .target(
            name: "CGreenlet",
            cSettings: [.define("_GNU_SOURCE")]
        ),
        // Socket calls glibc declares only under _GNU_SOURCE (accept4).
        .target(
            name: "CGeventIO",
            cSettings: [.define("_GNU_SOURCE")]
        ),
        // Debian's libev-dev ships no pkg-config file; the module map links "ev" by name.
        .systemLibrary(
            name: "CLibev",
            providers: [.apt(["libev-dev"])]
        ),
        // c-ares from Debian's libc-ares-dev (1.18.1), found through its pkg-config file.
        .systemLibrary(
            name: "CCares",
            pkgConfig: "libcares",
            providers: [.apt(["libc-ares-dev"])]
        ),

        // MARK: - Swift

        .target(
            name: "Gevent",
            dependencies: ["CGreenlet", "CLibev", "CCares", "CGeventIO"],
            swiftSettings: swiftSettings
        ),

        // MARK: - Examples

        .executableTarget(
            name: "IntroExample",
            dependencies: ["Gevent"],
            path: "Examples/IntroExample",
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "EchoServer",
            dependencies: ["Gevent"],
            path: "Examples/EchoServer",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "UDPEchoServer",
            dependencies: ["Gevent"],
            path: "Examples/UDPEchoServer",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ConcurrentResolve",
            dependencies: ["Gevent"],
            path: "Examples/ConcurrentResolve",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "DNSMassResolve",
            dependencies: ["Gevent"],
            path: "Examples/DNSMassResolve",
            swiftSettings: swiftSettings
        ),

        // MARK: - Tests

        .testTarget(
            name: "GeventTests",
            dependencies: ["Gevent", "CGreenlet"],
            swiftSettings: swiftSettings
        ),
    ]
)
