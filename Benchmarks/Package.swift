// swift-tools-version:6.1
import PackageDescription

// The benchmarks are their own package so that building or testing the library never builds them (nor
// fetches package-benchmark). Run them with ./run-core.sh, or `swift package benchmark` for allocation counts.
let package = Package(
    name: "swift-gevent-benchmarks",
    dependencies: [
        // Named explicitly: a path dependency is otherwise identified by its folder name (a worktree or a
        // CI clone may be called anything).
        .package(name: "swift-gevent", path: "../"),
        // Only the malloc interposer: the runtime interposer (a default trait on Linux with Swift 6.3) needs
        // a package that is not available here, and ARC counters are not what we measure.
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Allocation counts (mallocCountTotal) of the hot paths, with package-benchmark.
        .executableTarget(
            name: "GeventBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Gevent", package: "swift-gevent"),
            ],
            path: "Benchmarks/GeventBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Timings in the key=value format of ../shared/bench/micro, compared with the peers by run-core.sh.
        .executableTarget(
            name: "GeventMicro",
            dependencies: [
                .product(name: "Gevent", package: "swift-gevent")
            ],
            path: "Sources/GeventMicro"
        ),
    ]
)
