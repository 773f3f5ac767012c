import Hummingbird
import Logging
import TailcastProtocol

/// Guards the HTTP API (and the plain-HTTP side of the WebSocket paths): see `Admission`.
struct AccessMiddleware<Context: RequestContext>: RouterMiddleware {
    let admission: Admission

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try self.check(request, logger: context.logger)
        return try await next(request, context)
    }

    /// Throws the HTTP error (403, 401) that refuses `request`, before any work is done for it.
    func check(_ request: Request, logger: Logger) throws {
        guard let role = Admission.role(forPath: request.uri.path, method: request.method.rawValue),
            let refusal = self.admission.check(
                role: role, host: request.head.authority, origin: request.headers[.origin], authorization: request.headers[.authorization],
                cookie: request.headers[.cookie])
        else { return }
        // A plain request to a WebSocket path is our client asking why its upgrade was refused, which
        // was logged already: one refusal, one line.
        let probe = request.uri.path == Wire.publishPath || request.uri.path == Wire.watchPath
        Admission.log(refusal, path: request.uri.path, logger: logger, level: probe ? .debug : .notice)
        var headers: HTTPFields = [:]
        if let challenge = refusal.wwwAuthenticate { headers[.wwwAuthenticate] = challenge }
        throw PlainTextError(HTTPResponse.Status(code: refusal.status), refusal.message, headers: headers)
    }
}
