import HTTPTypes
import Hummingbird
import NIOCore

/// An HTTP refusal with a one-line `text/plain` reason, as PROTOCOL.md promises for admission and for plain
/// requests to the WebSocket paths (Hummingbird's `HTTPError` answers with a JSON body).
struct PlainTextError: HTTPResponseError {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let message: String

    init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.headers = headers
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "text/plain; charset=utf-8"
        headers[.connection] = "close"
        return Response(status: self.status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: self.message + "\n")))
    }
}
