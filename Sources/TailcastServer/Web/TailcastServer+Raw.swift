import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

extension TailcastServer {
    /// A stream's archived bytes, exactly as written, through the archive's read-by-offset API (so a
    /// stream compressed at rest reads the same). `Range` serves one part (what the viewer pages with);
    /// `Accept-Encoding: gzip` compresses a whole stream on the way. `download=text` or `download=gzip`
    /// saves it as a file (`JOB-STREAM.log`, or `.log.gz` compressed whatever the client accepts).
    static func raw(_ request: Request, job: String, file: StreamFile) throws -> Response {
        let download = request.uri.queryParameters.get("download")
        guard download == nil || download == "text" || download == "gzip" else {
            throw HTTPError(.badRequest, message: "download must be text or gzip")
        }
        // A live stream grows: the response is what it held when asked.
        let size = file.size
        var headers: HTTPFields = [.contentType: "application/octet-stream", .acceptRanges: "bytes"]
        let first: UInt64
        let end: UInt64
        var status = HTTPResponse.Status.ok
        if let download {
            let name = Archive.fileName(for: "\(job)-\(file.name)", taken: []) + (download == "gzip" ? ".log.gz" : ".log")
            headers[.contentDisposition] = "attachment; filename=\"\(name)\""
        }
        switch download == "gzip" ? ByteRange.full : ByteRange(header: request.headers[.range], size: size) {
        case .unsatisfiable:
            headers[.contentRange] = "bytes */\(size)"
            return Response(status: .rangeNotSatisfiable, headers: headers)
        case .partial(let from, let last):
            status = .partialContent
            headers[.contentRange] = "bytes \(from)-\(last)/\(size)"
            (first, end) = (from, last + 1)
        case .full:
            (first, end) = (0, size)
        }
        // Only whole streams are compressed: a range of the compressed form would mean nothing to a reader.
        let encode = status == .ok && GzipStream.isAccepted(by: request.headers[.acceptEncoding])
        let compress = encode || download == "gzip"
        headers[.vary] = "Accept-Encoding"
        if download == "gzip" {
            headers[.contentType] = "application/gzip"
            headers[.acceptRanges] = nil
        } else if compress {
            headers[.contentEncoding] = "gzip"
        } else {
            headers[.contentLength] = "\(end - first)"
        }
        let body = ResponseBody { writer in
            let gzip = compress ? try GzipStream() : nil
            var offset = first
            while true {
                let bytes = offset < end ? try await file.read(from: offset, maxBytes: Int(min(end - offset, 1 << 20))) : ByteBuffer()
                offset += UInt64(bytes.readableBytes)
                // The end; or a stream that shrank under us (never expected), which ends the body rather than spin.
                let last = offset >= end || bytes.readableBytes == 0
                let out = try gzip?.compress(bytes, finish: last) ?? bytes
                if out.readableBytes > 0 { try await writer.write(out) }
                if last { break }
            }
            try await writer.finish(nil)
        }
        return Response(status: status, headers: headers, body: body)
    }
}
