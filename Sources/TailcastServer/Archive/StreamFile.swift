#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CompressNIO
import NIOCore
import NIOPosix
import Synchronization
import TailcastProtocol

/// One stream of a job on disk. `NAME.log` holds the bytes exactly as the job wrote them (so `cat` reads
/// it); `NAME.idx` holds its `TimeMarks`. One writer (the job's publisher) appends; any number of
/// watchers read.
///
/// Nothing is open until it is used: every read, write and sync checks the file out of the archive's
/// `OpenFiles`, which bounds the descriptors of the whole archive and may close this file between uses.
/// The marks are read from `.idx` when first needed and dropped when the file is closed; only the end of
/// the index (where the next record goes, and the last mark) stays in memory.
public final class StreamFile: Sendable {
    static let descriptorsPerStream = 2

    struct Descriptors {
        /// `.log`, or `.log.gz` (read-only) when `members` is set.
        var data: Int32
        var index: Int32
        /// The compressed file's members, when `data` is one: decided when it is opened, so a read that
        /// holds descriptors opened before the stream was compressed goes on reading the plain file.
        var members: MemberIndex?
    }

    /// What an append needs of the index, known from its first reading on.
    struct IndexEnd {
        var size: UInt64
        var last: TimeMarks.Mark?
    }

    struct State {
        /// Bytes written (visible to watchers).
        var size: UInt64
        /// Bytes known to be on stable storage (acknowledged to agents).
        var durableSize: UInt64
        var descriptors: Descriptors?
        /// Nil until `.idx` is first read: its torn or stale tail is cut then.
        var indexEnd: IndexEnd?
        var marks: TimeMarks?
        /// Its job was deleted: the file is never opened again (a new job under the same id has its own).
        var retired = false
        /// Set once the stream is compressed at rest (`StreamCompression`): the next open reads `.log.gz`.
        var members: MemberIndex?
        /// The last bytes written, while the stream's job is watched.
        var tail: LiveTail
    }

    /// Bytes of a watched stream kept in memory: a live batch at 2,000 lines/s is 10-15 KB at most (50 ms
    /// of fan-out pacing), and a job with a stream per tailed file may have a thousand of them.
    static let tailCapacity = 128 << 10

    public let name: String
    let dataPath: String
    let indexPath: String
    private let openFiles: OpenFiles
    private let state: Mutex<State>
    private let lineIndex = Mutex(LineIndex())

    /// A stream whose `.log` holds `size` bytes, all durable (the archive syncs its file system when it
    /// loads). The files are created at the first use.
    init(name: String, dataPath: String, indexPath: String, size: UInt64, openFiles: OpenFiles, members: MemberIndex? = nil) {
        self.name = name
        self.dataPath = dataPath
        self.indexPath = indexPath
        self.openFiles = openFiles
        let size = members?.size ?? size
        self.state = Mutex(State(size: size, durableSize: size, members: members, tail: LiveTail(capacity: Self.tailCapacity, end: size)))
    }

    /// The compressed form of `dataPath`, and its member index.
    var compressedPath: String { self.dataPath + ".gz" }
    var membersPath: String { self.dataPath + ".members" }

    var members: MemberIndex? { self.state.withLock { $0.members } }

    /// Bytes the stream takes on disk (its `.log`, or its `.log.gz`).
    var storedBytes: UInt64 { self.state.withLock { $0.members?.storedBytes ?? $0.size } }

    /// The stream is compressed now: reads go to `.log.gz` from the next open. Descriptors open on the
    /// plain file close as soon as no read holds them (it is about to be unlinked).
    func useCompressed(_ members: MemberIndex) {
        self.state.withLock { $0.members = members }
        self.openFiles.forget(self)
    }

    deinit {
        self.closeDescriptors()
    }

    public var size: UInt64 { self.state.withLock { $0.size } }
    public var durableSize: UInt64 { self.state.withLock { $0.durableSize } }
    var hasUnsyncedBytes: Bool { self.state.withLock { $0.size > $0.durableSize } }
    var isOpen: Bool { self.state.withLock { $0.descriptors != nil } }
    var hasMarksLoaded: Bool { self.state.withLock { $0.marks != nil } }

    /// Called by `OpenFiles` only, when no caller has this file checked out.
    func closeDescriptors() {
        let descriptors = self.state.withLock { state -> Descriptors? in
            state.marks = nil
            defer { state.descriptors = nil }
            return state.descriptors
        }
        guard let descriptors else { return }
        // A write-back error on bytes not yet synced is still reported to the next fdatasync, through
        // the descriptor opened then (Linux reports such an error once to whoever syncs next).
        close(descriptors.data)
        close(descriptors.index)
    }

