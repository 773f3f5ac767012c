#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import TailcastProtocol

/// How `tailcast progress`, run inside a wrapped job, reaches the agent: a Unix socket whose path the
/// agent puts in the job's environment as `TAILCAST_PROGRESS`. One JSON object per connection:
/// `{"current": 40, "total": 100, "unit": "epochs", "label": "train", "message": "val loss 0.31"}`;
/// the agent answers `ok` or `error: why`.
public final class ProgressSocket: @unchecked Sendable {
    public static let environmentVariable = "TAILCAST_PROGRESS"

    /// What a job reports.
    public struct Report: Codable, Sendable {
        public var current: Double
        public var total: Double?
        public var unit: String?
        public var label: String?
        public var message: String?

        public init(current: Double, total: Double?, unit: String?, label: String?, message: String?) {
            self.current = current
            self.total = total
            self.unit = unit
            self.label = label
            self.message = message
        }
    }

    public let path: String
    private let fd: Int32
    private let tracker: ProgressTracker

    /// Listens in a fresh directory of its own under /tmp (socket paths are limited to 107 bytes).
    public init(tracker: ProgressTracker) throws {
        var template = Array("\(NSTemporaryDirectory())/tailcast-XXXXXX".utf8CString)
        guard let directory = mkdtemp(&template) else { throw SpoolError("cannot create a directory for the progress socket") }
        self.path = String(cString: directory) + "/progress.sock"
        self.tracker = tracker
        self.fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard self.fd >= 0, Self.withAddress(self.path, { bind(self.fd, $0, $1) }) == 0, listen(self.fd, 16) == 0 else {
            throw SpoolError("cannot listen on \(self.path): \(String(cString: strerror(errno)))")
        }
        let thread = Thread { [self] in self.serve() }
        thread.name = "tailcast-progress"
        thread.start()
    }

    /// Stops listening and removes the socket.
    public func close() {
        shutdown(self.fd, Int32(SHUT_RDWR))
        Glibc.close(self.fd)
        unlink(self.path)
        rmdir((self.path as NSString).deletingLastPathComponent)
    }

    private func serve() {
        while true {
            let client = accept(self.fd, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            let answer: String
            do {
                let report = try ProtocolJSON.decode(Report.self, from: Self.readAll(client))
                self.tracker.record(explicit: try Self.state(of: report))
                answer = "ok\n"
            } catch let error as ReportError {
                answer = "error: \(error.description)\n"
            } catch {
                answer = "error: not a progress report (\(error))\n"
            }
            _ = answer.withCString { write(client, $0, strlen($0)) }
            Glibc.close(client)
        }
    }

    struct ReportError: Error, CustomStringConvertible {
        var description: String
    }

    static func state(of report: Report) throws -> ProgressState {
        guard report.current.isFinite, report.current >= 0 else { throw ReportError(description: "current must be a number >= 0") }
        if let total = report.total, !(total.isFinite && total > 0) { throw ReportError(description: "total must be a number > 0") }
        let label = report.label.map { String($0.prefix(200)) }
        return ProgressState(
            key: "explicit:" + (label ?? ""), label: label, current: report.current, total: report.total,
            unit: String((report.unit ?? "").prefix(32)), message: report.message.map { String($0.prefix(500)) },
            source: .explicit, updatedMs: UnixTime.nowMs())
    }

    /// Sends a report to the agent at `path`; returns its answer.
    public static func send(_ report: Report, to path: String) throws -> String {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SpoolError("cannot create a socket: \(String(cString: strerror(errno)))") }
        defer { Glibc.close(fd) }
        guard Self.withAddress(path, { connect(fd, $0, $1) }) == 0 else {
            throw SpoolError("cannot reach the tailcast agent at \(path): \(String(cString: strerror(errno)))")
        }
        let body = try ProtocolJSON.encode(report)
        _ = body.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
        shutdown(fd, Int32(SHUT_WR))
        return String(decoding: try Self.readAll(fd), as: UTF8.self)
    }

    private static func readAll(_ fd: Int32) throws -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while data.count < 64 << 10 {
            let n = read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        return data
    }

    private static func withAddress(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return -1 }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}
