import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOPosix
import ServiceLifecycle
import TailcastProtocol

extension TailcastServer {
    /// What `DELETE /v1/jobs/JOB` answers.
    struct Deleted: Encodable {
        var job: String
        /// Bytes its stream files took on disk.
        var bytes: UInt64
    }

    /// `DELETE /v1/jobs/JOB[?force=1]` (`tailcast rm`): with the publish role (`Admission`) and the token
    /// that created the job. A running job is refused (409), a lost or stopped one without `force` too; watchers of a
    /// deleted job are told so and let go.
    static func addRemoval(
        to api: RouterGroup<TailcastRequestContext>, hub: Hub, access: AccessTokens, metrics: ServerMetrics
    ) {
        api.delete("{job}") { request, context -> Response in
            let id = try context.parameters.require("job")
            let force = ["1", "true"].contains(request.uri.queryParameters.get("force") ?? "")
            let owner = access.identity(authorization: request.headers[.authorization])
            let why = "deleted with tailcast rm"
            do {
                let bytes = try await NIOThreadPool.singleton.runIfActive {
                    try hub.remove(id, why: why, owner: owner, allowUnended: force)
                }
                await hub.removeFromStore(id)
                metrics.removed(.rm, bytes: bytes)
                context.logger.notice("removed job \(id) (\(bytes) bytes): \(why)")
                return try Self.json(Deleted(job: id, bytes: bytes))
            } catch let refusal as Hub.RemovalRefusal {
                let status: HTTPResponse.Status
                switch refusal {
                case .unknown: status = .notFound
                case .running, .lost, .stopped: status = .conflict
                case .otherOwner: status = .forbidden
                }
                throw HTTPError(status, message: refusal.description)
            }
        }
    }

    /// What runs beside the server on the archive: compression of ended streams, and retention when
    /// `--retain` or `--max-archive-bytes` asks for it.
    static func archiveServices(_ configuration: ServerConfiguration, hub: Hub, metrics: ServerMetrics, logger: Logger) -> [any Service] {
        var services: [any Service] = [CompressionService(hub: hub, logger: logger)]
        if configuration.retainMs != nil || configuration.maxArchiveBytes != nil {
            services.append(RetentionService(
                hub: hub, retainMs: configuration.retainMs, maxBytes: configuration.maxArchiveBytes, metrics: metrics, logger: logger))
        }
        return services
    }
}
