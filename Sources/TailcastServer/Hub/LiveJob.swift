import NIOCore
import NIOPosix
import Synchronization
import TailcastProtocol

/// A job as the server holds it: its record, its stream files, who publishes it and who watches it.
/// The publisher is the only writer; watchers read the stream files and are woken when they grow.
public final class LiveJob: Sendable {
    public let id: String
    let archive: Archive

    struct State {
        var stored: Archive.StoredJob
        var files: [StreamFile]
        /// Connection serial of the attached publisher.
        var publisher: UInt64?
        var watchers: [UInt64: AsyncStream<Void>.Continuation] = [:]
        /// Bumped on every progress change, so watchers know to send it.
        var progressVersion: UInt64 = 0
        var progressSavedMs: UInt64 = 0
        /// A new run took the id (`run --replace`): watchers are told and let go.
        var replaced = false
    }

    /// Bars kept per job; the least recently updated go first.
    static let maxBars = 32

    private let state: Mutex<State>
    private let saving = Mutex<Void>(())

    init(stored: Archive.StoredJob, files: [StreamFile], archive: Archive) {
        self.id = stored.info.id
        self.archive = archive
        self.state = Mutex(State(stored: stored, files: files))
    }

    /// The job as `ls` and watchers see it, with live sizes and state.
    public var info: JobInfo {
        self.state.withLock { Self.info(of: $0) }
    }

    private static func info(of state: State) -> JobInfo {
        var info = state.stored.info
        info.streams = state.files.map { StreamInfo(name: $0.name, size: $0.size) }
        info.state = info.exit != nil ? .exited : (state.publisher != nil ? .running : .lost)
        return info
    }

    /// What a watcher needs to decide its next step.
    func snapshot(headTimes offsets: (String) -> UInt64?) throws -> JobSnapshot {
        let (files, info, progressVersion) = self.state.withLock { ($0.files, Self.info(of: $0), $0.progressVersion) }
        return JobSnapshot(
            streams: try files.enumerated().map { index, file in
                let offset = offsets(file.name) ?? 0
                return JobSnapshot.Stream(
                    name: file.name, id: Self.streamID(index), size: file.size, headTimeMs: try file.timing(at: offset).timeMs)
            },
            exit: info.exit,
            endedAtMs: info.endedAtMs,
            state: info.state,
            progressVersion: progressVersion
        )
    }

    var streamCount: Int { self.state.withLock { $0.files.count } }

    /// A stream's id for every watcher of the job: its place in the job, from 1. Streams are only ever
    /// added, so ids never change, and a batch prepared once reads the same to every watcher.
    static func streamID(_ index: Int) -> UInt32 { UInt32(truncatingIfNeeded: index + 1) }

    /// Prepared batches are kept up to this many bytes per job (message and deflated copy together).
    static let maxPreparedBytes = 4 << 20
    private let batches = Mutex(BatchCache(maxBytes: LiveJob.maxPreparedBytes))

    /// The next data message for a watcher that has sent stream `id` (`file`) up to `from` and may send up
    /// to `upTo`: a batch other watchers at that place share, or one made now (on NIO's thread pool: it
    /// reads the archive and compresses) and kept for the watchers that come to the same place.
    func preparedBatch(stream id: UInt32, file: StreamFile, from: UInt64, upTo: UInt64) async throws -> PreparedBatch {
        switch self.batches.withLock({ $0.plan(stream: id, from: from, upTo: upTo, maxBytes: Wire.maxBatchBytes) }) {
        case .use(let batch):
            return batch
        case .make(let from, let end):
            let batch = try await NIOThreadPool.singleton.runIfActive {
                let (message, end) = try WatchSession.dataMessage(file: file, id: id, from: from, upTo: end)
                return PreparedBatch(stream: id, from: from, end: end, message: message, deflated: try DeflaterPool.shared.deflate(message))
            }
            self.batches.withLock { $0.keep(batch) }
            return batch
        }
    }

