#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CTailcastSystem
import NIOCore

/// A failed system call on an archive file, with the path, so the log says what to fix.
public struct ArchiveError: Error, CustomStringConvertible {
    public var operation: String
    public var path: String
    public var errno: Int32

    public var description: String {
        "\(self.operation) \(self.path): \(String(cString: strerror(self.errno)))"
    }

    /// Out of space or quota: the server stops acknowledging until space returns.
    public var isNoSpace: Bool { self.errno == ENOSPC || self.errno == EDQUOT }
}

/// Thin, throwing wrappers over the few POSIX calls the archive needs; retries EINTR and short writes.
enum POSIXFile {
    static func open(_ path: String, flags: Int32, mode: mode_t = 0o644) throws -> Int32 {
        let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw ArchiveError(operation: "open", path: path, errno: errno) }
        return fd
    }

    static func pwriteAll(_ fd: Int32, _ buffer: ByteBuffer, at offset: UInt64, path: String) throws {
        let failed = buffer.withUnsafeReadableBytes { tailcast_pwrite_all(fd, $0.baseAddress, $0.count, off_t(offset)) != 0 }
        if failed { throw ArchiveError(operation: "write", path: path, errno: errno) }
    }

    static func pread(_ fd: Int32, from offset: UInt64, count: Int, path: String) throws -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: count)
        let n = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { raw in
            var got = 0
            while got < count {
                let n = Glibc.pread(fd, raw.baseAddress! + got, count - got, off_t(offset) + off_t(got))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ArchiveError(operation: "read", path: path, errno: errno)
                }
                if n == 0 { break }
                got += n
            }
            return got
        }
        buffer.moveWriterIndex(to: n)
        return buffer
    }

    static func size(_ fd: Int32, path: String) throws -> UInt64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ArchiveError(operation: "stat", path: path, errno: errno) }
        return UInt64(st.st_size)
    }

    static func dataSync(_ fd: Int32, path: String) throws {
        guard fdatasync(fd) == 0 else { throw ArchiveError(operation: "fdatasync", path: path, errno: errno) }
    }

    static func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw ArchiveError(operation: "mkdir", path: path, errno: errno)
        }
    }

    /// fsync a directory so a rename or a new file in it survives a crash.
    static func syncDirectory(_ path: String) throws {
        let fd = try open(path, flags: O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw ArchiveError(operation: "fsync", path: path, errno: errno) }
    }

    /// Replaces `path` with `bytes` so that a reader sees the old or the new file, never a torn one.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let temporary = path + ".tmp"
        let fd = try open(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC)
        do {
            try pwriteAll(fd, ByteBuffer(bytes: bytes), at: 0, path: temporary)
            guard fsync(fd) == 0 else { throw ArchiveError(operation: "fsync", path: temporary, errno: errno) }
            close(fd)
        } catch {
            close(fd)
            // A full disk must not leave half-written temporaries taking the space that would free it.
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else { throw ArchiveError(operation: "rename", path: path, errno: errno) }
        let directory = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
        try syncDirectory(directory.isEmpty ? "." : directory)
    }

    static func readAll(_ path: String) throws -> [UInt8] {
        let fd = try open(path, flags: O_RDONLY)
        defer { close(fd) }
        let size = try size(fd, path: path)
        let buffer = try pread(fd, from: 0, count: Int(size), path: path)
        return Array(buffer.readableBytesView)
    }
}
