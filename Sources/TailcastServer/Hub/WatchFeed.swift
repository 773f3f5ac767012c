import TailcastProtocol

/// What a watch sends, in order, whatever carries it: `WatchSession` (WebSocket) and the Server-Sent Events
/// route read the same steps. It owns the watcher's `WatcherCursor`, resolves where each stream starts and
/// waits for the job to change; the carrier only encodes and writes, then says how far it sent.
struct WatchFeed {
    enum Step {
        /// A stream begins for this watcher at `offset`.
        case stream(name: String, id: UInt32, offset: UInt64)
        /// Bytes `from..<upTo` of a stream are due; the carrier sends some and calls `sent`.
        case bytes(name: String, id: UInt32, file: StreamFile, from: UInt64, upTo: UInt64)
        case progress([ProgressState])
        case finished(ExitStatus, endedAtMs: UInt64)
        case caughtUp(JobState)
        /// Following, and the job's state changed (its agent came, stopped or was lost): send the job again.
        case state(JobInfo)
        /// A new run took the job's id (`run --replace`).
        case replaced
        /// The job was deleted (`rm`, retention): why.
        case removed(String)
        /// Woken, but nothing is due: a carrier that must show it is alive (Server-Sent Events) can say so now.
        case idle
    }

    let job: LiveJob
    private let request: ControlMessage.Watch
    private var cursor: WatcherCursor
    private var wakeUps: AsyncStream<Void>.AsyncIterator
    private let start: [String: UInt64]
    /// With it, the job writes this watcher's batches itself while the watcher waits at the live end
    /// (`LiveWatchers`); `serial` is the watcher's subscription.
    private let live: (serial: UInt64, output: LiveJob.LiveOutput)?

    /// `sentState`: the state of the job the carrier sent first.
    init(
        job: LiveJob, request: ControlMessage.Watch, sentState: JobState, wakeUps: AsyncStream<Void>,
        live: (serial: UInt64, output: LiveJob.LiveOutput)? = nil
    ) {
        self.job = job
        self.live = live
        self.request = request
        self.cursor = WatcherCursor(follow: request.follow, streams: request.streams)
        self.cursor.stateSent(sentState)
        self.wakeUps = wakeUps.makeAsyncIterator()
        self.start = Dictionary((request.offsets ?? []).map { ($0.name, $0.offset) }, uniquingKeysWith: max)
    }

    /// The next step, after waiting for the job to change if nothing is due; nil when the watch is over.
    mutating func next() async throws -> Step? {
        var woken = false
        while true {
            try Task.checkCancellation()
            switch self.job.retirement {
            case .replaced: return .replaced
            case .removed(let why): return .removed(why)
            case nil: break
            }
            let cursor = self.cursor
            // Before the snapshot: a change after it turns this session back from the live end.
            let version = self.job.changeVersion
            let snapshot = try self.job.snapshot(headTimes: { cursor.offset(of: $0) })
            switch self.cursor.next(snapshot) {
            case .announce(let name, let id):
                guard let file = self.job.file(named: name) else { continue }
                let offset: UInt64
                if let explicit = self.start[name] {
                    // Kept even past the end: a server that lost unsynced bytes in a crash gets them again
                    // from the agent, and this watcher has shown them already.
                    offset = explicit
                } else if let lines = self.request.tailLines {
                    offset = try await file.offset(tailLines: lines)
                } else if let since = self.request.sinceMs {
                    offset = try await file.offset(sinceMs: since)
                } else {
                    offset = 0
                }
                self.cursor.announced(name, id: id, offset: offset)
                return .stream(name: name, id: id, offset: offset)
            case .send(let name, let id, let from, var upTo, let readBy):
                guard let file = self.job.file(named: name) else { continue }
                // In a replay, only up to the first bytes read after another stream's next byte (time order).
                if let readBy, let later = try file.firstOffset(after: from, readAfter: readBy) { upTo = min(upTo, later) }
                return .bytes(name: name, id: id, file: file, from: from, upTo: upTo)
            case .progress(let version):
                self.cursor.progressSent(version: version)
                return .progress(self.job.info.progress)
            case .finish(let exit, let endedAtMs):
                return .finished(exit, endedAtMs: endedAtMs)
            case .caughtUp(let state):
                return .caughtUp(state)
            case .state(let state):
                self.cursor.stateSent(state)
                return .state(self.job.info)
            case .wait:
                if woken { return .idle }
                // Everything sent: until woken, the job writes what comes next itself (unless something
                // besides bytes changed since the snapshot: then look again).
                var entered: UInt64?
                if let live = self.live, let offsets = self.cursor.liveOffsets {
                    guard self.job.enterLive(live.serial, output: live.output, offsets: offsets, seenVersion: version) else { continue }
                    entered = live.serial
                }
                // With many watchers the job wakes them gathered (`WakePacing`), so every watcher
                // gets fewer, larger (better compressed) shared batches.
                let wakeUp: Void? = await self.wakeUps.next()
                if let entered {
                    for (stream, offset) in self.job.leaveLive(entered) { self.cursor.jobSent(stream: stream, upTo: offset) }
                }
                guard wakeUp != nil else { return nil }
                woken = true
            case .done:
                return nil
            }
        }
    }

    mutating func sent(_ name: String, upTo offset: UInt64) {
        self.cursor.sent(name, upTo: offset)
    }
}
