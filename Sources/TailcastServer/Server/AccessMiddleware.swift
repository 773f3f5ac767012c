import Hummingbird
import Logging

/// Guards the HTTP API (and the plain-HTTP side of the WebSocket paths): see `Admission`.
struct AccessMiddleware<Context: RequestContext>: RouterMiddleware {
    let admission: Admission

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try self.check(request, logger: context.logger)
        return try await next(request, context)
    }

    /// Throws the HTTP error (403, 401) that refuses `request`, before any work is done for it.
    func check(_ request: Request, logger: Logger) throws {
        guard let role = Admission.role(forPath: request.uri.path),
            let refusal = self.admission.check(
                role: role, host: request.head.authority, origin: request.headers[.origin], authorization: request.headers[.authorization])
        else { return }
        Admission.log(refusal, path: request.uri.path, logger: logger)
        var headers: HTTPFields = [:]
        if let challenge = refusal.wwwAuthenticate { headers[.wwwAuthenticate] = challenge }
        throw PlainTextError(HTTPResponse.Status(code: refusal.status), refusal.message, headers: headers)
    }
}
