#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CTailcastSystem
import Foundation

/// Replaces a small file (a manifest, checkpoints) so that a reader, or the next start after a crash,
/// sees the old content or the new, never a torn file: temporary file, fsync, rename.
enum AtomicFile {
    static func replace(_ path: String, with data: Data) throws {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SpoolError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let written = data.withUnsafeBytes { tailcast_write_all(fd, $0.baseAddress, $0.count) == 0 }
        let synced = fsync(fd) == 0
        close(fd)
        guard written, synced else { throw SpoolError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        guard rename(temporary, path) == 0 else { throw SpoolError("cannot replace \(path): \(String(cString: strerror(errno)))") }
    }
}
