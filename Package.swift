// swift-tools-version:6.1
// The module graph follows the data: agent sources → wire protocol → uplink → server (hub, archive) → watchers.
import PackageDescription

let package = Package(
    name: "tailcast",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tailcast", targets: ["tailcast"]),
        .library(name: "TailcastProtocol", targets: ["TailcastProtocol"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/hummingbird-project/swift-websocket.git", from: "1.6.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // Wire format: messages, framing, offsets; and the rules every side applies to text others wrote
        // (control characters) and to token files (owner only). No server or agent code.
        .target(
            name: "TailcastProtocol",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")]
        ),
        // Linux system calls Swift's Glibc module leaves out (pseudo-terminals, pipe2, hole punching), and
        // a raw zlib deflater whose level can change between messages (see AdaptiveDeflate).
        .target(name: "CTailcastSystem", linkerSettings: [.linkedLibrary("z"), .linkedLibrary("m")]),
        // Recognises the progress bars programs print (tqdm, rsync, curl, ...): bytes in, progress events out.
        .target(name: "TailcastProgress"),
        // What produces bytes: a wrapped job (pty or pipes) and the on-disk spool it writes to.
        .target(
            name: "TailcastAgent",
            dependencies: [
                "TailcastProtocol",
                "TailcastProgress",
                "CTailcastSystem",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        // How every client reaches a server: URL, token, TLS trust and policy, proxy, keep-alive pings.
        .target(
            name: "TailcastClient",
            dependencies: [
                "TailcastProtocol",
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Carries the spool to the server: ack/resend state machine and the WebSocket client.
        .target(
            name: "TailcastUplink",
            dependencies: [
                "TailcastProtocol",
                "TailcastAgent",
                "TailcastClient",
                "CTailcastSystem",
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "WSCompression", package: "swift-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        // The server: hub (live state per job), archive (files under --data), watcher cursors, HTTP API.
        .target(
            name: "TailcastServer",
            dependencies: [
                "TailcastProtocol",
                "CTailcastSystem",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "WSCore", package: "swift-websocket"),
                .product(name: "WSCompression", package: "swift-websocket"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        // Watching side: follows a job over WebSocket, renders it; lists jobs.
        .target(
            name: "TailcastWatcher",
            dependencies: [
                "TailcastProtocol",
                "TailcastClient",
                "CTailcastSystem",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "WSCompression", package: "swift-websocket"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "tailcast",
            dependencies: [
                "TailcastAgent", "TailcastClient", "TailcastUplink", "TailcastServer", "TailcastWatcher", "TailcastProtocol", "CTailcastSystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "TailcastProtocolTests", dependencies: ["TailcastProtocol"]),
        .testTarget(name: "TailcastProgressTests", dependencies: ["TailcastProgress"], exclude: ["Fixtures"]),
        .testTarget(name: "TailcastAgentTests", dependencies: ["TailcastAgent", "TailcastProgress", "TailcastProtocol"]),
        .testTarget(
            name: "TailcastUplinkTests",
            dependencies: [
                "TailcastUplink", "TailcastAgent", "TailcastProtocol",
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "WSCore", package: "swift-websocket"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .testTarget(
            name: "TailcastServerTests",
            dependencies: [
                "TailcastServer", "TailcastProtocol", .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]),
        .testTarget(name: "TailcastClientTests", dependencies: ["TailcastClient"]),
        .testTarget(name: "TailcastWatcherTests", dependencies: ["TailcastWatcher"]),
    ]
)
