#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import Synchronization
import TailcastProtocol

/// One stream of a job on disk. `NAME.log` holds the bytes exactly as the job wrote them (so `cat` reads
/// it); `NAME.idx` holds 16-byte little-endian records (offset, Unix ms) marking when the bytes from that
/// offset on were read by the agent. One writer (the job's publisher) appends; any number of watchers read.
public final class StreamFile: Sendable {
    public struct Mark: Equatable, Sendable {
        public var offset: UInt64
        public var timeMs: UInt64
    }

    struct State {
        /// Bytes written (visible to watchers).
        var size: UInt64
        /// Bytes known to be on stable storage (acknowledged to agents).
        var durableSize: UInt64
        var marks: [Mark]
        var indexSize: UInt64
    }

    public let name: String
    let dataPath: String
    let indexPath: String
    private let dataFD: Int32
    private let indexFD: Int32
    private let state: Mutex<State>

    /// Opens (creating if needed) the files; what is already there counts as durable, after an fsync.
    init(name: String, dataPath: String, indexPath: String) throws {
        self.name = name
        self.dataPath = dataPath
        self.indexPath = indexPath
        self.dataFD = try POSIXFile.open(dataPath, flags: O_RDWR | O_CREAT)
        self.indexFD = try POSIXFile.open(indexPath, flags: O_RDWR | O_CREAT)
        let size = try POSIXFile.size(self.dataFD, path: dataPath)
        try POSIXFile.dataSync(self.dataFD, path: dataPath)
        let indexBytes = try POSIXFile.pread(
            self.indexFD, from: 0, count: Int(try POSIXFile.size(self.indexFD, path: indexPath)), path: indexPath)
        var marks: [Mark] = []
        var reader = indexBytes
        // A crash can leave a torn last record or marks past the data: both are dropped.
        while let offset = reader.readInteger(endianness: .little, as: UInt64.self),
            let time = reader.readInteger(endianness: .little, as: UInt64.self), offset < size
        {
            if let last = marks.last, offset < last.offset { break }
            marks.append(Mark(offset: offset, timeMs: time))
        }
        self.state = Mutex(State(size: size, durableSize: size, marks: marks, indexSize: UInt64(marks.count * 16)))
    }

    deinit {
        close(self.dataFD)
        close(self.indexFD)
    }

    public var size: UInt64 { self.state.withLock { $0.size } }
    public var durableSize: UInt64 { self.state.withLock { $0.durableSize } }

    /// Appends the part of a chunk the file does not have yet. Returns the bytes added.
    /// Throws `StreamFile.Gap` if the chunk starts past the end (bytes would be missing).
    @discardableResult
    func append(_ bytes: ByteBuffer, at offset: UInt64, timeMs: UInt64) throws -> Int {
        let (size, lastMark, indexSize) = self.state.withLock { ($0.size, $0.marks.last, $0.indexSize) }
        guard offset <= size else { throw Gap(stream: self.name, have: size, got: offset) }
        let end = offset + UInt64(bytes.readableBytes)
        guard end > size else { return 0 }
        let skip = Int(size - offset)
        let fresh = bytes.getSlice(at: bytes.readerIndex + skip, length: bytes.readableBytes - skip)!
        do {
            try POSIXFile.pwriteAll(self.dataFD, fresh, at: size, path: self.dataPath)
        } catch {
            // A full disk can take part of a write: cut it off, so the file holds exactly what was
            // accepted and the agent's resend starts where the file ends.
            _ = ftruncate(self.dataFD, off_t(size))
            throw error
        }
        var mark: Mark?
        // Written without adding to a time an agent chose, which could overflow.
        if let lastMark, timeMs >= lastMark.timeMs, timeMs - lastMark.timeMs < Wire.timeMarkResolutionMs {
            mark = nil
        } else {
            mark = Mark(offset: size, timeMs: timeMs)
            var record = ByteBuffer()
            record.writeInteger(size, endianness: .little)
            record.writeInteger(timeMs, endianness: .little)
            do {
                try POSIXFile.pwriteAll(self.indexFD, record, at: indexSize, path: self.indexPath)
            } catch {
                _ = ftruncate(self.indexFD, off_t(indexSize))
                _ = ftruncate(self.dataFD, off_t(size))
                throw error
            }
        }
        self.state.withLock { state in
            state.size = end
            if let mark {
                state.marks.append(mark)
                state.indexSize += 16
            }
        }
        return fresh.readableBytes
    }

    /// Flushes to stable storage; returns the size that is now durable.
    @discardableResult
    func sync() throws -> UInt64 {
        let size = self.size
        if size == self.durableSize { return size }
        try POSIXFile.dataSync(self.dataFD, path: self.dataPath)
        try POSIXFile.dataSync(self.indexFD, path: self.indexPath)
        self.state.withLock { $0.durableSize = max($0.durableSize, size) }
        return size
    }

    /// Reads up to `maxBytes` from `offset`, never past the written size.
    public func read(from offset: UInt64, maxBytes: Int) throws -> ByteBuffer {
        let size = self.size
        guard offset < size else { return ByteBuffer() }
        return try POSIXFile.pread(self.dataFD, from: offset, count: Int(min(UInt64(maxBytes), size - offset)), path: self.dataPath)
    }

    /// When the byte at `offset` was read, and where the next mark starts (the chunk must end there).
    public func timing(at offset: UInt64) -> (timeMs: UInt64, nextMark: UInt64?) {
        self.state.withLock { state in
            let marks = state.marks
            // last mark with offset <= target
            var low = 0
            var high = marks.count
            while low < high {
                let mid = (low + high) / 2
                if marks[mid].offset <= offset { low = mid + 1 } else { high = mid }
            }
            let time = low > 0 ? marks[low - 1].timeMs : (marks.first?.timeMs ?? 0)
            let next = low < marks.count ? marks[low].offset : nil
            return (time, next)
        }
    }

    /// First offset whose bytes were read at or after `timeMs`.
    public func offset(sinceMs timeMs: UInt64) -> UInt64 {
        self.state.withLock { state in
            state.marks.first(where: { $0.timeMs >= timeMs })?.offset ?? state.size
        }
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

    public struct Gap: Error, CustomStringConvertible {
        public var stream: String
        public var have: UInt64
        public var got: UInt64
        public var description: String {
            "stream \"\(self.stream)\": chunk starts at \(self.got) but the server holds only \(self.have) bytes"
        }
    }
}
