import Hummingbird
import TailcastProtocol

extension TailcastServer {
    /// `GET /v1/jobs?limit=N&after=CURSOR&state=S&since=T&pattern=GLOB` (`q` for `pattern`): a page and
    /// a filter, or 400 naming the value that is wrong, never a silently ignored filter.
    static func listQuery(_ request: Request) throws -> (ControlMessage.ListRequest, JobFilter) {
        let query = request.uri.queryParameters
        var limit: Int?
        if let text = query.get("limit") {
            guard let value = Int(text), value >= 1 else {
                throw HTTPError(.badRequest, message: "limit \(Hub.pageLimitRule)")
            }
            limit = value
        }
        if query.get("pattern") != nil && query.get("q") != nil {
            throw HTTPError(.badRequest, message: "give pattern or q, not both")
        }
        switch JobFilter.parse(pattern: query.get("pattern") ?? query.get("q"), state: query.get("state"), since: query.get("since")) {
        case .success(let filter):
            return (ControlMessage.ListRequest(limit: limit, after: query.get("after")), filter)
        case .failure(let problem):
            throw HTTPError(.badRequest, message: problem.description)
        }
    }
}