    /// Bytes archived, all streams together.
    var totalBytes: UInt64 { self.state.withLock { $0.files.reduce(0) { $0 + $1.size } } }

    func file(named name: String) -> StreamFile? {
        self.state.withLock { $0.files.first { $0.name == name } }
    }

    // MARK: publishing

    public enum PublishRefusal: Error, CustomStringConvertible {
        /// Another run, or another token, created this job.
        case otherRun(String)
        /// `--replace` of a job whose agent is connected.
        case running(String)
        public var description: String {
            switch self {
            case .otherRun(let id): "job \"\(id)\" belongs to another run; pick another --job id (or --replace it, with the token that created it)"
            case .running(let id): "job \"\(id)\" is running: --replace starts anew only a job that ended or lost its agent"
            }
        }
    }

    /// Makes `connection` the publisher. Only the run that created the job, with the token that created
    /// it, may: the same run takes over from a stale connection of its own (a reconnect the server has
    /// not noticed yet). Both must match, so neither a leaked `run_id` nor another publish token is enough.
    func attachPublisher(_ hello: ControlMessage.Hello, owner: String, connection: UInt64) throws -> (replaced: UInt64?, welcome: ControlMessage.Welcome) {
        try self.state.withLock { state in
            guard AccessTokens.constantTimeEqual(Array(state.stored.runId.utf8), Array(hello.runId.utf8)),
                AccessTokens.constantTimeEqual(Array(state.stored.owner.utf8), Array(owner.utf8))
            else { throw PublishRefusal.otherRun(self.id) }
            let ended = state.stored.info.exit != nil
            let welcome = ControlMessage.Welcome(
                job: self.id,
                streams: state.files.map { StreamInfo(name: $0.name, size: $0.durableSize) },
                ended: ended
            )
            // An ended job takes no publisher: the welcome tells the agent it has nothing more to send.
            if ended { return (nil, welcome) }
            let replaced = state.publisher
            state.publisher = connection
            state.stored.info.lastSeenMs = UnixTime.nowMs()
            return (replaced, welcome)
        }
    }

    /// Whether a hello of another run may start this job anew: only with the token that created it, and
    /// only while no agent of it is connected (a running job is never taken from under its agent).
    func checkReplaceable(owner: String) throws {
        try self.state.withLock { state in
            guard AccessTokens.constantTimeEqual(Array(state.stored.owner.utf8), Array(owner.utf8)) else {
                throw PublishRefusal.otherRun(self.id)
            }
            guard state.publisher == nil else { throw PublishRefusal.running(self.id) }
        }
    }

    /// True for a hello of the run that created the job.
    func isRun(of hello: ControlMessage.Hello) -> Bool {
        self.state.withLock { AccessTokens.constantTimeEqual(Array($0.stored.runId.utf8), Array(hello.runId.utf8)) }
    }

    var isReplaced: Bool { self.state.withLock { $0.replaced } }

    func markReplaced() {
        self.state.withLock { $0.replaced = true }
        self.notifyWatchers()
    }

    func isPublisher(_ connection: UInt64) -> Bool {
        self.state.withLock { $0.publisher == connection }
    }

    func detachPublisher(_ connection: UInt64) {
        let changed = self.state.withLock { state -> Bool in
            guard state.publisher == connection else { return false }
            state.publisher = nil
            state.stored.info.lastSeenMs = UnixTime.nowMs()
            return true
        }
        if changed {
            try? self.saveRecord()
            self.notifyWatchers()
        }
    }

    /// The stream called `name`, created (and recorded durably in job.json) if new.
    func openStream(named name: String) throws -> StreamFile {
        let (file, created) = try self.state.withLock { state -> (StreamFile, Bool) in
            if let file = state.files.first(where: { $0.name == name }) { return (file, false) }
            let fileName = Archive.fileName(for: name, taken: Set(state.stored.streams.map(\.file)))
            let file = try self.archive.openStream(job: self.id, name: name, file: fileName)
            state.files.append(file)
            state.stored.streams.append(.init(name: name, file: fileName))
            return (file, true)
        }
        if created {
            try self.saveRecord()
            self.notifyWatchers()
        }
        return file
    }

