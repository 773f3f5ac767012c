import Hummingbird

/// Guards the HTTP API: a request needs a token with `role` when tokens are configured.
struct AccessMiddleware<Context: RequestContext>: RouterMiddleware {
    let access: AccessTokens
    let role: AccessTokens.Role

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        switch self.access.decide(authorization: request.headers[.authorization], for: self.role) {
        case .allowed:
            return try await next(request, context)
        case .missing:
            throw HTTPError(.unauthorized, headers: [.wwwAuthenticate: "Bearer"], message: "this server needs a token: send Authorization: Bearer TOKEN\n")
        case .unknown:
            context.logger.notice("refused \(request.uri.path): unknown token")
            throw HTTPError(.unauthorized, headers: [.wwwAuthenticate: "Bearer error=\"invalid_token\""], message: "unknown token\n")
        case .forbidden(let role):
            throw HTTPError(.forbidden, message: "this token may not \(role.rawValue)\n")
        }
    }
}
