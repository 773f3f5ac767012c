import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import Logging
import Metrics
import NIOCore
import Prometheus
import TailcastProtocol
import WSCore

/// Builds the server application: WebSocket endpoints for agents and watchers, and a small HTTP API.
public enum TailcastServer {
    /// `departure` closes the WebSocket sessions when the server stops (`run(_:departure:logger:)`). With a
    /// `store` (migrated, see `PostgresStore.migrate`), `--data` is this node's cache of it.
    public static func makeApplication(
        configuration: ServerConfiguration, logger: Logger, departure: Departure = Departure(), store: PostgresStore? = nil
    ) throws -> some ApplicationProtocol {
        let hub = try Hub(
            archive: Archive(root: configuration.dataDirectory, maxOpenFiles: configuration.maxOpenFiles, logger: logger), store: store)
        let registry = Self.registry
        let metrics = ServerMetrics()

        let router = Router(context: TailcastRequestContext.self)
        if let store {
            router.get("/healthz") { _, _ -> Response in try Self.json(StoreStatus(store)) }
        } else {
            router.get("/healthz") { _, _ in "ok\n" }
        }
        router.get("/metrics") { _, _ -> String in
            metrics.record(hub)
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return MetricsExposition.withHelp(String(decoding: buffer, as: UTF8.self))
        }
        // The HTTP API shows what watchers see, so it needs a watch token when tokens are configured.
        let admission = Admission(access: configuration.access, originGuard: configuration.originGuard, tls: configuration.tls != nil)
        let api = router.group("v1/jobs").add(middleware: AccessMiddleware(admission: admission))
        api.get { request, _ -> Response in
            let (page, filter) = try Self.listQuery(request)
            return try Self.json(hub.list(page, filter: filter, maxBytes: configuration.maxMessageBytes / 2))
        }
        api.get("{job}") { _, context -> Response in
            let id = try context.parameters.require("job")
            guard let job = await hub.cachedOrFetched(id) else { throw HTTPError(.notFound, message: "no job \"\(id.prefix(128))\" on this server") }
            return try Self.json(job.info)
        }
        // A stream's archived bytes, exactly as written: curl it, or read the .log file on the server (TailcastServer+Raw).
        api.get("{job}/raw") { request, context -> Response in
            let (id, file) = try await Self.stream(request, context, hub: hub)
            return try Self.raw(request, job: id, file: file)
        }
        // Where a line begins, for links into logs too big to load (TailcastServer+Lines).
        api.get("{job}/lines") { request, context -> Response in
            let (id, file) = try await Self.stream(request, context, hub: hub)
            return try await Self.line(request, job: id, file: file)
        }
        Self.addRemoval(to: api, hub: hub, access: configuration.access, metrics: metrics)

        let connections = ConnectionGate(limit: configuration.maxConnections)
        api.get("{job}/events") { request, context -> Response in
            let id = try context.parameters.require("job")
            guard let job = await hub.cachedOrFetched(id) else { throw HTTPError(.notFound, message: "no job \"\(id.prefix(128))\" on this server") }
            return try Self.events(
                request, job: job, hub: hub, connections: connections, configuration: configuration, metrics: metrics, logger: context.logger)
        }

        Self.addWebRoutes(to: router, admission: admission)

        // Tokens, origins and host names are checked before the upgrade (UpgradeAdmissionHandler): a refused
        // client gets 401 or 403 over HTTP and never holds a WebSocket session. The same check here answers
        // plain HTTP requests to these paths alike, which is how our clients learn why an upgrade failed.
        let checkUpgrade: @Sendable (Request, TailcastRequestContext) async throws -> RouterShouldUpgrade = { request, context in
            try AccessMiddleware<TailcastRequestContext>(admission: admission).check(request, logger: context.logger)
            return try await Self.checkUpgrade(request, context)
        }
        router.ws(RouterPath(Wire.publishPath), shouldUpgrade: checkUpgrade) { inbound, outbound, context in
            if try await Self.refuseWithoutSubprotocol(context.request, inbound, outbound, logger: context.logger) { return }
            // Only sessions that may run take a place: a refused client must not make the server busy for others.
            guard connections.enter() else { return try await connections.refuse(inbound, outbound, logger: context.logger) }
            defer { connections.leave() }
            let owner = configuration.access.identity(authorization: context.request.headers[.authorization])
            try await departure.session(outbound) {
                try await PublishSession(hub: hub, configuration: configuration, metrics: metrics, logger: context.logger)
                    .run(inbound: inbound, outbound: outbound, owner: owner)
            }
        }
        router.ws(RouterPath(Wire.watchPath), shouldUpgrade: checkUpgrade) { inbound, outbound, context in
            if try await Self.refuseWithoutSubprotocol(context.request, inbound, outbound, logger: context.logger) { return }
            guard connections.enter() else { return try await connections.refuse(inbound, outbound, logger: context.logger) }
            defer { connections.leave() }
            let deflates = BoundedDeflateBuilder.negotiated(context.request.headers, maxDecompressedBytes: configuration.maxMessageBytes)
            try await departure.session(outbound) {
                try await WatchSession(hub: hub, configuration: configuration, metrics: metrics, logger: context.logger)
                    .run(inbound: inbound, outbound: outbound, channel: context.requestContext.channel, deflates: deflates)
            }
        }
        // Only GET can upgrade: any other method on a WebSocket path gets the same one-line 400 (not a 404).
        for path in [Wire.publishPath, Wire.watchPath] {
            for method in [HTTPRequest.Method.post, .put, .patch, .delete, .head, .options] {
                router.on(RouterPath(path), method: method) { request, _ -> Response in
                    throw Self.notAnUpgrade(request)
                }
            }
        }

        let webSocketResponder = router.buildResponder()
        let channelConfiguration = HTTP1WebSocketUpgradeChannel.Configuration(
            http1: .init(),
            ws: .init(
                maxFrameSize: configuration.maxMessageBytes,
                // Decompressed size is capped per frame while inflating: a small bomb closes with 1009.
                extensions: [BoundedDeflateBuilder.factory(maxDecompressedBytes: configuration.maxMessageBytes)],
                autoPing: .enabled(timePeriod: configuration.pingInterval),
                // Text messages are JSON: invalid UTF-8 closes with 1007.
                validateUTF8: true
            )
        )
        let idleTimeout = TimeAmount.nanoseconds(Int64(max(Duration.seconds(60), configuration.pingInterval * 3).components.seconds) * 1_000_000_000)
        let tls = configuration.tls
        let connectionMetrics = ConnectionMetrics()
        let gate = AcceptGate(limit: configuration.maxConnections + configuration.connectionHeadroom, metrics: connectionMetrics)
        let requestHeadTimeout = TimeAmount(configuration.requestHeadTimeout)
        let server = HTTPServerBuilder { responder -> any ServerChildChannel in
            let base = HTTP1WebSocketUpgradeChannel(responder: responder, webSocketResponder: webSocketResponder, configuration: channelConfiguration)
            func guarded<Base: ServerChildChannel>(_ base: Base) -> GuardedChannel<Base> {
                GuardedChannel(
                    base: base, idleTimeout: idleTimeout, requestHeadTimeout: requestHeadTimeout, gate: gate, metrics: connectionMetrics,
                    admission: admission)
            }
            if let tls { return guarded(try TLSChannel(base, tlsConfiguration: tls)) }
            return guarded(base)
        }
        return Application(
            router: router,
            server: server,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "tailcast"),
            services: Self.archiveServices(configuration, hub: hub, metrics: metrics, logger: logger)
                + (store.map { [StoreFollower(store: $0, hub: hub, logger: logger)] } ?? []),
            logger: logger
        )
    }

    /// What /metrics shows. Made on first use, once per process (the metrics system takes one bootstrap):
    /// a store opened before the application records into it too.
    static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    /// Plain HTTP requests to a WebSocket path get a 400 that says what the path is for.
    @Sendable static func checkUpgrade(_ request: Request, _ context: TailcastRequestContext) async throws -> RouterShouldUpgrade {
        guard request.headers[.upgrade]?.lowercased() == "websocket" else {
            throw self.notAnUpgrade(request)
        }
        return .upgrade(self.offersSubprotocol(request) ? [.secWebSocketProtocol: Wire.subprotocol] : [:])
    }

    static func notAnUpgrade(_ request: Request) -> PlainTextError {
        PlainTextError(.badRequest, "\(request.uri.path) is a WebSocket endpoint: connect with GET, Upgrade: websocket and subprotocol \(Wire.subprotocol)")
    }

    /// A failed upgrade can only be an empty 400 here, so a client that does not offer `tailcast.v1` is
    /// upgraded without a subprotocol and then told, in an `error` message and the close reason.
    static func offersSubprotocol(_ request: Request) -> Bool {
        request.headers[values: .secWebSocketProtocol]
            .flatMap { $0.split(separator: ",") }
            .contains { $0.trimmingCharacters(in: .whitespaces) == Wire.subprotocol }
    }

    static func refuseWithoutSubprotocol(
        _ request: Request, _ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter, logger: Logger
    ) async throws -> Bool {
        guard !self.offersSubprotocol(request) else { return false }
        logger.notice("refused a connection: no \(Wire.subprotocol) subprotocol offered")
        try await outbound.refuseAtStart(inbound, .subprotocol, "this is a tailcast server: offer WebSocket subprotocol \(Wire.subprotocol)")
        return true
    }

    /// The job of the path and its stream named by `?stream=` (stdout by default), or 404.
    static func stream(_ request: Request, _ context: some RequestContext, hub: Hub) async throws -> (job: String, file: StreamFile) {
        let id = try context.parameters.require("job")
        guard let job = await hub.cachedOrFetched(id) else { throw HTTPError(.notFound, message: "no job \"\(id.prefix(128))\" on this server") }
        let name = request.uri.queryParameters.get("stream") ?? "stdout"
        guard let file = job.file(named: name) else {
            throw HTTPError(.notFound, message: "job \"\(id)\" has no stream \"\(name.prefix(256))\"")
        }
        return (id, file)
    }

    static func json(_ value: some Encodable) throws -> Response {
        var data = try ProtocolJSON.encode(value, pretty: true)
        data.append(0x0A)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
