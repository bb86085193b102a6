// swift-tools-version:6.1
import PackageDescription

// Swift 6 language mode (tools 6.1, no swiftLanguageModes override): strict concurrency is an error.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("MemberImportVisibility")
]

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
        // Debian's libev-dev ships no pkg-config file; the module map links "ev" by name.
        .systemLibrary(
            name: "CLibev",
            providers: [.apt(["libev-dev"])]
        ),

        // MARK: - Swift

        .target(
            name: "Gevent",
            dependencies: ["CGreenlet", "CLibev"],
            swiftSettings: swiftSettings
        ),

        // MARK: - Examples

        .executableTarget(
            name: "IntroExample",
            dependencies: ["Gevent"],
            path: "Examples/IntroExample",
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
