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
        "\(self.operation) \(self.path): \(self.reason)"
    }

    /// The system's word for the failure, without the path.
    public var reason: String { String(cString: strerror(self.errno)) }

    /// Out of space or quota: the server stops acknowledging until space returns.
    public var isNoSpace: Bool { self.errno == ENOSPC || self.errno == EDQUOT }

    static func symbolicLink(_ path: String) -> ArchiveError {
        ArchiveError(operation: "refusing to follow a symbolic link at", path: path, errno: ELOOP)
    }
}

/// Thin, throwing wrappers over the few POSIX calls the archive needs; retries EINTR and short writes.
/// Nothing inside the archive is reached through a symbolic link (one planted there could point
/// anywhere the server may write), and what the archive creates is private to the server's user and
/// group whatever the umask: directories 0750, files 0640.
enum POSIXFile {
    static let directoryMode: mode_t = 0o750
    static let fileMode: mode_t = 0o640

    static func open(_ path: String, flags: Int32) throws -> Int32 {
        let fd = Glibc.open(path, flags | O_CLOEXEC | O_NOFOLLOW, fileMode)
        guard fd >= 0 else { throw self.error(opening: path) }
        return fd
    }

    /// Opens a file for reading and writing, creating it (0640) if it does not exist.
    static func openOrCreate(_ path: String) throws -> Int32 {
        let created = Glibc.open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, fileMode)
        if created >= 0 {
            try self.setMode(created, fileMode, path: path)
            return created
        }
        guard errno == EEXIST else { throw self.error(opening: path) }
        return try self.open(path, flags: O_RDWR)
    }

    /// The umask only ever removes bits; this sets exactly `mode`. Closes `fd` if it fails.
    static func setMode(_ fd: Int32, _ mode: mode_t, path: String, thenClose: Bool = false) throws {
        let failed = fchmod(fd, mode) != 0
        let error = ArchiveError(operation: "chmod", path: path, errno: errno)
        if failed || thenClose { close(fd) }
        if failed { throw error }
    }

    /// ELOOP from O_NOFOLLOW means a symbolic link: said so in words, since that is what to fix.
    private static func error(opening path: String) -> ArchiveError {
        errno == ELOOP ? .symbolicLink(path) : ArchiveError(operation: "open", path: path, errno: errno)
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

    /// Creates a directory (0750), or checks that the one there is a directory and, unless
    /// `mayBeLink` (the archive's root is the administrator's choice), not a symbolic link.
    static func makeDirectory(_ path: String, mayBeLink: Bool = false) throws {
        if mkdir(path, directoryMode) == 0 {
            try setMode(try open(path, flags: O_RDONLY | O_DIRECTORY), directoryMode, path: path, thenClose: true)
            return
        }
        guard errno == EEXIST else { throw ArchiveError(operation: "mkdir", path: path, errno: errno) }
        guard !mayBeLink else { return }
        guard try isDirectory(path) else { throw ArchiveError(operation: "mkdir", path: path, errno: ENOTDIR) }
    }

    /// Whether `path` is a directory (false if there is nothing there); a symbolic link is refused.
    static func isDirectory(_ path: String) throws -> Bool {
        try self.kind(path) == S_IFDIR
    }

    /// The type bits of what is at `path` (nil if nothing), without following a symbolic link there.
    private static func kind(_ path: String) throws -> mode_t? {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            if errno == ENOENT { return nil }
            throw ArchiveError(operation: "stat", path: path, errno: errno)
        }
        if st.st_mode & S_IFMT == S_IFLNK { throw ArchiveError.symbolicLink(path) }
        return st.st_mode & S_IFMT
    }

    /// fsync a directory so a rename or a new file in it survives a crash.
    static func syncDirectory(_ path: String) throws {
        let fd = try open(path, flags: O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw ArchiveError(operation: "fsync", path: path, errno: errno) }
    }

    /// Flushes the whole file system that holds `path`: one call instead of an fsync per file.
    static func syncFileSystem(_ path: String) throws {
        let fd = try open(path, flags: O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        guard tailcast_syncfs(fd) == 0 else { throw ArchiveError(operation: "syncfs", path: path, errno: errno) }
    }

    /// The size of a regular file, nil if there is none; a symbolic link is refused, not followed.
    static func regularFileSize(_ path: String) throws -> UInt64? {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            if errno == ENOENT { return nil }
            throw ArchiveError(operation: "stat", path: path, errno: errno)
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return UInt64(st.st_size)
        case S_IFLNK: throw ArchiveError.symbolicLink(path)
        default: throw ArchiveError(operation: "open", path: path, errno: EINVAL)
        }
    }

    /// Replaces `path` with `bytes` so that a reader sees the old or the new file, never a torn one.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let temporary = path + ".tmp"
        let fd = try open(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC)
        try setMode(fd, fileMode, path: temporary)
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