    /// The file's job was deleted: close it as soon as no read holds it, and never open it again.
    func retire() {
        self.state.withLock { state in
            state.retired = true
            state.tail.empty(at: state.size)
        }
        self.openFiles.forget(self)
    }

    /// Runs `body` with the file open; it stays open (and counted) until `body` returns.
    private func withDescriptors<R>(_ body: (Descriptors) throws -> R) throws -> R {
        self.openFiles.checkOut(self)
        defer { self.openFiles.checkIn(self) }
        let descriptors = try self.state.withLock { state -> Descriptors in
            if let descriptors = state.descriptors { return descriptors }
            if state.retired { throw ArchiveError(operation: "open", path: self.dataPath, errno: ENOENT) }
            let data = try state.members == nil ? POSIXFile.openOrCreate(self.dataPath) : POSIXFile.open(self.compressedPath, flags: O_RDONLY)
            do {
                state.descriptors = Descriptors(data: data, index: try POSIXFile.openOrCreate(self.indexPath), members: state.members)
            } catch {
                close(data)
                throw error
            }
            return state.descriptors!
        }
        return try body(descriptors)
    }

    /// The end of the index; on first use, reads it and cuts what a crash left torn or past the data.
    private func indexEnd(_ descriptors: Descriptors, _ state: inout State) throws -> IndexEnd {
        if let end = state.indexEnd { return end }
        let length = try POSIXFile.size(descriptors.index, path: self.indexPath)
        let marks = try self.readMarks(descriptors, upTo: length, state: &state)
        if length > marks.indexSize {
            guard ftruncate(descriptors.index, off_t(marks.indexSize)) == 0 else {
                throw ArchiveError(operation: "truncate", path: self.indexPath, errno: errno)
            }
        }
        let end = IndexEnd(size: marks.indexSize, last: marks.marks.last)
        state.indexEnd = end
        return end
    }

    private func readMarks(_ descriptors: Descriptors, upTo indexSize: UInt64, state: inout State) throws -> TimeMarks {
        let bytes = try POSIXFile.pread(descriptors.index, from: 0, count: Int(indexSize), path: self.indexPath)
        let marks = TimeMarks(index: bytes, dataSize: state.size)
        state.marks = marks
        return marks
    }

    /// Runs `body` on the marks, read from the index if they are not in memory.
    private func withMarks<R>(_ body: (TimeMarks, UInt64) -> R) throws -> R {
        try self.withDescriptors { descriptors in
            try self.state.withLock { state in
                if let marks = state.marks { return body(marks, state.size) }
                let end = try self.indexEnd(descriptors, &state)
                let marks = try state.marks ?? self.readMarks(descriptors, upTo: end.size, state: &state)
                return body(marks, state.size)
            }
        }
    }

    /// Appends the part of a chunk the file does not have yet. Returns the bytes added.
    /// Throws `StreamFile.Gap` if the chunk starts past the end (bytes would be missing).
    /// `keepTail`: someone watches the stream, so its new bytes are kept in memory for them too.
    @discardableResult
    func append(_ bytes: ByteBuffer, at offset: UInt64, timeMs: UInt64, keepTail: Bool = false) throws -> Int {
        let size = self.size
        guard offset <= size else { throw Gap(stream: self.name, have: size, got: offset) }
        let end = offset + UInt64(bytes.readableBytes)
        guard end > size else { return 0 }
        return try self.withDescriptors { descriptors in
            let indexEnd = try self.state.withLock { try self.indexEnd(descriptors, &$0) }
            let skip = Int(size - offset)
            let fresh = bytes.getSlice(at: bytes.readerIndex + skip, length: bytes.readableBytes - skip)!
            do {
                try POSIXFile.pwriteAll(descriptors.data, fresh, at: size, path: self.dataPath)
            } catch {
                // A full disk can take part of a write: cut it off, so the file holds exactly what was
                // accepted and the agent's resend starts where the file ends.
                _ = ftruncate(descriptors.data, off_t(size))
                throw error
            }
            var mark: TimeMarks.Mark?
            // Compared without adding to a time an agent chose, which could overflow.
            if let last = indexEnd.last, timeMs >= last.timeMs, timeMs - last.timeMs < Wire.timeMarkResolutionMs {
                mark = nil
            } else {
                mark = TimeMarks.Mark(offset: size, timeMs: timeMs)
                do {
                    try POSIXFile.pwriteAll(descriptors.index, TimeMarks.record(mark!), at: indexEnd.size, path: self.indexPath)
                } catch {
                    _ = ftruncate(descriptors.index, off_t(indexEnd.size))
                    _ = ftruncate(descriptors.data, off_t(size))
                    throw error
                }
            }
            self.state.withLock { state in
                if keepTail { state.tail.append(fresh, at: size) } else { state.tail.empty(at: end) }
                state.size = end
                if let mark {
                    state.indexEnd = IndexEnd(size: indexEnd.size + TimeMarks.recordSize, last: mark)
                    state.marks?.append(mark)
                }
            }
            return fresh.readableBytes
        }
    }

