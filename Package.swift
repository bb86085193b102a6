// swift-tools-version:6.1
import PackageDescription

// Swift 6 language mode (tools 6.1, no swiftLanguageModes override): strict concurrency is an error.
// MemberImportVisibility is left off: Glibc's `timespec` is also reachable through c-ares' and libev's
// headers, and with the feature on, which module "defines" it changed from build to build.
let swiftSettings: [SwiftSetting] = []

let package = Package(
    name: "swift-gevent",
    products: [
        .executable(name: "gevent-run", targets: ["gevent-run"]),
        .library(name: "Gevent", targets: ["Gevent"]),
        .library(name: "GeventMetrics", targets: ["GeventMetrics"]),
        // TLS over cooperative sockets, on the system's OpenSSL 3; never part of the preload library.
        .library(name: "GeventTLS", targets: ["GeventTLS"]),
        // The HTTP/1.1 server on greenlets; its own library so the preload library never carries it.
        .library(name: "GeventHTTP", targets: ["GeventHTTP"]),
        .executable(name: "HTTPHello", targets: ["HTTPHello"]),
        // LD_PRELOAD library: build with scripts/build-preload.sh (-static-stdlib, its own scratch path).
        .library(name: "GeventPreload", type: .dynamic, targets: ["GeventPreload"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        // `swift package generate-documentation --target Gevent` (the DocC catalog in Sources/Gevent/Gevent.docc).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        // Without its default FoundationURL trait: the request model needs no Foundation.
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0", traits: []),
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
        // The libc interposers (DESIGN §4). Every executable that links Gevent links them; they pass
        // through until Monkey.patch. The same objects are inside the GeventPreload library.
        .target(
            name: "CGeventShim",
            dependencies: ["CGreenlet", "CLibev"],
            path: "preload",
            exclude: ["gevent.pc.in", "libGeventPreload.map"],
            cSettings: [.define("_GNU_SOURCE")]
        ),
        // libev (Debian's libev4, headers from libev-dev), loaded privately at the first hub and called
        // through a table: nothing links it, so its names never enter a program's global scope.
        .target(name: "CLibev"),
        // c-ares from Debian's libc-ares-dev (1.18.1), found through its pkg-config file.
        .systemLibrary(
            name: "CCares",
            pkgConfig: "libcares",
            providers: [.apt(["libc-ares-dev"])]
        ),

        // OpenSSL 3 from Debian's libssl-dev, found through its pkg-config file; CGeventOpenSSL wraps the
        // macros and adds a socket BIO that never raises SIGPIPE.
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(
            name: "CGeventOpenSSL",
            dependencies: ["COpenSSL"]
        ),

        // Unaware C client libraries for the shim's tests and examples (libpq-dev, libhiredis-dev).
        .systemLibrary(
            name: "CLibpq",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // libcurl's easy API (libcurl4-openssl-dev), the unaware C library of the IntroExample demo.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // Not through pkg-config: hiredis.pc adds -D_FILE_OFFSET_BITS=64, which SwiftPM warns about.
        .systemLibrary(
            name: "CHiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),

        // MARK: - Swift

        // The names, accepted forms and parser of every GEVENT_* setting: pure Swift, so gevent-run shares
        // it without carrying the runtime.
        .target(
            name: "GeventSettings",
            swiftSettings: swiftSettings
        ),

        .target(
            name: "Gevent",
            dependencies: [
                "CGreenlet", "CLibev", "CCares", "CGeventIO", "CGeventShim", "GeventSettings",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // A hub's statistics through swift-metrics; apart so that the core and the preload library do not
        // carry swift-metrics.
        .target(
            name: "GeventMetrics",
            dependencies: [
                "Gevent", "CGeventShim",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // Not a dependency of GeventPreload: unaware programs bring their own TLS library, which already works
        // over the interposed sockets.
        .target(
            name: "GeventTLS",
            dependencies: ["Gevent", "COpenSSL", "CGeventOpenSSL"],
            swiftSettings: swiftSettings
        ),

        // The strict HTTP/1.1 request parser: pure Swift over a byte buffer, no I/O, no Gevent, so the
        // fuzzer and the differential probe link it alone.
        .target(
            name: "GeventHTTPParser",
            dependencies: [.product(name: "HTTPTypes", package: "swift-http-types")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "GeventHTTP",
            dependencies: [
                "Gevent", "GeventHTTPParser", "GeventTLS", .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings
        ),

        // The preload library: the C API of preload/include/gevent.h and a constructor reading GEVENT_PATCH.
        .target(
            name: "CGeventPreloadInit",
            dependencies: ["CGeventShim"]
        ),
        .target(
            name: "GeventPreload",
            dependencies: [
                "Gevent", "CGeventShim", "CGeventPreloadInit", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // Runs any dynamically linked program with the preload library and GEVENT_* set.
        .executableTarget(
            name: "gevent-run",
            dependencies: ["GeventSettings", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),

        // MARK: - Examples

        .executableTarget(
            name: "IntroExample",
            dependencies: ["Gevent", "CCurl"],
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
            name: "TLSEchoServer",
            dependencies: ["Gevent", "GeventTLS"],
            path: "Examples/TLSEchoServer",
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
        .executableTarget(
            name: "LibpqExample",
            dependencies: ["Gevent", "CLibpq"],
            path: "Examples/LibpqExample",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "Processes",
            dependencies: ["Gevent"],
            path: "Examples/Processes",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "JobRunner",
            dependencies: ["Gevent"],
            path: "Examples/JobRunner",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "LoadHarness",
            dependencies: ["Gevent", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/LoadHarness",
            swiftSettings: swiftSettings
        ),

        // gevent's examples, one for one (Examples/README.md).
        .executableTarget(
            name: "ConcurrentDownload",
            dependencies: ["Gevent", "CCurl"],
            path: "Examples/ConcurrentDownload",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "WebProxy",
            dependencies: ["Gevent", "GeventHTTP", "CCurl"],
            path: "Examples/WebProxy",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ThreadPoolExample",
            dependencies: ["Gevent"],
            path: "Examples/ThreadPoolExample",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "UDPClient",
            dependencies: ["Gevent"],
            path: "Examples/UDPClient",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "UnixSocketServer",
            dependencies: ["Gevent"],
            path: "Examples/UnixSocketServer",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "UnixSocketClient",
            dependencies: ["Gevent"],
            path: "Examples/UnixSocketClient",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "PortForwarder",
            dependencies: ["Gevent"],
            path: "Examples/PortForwarder",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "GeventSendfile",
            dependencies: ["Gevent"],
            path: "Examples/GeventSendfile",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "HTTPHello",
            dependencies: [
                "GeventHTTP", "GeventTLS", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/HTTPHello",
            swiftSettings: swiftSettings
        ),

        // MARK: - Tests

        // Unaware C code and a delaying server for the shim's concurrency tests.
        .target(
            name: "CShimTestSupport",
            path: "Tests/CShimTestSupport",
            cSettings: [.define("_GNU_SOURCE")]
        ),

        .testTarget(
            name: "GeventTests",
            dependencies: [
                "Gevent", "GeventTLS", "CGreenlet", "CGeventShim", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GeventMetricsTests",
            dependencies: ["Gevent", "GeventMetrics", .product(name: "CoreMetrics", package: "swift-metrics")],
            swiftSettings: swiftSettings
        ),
        // A Swift program without Gevent, preloaded by the preload tests.
        .executableTarget(
            name: "ShimSwiftProbe",
            path: "Tests/ShimSwiftProbe",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GeventHTTPTests",
            dependencies: ["GeventHTTP", "GeventHTTPParser", "Gevent", "HTTPHello"],
            swiftSettings: swiftSettings
        ),
        // Prints how the parser reads each request file, for the differential run against h11.
        .executableTarget(
            name: "HTTPParseProbe",
            dependencies: ["GeventHTTPParser"],
            path: "Tests/HTTPParseProbe",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ShimTests",
            dependencies: [
                "Gevent", "CGeventShim", "CShimTestSupport", "ShimSwiftProbe", "CLibpq", "CHiredis", "IntroExample",
                "ConcurrentDownload", "ThreadPoolExample", "UDPClient", "UDPEchoServer", "UnixSocketServer",
                "UnixSocketClient", "PortForwarder", "GeventSendfile", "EchoServer", "WebProxy", "Processes",
                "gevent-run",
            ],
            exclude: ["Scenarios", "Programs"],
            swiftSettings: swiftSettings
        ),
    ]
)

// The libFuzzer target over the parser, only in fuzzing builds (scripts/fuzz-http.sh): its entry point
// calls libFuzzer's driver, which only a `-sanitize=fuzzer` link provides.
if Context.environment["GEVENT_FUZZ"] == "1" {
    package.targets.append(
        .executableTarget(
            name: "HTTPParserFuzzer",
            dependencies: ["GeventHTTPParser"],
            path: "Tests/HTTPParserFuzzer",
            exclude: ["http.dict"],
            swiftSettings: swiftSettings + [.unsafeFlags(["-parse-as-library"])]
        )
    )
}
