#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CTailcastSystem
import Foundation
import NIOCore
import Synchronization
import TailcastProtocol

/// The agent's local, on-disk record of a job's output until the server has acknowledged it.
///
///     SPOOL/JOB/spool.bin   chunk records, each encoded exactly as a chunk of a data message
///     SPOOL/JOB/job.json    hello (job, run id, metadata), stream names, and the exit once known
///
/// The job's output is written here first, whatever the network does; the uplink reads it back. Bytes
/// of one stream that arrive within `chunkSpanMs` of each other share one record (one timestamp), so a
/// chatty job does not pay a record header per line; the uplink seals the record it sends. Acknowledged
/// records are punched out of the file, so the disk holds only what the server does not have yet.
public final class Spool: Sendable {
    /// How long after its first byte a record takes more: the server's time-mark resolution and 5 ms.
    /// The margin is for the uplink: it sends a flush window (20 ms by default) after the first unsent
    /// byte and seals the record then, so at exactly 20 ms nearly every message of a chatty job ended in
    /// a second record of the lines read while the send was on its way (1.9 chunk headers per message at
    /// 2,000 lines/s; 3% of the wire).
    static let chunkSpanMs = Wire.timeMarkResolutionMs + 5

    public struct Record: Sendable {
        var stream: UInt32
        var offset: UInt64
        var timeMs: UInt64
        var bytes: [UInt8]
    }

    /// What job.json holds.
    public struct Manifest: Codable, Sendable {
        public var hello: ControlMessage.Hello
        public var streams: [ControlMessage.Open]
        public var exit: ExitStatus?
        public var endedAtMs: UInt64?
        /// Offset moves after evictions (see `EvictionPlan`), oldest first.
        var adjustments: [EvictionPlan.Adjustment]?
    }

    struct State {
        var manifest: Manifest
        /// Streams were added since job.json was written (see `addStream`).
        var manifestChanged = false
        /// Bytes per stream id written so far (spooled or open).
        var streamSizes: [UInt32: UInt64]
        /// The record still collecting bytes.
        var open: Record?
        /// Length of spool.bin.
        var fileSize: UInt64
        /// Bytes dropped because the spool was full and not yet reported into the stream.
        var dropped: [UInt32: UInt64] = [:]
        /// The server holds every record before this position.
        var releasedUpTo: UInt64 = 0
        /// Disk blocks before this position are freed.
        var punchedUpTo: UInt64 = 0
        /// The uplink has read every record before this position: they may be on the server already,
        /// so they are never evicted.
        var readUpTo: UInt64 = 0
        /// Holes left by evictions, not yet released, sorted and disjoint: they hold nothing the server needs.
        var evicted: [Range<UInt64>] = []
        /// Where eviction markers are, and how many bytes of output each stands for.
        var markers: [UInt64: UInt64] = [:]

        /// Adds a hole, merging it with those it touches (a later eviction can take an earlier marker).
        mutating func addHole(_ hole: Range<UInt64>) {
            var merged = hole
            self.evicted.removeAll { other in
                guard other.overlaps(merged) || other.upperBound == merged.lowerBound || merged.upperBound == other.lowerBound else { return false }
                merged = min(other.lowerBound, merged.lowerBound)..<max(other.upperBound, merged.upperBound)
                return true
            }
            self.evicted.append(merged)
            self.evicted.sort { $0.lowerBound < $1.lowerBound }
        }

        /// Spool bytes the server may still need.
        var unacknowledged: UInt64 {
            let holes = self.evicted.reduce(0) { $0 + UInt64($1.clamped(to: self.releasedUpTo..<max(self.releasedUpTo, self.fileSize)).count) }
            return self.fileSize - min(self.fileSize, self.releasedUpTo) - holes + UInt64(self.open?.bytes.count ?? 0)
        }

        /// A record's offset in the delivered stream, after the evictions since it was written.
        func deliveredOffset(stream: UInt32, offset: UInt64, at position: UInt64) -> UInt64 {
            (self.manifest.adjustments ?? []).reduce(offset) { $1.apply(stream: stream, offset: $0, at: position) }
        }
    }

