#if canImport(Glibc)
import Glibc
#endif
import CompressNIO
import NIOCore

/// Compresses a finished stream at rest: `NAME.log` becomes `NAME.log.gz` (gzip members, see
/// `MemberIndex`) and `NAME.log.members`. Crash-safe: both are written as `.tmp` files and synced, the
/// index renamed into place, then the `.gz` (the commit point), then the directory synced; only then is
/// `.log` unlinked. Until the commit the plain file is the stream; after it the `.gz` is, and a start
/// finishes (unlinks a `.log` left beside a `.gz`) or discards (unlinks `.tmp` files) what a crash
/// interrupted (`recover`). Blocking: run it on NIO's thread pool.
enum StreamCompression {
    /// Compresses `file` (a stream that takes no more bytes: its job's exit is stored). Returns the bytes
    /// freed on disk. On failure (a full disk) nothing changes but leftover `.tmp` files, which are removed.
    static func compress(_ file: StreamFile) throws -> Int64 {
        let size = file.size
        let (gz, members) = (file.compressedPath, file.membersPath)
        let (gzTemporary, membersTemporary) = (gz + ".tmp", members + ".tmp")
        do {
            let source = try POSIXFile.open(file.dataPath, flags: O_RDONLY)
            defer { close(source) }
            let output = try POSIXFile.open(gzTemporary, flags: O_WRONLY | O_CREAT | O_TRUNC)
            defer { close(output) }
            try POSIXFile.setMode(output, POSIXFile.fileMode, path: gzTemporary)
            var entries: [MemberIndex.Entry] = []
            var written: UInt64 = 0
            var offset: UInt64 = 0
            while offset < size {
                var chunk = try POSIXFile.pread(source, from: offset, count: Int(min(UInt64(MemberIndex.memberBytes), size - offset)), path: file.dataPath)
                guard chunk.readableBytes > 0 else { throw ArchiveError(operation: "read", path: file.dataPath, errno: EIO) }
                entries.append(.init(stream: offset, file: written))
                offset += UInt64(chunk.readableBytes)
                let member = try chunk.compress(with: .gzip())
                try POSIXFile.pwriteAll(output, member, at: written, path: gzTemporary)
                written += UInt64(member.readableBytes)
            }
            entries.append(.init(stream: size, file: written))
            try POSIXFile.dataSync(output, path: gzTemporary)
            let index = MemberIndex(entries: entries)
            try self.writeSynced(index.encoded, to: membersTemporary)
            try self.rename(membersTemporary, to: members)
            try self.rename(gzTemporary, to: gz)
            try POSIXFile.syncDirectory(self.directory(of: gz))
            file.useCompressed(index)
            unlink(file.dataPath)
            try POSIXFile.syncDirectory(self.directory(of: gz))
            return Int64(size) - Int64(written)
        } catch {
            unlink(gzTemporary)
            unlink(membersTemporary)
            throw error
        }
    }

    /// Brings a stream's files to one of the two whole states after a crash, and says which: the member
    /// index when `.log.gz` is the stream, nil when `.log` is (or neither exists yet). `base` is the
    /// stream's path without `.log`.
    static func recover(base: String) throws -> MemberIndex? {
        let (log, gz, members) = (base + ".log", base + ".log.gz", base + ".log.members")
        unlink(gz + ".tmp")
        unlink(members + ".tmp")
        guard try POSIXFile.regularFileSize(gz) != nil else {
            unlink(members)
            return nil
        }
        guard let index = MemberIndex(encoded: ByteBuffer(bytes: try POSIXFile.readAll(members))),
            try POSIXFile.regularFileSize(gz) == index.storedBytes
        else {
            // Cannot happen after a clean commit; with the plain file still there it is the stream.
            guard try POSIXFile.regularFileSize(log) != nil else {
                throw ArchiveError(operation: "read the member index of", path: gz, errno: EIO)
            }
            unlink(gz)
            unlink(members)
            return nil
        }
        if try POSIXFile.regularFileSize(log) != nil {
            unlink(log)
            try POSIXFile.syncDirectory(self.directory(of: log))
        }
        return index
    }

    private static func writeSynced(_ bytes: ByteBuffer, to path: String) throws {
        let fd = try POSIXFile.open(path, flags: O_WRONLY | O_CREAT | O_TRUNC)
        defer { close(fd) }
        try POSIXFile.setMode(fd, POSIXFile.fileMode, path: path)
        try POSIXFile.pwriteAll(fd, bytes, at: 0, path: path)
        try POSIXFile.dataSync(fd, path: path)
    }

    private static func rename(_ from: String, to: String) throws {
        guard Glibc.rename(from, to) == 0 else { throw ArchiveError(operation: "rename", path: from, errno: errno) }
    }

    private static func directory(of path: String) -> String {
        String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
    }
}