    /// Flushes to stable storage; returns the size that is now durable.
    @discardableResult
    func sync() throws -> UInt64 {
        let size = self.size
        if size == self.durableSize { return size }
        try self.withDescriptors { descriptors in
            try POSIXFile.dataSync(descriptors.data, path: self.dataPath)
            try POSIXFile.dataSync(descriptors.index, path: self.indexPath)
            // Before the check-in, so the file is no longer pinned open once it is synced.
            self.state.withLock { $0.durableSize = max($0.durableSize, size) }
        }
        return size
    }

    /// Lets go of the bytes kept in memory (no one watches the stream any more).
    func dropTail() {
        self.state.withLock { $0.tail.empty(at: $0.size) }
    }

    /// The bytes or time marks a read needs are not in memory, and the caller may not wait for the disk.
    struct NotInMemory: Error {}

    /// Reads up to `maxBytes` from `offset`, never past the written size: from memory when the tail holds
    /// them, else from the file, unless `memoryOnly` (then it throws `NotInMemory`).
    public func read(from offset: UInt64, maxBytes: Int, memoryOnly: Bool = false) throws -> ByteBuffer {
        let (size, held) = self.state.withLock { ($0.size, $0.tail.read(from: offset, maxBytes: maxBytes)) }
        if let held { return held }
        if memoryOnly { throw NotInMemory() }
        guard offset < size else { return ByteBuffer() }
        let count = Int(min(UInt64(maxBytes), size - offset))
        return try self.withDescriptors { descriptors in
            guard let members = descriptors.members else {
                return try POSIXFile.pread(descriptors.data, from: offset, count: count, path: self.dataPath)
            }
            return try self.readCompressed(descriptors.data, members, from: offset, count: count)
        }
    }

    /// Reads from `.log.gz`: the members that hold the range, each inflated whole (and kept a while, see
    /// `OpenFiles`: reads near each other, a watcher's batches or `--tail` going backwards, inflate once).
    private func readCompressed(_ fd: Int32, _ members: MemberIndex, from offset: UInt64, count: Int) throws -> ByteBuffer {
        var out = ByteBufferAllocator().buffer(capacity: count)
        var position = offset
        while out.readableBytes < count, let member = members.member(containing: position) {
            let (stream, file) = members.member(member)
            var bytes: ByteBuffer
            if let cached = self.openFiles.inflated(self, member: member) {
                bytes = cached
            } else {
                var compressed = try POSIXFile.pread(fd, from: file.lowerBound, count: Int(file.count), path: self.compressedPath)
                bytes = ByteBufferAllocator().buffer(capacity: Int(stream.count))
                do {
                    try compressed.decompress(to: &bytes, with: .gzip())
                } catch {
                    throw ArchiveError(operation: "inflate member \(member) of", path: self.compressedPath, errno: EIO)
                }
                guard bytes.readableBytes == stream.count else {
                    throw ArchiveError(operation: "inflate member \(member) of", path: self.compressedPath, errno: EIO)
                }
                self.openFiles.keepInflated(self, member: member, bytes)
            }
            let skip = Int(position - stream.lowerBound)
            let take = min(count - out.readableBytes, bytes.readableBytes - skip)
            var slice = bytes.getSlice(at: bytes.readerIndex + skip, length: take)!
            out.writeBuffer(&slice)
            position += UInt64(take)
        }
        return out
    }

    /// `read` on NIO's thread pool, off the cooperative threads that reads could block.
    public func read(from offset: UInt64, maxBytes: Int) async throws -> ByteBuffer {
        try await NIOThreadPool.singleton.runIfActive { try self.read(from: offset, maxBytes: maxBytes) }
    }

    /// When the byte at `offset` was read, and where the next mark starts (the chunk must end there).
    /// `memoryOnly`: throw `NotInMemory` rather than read the index.
    public func timing(at offset: UInt64, memoryOnly: Bool = false) throws -> (timeMs: UInt64, nextMark: UInt64?) {
        // At or past the last mark (a watcher that has caught up) the end of the index says it all.
        let known = self.state.withLock { state -> (UInt64, UInt64?)? in
            if let marks = state.marks { return marks.timing(at: offset) }
            guard let end = state.indexEnd, end.last.map({ offset >= $0.offset }) ?? true else { return nil }
            return (end.last?.timeMs ?? 0, nil)
        }
        if let known { return known }
        if memoryOnly { throw NotInMemory() }
        return try self.withMarks { marks, _ in marks.timing(at: offset) }
    }

