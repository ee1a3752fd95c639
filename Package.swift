// swift-tools-version:6.1
import PackageDescription

// The targets follow the data: the core library reads files into lines, lines into records,
// records into counters and counters into snapshots; `TokentallyNative` is the one module that
// touches C libraries; `tokentally` is a thin command on top.
let package = Package(
    name: "tokentally",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tokentally", targets: ["TokentallyCommand"]),
        .library(name: "TokentallyCore", targets: ["TokentallyCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .target(
            name: "TokentallyCore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        .target(
            name: "TokentallyNative",
            dependencies: ["CZlib", "CSystemd", "TokentallyCore"]
        ),
        .executableTarget(
            name: "TokentallyCommand",
            dependencies: [
                "TokentallyCore",
                "TokentallyNative",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "TokentallyCoreTests",
            dependencies: ["TokentallyCore", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(name: "TokentallyNativeTests", dependencies: ["TokentallyNative", "TokentallyCore"]),
        // The end-to-end tests run the built `tokentally` binary; depending on the command makes
        // `swift test` build it. They import no project module: their oracle is independent.
        .testTarget(
            name: "TokentallyEndToEndTests",
            dependencies: ["TokentallyCommand"],
            exclude: ["Fixtures"]
        ),
    ]
)

// Release builds of the core skip the run-time exclusivity checks on its hot path (they cost
// about 13% of replay time, docs/performance.md); debug builds, which the tests use, keep them.
for target in package.targets where target.name == "TokentallyCore" {
    let unchecked = SwiftSetting.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))
    target.swiftSettings = (target.swiftSettings ?? []) + [unchecked]
}

// Benchmarks (issue 5, docs/performance.md): added only when TOKENTALLY_BENCHMARKS is set, so
// that ordinary builds and CI neither fetch nor build ordo-one/benchmark. Run them with
//   TOKENTALLY_BENCHMARKS=1 swift package --scratch-path .build-bench benchmark
if Context.environment["TOKENTALLY_BENCHMARKS"] != nil {
    package.dependencies.append(
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]))
    package.targets.append(
        .executableTarget(
            name: "TokentallyBenchmarks",
            dependencies: [
                "TokentallyCore",
                "TokentallyNative",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/TokentallyBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ))
}

// The fuzz target (issue 9, scripts/fuzz): added only when TOKENTALLY_FUZZ is set. It is built
// with `-sanitize=fuzzer` for every module (coverage for libFuzzer, which supplies `main`), so
// it has no `main` of its own:
//   TOKENTALLY_FUZZ=1 swift build -c release --scratch-path .build-fuzz --product TokentallyFuzz \
//     -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library
if Context.environment["TOKENTALLY_FUZZ"] != nil {
    package.targets.append(
        .executableTarget(name: "TokentallyFuzz", dependencies: ["TokentallyCore"], path: "Tests/TokentallyFuzz"))
}