    /// Writes a chunk's new bytes, if `connection` is still the publisher.
    func append(_ chunk: DataChunk, to file: StreamFile, connection: UInt64) throws -> Int {
        try self.state.withLock { state in
            guard state.publisher == connection else { throw Replaced() }
            guard state.stored.info.exit == nil else { throw Ended() }
            return try file.append(chunk.bytes, at: chunk.offset, timeMs: chunk.timeMs)
        }
    }

    struct Replaced: Error {}
    /// The job's end is stored: nothing more goes into it.
    struct Ended: Error {}

    /// Merges new states of some bars. Saved to job.json at most once a second (and at the end):
    /// progress is a view of the output, the output itself is what must never be lost. Bars that did not
    /// change (an agent sends them all again after a reconnect) wake no watcher.
    func updateProgress(_ bars: [ProgressState]) {
        let changed = self.state.withLock { state -> Bool? in
            var progress = state.stored.info.progress
            for bar in bars {
                if let index = progress.firstIndex(where: { $0.key == bar.key }) {
                    progress[index] = bar
                } else {
                    progress.append(bar)
                }
            }
            // What the job says wins over what was read off its output.
            let explicit = progress.filter { $0.source == .explicit }
            if !explicit.isEmpty { progress = explicit }
            if progress.count > Self.maxBars {
                progress = Array(progress.sorted { $0.updatedMs > $1.updatedMs }.prefix(Self.maxBars))
            }
            guard progress != state.stored.info.progress else { return nil }
            state.stored.info.progress = progress
            state.progressVersion += 1
            let now = UnixTime.nowMs()
            guard now >= state.progressSavedMs + 1000 else { return false }
            state.progressSavedMs = now
            return true
        }
        guard let save = changed else { return }
        if save { try? self.saveRecord() }
        self.notifyWatchers()
    }

    /// Records the exit durably. Bars stay as the agent left them: `done` is the agent's to set (a bar of
    /// a job that crashed at 40% was not finished).
    func end(_ end: ControlMessage.End, connection: UInt64) throws {
        try self.state.withLock { state in
            guard state.publisher == connection else { throw Replaced() }
            guard state.stored.info.exit == nil else { throw Ended() }
            state.stored.info.exit = end.exit
            state.stored.info.endedAtMs = end.endedAtMs
        }
        try self.saveRecord()
        self.notifyWatchers()
    }

    var hasEnded: Bool { self.state.withLock { $0.stored.info.exit != nil } }

    /// One save at a time per job: saves share job.json's temporary file, and the last one to finish
    /// must write the newest state (two connections of one run can race here).
    func saveRecord() throws {
        try self.saving.withLock { _ in
            let stored = self.state.withLock { state in
                var stored = state.stored
                stored.info = Self.info(of: state)
                return stored
            }
            try self.archive.save(stored)
        }
    }

    // MARK: watching

    func subscribe(_ watcher: UInt64) -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.state.withLock { $0.watchers[watcher] = continuation }
        return stream
    }

    func unsubscribe(_ watcher: UInt64) {
        self.state.withLock { $0.watchers.removeValue(forKey: watcher) }?.finish()
    }

    var watcherCount: Int { self.state.withLock { $0.watchers.count } }

    /// How long a woken watcher gathers before it reads: nothing for a few watchers (latency first), then
    /// 50 µs per watcher, at most 50 ms. Measured at 2,000 lines/s: 1,000 watchers woken on every agent
    /// message spent a core on per-write overhead (p99 25 s), each write a 20 ms sliver of log.
    static func fanOutPause(watchers: Int) -> Duration? {
        watchers < 64 ? nil : .microseconds(min(50_000, watchers * 50))
    }

    /// Wakes every watcher; each coalesces wake-ups, so a burst of appends costs one read per watcher.
    func notifyWatchers() {
        let watchers = self.state.withLock { Array($0.watchers.values) }
        for watcher in watchers { watcher.yield() }
    }
}
