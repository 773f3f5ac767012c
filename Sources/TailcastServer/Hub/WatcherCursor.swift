import TailcastProtocol

/// What a watcher's session sees of its job at one moment.
struct JobSnapshot: Equatable {
    struct Stream: Equatable {
        var name: String
        /// The stream's id for every watcher of the job.
        var id: UInt32
        var size: UInt64
        /// When the byte at this watcher's position in the stream was read.
        var headTimeMs: UInt64
    }
    var streams: [Stream]
    var exit: ExitStatus?
    var endedAtMs: UInt64?
    var state: JobState
    var progressVersion: UInt64 = 0
}

/// Decides, without I/O, what a watcher is sent next: announce a stream, send bytes from the archive,
/// finish, or wait. The archive is the watcher's queue: a slow watcher only lags behind in the files,
/// it holds no memory and never slows the publisher or other watchers.
struct WatcherCursor {
    enum Action: Equatable {
        /// Tell the watcher about a stream; the session resolves where it starts and calls `announced`.
        case announce(name: String, id: UInt32)
        /// Send bytes `from..<upTo` of a stream (the session may send fewer and call `sent`), only those read
        /// by `readBy` (Unix ms) when it is set: then another stream's next byte was read at that time, and
        /// goes first.
        case send(name: String, id: UInt32, from: UInt64, upTo: UInt64, readBy: UInt64?)
        /// The job's progress bars changed since they were last sent.
        case progress(version: UInt64)
        /// The job ended and every byte was sent.
        case finish(ExitStatus, endedAtMs: UInt64)
        /// Not following: everything that existed when the watch began was sent.
        case caughtUp(JobState)
        /// Following, caught up, and the job's state changed (its agent came, stopped or was lost) since
        /// the watcher was last told: send the job again.
        case state(JobState)
        /// Nothing to do until the job changes.
        case wait
        /// Finished or caught up already.
        case done
    }

    private struct Entry {
        var id: UInt32
        var offset: UInt64
    }

    private let follow: Bool
    private let only: Set<String>?
    private var entries: [String: Entry] = [:]
    /// Without follow: the sizes when the watch began; nothing beyond them is sent.
    private var limits: [String: UInt64]?
    private var isDone = false
    private var sentProgressVersion: UInt64 = 0
    private var sentState: JobState?

    init(follow: Bool, streams: [String]?) {
        self.follow = follow
        self.only = streams.map(Set.init)
    }

    func offset(of name: String) -> UInt64? { self.entries[name]?.offset }

    mutating func next(_ snapshot: JobSnapshot) -> Action {
        if self.isDone { return .done }
        if !self.follow && self.limits == nil {
            self.limits = Dictionary(snapshot.streams.map { ($0.name, $0.size) }, uniquingKeysWith: max)
        }
        let wanted = snapshot.streams.filter { self.only?.contains($0.name) ?? true }
        if let new = wanted.first(where: { self.entries[$0.name] == nil }) {
            return .announce(name: new.name, id: new.id)
        }
        // Of the streams with unsent bytes, the one whose next byte was read first, up to where the runner-up's
        // next byte was read: replay interleaves streams in the order they were written, as the live view does.
        var best: (stream: JobSnapshot.Stream, entry: Entry, limit: UInt64)?
        var runnerUp: UInt64?
        for stream in wanted {
            let entry = self.entries[stream.name]!
            let limit = min(stream.size, self.limits.map { $0[stream.name] ?? 0 } ?? .max)
            guard entry.offset < limit else { continue }
            if best == nil || stream.headTimeMs < best!.stream.headTimeMs {
                runnerUp = best.map { min(runnerUp ?? .max, $0.stream.headTimeMs) }
                best = (stream, entry, limit)
            } else {
                runnerUp = min(runnerUp ?? .max, stream.headTimeMs)
            }
        }
        if let best {
            return .send(name: best.stream.name, id: best.entry.id, from: best.entry.offset, upTo: best.limit, readBy: runnerUp)
        }
        // Bars follow the bytes: once caught up, and always before the end, so the last state shown is final.
        if snapshot.progressVersion != self.sentProgressVersion {
            return .progress(version: snapshot.progressVersion)
        }
        let allSent = snapshot.streams.allSatisfy { stream in
            self.entries[stream.name].map { $0.offset >= stream.size } ?? true
        }
        if let exit = snapshot.exit, allSent {
            self.isDone = true
            return .finish(exit, endedAtMs: snapshot.endedAtMs ?? 0)
        }
        if !self.follow {
            self.isDone = true
            return .caughtUp(snapshot.state)
        }
        if snapshot.exit == nil, let sent = self.sentState, sent != snapshot.state {
            return .state(snapshot.state)
        }
        return .wait
    }

    /// The stream was announced to the watcher as `id`, starting at `offset`.
    mutating func announced(_ name: String, id: UInt32, offset: UInt64) {
        self.entries[name] = Entry(id: id, offset: offset)
    }

    /// The watcher was sent the job in this state.
    mutating func stateSent(_ state: JobState) {
        self.sentState = state
    }

    mutating func progressSent(version: UInt64) {
        self.sentProgressVersion = version
    }

    mutating func sent(_ name: String, upTo offset: UInt64) {
        self.entries[name]?.offset = offset
    }

    /// How far each announced stream was sent, by id: where the job takes over a watcher that waits at the
    /// live end (`LiveWatchers`). Nil unless following: only a follower waits for more.
    var liveOffsets: [UInt32: UInt64]? {
        guard self.follow, !self.isDone else { return nil }
        return Dictionary(uniqueKeysWithValues: self.entries.values.map { ($0.id, $0.offset) })
    }

    /// The job sent the stream with this id up to `offset` while the watcher waited at the live end (never
    /// backwards: what the session sent itself stands).
    mutating func jobSent(stream id: UInt32, upTo offset: UInt64) {
        guard let name = self.entries.first(where: { $0.value.id == id })?.key else { return }
        self.entries[name]!.offset = max(self.entries[name]!.offset, offset)
    }
}