    public let directory: String
    public let maxBytes: UInt64
    /// Bytes the spool cannot take (the agent's disk is full) are refused, not dropped and marked: for
    /// a sidecar, whose files still hold them and are read again.
    public let refusesWhatItCannotWrite: Bool
    private let fd: Int32
    private let state: Mutex<State>
    private let notifier = ChangeNotifier<UInt64>()
    /// Told when the server acknowledged more: a sidecar waiting for room reads on.
    private let releases = ChangeNotifier<Void>()

    public init(
        directory: String, hello: ControlMessage.Hello, streams: [ControlMessage.Open], maxBytes: UInt64, refusesWhatItCannotWrite: Bool = false
    ) throws {
        self.directory = directory
        self.maxBytes = maxBytes
        self.refusesWhatItCannotWrite = refusesWhatItCannotWrite
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // Waits for the lock: another agent starting on the same spool root may hold this new file's lock
        // for the moment it takes to ask whether it was abandoned (`abandoned`), and that is no reason to fail.
        self.fd = try Self.openLocked(directory + "/spool.bin", flags: O_CREAT | O_TRUNC, waiting: true)
        let manifest = Manifest(hello: hello, streams: streams)
        self.state = Mutex(State(manifest: manifest, streamSizes: Dictionary(uniqueKeysWithValues: streams.map { ($0.stream, 0) }), fileSize: 0))
        try self.saveManifest()
    }

