import Metrics
import NIOCore
import NIOPosix
import NIOWebSocket
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
        /// Watchers waiting at the live end, written by the job itself when it grows.
        var live = LiveWatchers<LiveOutput, PreparedBatch>()
        /// Bumped on every change besides bytes (`notifyWatchers`): a session that looked before one does
        /// not wait at the live end (`enterLive`).
        var changeVersion: UInt64 = 0
        /// Bumped on every progress change, so watchers know to send it.
        var progressVersion: UInt64 = 0
        var progressSavedMs: UInt64 = 0
        /// When watchers are woken after appends.
        var wakePacing = WakePacing()
        /// Its agent said `stop` (it went away on purpose); cleared when an agent attaches again.
        var stopped: Bool
        /// Set once the job is being taken out of the archive: watchers are told and let go, and no agent
        /// attaches any more.
        var retirement: Retirement?
        /// The state the node publishing the job recorded in the shared store, while no agent of it is
        /// connected here (`serve --store`); nil in the embedded mode.
        var remote: JobState?
    }

    /// Bars kept per job; the least recently updated go first.
    static let maxBars = 32

    private let state: Mutex<State>
    private let saving = Mutex<Void>(())
    /// One catch-up from the shared store at a time per job: each appends only past what the last one left.
    private let absorbing = Mutex<Void>(())

    init(stored: Archive.StoredJob, files: [StreamFile], archive: Archive) {
        self.id = stored.info.id
        self.archive = archive
        self.state = Mutex(State(stored: stored, files: files, stopped: stored.info.state == .stopped))
    }

    /// Why a job leaves the archive.
    enum Retirement: Equatable {
        /// A new run took the id (`run --replace`).
        case replaced
        /// Deleted: by `tailcast rm`, or by retention; `why` is said to its watchers.
        case removed(why: String)
    }

    /// The job as `ls` and watchers see it, with live sizes and state.
    public var info: JobInfo {
        self.state.withLock { Self.info(of: $0) }
    }

    private static func info(of state: State) -> JobInfo {
        var info = state.stored.info
        info.streams = state.files.map { StreamInfo(name: $0.name, size: $0.size) }
        info.state = Self.jobState(of: state)
        return info
    }

    private static func jobState(of state: State) -> JobState {
        state.stored.info.exit != nil ? .exited : state.publisher != nil ? .running : state.remote ?? (state.stopped ? .stopped : .lost)
    }

    /// What a watcher needs to decide its next step. Taken twice per wake-up by every watcher, so it copies
    /// no more of the record than that (the whole `JobInfo`, metadata and bars, cost 1,000 watchers more
    /// than their cursors).
    func snapshot(headTimes offsets: (String) -> UInt64?) throws -> JobSnapshot {
        let (files, exit, endedAtMs, jobState, progressVersion) = self.state.withLock {
            ($0.files, $0.stored.info.exit, $0.stored.info.endedAtMs, Self.jobState(of: $0), $0.progressVersion)
        }
        return JobSnapshot(
            streams: try files.enumerated().map { index, file in
                let offset = offsets(file.name) ?? 0
                return JobSnapshot.Stream(
                    name: file.name, id: Self.streamID(index), size: file.size, headTimeMs: try file.timing(at: offset).timeMs)
            },
            exit: exit,
            endedAtMs: endedAtMs,
            state: jobState,
            progressVersion: progressVersion
        )
    }

    var streamCount: Int { self.state.withLock { $0.files.count } }
    /// The job's stream names together, in bytes of UTF-8 (bounded by `StreamName.maxBytesPerJob`).
    var streamNameBytes: Int { self.state.withLock { $0.files.reduce(0) { $0 + $1.name.utf8.count } } }

    /// A stream's id for every watcher of the job: its place in the job, from 1. Streams are only ever
    /// added, so ids never change, and a batch prepared once reads the same to every watcher.
    static func streamID(_ index: Int) -> UInt32 { UInt32(truncatingIfNeeded: index + 1) }

    /// Prepared batches are kept up to this many bytes per job (message and deflated copy together), and
    /// up to this many batches (at 2,000 one-line batches a second, the last half second); as many of
    /// formatted Server-Sent Events.
    static let maxPreparedBytes = 4 << 20
    static let maxPreparedBatches = 1024
    private let batches = SharedBatches<PreparedBatch>(maxBytes: LiveJob.maxPreparedBytes, maxCount: LiveJob.maxPreparedBatches)
    let events = SharedBatches<PreparedEvent>(maxBytes: LiveJob.maxPreparedBytes, maxCount: LiveJob.maxPreparedBatches)

    /// Batches up to this size whose bytes and time marks are in memory (the live end of a watched stream)
    /// are made at once, without the thread pool (`SharedBatches.batch`).
    static let batchMadeAtOnceBytes = 32 << 10

    /// The next data message for a watcher that has sent stream `id` (`file`) up to `from` and may send up
    /// to `upTo`: a batch other watchers at that place share (kept, or being made), or one made now (from
    /// memory at the live end, else on NIO's thread pool: it reads the archive and compresses) and kept for
    /// the watchers that come there.
    func preparedBatch(stream id: UInt32, file: StreamFile, from: UInt64, upTo: UInt64) async throws -> PreparedBatch {
        try await self.batches.batch(
            .init(), stream: id, from: from, upTo: upTo, maxBytes: Wire.maxBatchBytes,
            makeAtOnce: { from, end in Self.batchFromMemory(file: file, stream: id, from: from, end: end) },
            make: { from, end in try PreparedBatch(file: file, stream: id, from: from, upTo: end, memoryOnly: false) }
        )
    }

    /// A batch of bytes `from..<end` made now, when it is small (`batchMadeAtOnceBytes`) and its bytes and
    /// time marks are in memory; nil otherwise: larger ones (a watcher far behind) are made on the thread pool.
    private static func batchFromMemory(file: StreamFile, stream id: UInt32, from: UInt64, end: UInt64) -> PreparedBatch? {
        guard end - from <= Self.batchMadeAtOnceBytes else { return nil }
        return try? PreparedBatch(file: file, stream: id, from: from, upTo: end, memoryOnly: true)
    }

    /// Bytes archived, all streams together.
    var totalBytes: UInt64 { self.state.withLock { $0.files.reduce(0) { $0 + $1.size } } }

    var files: [StreamFile] { self.state.withLock { $0.files } }

    /// Bytes the job's stream files take on disk (compressed ones as compressed).
    var storedBytes: UInt64 { self.files.reduce(0) { $0 + $1.storedBytes } }

    func file(named name: String) -> StreamFile? {
        self.state.withLock { $0.files.first { $0.name == name } }
    }

    // MARK: publishing

    public enum PublishRefusal: Error, CustomStringConvertible {
        /// Another run, or another token, created this job.
        case otherRun(String)
        /// `--replace` of a job whose agent is connected.
        case running(String)
        /// The job was deleted while its agent was away.
        case removed(String)
        public var description: String {
            switch self {
            case .removed(let id): "job \"\(id)\" was deleted on the server (tailcast rm or retention); pick another --job id"
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
            switch state.retirement {
            case .removed: throw PublishRefusal.removed(self.id)
            case .replaced: throw PublishRefusal.otherRun(self.id)
            case nil: break
            }
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
            state.stopped = false
            state.remote = nil
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

    /// True for the run that created the job (a hello's `run_id`, or the run the shared store holds).
    func isRun(_ runId: String) -> Bool {
        self.state.withLock { AccessTokens.constantTimeEqual(Array($0.stored.runId.utf8), Array(runId.utf8)) }
    }

    /// The shared store's generation of this run of the id (`Archive.StoredJob.generation`).
    var generation: UInt64 { self.state.withLock { $0.stored.generation } }

    var retirement: Retirement? { self.state.withLock { $0.retirement } }

    /// False if the job was retired already (another hello replaced it, or it was removed).
    func markReplaced() -> Bool {
        let first = self.state.withLock { state -> Bool in
            guard state.retirement == nil else { return false }
            state.retirement = .replaced
            return true
        }
        self.notifyWatchers()
        return first
    }

    /// Marks the job removed, if it may be: atomically with agents attaching, so a job with an agent
    /// connected is never removed. A job without an exit stored (its agent lost, which may still deliver
    /// with `tailcast flush`, or its sidecar stopped, which may start again and continue it) only with
    /// `allowUnended`; with an `owner` (`tailcast rm`), only for the token that created the job.
    func markRemoved(why: String, owner: String?, allowUnended: Bool) throws(Hub.RemovalRefusal) {
        try self.state.withLock { state throws(Hub.RemovalRefusal) in
            guard state.retirement == nil else { throw .unknown(self.id) }
            if let owner, !AccessTokens.constantTimeEqual(Array(state.stored.owner.utf8), Array(owner.utf8)) {
                throw .otherOwner(self.id)
            }
            guard state.publisher == nil, state.remote != .running else { throw .running(self.id) }
            guard state.stored.info.exit != nil || allowUnended else {
                throw Self.jobState(of: state) == .stopped ? .stopped(self.id) : .lost(self.id)
            }
            state.retirement = .removed(why: why)
        }
        self.notifyWatchers()
    }

    /// Undoes `markRemoved` when its folder could not be taken away: the job stays as it was.
    func unmarkRemoved() {
        self.state.withLock { $0.retirement = nil }
    }

    /// What retention weighs of the job. It counts as finished once no agent is connected (an exit
    /// stored, its agent lost, or its sidecar stopped), from the last time the server heard from its agent (the server's
    /// clock, not the agent's).
    var retentionCandidate: RetentionPlan.Job {
        self.state.withLock { state in
            RetentionPlan.Job(
                id: self.id, bytes: state.files.reduce(0) { $0 + $1.storedBytes }, finishedAtMs: state.stored.info.lastSeenMs,
                finished: state.publisher == nil && state.remote != .running)
        }
    }

    /// Lets go of the stream files of a job taken out of the archive: their descriptors close as soon as
    /// no read holds them (so the disk space comes back), and nothing reopens them.
    func closeFiles() {
        for file in self.files { file.retire() }
    }

    /// An agent of the job is connected to this node.
    var hasPublisher: Bool { self.state.withLock { $0.publisher != nil } }

    func isPublisher(_ connection: UInt64) -> Bool {
        self.state.withLock { $0.publisher == connection }
    }

    /// The publisher said `stop`: once it is gone, the job shows `stopped` rather than `lost`.
    func markStopped(connection: UInt64) {
        self.state.withLock { state in
            if state.publisher == connection { state.stopped = true }
        }
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
            return try file.append(chunk.bytes, at: chunk.offset, timeMs: chunk.timeMs, keepTail: !state.watchers.isEmpty)
        }
    }

    struct Replaced: Error {}
    /// The job's end is stored: nothing more goes into it.
    struct Ended: Error {}

    /// Merges new states of some bars. Saved to job.json at most once a second (and at the end):
    /// progress is a view of the output, the output itself is what must never be lost. Bars that did not
    /// change (an agent sends them all again after a reconnect) wake no watcher. True when it saved.
    @discardableResult
    func updateProgress(_ bars: [ProgressState]) -> Bool {
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
        guard let save = changed else { return false }
        if save { try? self.saveRecord() }
        self.notifyWatchers()
        return save
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
            try self.archive.save(self.record)
        }
    }

    /// The record with live sizes and state: what job.json and the shared store hold.
    var record: Archive.StoredJob {
        self.state.withLock { state in
            var stored = state.stored
            stored.info = Self.info(of: state)
            return stored
        }
    }

    // MARK: following another node (serve --store)

    /// Opens, in this node's cache, the streams of `streams` it does not have yet (under the file names the
    /// store's record gives them, so every node's cache is laid out alike).
    func openStreams(_ streams: [Archive.StoredJob.Stream]) throws {
        let opened = try self.state.withLock { state -> Bool in
            var opened = false
            for stream in streams where !state.files.contains(where: { $0.name == stream.name }) {
                state.files.append(try self.archive.openStream(job: self.id, name: stream.name, file: stream.file))
                state.stored.streams.append(stream)
                opened = true
            }
            return opened
        }
        if opened {
            try self.saveRecord()
            self.notifyWatchers()
        }
    }

    /// Takes the store's record of a job another node publishes: metadata, progress, state and exit.
    /// Its streams must be caught up first, so that no watcher sees an exit before the bytes that precede it.
    func refresh(from stored: Archive.StoredJob) throws {
        // Another run's record never becomes this copy's: `Hub.adopt` retires the copy for it instead.
        guard self.isRun(stored.runId) else { return }
        try self.openStreams(stored.streams)
        let changed = self.state.withLock { state -> Bool in
            guard state.publisher == nil, state.retirement == nil else { return false }
            if state.stored.info.progress != stored.info.progress { state.progressVersion += 1 }
            let streams = state.stored.streams
            state.stored = stored
            state.stored.streams = streams
            state.remote = stored.info.state
            state.stopped = stored.info.state == .stopped
            return true
        }
        guard changed else { return }
        try self.saveRecord()
        self.notifyWatchers()
    }

    /// Appends committed pieces another node published to this node's cache, each only past what the cache
    /// holds (so overlaps and repeats add nothing), with the times they were read. Blocking: NIO's thread pool.
    func absorb(_ pieces: [CommitPlan.Piece]) throws -> Int {
        try self.absorbing.withLock { _ in
            try pieces.reduce(0) { added, piece in
                guard let file = self.file(named: piece.stream) else { return added }
                // Kept in memory while watched, so batches at the live end are made from it (`writeLive`).
                let watched = self.state.withLock { !$0.watchers.isEmpty }
                return added + (try file.append(piece.bytes, at: piece.offset, timeMs: piece.timeMs, keepTail: watched))
            }
        }
    }

    // MARK: watching

    /// Where the job writes a watcher's batches itself (`LiveWatchers`): its WebSocket connection.
    struct LiveOutput: Sendable {
        let channel: any Channel
        /// It negotiated permessage-deflate: batches go deflated, in RSV1 frames.
        let deflates: Bool
        /// Counts the stream bytes written to it (`tailcast_relayed_bytes_total`).
        let relayed: Counter
        /// Bytes handed to its event loop and not written to the channel yet: `isWritable` changes only
        /// when the loop runs, so a busy loop would otherwise take batch after batch.
        let backlog = Backlog()

        final class Backlog: Sendable {
            let bytes = Atomic<Int>(0)
        }

        /// Handed to the event loop beyond this, the watcher's session takes over (and waits for the channel).
        static let maxBacklogBytes = 1 << 20

        var mayTakeMore: Bool {
            self.channel.isWritable && self.backlog.bytes.load(ordering: .relaxed) < Self.maxBacklogBytes
        }
    }

    /// Every change besides bytes so far; read before the snapshot a session decides on (`enterLive`).
    var changeVersion: UInt64 { self.state.withLock { $0.changeVersion } }

    /// The watcher has sent every stream in `offsets` (by id) up to there and waits: until its session is
    /// woken, the job writes the batches that follow itself. The session's writes so far were handed to
    /// the channel's event loop already, so these come after them. False, and nothing entered, when
    /// something besides bytes changed since `seenVersion` (`changeVersion`): the session looks again.
    func enterLive(_ watcher: UInt64, output: LiveOutput, offsets: [UInt32: UInt64], seenVersion: UInt64) -> Bool {
        self.state.withLock { state in
            guard state.changeVersion == seenVersion else { return false }
            state.live.enter(watcher, output: output, offsets: offsets)
            return true
        }
    }

    /// The watcher's session goes on by itself: how far the job sent each stream meanwhile. Taken under
    /// the lock the job's writes are handed to the event loops under, so the session's next writes follow them.
    func leaveLive(_ watcher: UInt64) -> [UInt32: UInt64] {
        self.state.withLock { $0.live.leave(watcher) } ?? [:]
    }

    func subscribe(_ watcher: UInt64) -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.state.withLock { $0.watchers[watcher] = continuation }
        return stream
    }

    func unsubscribe(_ watcher: UInt64) {
        let (continuation, unwatched) = self.state.withLock { state in
            _ = state.live.leave(watcher)
            return (state.watchers.removeValue(forKey: watcher), state.watchers.isEmpty ? state.files : [])
        }
        continuation?.finish()
        // Tails are kept for watchers only: a job no one watches holds none of its bytes in memory.
        for file in unwatched { file.dropTail() }
    }

    /// Something besides the bytes changed (progress, streams, state, the end): every watcher's session
    /// looks for itself, the ones waiting at the live end too (woken as after an append, paced alike). One
    /// that looked before this change and is about to wait at the live end is turned back by the version.
    func notifyWatchers() {
        self.state.withLock { state in
            state.changeVersion += 1
            state.live.ejectAll()
        }
        self.bytesAppended()
    }

    /// Sends what was appended to the watchers: the job writes it to those waiting at the live end itself,
    /// and wakes the others; each coalesces wake-ups, so a burst of appends costs one read per watcher.
    /// With many watchers this happens at most once per `WakePacing.interval`, on one timer for the job:
    /// a sleep per watcher cost more than the writes at 1,000 watchers (perf: libdispatch's timer heap and
    /// a task switch per sleep).
    func bytesAppended() {
        let now = NIODeadline.now()
        let action = self.state.withLock { state in state.wakePacing.appended(watchers: state.watchers.count, now: now) }
        switch action {
        case .wakeNow:
            self.wake()
        case .wakeAt(let deadline):
            // Made and written from NIO's thread pool, not on the timer's event loop: it takes the job's
            // lock (which appends hold across a write to disk) and deflates.
            MultiThreadedEventLoopGroup.singleton.next().scheduleTask(deadline: deadline) {
                NIOThreadPool.singleton.submit { _ in
                    self.state.withLock { $0.wakePacing.scheduledWakeUp(now: .now()) }
                    self.wake()
                }
            }
        case .nothing:
            break
        }
    }

    private func wake() {
        let sleepers = self.state.withLock { state in state.watchers.filter { !state.live.isServedByJob($0.key) }.map(\.value) }
        for sleeper in sleepers { sleeper.yield() }
        self.writeLive()
    }

    /// Makes one batch per place watchers at the live end stand at (from memory: it never waits for the
    /// disk) and writes it to each of them, grouped by event loop; wakes those it cannot serve.
    private func writeLive() {
        let (sizes, places, files) = self.state.withLock { state in
            let sizes = Self.sizes(of: state.files)
            return (sizes, state.live.places(sizes: sizes), state.files)
        }
        guard !places.isEmpty else { return }
        var batches: [LiveWatchers<LiveOutput, PreparedBatch>.Place: PreparedBatch] = [:]
        for place in places {
            let file = files[Int(place.stream) - 1]
            batches[place] = self.batches.batchAtOnce(
                .init(), stream: place.stream, from: place.from, upTo: sizes[place.stream] ?? place.from, maxBytes: Wire.maxBatchBytes
            ) { from, end in
                // Larger ones (a watcher far behind) are its session's to make.
                Self.batchFromMemory(file: file, stream: place.stream, from: from, end: end)
            }
        }
        let woken = self.state.withLock { state -> [AsyncStream<Void>.Continuation] in
            // At the sizes `places` were taken at: bytes appended since are the next wake-up's.
            let delivery = state.live.deliver(sizes: sizes, batches: batches) { output, _ in output.mayTakeMore }
            // Handed to the event loops under the lock `leaveLive` takes: a session that leaves writes after them.
            Self.write(delivery.writes)
            return delivery.wake.compactMap { state.watchers[$0] }
        }
        for watcher in woken { watcher.yield() }
    }

    private static func sizes(of files: [StreamFile]) -> [UInt32: UInt64] {
        Dictionary(uniqueKeysWithValues: files.enumerated().map { (Self.streamID($0.offset), $0.element.size) })
    }

    /// One task per event loop writes the batches to its channels, in order.
    private static func write(_ writes: [(output: LiveOutput, batch: PreparedBatch)]) {
        guard !writes.isEmpty else { return }
        var byLoop: [ObjectIdentifier: (loop: any EventLoop, writes: [(output: LiveOutput, batch: PreparedBatch)])] = [:]
        for write in writes {
            let loop = write.output.channel.eventLoop
            byLoop[ObjectIdentifier(loop), default: (loop, [])].writes.append(write)
        }
        for (output, batch) in writes { output.backlog.bytes.add(batch.frameBytes(deflated: output.deflates), ordering: .relaxed) }
        for (loop, writes) in byLoop.values {
            loop.execute {
                for (output, batch) in writes {
                    output.channel.writeAndFlush(batch.frame(deflated: output.deflates), promise: nil)
                    output.backlog.bytes.subtract(batch.frameBytes(deflated: output.deflates), ordering: .relaxed)
                    output.relayed.increment(by: Int(batch.end - batch.from))
                }
            }
        }
    }
}
