import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import NIOCore

extension TailcastServer {
    /// The browser viewer: its pages and assets (built into the binary, `WebAssets`), and the session that
    /// turns a watch token typed once into an HttpOnly cookie (`WatchCookie`). The pages hold no job data:
    /// they read it through `/v1/jobs` and `/v1/watch`, under the same admission as any watcher.
    static func addWebRoutes(to router: Router<TailcastRequestContext>, admission: Admission) {
        router.get("/") { _, _ in Self.asset(WebAssets.page(named: "index.html")!) }
        router.get("/jobs/{job}") { _, _ in Self.asset(WebAssets.page(named: "job.html")!) }
        router.get("/assets/{name}") { _, context -> Response in
            let name = try context.parameters.require("name")
            guard let asset = WebAssets.page(named: name) else { throw HTTPError(.notFound, message: "no asset \"\(name.prefix(64))\"") }
            return Self.asset(asset)
        }
        // The token comes in the body (never in a URL, which proxies and histories keep), from the page's origin only.
        router.post("/v1/session") { request, context -> Response in
            var request = request
            let body = try await request.collectBody(upTo: 8192)
            let token = String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines)
            if let refusal = admission.check(
                role: .watch, host: request.head.authority, origin: request.headers[.origin], authorization: "Bearer " + token)
            {
                Admission.log(refusal, path: "/v1/session", logger: context.logger)
                throw HTTPError(HTTPResponse.Status(code: refusal.status), message: refusal.message)
            }
            guard !admission.access.isEmpty else { return Response(status: .noContent) }
            return Response(status: .noContent, headers: [.setCookie: WatchCookie.setCookie(token: token, tls: admission.tls)])
        }
        router.delete("/v1/session") { _, _ in
            Response(status: .noContent, headers: [.setCookie: WatchCookie.clearCookie(tls: admission.tls)])
        }
    }

    /// Pages run only this server's own scripts and styles and talk only to it; no other site may frame them.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

    static func asset(_ asset: WebAssets.Asset) -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: asset.contentType, .contentSecurityPolicy: Self.contentSecurityPolicy, .xContentTypeOptions: "nosniff",
                .cacheControl: "no-cache", HTTPField.Name("Referrer-Policy")!: "no-referrer",
            ],
            body: .init(byteBuffer: ByteBuffer(string: asset.text)))
    }
}