    /// Reopens the spool an agent left behind (it was killed, or gave up waiting), to deliver what is in
    /// it. Acknowledged records were punched out up to a record boundary and read as zeros, which no
    /// record starts with (stream ids start at 1); a record torn by a crash at the end is cut off.
    /// Throws `SpoolError.busy` while the agent that wrote it still runs (it holds a lock on spool.bin).
    public init(reopening directory: String) throws {
        self.directory = directory
        self.maxBytes = .max
        self.refusesWhatItCannotWrite = false
        let manifest: Manifest
        do {
            manifest = try ProtocolJSON.decode(Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/job.json")))
        } catch {
            throw SpoolError("\(directory) is not a tailcast spool: job.json: \(error)")
        }
        let fd = try Self.openLocked(directory + "/spool.bin", flags: 0)
        self.fd = fd
        let length = UInt64(max(0, lseek(fd, 0, SEEK_END)))
        self.state = Mutex(State(manifest: manifest, streamSizes: Dictionary(uniqueKeysWithValues: manifest.streams.map { ($0.stream, 0) }), fileSize: length))
        // Stream sizes from the records; the released part at the start reads as zeros.
        var position: UInt64 = 0
        var sizes: [UInt32: UInt64] = [:]
        var firstRecord: UInt64?
        while position < length {
            guard let (records, end) = try? self.records(from: position, upTo: length, maxBytes: 1 << 20), end > position else { break }
            for (at, chunk) in records {
                firstRecord = firstRecord ?? at
                let offset = self.state.withLock { $0.deliveredOffset(stream: chunk.stream, offset: chunk.offset, at: at) }
                sizes[chunk.stream] = max(sizes[chunk.stream] ?? 0, offset + UInt64(chunk.bytes.readableBytes))
            }
            position = end
        }
        // What does not parse at the end is a record torn by a crash.
        if position < length { _ = ftruncate(fd, off_t(position)) }
        let released = firstRecord ?? position
        self.state.withLock { state in
            state.fileSize = position
            state.streamSizes.merge(sizes) { max($0, $1) }
            state.releasedUpTo = released
            state.punchedUpTo = released
        }
    }

    /// Spools under `root` whose agent is gone (nobody holds their lock): output `tailcast flush` can deliver.
    /// A spool without job.json is one an agent is starting right now (it locks spool.bin before writing
    /// job.json), not an abandoned one.
    public static func abandoned(under root: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return entries.sorted().map { "\(root)/\($0)" }.filter { directory in
            guard FileManager.default.fileExists(atPath: directory + "/job.json") else { return false }
            let fd = Glibc.open(directory + "/spool.bin", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            return flock(fd, LOCK_EX | LOCK_NB) == 0
        }
    }

    /// Opens spool.bin and takes its lock, which the kernel drops when the agent dies, even by kill -9.
    private static func openLocked(_ path: String, flags: Int32, waiting: Bool = false) throws -> Int32 {
        let fd = Glibc.open(path, O_RDWR | O_CLOEXEC | flags, 0o600)
        guard fd >= 0 else { throw SpoolError("cannot open \(path): \(String(cString: strerror(errno)))") }
        let operation = waiting ? LOCK_EX : LOCK_EX | LOCK_NB
        var locked = flock(fd, operation)
        while locked != 0 && errno == EINTR { locked = flock(fd, operation) }
        guard locked == 0 else {
            close(fd)
            throw SpoolError.busy(path)
        }
        return fd
    }

    deinit { close(self.fd) }

    public var manifest: Manifest { self.state.withLock { $0.manifest } }

    /// Calls `observer` whenever the spool grows (with its new `extent`), gets a stream or the job ends
    /// (with `UInt64.max`: always worth a look).
    public func observe(_ observer: @escaping @Sendable (UInt64) -> Void) { self.notifier.observe(observer) }

    /// Calls `observer` after every `release`.
    func observeReleases(_ observer: @escaping @Sendable () -> Void) { self.releases.observe(observer) }

    /// Takes bytes the job wrote. Never blocks on the network; only on the local disk. A caller that
    /// appends many pieces at once passes `notify: false` and calls `notifyGrowth()` after the last:
    /// each notification wakes the uplink and the sealer, which cost more than the append itself.
    /// Returns false when the bytes were not taken (dropped and marked, or refused: see
    /// `refusesWhatItCannotWrite`).
    @discardableResult
    public func append(stream: UInt32, bytes: UnsafeRawBufferPointer, timeMs: UInt64, notify: Bool = true) -> Bool {
        // A stream's bytes never reach the spool before the stream is in job.json: a spool reopened
        // after a crash must know every stream its records name.
        guard (try? self.saveManifestIfChanged()) != nil else { return false }
        var evicted = false
        let appended = self.state.withLock { state -> Bool in
            if state.unacknowledged + UInt64(bytes.count) > self.maxBytes {
                // The caller keeps what is refused: nothing is given up for it.
                if self.refusesWhatItCannotWrite { return false }
                // Full: give up the oldest output nobody has read (an eighth of the spool at a time, so
                // this is rare), marked where it was. If all of it may be on the server already (the
                // uplink read it), the newest bytes are not kept instead, marked once room returns.
                let needed = state.unacknowledged + UInt64(bytes.count) - self.maxBytes
                evicted = self.evictOldest(needed: max(needed, self.maxBytes / 8), state: &state)
                if !evicted {
                    state.dropped[stream, default: 0] += UInt64(bytes.count)
                    return false
                }
            }
            // While the note of earlier dropped bytes cannot be written, these go the same way: written
            // before it, they would stand where the lost ones were.
            guard self.noteDropped(stream: stream, timeMs: timeMs, state: &state) else {
                state.dropped[stream, default: 0] += UInt64(bytes.count)
                return false
            }
            return self.add(Array(bytes), stream: stream, timeMs: timeMs, state: &state)
        }
        // Written after the records moved, never before: a crash in between then shows as a gap the
        // server refuses, not as bytes it would take for others.
        if evicted { try? self.saveManifest() }
        if appended, notify { self.notifier.notify(self.extent) }
        return appended
    }

    /// Tries again to write what waits in memory; true when the spool can take more (the disk has room,
    /// and it holds less than `maxBytes`).
    public func canWrite() -> Bool {
        self.state.withLock { $0.unacknowledged < self.maxBytes && self.writeOpenRecord(state: &$0) }
    }

    /// Wakes the uplink after appends made with `notify: false`.
    public func notifyGrowth() { self.notifier.notify(self.extent) }

    /// Carries out an `EvictionPlan` over the records after everything the uplink has read.
    private func evictOldest(needed: UInt64, state: inout State) -> Bool {
        guard self.writeOpenRecord(state: &state) else { return false }
        var headers: [EvictionPlan.RecordHeader] = []
        var position = max(state.readUpTo, state.releasedUpTo)
        var covered: UInt64 = 0
        // Headers of enough records to free `needed` plus room for the markers.
        while position < state.fileSize, covered < needed + 64 << 10 {
            guard let (records, end) = try? self.records(from: position, upTo: state.fileSize, maxBytes: 1 << 20, holes: state.evicted),
                end > position
            else { break }
            for (at, chunk) in records {
                let size = UInt64(varintSize(UInt64(chunk.stream)) + varintSize(chunk.offset) + varintSize(chunk.timeMs)
                    + varintSize(UInt64(chunk.bytes.readableBytes)) + chunk.bytes.readableBytes)
                headers.append(.init(
                    position: at, size: size, stream: chunk.stream,
                    offset: state.deliveredOffset(stream: chunk.stream, offset: chunk.offset, at: at),
                    length: UInt64(chunk.bytes.readableBytes), timeMs: chunk.timeMs, lost: state.markers[at]))
                covered += size
            }
            position = end
        }
        guard let plan = EvictionPlan.make(records: headers, needed: needed, fileEnd: state.fileSize) else { return false }
        var markers = ByteBuffer()
        for marker in plan.markers {
            DataMessage.appendChunk(stream: marker.stream, offset: marker.offset, timeMs: marker.timeMs, bytes: ByteBuffer(bytes: marker.text), into: &markers)
        }
        let hole = (plan.range.lowerBound + plan.markerBytes)..<plan.range.upperBound
        // The hole must read as zeros (`read` skips them); where the file system cannot punch, write them.
        guard Self.writeAll(self.fd, markers, at: plan.range.lowerBound),
            tailcast_punch_hole(self.fd, off_t(hole.lowerBound), off_t(hole.count)) == 0
                || Self.writeAll(self.fd, ByteBuffer(repeating: 0, count: hole.count), at: hole.lowerBound)
        else { return false }
        state.manifest.adjustments = (state.manifest.adjustments ?? []) + plan.adjustments
        for adjustment in plan.adjustments {
            state.streamSizes[adjustment.stream] = UInt64(Int64(state.streamSizes[adjustment.stream] ?? 0) - adjustment.shift)
        }
        state.addHole(hole)
        state.markers = state.markers.filter { !plan.range.contains($0.key) }
        var at = plan.range.lowerBound
        for marker in plan.markers {
            state.markers[at] = marker.lost
            at += marker.encodedSize
        }
        return true
    }

    private static func writeAll(_ fd: Int32, _ buffer: ByteBuffer, at position: UInt64) -> Bool {
        buffer.withUnsafeReadableBytes { tailcast_pwrite_all(fd, $0.baseAddress, $0.count, off_t(position)) == 0 }
    }

    /// Newest output that found the spool full (all of it possibly sent, so nothing could be given up)
    /// is marked where it would have been, once room returns or the job ends.
    /// Returns false while the note cannot be written (the count is kept for it).
    private func noteDropped(stream: UInt32, timeMs: UInt64, state: inout State) -> Bool {
        guard let dropped = state.dropped[stream] else { return true }
        // The note goes only once the spool writes again; the count used to be forgotten when the note
        // was dropped too, and the loss went unmarked.
        guard self.writeOpenRecord(state: &state) else { return false }
        state.dropped[stream] = nil
        let note = Array("\n[tailcast: \(dropped) bytes of output were dropped here: the agent's spool was full]\n".utf8)
        return self.add(note, stream: stream, timeMs: timeMs, state: &state)
    }

    @discardableResult
    private func add(_ bytes: [UInt8], stream: UInt32, timeMs: UInt64, state: inout State) -> Bool {
        let offset = state.streamSizes[stream, default: 0]
        if var open = state.open, open.stream == stream, timeMs >= open.timeMs,
            timeMs - open.timeMs < Self.chunkSpanMs, open.bytes.count + bytes.count <= Wire.maxBatchBytes
        {
            state.open = nil
            open.bytes.append(contentsOf: bytes)
            state.open = open
        } else {
            // The agent's disk refused the previous record: it stays open to be retried, and these bytes
            // get no offsets (so the stream has no hole), only a count for the visible note.
            guard self.writeOpenRecord(state: &state) else {
                if !self.refusesWhatItCannotWrite { state.dropped[stream, default: 0] += UInt64(bytes.count) }
                return false
            }
            state.open = Record(stream: stream, offset: offset, timeMs: timeMs, bytes: bytes)
        }
        state.streamSizes[stream] = offset + UInt64(bytes.count)
        return true
    }

    /// Writes the collecting record to the file so the uplink can send it. On failure (disk full) the
    /// file is left as it was (a partial record is overwritten by the retry) and the record stays open.
    @discardableResult
    private func writeOpenRecord(state: inout State) -> Bool {
        guard let open = state.open else { return true }
        var buffer = ByteBuffer()
        DataMessage.appendChunk(stream: open.stream, offset: open.offset, timeMs: open.timeMs, bytes: ByteBuffer(bytes: open.bytes), into: &buffer)
        let written = Self.writeAll(self.fd, buffer, at: state.fileSize)
        guard written else { return false }
        state.fileSize += UInt64(buffer.readableBytes)
        state.open = nil
        return true
    }

    /// Makes everything appended so far readable by `read`; returns the spool's length.
    public func seal() -> UInt64 {
        self.state.withLock { state in
            self.writeOpenRecord(state: &state)
            return state.fileSize
        }
    }

    /// Writes each collecting record to disk once its time mark is over (`chunkSpanMs` after its first byte),
    /// until cancelled: without it a burst followed by silence would sit in memory while no uplink reads
    /// (the server is down), and a kill -9 of the agent would lose it. Sealing no earlier than that keeps
    /// records as long as they would be anyway (fewer chunk headers on the wire).
    public func keepSealed() async {
        let age = Self.chunkSpanMs
        let grown = WakeSignal()
        self.observe { _ in grown.notify() }
        while !Task.isCancelled {
            await grown.wait()
            while !Task.isCancelled {
                let wait = self.state.withLock { state -> UInt64? in
                    guard let open = state.open else { return nil }
                    let now = UnixTime.nowMs()
                    if now >= open.timeMs + age {
                        self.writeOpenRecord(state: &state)
                        return nil
                    }
                    return open.timeMs + age - now
                }
                guard let wait else { break }
                try? await Task.sleep(for: .milliseconds(Int(wait)))
            }
        }
    }

    /// Where the spool would end if it were sealed now (near enough: a record's header is not counted).
    /// The uplink has work while it has sent less than this, and sees how much is waiting.
    public var extent: UInt64 {
        self.state.withLock { $0.fileSize + UInt64($0.open.map { $0.bytes.count + 1 } ?? 0) }
    }

    /// Bytes in the spool the server has not acknowledged: a sidecar stops reading its files above a bound.
    public var unacknowledgedBytes: UInt64 {
        self.state.withLock { $0.unacknowledged }
    }

    public func streamID(named name: String) -> UInt32? {
        self.state.withLock { $0.manifest.streams.first { $0.name == name }?.stream }
    }

    /// Moves a stream on to `offset` without bytes: for a sidecar resuming at a checkpoint, whose bytes
    /// before it the server acknowledged.
    public func skip(stream: UInt32, to offset: UInt64) {
        self.state.withLock { state in
            self.writeOpenRecord(state: &state)
            state.streamSizes[stream] = max(state.streamSizes[stream] ?? 0, offset)
        }
    }

    /// The streams declared after the first `count`, written in job.json (the uplink announces them).
    public func streams(after count: Int) throws -> ArraySlice<ControlMessage.Open> {
        try self.saveManifestIfChanged()
        return self.state.withLock { $0.manifest.streams.dropFirst(count) }
    }

    /// Adds a stream (a file a sidecar found), continuing at `offset`; returns its id. job.json is written
    /// before the stream's first bytes or its announcement (`saveManifestIfChanged`), not once per stream:
    /// a sidecar finding 1,000 files wrote a growing job.json 1,000 times (80% of its CPU, measured).
    public func addStream(named name: String, at offset: UInt64) -> UInt32 {
        let id = self.state.withLock { state -> UInt32 in
            let id = (state.manifest.streams.map(\.stream).max() ?? 0) + 1
            state.manifest.streams.append(.init(stream: id, name: name))
            state.streamSizes[id] = offset
            state.manifestChanged = true
            return id
        }
        self.notifier.notify(.max)
        return id
    }

    /// Writes job.json if streams were added since it was last written. Held across the check and the
    /// write: a caller that finds nothing to write knows every stream added before is on disk.
    public func saveManifestIfChanged() throws {
        try self.saving.withLock { _ in
            guard self.state.withLock({ state in
                defer { state.manifestChanged = false }
                return state.manifestChanged
            }) else { return }
            do {
                try self.writeManifest()
            } catch {
                self.state.withLock { $0.manifestChanged = true }
                throw error
            }
        }
    }

    /// The server holds every record before this position (as far as this spool knows).
    public var releasedPosition: UInt64 { self.state.withLock { $0.releasedUpTo } }

    /// Sizes of every stream: what the job has written.
    public var streamSizes: [UInt32: UInt64] { self.state.withLock { $0.streamSizes } }

    /// Reads whole records from `position` up to about `maxBytes`, with their offsets in the delivered
    /// stream; returns them and the position after.
    public func read(from start: UInt64, maxBytes: Int) throws -> (chunks: [DataChunk], end: UInt64) {
        let (fileSize, holes) = self.state.withLock { ($0.fileSize, $0.evicted) }
        let (records, end) = try self.records(from: start, upTo: fileSize, maxBytes: maxBytes, holes: holes)
        return self.state.withLock { state in
            state.readUpTo = max(state.readUpTo, end)
            let chunks = records.map { position, chunk in
                var chunk = chunk
                chunk.offset = state.deliveredOffset(stream: chunk.stream, offset: chunk.offset, at: position)
                return chunk
            }
            return (chunks, end)
        }
    }

    /// Whole records (each with its position) from `start`, before `fileSize`, about `maxBytes` of them.
    /// Zeros between records are released or evicted parts and are skipped.
    private func records(
        from start: UInt64, upTo fileSize: UInt64, maxBytes: Int, holes: [Range<UInt64>] = []
    ) throws -> (records: [(UInt64, DataChunk)], end: UInt64) {
        var position = start
        // Known holes are jumped over rather than read.
        for hole in holes where hole.contains(position) { position = hole.upperBound }
        guard position < fileSize else { return ([], position) }
        var want = Int(min(UInt64(maxBytes + 64), fileSize - position))
        while true {
            var buffer = ByteBuffer()
            var failure: Int32 = 0
            // A negative count would trap in ByteBuffer: the error goes out beside it.
            let got = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { raw in
                let n = pread(self.fd, raw.baseAddress!, want, off_t(position))
                if n < 0 { failure = errno }
                return max(n, 0)
            }
            guard got > 0 else {
                throw SpoolError("cannot read the spool: \(failure == 0 ? "it ends before its records do" : String(cString: strerror(failure)))")
            }
            var records: [(UInt64, DataChunk)] = []
            var consumed = 0
            while buffer.readableBytes > 0 {
                // No record starts with a zero (stream ids start at 1).
                if buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) == 0 {
                    buffer.moveReaderIndex(forwardBy: 1)
                    consumed = buffer.readerIndex
                    continue
                }
                let recordStart = buffer.readerIndex
                guard let stream = buffer.readUVarint(), let offset = buffer.readUVarint(), let time = buffer.readUVarint(),
                    let length = buffer.readUVarint(), let bytes = buffer.readSlice(length: Int(length))
                else {
                    buffer.moveReaderIndex(to: recordStart)
                    break
                }
                // A record that would take the read past `maxBytes` waits for the next one (unless it is the
                // first): a message then holds at most `maxBytes` of records, whose headers are no shorter
                // than the chunk headers they become (PROTOCOL.md: at most 262,144 bytes of them).
                if !records.isEmpty, buffer.readerIndex > maxBytes {
                    buffer.moveReaderIndex(to: recordStart)
                    break
                }
                records.append((position + UInt64(recordStart), DataChunk(stream: UInt32(stream), offset: offset, timeMs: time, bytes: bytes)))
                consumed = buffer.readerIndex
                if consumed >= maxBytes { break }
            }
            if !records.isEmpty { return (records, position + UInt64(consumed)) }
            if consumed > 0 {
                position += UInt64(consumed)
                for hole in holes where hole.contains(position) { position = hole.upperBound }
                guard position < fileSize else { return ([], position) }
                want = Int(min(UInt64(maxBytes + 64), fileSize - position))
                continue
            }
            // A single record larger than what we read: read it whole. Records are written whole, so
            // one that does not parse from everything there is would be damage, not a short read.
            guard want < Int(fileSize - position) else { throw SpoolError("damaged spool record at \(position) in \(self.directory)") }
            want = min(want * 2, Int(fileSize - position))
        }
    }

    /// The server holds everything before `position`: give the disk space back.
    public func release(upTo position: UInt64) {
        self.state.withLock { state in
            state.releasedUpTo = max(state.releasedUpTo, position)
            state.evicted.removeAll { $0.upperBound <= state.releasedUpTo }
            // A MiB or more at a time: fewer calls. The hole ends on a record boundary (only whole blocks
            // are freed; the rest reads as zeros), so a reopened spool finds the next record after it.
            let end = state.releasedUpTo
            guard end >= state.punchedUpTo + (1 << 20) else { return }
            if tailcast_punch_hole(self.fd, off_t(state.punchedUpTo), off_t(end - state.punchedUpTo)) == 0 {
                state.punchedUpTo = end
            }
        }
        self.releases.notify(())
    }

    /// Records how the job ended, durably, so a later `tailcast` can still deliver it.
    public func finish(exit: ExitStatus, endedAtMs: UInt64) throws {
        self.state.withLock { state in
            for stream in state.dropped.keys.sorted() { _ = self.noteDropped(stream: stream, timeMs: endedAtMs, state: &state) }
            self.writeOpenRecord(state: &state)
            state.manifest.exit = exit
            state.manifest.endedAtMs = endedAtMs
        }
        try self.saveManifest()
        self.notifier.notify(.max)
    }

    public var exit: (ExitStatus, UInt64)? {
        self.state.withLock { state in state.manifest.exit.map { ($0, state.manifest.endedAtMs ?? 0) } }
    }

    /// One save at a time: saves share job.json's temporary file (the sidecar's thread and the uplink
    /// both save).
    private let saving = Mutex<Void>(())

    private func saveManifest() throws {
        try self.saving.withLock { _ in try self.writeManifest() }
    }

    private func writeManifest() throws {
        try AtomicFile.replace(self.directory + "/job.json", with: try ProtocolJSON.encode(self.manifest, pretty: true))
    }

    /// Everything was delivered: the spool is not needed any more.
    public func remove() {
        try? FileManager.default.removeItem(atPath: self.directory)
    }
}

public struct SpoolError: Error, CustomStringConvertible {
    public var description: String
    public var isBusy = false
    init(_ description: String) { self.description = description }

    static func busy(_ path: String) -> SpoolError {
        var error = SpoolError("\(path) is in use by a running tailcast")
        error.isBusy = true
        return error
    }
}