    /// Where, after `offset`, the first bytes read later than `timeMs` begin; nil when none are.
    func firstOffset(after offset: UInt64, readAfter timeMs: UInt64) throws -> UInt64? {
        try self.withMarks { marks, _ in marks.firstOffset(after: offset, readAfter: timeMs) }
    }

    /// First offset whose bytes were read at or after `timeMs` (the end if none was).
    public func offset(sinceMs timeMs: UInt64) throws -> UInt64 {
        try self.withMarks { marks, size in marks.offset(sinceMs: timeMs) ?? size }
    }

    /// `offset(sinceMs:)` on NIO's thread pool: it may read the index.
    public func offset(sinceMs timeMs: UInt64) async throws -> UInt64 {
        try await NIOThreadPool.singleton.runIfActive { try self.offset(sinceMs: timeMs) }
    }

    /// Offset where the last `lines` lines begin (a final line without newline counts as a line).
    public func offset(tailLines lines: UInt64) throws -> UInt64 {
        let size = self.size
        guard lines > 0 else { return size }
        var newlines: UInt64 = 0
        var end = size
        let block: UInt64 = 64 << 10
        // The newline that ends the last line does not start a line.
        if size > 0, try self.read(from: size - 1, maxBytes: 1).getInteger(at: 0, as: UInt8.self) == 0x0A {
            end = size - 1
        }
        var position = end
        while position > 0 {
            let start = position > block ? position - block : 0
            let bytes = try self.read(from: start, maxBytes: Int(position - start))
            let view = bytes.readableBytesView
            var index = view.endIndex
            while index > view.startIndex {
                index = view.index(before: index)
                if view[index] == 0x0A {
                    newlines += 1
                    if newlines == lines { return start + UInt64(index - view.startIndex) + 1 }
                }
            }
            position = start
        }
        return 0
    }

    /// `offset(tailLines:)` on NIO's thread pool: it reads the file backwards.
    public func offset(tailLines lines: UInt64) async throws -> UInt64 {
        try await NIOThreadPool.singleton.runIfActive { try self.offset(tailLines: lines) }
    }

    /// Offset where line `line` (from 1) begins; nil when the stream has no such line (yet). A final line
    /// without its line break counts, as for `offset(tailLines:)`. Reads at most two blocks of `LineIndex`
    /// once the index reaches the line, and extends the index as far as needed first.
    public func offset(ofLine line: UInt64) throws -> UInt64? {
        let size = self.size
        guard line > 1 else { return size > 0 ? 0 : nil }
        let wanted = line - 1
        var index = self.lineIndex.withLock { $0 }
        while index.breaks < wanted, index.indexedBytes + LineIndex.blockBytes <= size {
            let block = try self.read(from: index.indexedBytes, maxBytes: Int(LineIndex.blockBytes))
            guard UInt64(block.readableBytes) == LineIndex.blockBytes else { break }
            index.append(blockBreaks: block.withUnsafeReadableBytes(LineIndex.breaks(in:)))
        }
        self.lineIndex.withLock { if $0.indexedBytes < index.indexedBytes { $0 = index } }
        var (position, before) = index.search(break: wanted)
        while position < size {
            let bytes = try self.read(from: position, maxBytes: Int(min(size - position, LineIndex.blockBytes)))
            guard bytes.readableBytes > 0 else { break }
            let found = bytes.withUnsafeReadableBytes { raw -> Int? in
                for (at, byte) in raw.enumerated() where byte == 0x0A {
                    before += 1
                    if before == wanted { return at }
                }
                return nil
            }
            if let found {
                let start = position + UInt64(found) + 1
                return start < size ? start : nil
            }
            position += UInt64(bytes.readableBytes)
        }
        return nil
    }

    /// `offset(ofLine:)` on NIO's thread pool: it reads the stream.
    public func offset(ofLine line: UInt64) async throws -> UInt64? {
        try await NIOThreadPool.singleton.runIfActive { try self.offset(ofLine: line) }
    }

    public struct Gap: Error, CustomStringConvertible {
        public var stream: String
        public var have: UInt64
        public var got: UInt64
        public var description: String {
            "stream \"\(self.stream)\": chunk starts at \(self.got) but the server holds only \(self.have) bytes"
        }
    }
}
