// swift-tools-version:6.2
import PackageDescription

// The targets follow the data, and the compiler keeps them one-way: a target may use only the
// ones before it.
//
//   TokentallySystem        syscalls, atomic files, clocks, locks, the frozen CRC-64, errors
//   TokentallyReading       files → lines → records: byte sources, line reader, JSON scanner,
//                           record parser, presets, the parallel parsing pipeline
//   TokentallyCounting      records → counters: calendar, interned dimensions, sketches, usage
//                           counters, key redaction, and the ingestor that feeds them
//   TokentallyOutput        counters → snapshots: reports, JSON encoding, the atomic writer
//   TokentallyConfiguration the YAML config and its validation
//   TokentallyReplay        the one-pass driver of the pipeline
//   TokentallyDaemon        the live driver: following, the checkpoint, the schedule, services
//   TokentallyViews         snapshots → views: the snapshot reader, the report of one selection,
//                           and its renderings (table, JSON, CSV, the page, Prometheus metrics)
//   TokentallyServer        the views over HTTP (tokentally serve, Hummingbird 2)
//   TokentallyFleet         several hosts' snapshots into one (tokentally merge)
//   TokentallySamples       the sample log generator (tokentally generate), apart from the rest
//   TokentallyNative        the one module that touches C (zlib, libsystemd)
//   TokentallyCommand       the `tokentally` executable
//
// Warnings are errors in the project's own targets, tests included (not in its dependencies').
// The hot path opts out of the run-time exclusivity checks property by property, in the source
// (`@exclusivity(unchecked)`, docs/performance.md), so no target needs unsafe flags and the
// package can be a dependency of another.
let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]

let package = Package(
    name: "tokentally",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tokentally", targets: ["TokentallyCommand"]),
        .library(name: "TokentallyReading", targets: ["TokentallyReading"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
    ],
    targets: [
        .systemLibrary(name: "CMalloc"),
        .target(name: "TokentallySystem", dependencies: ["CMalloc"], swiftSettings: strict),
        .target(name: "TokentallyReading", dependencies: ["TokentallySystem"], swiftSettings: strict),
        .target(
            name: "TokentallyCounting",
            dependencies: ["TokentallySystem", "TokentallyReading", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),
        .target(
            name: "TokentallyOutput", dependencies: ["TokentallySystem", "TokentallyReading", "TokentallyCounting"],
            swiftSettings: strict),
        .target(
            name: "TokentallyConfiguration",
            dependencies: [
                "TokentallySystem", "TokentallyReading", "TokentallyCounting", "TokentallyOutput",
                .product(name: "Yams", package: "Yams"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .target(
            name: "TokentallyReplay",
            dependencies: [
                "TokentallySystem", "TokentallyReading", "TokentallyCounting", "TokentallyOutput",
                "TokentallyConfiguration", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .target(
            name: "TokentallyDaemon",
            dependencies: [
                "TokentallySystem", "TokentallyReading", "TokentallyCounting", "TokentallyOutput",
                "TokentallyConfiguration", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        .target(name: "TokentallyViews", dependencies: ["TokentallySystem"], swiftSettings: strict),
        .target(
            name: "TokentallyServer",
            dependencies: [
                "TokentallySystem", "TokentallyViews", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .target(
            name: "TokentallyFleet",
            dependencies: ["TokentallySystem", "TokentallyCounting", "TokentallyOutput", "TokentallyViews"],
            swiftSettings: strict),
        .target(
            name: "TokentallySamples", dependencies: ["TokentallySystem", "TokentallyReading"], swiftSettings: strict),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CIsal", pkgConfig: "libisal", providers: [.apt(["libisal-dev"])]),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .target(
            name: "TokentallyNative",
            dependencies: [
                "CZlib", "CIsal", "CSystemd", "TokentallySystem", "TokentallyReading", "TokentallySamples",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "TokentallyCommand",
            dependencies: [
                "TokentallySystem", "TokentallyReading", "TokentallyCounting", "TokentallyOutput",
                "TokentallyConfiguration", "TokentallyReplay", "TokentallyDaemon", "TokentallySamples",
                "TokentallyNative", "TokentallyViews", "TokentallyServer", "TokentallyFleet",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "TokentallyUnitTests",
            dependencies: [
                "TokentallySystem", "TokentallyReading", "TokentallyCounting", "TokentallyOutput",
                "TokentallyConfiguration", "TokentallyReplay", "TokentallyDaemon", "TokentallySamples",
                "TokentallyViews", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TokentallyNativeTests",
            dependencies: ["TokentallyNative", "TokentallyReading", "TokentallySamples"], swiftSettings: strict),
        // The end-to-end tests run the built `tokentally` binary; depending on the command makes
        // `swift test` build it. They import no project module: their oracle is independent.
        .testTarget(
            name: "TokentallyEndToEndTests",
            dependencies: ["TokentallyCommand"],
            exclude: ["Fixtures"],
            swiftSettings: strict
        ),
    ]
)

// Benchmarks (docs/performance.md): added only when TOKENTALLY_BENCHMARKS is set, so that
// ordinary builds and CI neither fetch nor build ordo-one/benchmark. Run them with
//   TOKENTALLY_BENCHMARKS=1 swift package --scratch-path .build-bench benchmark
if Context.environment["TOKENTALLY_BENCHMARKS"] != nil {
    package.dependencies.append(
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]))
    package.targets.append(
        .executableTarget(
            name: "TokentallyBenchmarks",
            dependencies: [
                "TokentallySystem", "TokentallyReading", "TokentallyCounting", "TokentallyOutput",
                "TokentallySamples", "TokentallyNative",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/TokentallyBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ))
}

// The fuzz target (scripts/fuzz): added only when TOKENTALLY_FUZZ is set. It is built with
// `-sanitize=fuzzer` for every module (coverage for libFuzzer), and hands its entry point to
// libFuzzer's driver:
//   TOKENTALLY_FUZZ=1 swift build -c release --scratch-path .build-fuzz --product TokentallyFuzz \
//     -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library
if Context.environment["TOKENTALLY_FUZZ"] != nil {
    package.targets.append(
        .executableTarget(
            name: "TokentallyFuzz", dependencies: ["TokentallySystem", "TokentallyReading"],
            path: "Tests/TokentallyFuzz",
            exclude: ["seeds.jsonl"]))
}
