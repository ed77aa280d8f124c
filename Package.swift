// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "parley",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "parley", targets: ["Parley"]),
        .executable(name: "parley-bench", targets: ["ParleyBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-crypto", "3.0.0"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        // libpq as a system library (pkg-config supplies -I/usr/include/postgresql -lpq).
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // PQ: the thin libpq wrapper. libpq's concepts 1:1, no domain words.
        .target(
            name: "PQ",
            dependencies: ["CLibPQ"],
            swiftSettings: swiftSettings
        ),
        // Database: pool, transactions, tenant scope, migrations, listener, embedded cluster.
        .target(
            name: "Database",
            dependencies: [
                "PQ",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings,
            plugins: ["EmbedPlugin"]
        ),
        // Domain: the product (tenants, sessions, messages, …) as plain types and stores.
        .target(
            name: "Domain",
            dependencies: [
                "Database",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                // Webhook delivery (issue 19): redirects off, deadlines, TLS, the connect address.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // API: Hummingbird routes, auth, problem+json, OpenAPI document.
        .target(
            name: "API",
            dependencies: [
                "Domain",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings,
            plugins: ["EmbedPlugin"]
        ),
        .executableTarget(
            name: "Parley",
            dependencies: [
                "API",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // Test support, layer 1: the test database (throwaway cluster or PARLEY_TEST_DATABASE_URL),
        // raw libpq connections, test data. No Domain, no API, no Hummingbird.
        .target(
            name: "DatabaseTesting",
            dependencies: [
                "Database", "PQ",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Test support, layer 2: the real server on a loopback port, tenants with tokens, typed
        // JSON responses, WebSocket and raw-TCP clients.
        .target(
            name: "ParleyTesting",
            dependencies: [
                "DatabaseTesting", "API",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            ],
            swiftSettings: swiftSettings
        ),
        // parley-bench: latency and throughput figures of the real server (docs/BENCHMARKS.md).
        .executableTarget(
            name: "ParleyBench",
            dependencies: [
                "API", "ParleyTesting", "DatabaseTesting",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        // Build-time tool + plugin that embed sql/**/*.sql and openapi.yaml as Swift sources.
        .executableTarget(name: "EmbedTool", swiftSettings: swiftSettings),
        .plugin(name: "EmbedPlugin", capability: .buildTool(), dependencies: ["EmbedTool"]),

        // PQ, Database and Domain tests build without API and Hummingbird.
        .testTarget(name: "PQTests", dependencies: ["PQ", "DatabaseTesting"], swiftSettings: swiftSettings),
        .testTarget(name: "DatabaseTests", dependencies: ["Database", "PQ", "DatabaseTesting"], swiftSettings: swiftSettings),
        .testTarget(
            name: "DomainTests",
            dependencies: [
                "Domain", "Database", "DatabaseTesting", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"), .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "APITests",
            dependencies: [
                "API", "ParleyTesting", "DatabaseTesting",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
