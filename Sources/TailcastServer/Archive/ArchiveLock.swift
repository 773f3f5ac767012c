#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// One server per `--data`: two servers appending to one stream file would interleave agents' bytes and
/// acknowledge what the other overwrote. The lock is a `flock` on `DATA/lock`, held for the life of the
/// process; the kernel drops it when the process ends however it ends (kill -9 included), so a crash never
/// leaves a stale lock. The file holds the holder's pid, for the refusal's message only.
public final class ArchiveLock: Sendable {
    private let descriptor: Int32

    /// Another process holds the lock.
    public struct Held: Error, CustomStringConvertible {
        public var path: String
        /// The holder's pid as it wrote it, nil if unreadable.
        public var pid: Int32?
        public var description: String {
            let who = self.pid.map { "another tailcast serve (pid \($0))" } ?? "another tailcast serve"
            return "\(who) is using this archive (\(self.path) is locked): stop it, or give another --data"
        }
    }

    static let fileName = "lock"

    /// Takes the lock of the archive at `root`, or throws `Held` at once (never waits).
    init(root: String) throws {
        let path = root + "/" + Self.fileName
        let fd = try POSIXFile.open(path, flags: O_RDWR | O_CREAT)
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let failure = errno
            defer { close(fd) }
            if failure == EWOULDBLOCK { throw Held(path: path, pid: Self.pid(in: fd)) }
            throw ArchiveError(operation: "lock", path: path, errno: failure)
        }
        do {
            try POSIXFile.setMode(fd, POSIXFile.fileMode, path: path)
            guard ftruncate(fd, 0) == 0 else { throw ArchiveError(operation: "truncate", path: path, errno: errno) }
            try POSIXFile.pwriteAll(fd, .init(string: "\(getpid())\n"), at: 0, path: path)
        } catch {
            close(fd)
            throw error
        }
        self.descriptor = fd
    }

    deinit {
        close(self.descriptor)
    }

    private static func pid(in fd: Int32) -> Int32? {
        guard let bytes = try? POSIXFile.pread(fd, from: 0, count: 32, path: "") else { return nil }
        return Int32(String(buffer: bytes).prefix(while: \.isNumber))
    }
}
