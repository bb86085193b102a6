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
        // LD_PRELOAD library: build with scripts/build-preload.sh (-static-stdlib, its own scratch path).
        .library(name: "GeventPreload", type: .dynamic, targets: ["GeventPreload"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
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
            dependencies: ["CGreenlet"],
            path: "preload",
            exclude: ["gevent.pc.in"],
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

        // Unaware C client libraries for the shim's tests and examples (libpq-dev, libhiredis-dev).
        .systemLibrary(
            name: "CLibpq",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // Not through pkg-config: hiredis.pc adds -D_FILE_OFFSET_BITS=64, which SwiftPM warns about.
        .systemLibrary(
            name: "CHiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),

        // MARK: - Swift

        .target(
            name: "Gevent",
            dependencies: ["CGreenlet", "CLibev", "CCares", "CGeventIO", "CGeventShim"],
            swiftSettings: swiftSettings
        ),

        // The preload library: the C API of preload/include/gevent.h and a constructor reading GEVENT_PATCH.
        .target(
            name: "CGeventPreloadInit",
            dependencies: ["CGeventShim"]
        ),
        .target(
            name: "GeventPreload",
            dependencies: ["Gevent", "CGeventShim", "CGeventPreloadInit"],
            swiftSettings: swiftSettings
        ),

        // Runs any dynamically linked program with the preload library and GEVENT_* set.
        .executableTarget(
            name: "gevent-run",
            dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")],
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
        .executableTarget(
            name: "LibpqExample",
            dependencies: ["Gevent", "CLibpq"],
            path: "Examples/LibpqExample",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "LoadHarness",
            dependencies: ["Gevent", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/LoadHarness",
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
            dependencies: ["Gevent", "CGreenlet"],
            swiftSettings: swiftSettings
        ),
        // A Swift program without Gevent, preloaded by the preload tests.
        .executableTarget(
            name: "ShimSwiftProbe",
            path: "Tests/ShimSwiftProbe",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ShimTests",
            dependencies: ["Gevent", "CGeventShim", "CShimTestSupport", "ShimSwiftProbe", "CLibpq", "CHiredis"],
            exclude: ["Scenarios"],
            swiftSettings: swiftSettings
        ),
    ]
)
