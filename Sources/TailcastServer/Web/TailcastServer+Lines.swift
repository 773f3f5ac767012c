import Hummingbird
import NIOCore

extension TailcastServer {
    /// Where a line of a stream begins, for links to a line of a log too big to load (`#L1234`): the page
    /// asks here, then reads from that offset by `Range` (`raw`). Answered from the stream's `LineIndex`.
    struct LineAnswer: Encodable {
        var stream: String
        var line: UInt64
        var offset: UInt64
        /// The stream's size when asked, for a reader that shows where in it the line is.
        var size: UInt64
    }

    static func line(_ request: Request, job: String, file: StreamFile) async throws -> Response {
        guard let text = request.uri.queryParameters.get("line"), let line = UInt64(text), line > 0 else {
            throw HTTPError(.badRequest, message: "line must be a line number from 1")
        }
        let size = file.size
        guard let offset = try await file.offset(ofLine: line), offset < size else {
            throw HTTPError(.notFound, message: "stream \"\(file.name.prefix(256))\" of job \"\(job)\" has fewer than \(line) lines")
        }
        return try Self.json(LineAnswer(stream: file.name, line: line, offset: offset, size: size))
    }
}
