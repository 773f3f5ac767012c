import DequeModule

/// What the tailer knows and decides about one followed file, without I/O: the Tailer stats, reads and
/// closes, tells this what it saw, and does what it is told. Where to read next, whether the file was
/// truncated (copytruncate) or rotated away, when a waiting partial line goes out, how far the
/// checkpoint may move, and when the file is done and may be closed.
struct FollowedFile: Equatable {
    enum Phase: Equatable {
        /// Its path names this file.
        case current
        /// Its path names another file, or none: read to its end, then let go.
        case draining
    }

    /// What `stat` said, the last time the file was read.
    struct Seen: Equatable {
        var size: UInt64
        var modifiedSeconds: Int
        var modifiedNanoseconds: Int
    }

    /// What looking at the file found.
    enum Look: Equatable {
        /// Same size and time as at the last read, and read to its end: nothing to read.
        case unchanged
        /// Read from `readOffset`.
        case read
        /// It shrank below what was read, or its first bytes changed: emptied under us (copytruncate).
        /// Reading restarts at 0; a partial line is dropped; lines written between the last read and
        /// the truncation may be lost (reported). `copiedFingerprint`: the old content's full
        /// fingerprint, so the copy copytruncate made of it is known when it shows up.
        case truncated(at: UInt64, copiedFingerprint: String?)
    }

    private(set) var phase = Phase.current
    private(set) var identity: FileIdentity
    /// Next byte to read.
    private(set) var readOffset: UInt64
    private(set) var lastGrowth: ContinuousClock.Instant
    private var seen: Seen?
    /// (stream end, file end) of what went to the spool and is not acknowledged yet.
    private(set) var unacknowledged: Deque<Pending> = []
    /// Where a restart resumes: only ever what the server acknowledged.
    private(set) var checkpoint: Tailer.Checkpoint

    struct Pending: Equatable {
        var stream: UInt64
        var file: UInt64
    }

    init(path: String, identity: FileIdentity, fileOffset: UInt64, streamOffset: UInt64, now: ContinuousClock.Instant) {
        self.identity = identity
        self.readOffset = fileOffset
        self.lastGrowth = now
        self.checkpoint = Tailer.Checkpoint(path: path, identity: identity, fileOffset: fileOffset, streamOffset: streamOffset)
    }

    /// Found again by identity after a restart, rotated away while the agent was down: drain it.
    static func rotatedAway(_ checkpoint: Tailer.Checkpoint, identity: FileIdentity, now: ContinuousClock.Instant) -> FollowedFile {
        var file = FollowedFile(path: checkpoint.path, identity: identity, fileOffset: checkpoint.fileOffset,
                                streamOffset: checkpoint.streamOffset, now: now)
        file.phase = .draining
        return file
    }

    /// Its path was looked up: `nil` if nothing is there now. Another file there, or none, starts the
    /// drain; a drain never ends by the path coming back (the new file is another file).
    mutating func pathNow(names found: (device: UInt64, inode: UInt64)?) {
        guard self.phase == .current else { return }
        if found?.device != self.identity.device || found?.inode != self.identity.inode { self.phase = .draining }
    }

    /// The file was looked at: its size and time, and its identity read now (nil if that failed).
    mutating func looked(at seen: Seen, identity current: FileIdentity?) -> Look {
        if let last = self.seen, last == seen, seen.size == self.readOffset { return .unchanged }
        self.seen = seen
        let rewritten = current.map { !$0.continues(self.identity) } ?? false
        if let current, !rewritten, current.fingerprint.utf8.count > self.identity.fingerprint.utf8.count {
            // The checkpoint learns the longer fingerprint too: a file checkpointed while empty would
            // otherwise match any later file that reuses its inode, and be resumed at the old offset.
            self.identity = current
            self.checkpoint.identity = current
        }
        guard seen.size < self.readOffset || rewritten else { return .read }
        let truncatedAt = self.readOffset
        let copied = self.identity.isFull ? self.identity.fingerprint : nil
        if let current {
            self.identity = current
            // After a restart this content is read again from its start, at the stream offset
            // acknowledged by then: the server holding those offsets already, nothing is doubled.
            self.checkpoint.identity = current
            self.checkpoint.fileOffset = 0
            self.unacknowledged = Deque(self.unacknowledged.map { Pending(stream: $0.stream, file: 0) })
        }
        self.readOffset = 0
        return .truncated(at: truncatedAt, copiedFingerprint: copied)
    }

    /// `count` bytes were read from `readOffset`.
    mutating func read(_ count: Int, now: ContinuousClock.Instant) {
        self.readOffset += UInt64(count)
        self.lastGrowth = now
    }

    /// Whether a last line without newline goes out now: once the file is quiet for `timeout`, or
    /// at once when it is draining (no more will come).
    func flushesPartialLine(now: ContinuousClock.Instant, timeout: Duration) -> Bool {
        self.phase == .draining || now >= self.lastGrowth + timeout
    }

    /// Bytes up to `fileEnd` of the file went to the spool, ending its stream at `streamEnd`.
    mutating func spooled(streamEnd: UInt64, fileEnd: UInt64) {
        self.unacknowledged.append(Pending(stream: streamEnd, file: fileEnd))
    }

    /// The server acknowledged its stream up to `streamOffset`: returns whether the checkpoint moved.
    mutating func acknowledged(upTo streamOffset: UInt64) -> Bool {
        var moved = false
        while let first = self.unacknowledged.first, first.stream <= streamOffset {
            self.checkpoint.fileOffset = first.file
            self.checkpoint.streamOffset = first.stream
            self.unacknowledged.removeFirst()
            moved = true
        }
        return moved
    }

    /// Whether a draining file is done: read to its end (`size` now), nothing held back, everything
    /// acknowledged, and quiet for a second (a writer through an old descriptor may still be at it).
    func isDrained(size: UInt64, holdsPartialLine: Bool, now: ContinuousClock.Instant) -> Bool {
        self.phase == .draining && !holdsPartialLine && self.unacknowledged.isEmpty && now >= self.lastGrowth + .seconds(1)
            && size <= self.readOffset
    }
}
