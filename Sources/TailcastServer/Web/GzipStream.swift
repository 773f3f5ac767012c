import Foundation
import CompressNIO
import NIOCore

/// Compresses a body as one gzip member, piece by piece, so a large stream is never held whole.
final class GzipStream {
    private let compressor: ZlibCompressor

    init() throws {
        self.compressor = try ZlibCompressor(algorithm: .gzip)
    }

    /// The compressed bytes `input` yields now; with `finish`, also what is still buffered and the gzip trailer.
    func compress(_ input: ByteBuffer, finish: Bool) throws -> ByteBuffer {
        var input = input
        var output = ByteBuffer()
        // zlib makes no progress on empty input without a flush (and says so as a full buffer).
        if input.readableBytes == 0 && !finish { return output }
        while true {
            output.reserveCapacity(minimumWritableBytes: max(16 << 10, input.readableBytes / 2))
            do {
                try self.compressor.deflate(from: &input, to: &output, flush: finish ? .finish : .no)
                if finish || input.readableBytes == 0 { return output }
            } catch let error as CompressNIOError where error == .bufferOverflow {
                // The output is full (or, finishing, more is to come): make room and go on.
                continue
            }
        }
    }

    /// Whether `Accept-Encoding` accepts gzip (a `q=0` refuses it).
    static func isAccepted(by acceptEncoding: String?) -> Bool {
        guard let acceptEncoding else { return false }
        return acceptEncoding.split(separator: ",").contains { item in
            let fields = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let coding = fields.first, coding == "gzip" || coding == "x-gzip" else { return false }
            let q = fields.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            return q > 0
        }
    }
}
