#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import TailcastProtocol

/// Follows the files that match some patterns and hands their whole lines to the spool, one stream per
/// path. Files are told apart by identity, not path: after a rename the old file is read to its end
/// (lines written through an old descriptor included) before the new one at that path starts; a file
/// that shrinks (copytruncate) restarts at 0 and the possible gap is reported; a deleted file is read
/// to its end, then closed so its space is freed. Checkpoints record only what the server acknowledged.
public final class Tailer: @unchecked Sendable {
    public struct Options: Sendable {
        public var patterns: [PathPattern]
        public var excludes: [PathPattern]
        public var fromStart: Bool
        /// Longer lines are cut here (and counted); the file is still followed.
        public var maxLineBytes: Int
        /// A last line without newline is sent anyway once the file was quiet this long.
        public var partialLineTimeout: Duration
        /// How often files are polled where no change events come (no inotify, no watches left, or a
        /// file system that sends none).
        public var pollInterval: Duration
        /// How often the patterns are expanded again and every file looked at, events or not.
        public var reconcileInterval: Duration
        /// While events keep coming, at most one pass over the files this often: a line waits up to this
        /// long before the uplink's flush window starts (see PassPacing). Zero reads on every event.
        public var passInterval: Duration
        /// Wait for inotify events between reads instead of polling every file.
        public var useFileEvents: Bool
        /// Reading pauses while this much is unacknowledged: the files themselves are the buffer.
        public var maxUnacknowledged: UInt64
        /// A file the job rewrites with its progress (see ProgressFile).
        public var progressFile: String?

        public init(
            patterns: [PathPattern], excludes: [PathPattern], fromStart: Bool, progressFile: String? = nil, maxLineBytes: Int = 1 << 20,
            useFileEvents: Bool = true, partialLineTimeout: Duration = .seconds(5), pollInterval: Duration = .milliseconds(250),
            reconcileInterval: Duration = .seconds(1), passInterval: Duration = PassPacing.busyInterval, maxUnacknowledged: UInt64 = 64 << 20
        ) {
            self.patterns = patterns
            self.excludes = excludes
            self.fromStart = fromStart
            self.maxLineBytes = maxLineBytes
            self.partialLineTimeout = partialLineTimeout
            self.pollInterval = pollInterval
            self.reconcileInterval = reconcileInterval
            self.passInterval = passInterval
            self.useFileEvents = useFileEvents
            self.maxUnacknowledged = maxUnacknowledged
            self.progressFile = progressFile
        }
    }

    /// Where reading resumes after a restart: a file's identity, and the file and stream offsets the
    /// server has acknowledged.
    public struct Checkpoint: Codable, Equatable, Sendable {
        public var path: String
        public var identity: FileIdentity
        public var fileOffset: UInt64
        public var streamOffset: UInt64
    }

    /// A file followed: its descriptor and stream, the bytes of a line not finished yet, and the
    /// decisions about it (`FollowedFile`).
    final class Followed {
        let path: String
        let stream: UInt32
        let fd: Int32
        var state: FollowedFile
        /// Bytes of a line not finished yet (not in the spool).
        var partial: [UInt8] = []
        /// Inside an over-long line: its rest is dropped up to the newline.
        var skipping = false
        /// The checkpoint as JSON, kept while it does not change: most of a thousand files are idle,
        /// and encoding every 1 KiB fingerprint each time cost more than everything else together.
        var encoded: (checkpoint: Checkpoint, json: Data)?

        init(path: String, stream: UInt32, fd: Int32, state: FollowedFile) {
            self.path = path
            self.stream = stream
            self.fd = fd
            self.state = state
        }

        var isDraining: Bool { self.state.phase == .draining }
    }

    let options: Options
    let spool: Spool
    let checkpointPath: String
    let acknowledged: @Sendable () -> [UInt32: UInt64]
    let warn: @Sendable (String) -> Void
    let progress: ProgressTracker
    private var progressFile: ProgressFile?
    private var followed: [Followed] = [] {
        didSet { self.readingCache = nil }
    }
    /// `reading`, kept until `followed` changes: rebuilding it on every pass cost a core's tenth at 1,000 files.
    private var readingCache: (files: [Followed], byPath: [String: Followed])?
    private var discovery: FileDiscovery
    /// No checkpoints: files that exist now are read from their end (unless --from-start). On a restart,
    /// a file not seen before appeared while we were down, so it is read from its start.
    private let isFirstRun: Bool
    private var firstScan = true
    /// One read buffer for every file: reading is sequential.
    private var readBuffer = [UInt8](repeating: 0, count: 1 << 20)
    /// Files with bytes in the spool the server has not acknowledged: the only ones whose checkpoints
    /// can move (most of a thousand files are idle).
    private var awaitingAcknowledgement: [Followed] = []
    /// The spool is told once per pass, not per append: each notification wakes the uplink.
    private var appendedThisPass = false
    /// The spool refused bytes (the agent's disk is full): nothing is read until it can write again.
    private var spoolRefuses = false
    /// Symbolic links the patterns matched and that were reported: each is reported once while it is
    /// there, not on every scan.
    private var reportedLinks = Set<String>()
    private var checkpointsSavedAt = ContinuousClock.now - .seconds(3600)
    private var checkpointsChanged = false
    public private(set) var cutLines = 0
    private let stopping = ManagedAtomicFlag()
    /// Wakes the loop when the spool makes room after it stopped reading for want of it.
    private let wakeup = TailerWakeup()

    public init(
        options: Options, spool: Spool, checkpointPath: String, acknowledged: @escaping @Sendable () -> [UInt32: UInt64],
        warn: @escaping @Sendable (String) -> Void, restored: [Checkpoint]?, progress: ProgressTracker
    ) {
        self.options = options
        self.progress = progress
        self.progressFile = options.progressFile.map(ProgressFile.init)
        self.spool = spool
        self.checkpointPath = checkpointPath
        self.acknowledged = acknowledged
        self.warn = warn
        self.discovery = FileDiscovery(restored: restored ?? [])
        self.isFirstRun = restored == nil
        spool.observeReleases { [wakeup] in wakeup?.spoolReleased() }
    }

    /// The saved checkpoints; nil on a first run. A damaged file is set aside with a warning, and
    /// tailing starts as on a first run.
    public static func loadCheckpoints(_ path: String, warn: (String) -> Void) -> [Checkpoint]? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do {
            return try ProtocolJSON.decode([Checkpoint].self, from: data)
        } catch {
            let aside = path + ".damaged"
            _ = rename(path, aside)
            warn("checkpoint file \(path) is damaged (\(error)); moved to \(aside); starting as on a first run")
            return nil
        }
    }

    /// Makes `run` return (after its drain): a wait for events or for room is cut short.
    public func stop() {
        self.stopping.set()
        self.wakeup?.wake()
    }

    /// Follows files until `stop()`; then waits (bounded) for acknowledgements and saves the checkpoints.
    ///
    /// Between reads it waits for inotify events and then reads only the files they name. Once per
    /// `reconcileInterval`, and whenever a watched directory's entries change, it expands the patterns
    /// again and looks at every file: that catches what events miss. A directory whose files grew
    /// without an event since the last reconcile (a file system that sends none), or that could not be
    /// watched, is polled every `pollInterval` from then on. Without inotify, everything is polled.
    public func run(drainTimeout: Duration = .seconds(10)) {
        self.recoverRenamed()
        let events = self.options.useFileEvents ? FileEvents() : nil
        var changes = FileEvents.Changes()
        let pacing = PassPacing(interval: self.options.passInterval)
        var nextReconcile = ContinuousClock.now
        /// Directories read on every pass: unwatchable, or silent.
        var polled = Set<String>()
        var eventDirectories = Set<String>()
        /// Files that read something in the last pass: they may have more, events or not.
        var readLastPass: [Followed] = []
        /// Files draining or holding a partial line: looked at on every pass. Kept as a list rather than
        /// found by a filter over every followed file on every pass, which at 1,000 files and up to 500
        /// event-driven passes a second was most of the sidecar's CPU (perf).
        var lingering: [Followed] = []
        /// Files a pass was to look at while the spool had no room (an event named them, they had more, or
        /// a reconcile): looked at first once it has. The kernel would not name them again.
        var heldBack: [Followed] = []
        var heldBackIDs = Set<ObjectIdentifier>()
        while !self.stopping.isSet {
            let now = ContinuousClock.now
            let reconcile = now >= nextReconcile || changes.overflowed || !changes.directories.isEmpty
            // Files followed before this pass: a file found by this reconcile had no chance of an event.
            let known = reconcile ? Set(self.reading.files.map(ObjectIdentifier.init)) : []
            if reconcile {
                let directories = self.scan()
                if let events { polled.formUnion(events.watch(directories)) }
            }
            var busy = false
            var pumped: [Followed] = []
            if self.spoolRefuses, self.spool.canWrite() {
                self.spoolRefuses = false
                self.warn("the disk of --state-dir has room again: reading resumed")
            }
            do {
                let reading = self.reading
                // A reconcile looks at every file; otherwise only those events named, those draining or
                // holding a partial line, those held back, and those in polled directories.
                let candidates =
                    reconcile
                    ? reading.files
                    : (heldBack + readLastPass + lingering).filter { reading.byPath[$0.path] === $0 } + changes.paths.compactMap { reading.byPath[$0] }
                        + (polled.isEmpty ? [] : reading.files.filter { polled.contains(Self.directory(of: $0.path)) })
                // Files known to hold more than was read: their bytes without an event say nothing of their directory.
                let owed = Set((heldBack + readLastPass).map(ObjectIdentifier.init))
                (heldBack, heldBackIDs, readLastPass) = ([], [], [])
                pumped = candidates
                // Checked per file: a reconcile reads up to 1 MiB from each of a thousand files.
                for file in candidates {
                    guard self.mayRead else {
                        if heldBackIDs.insert(ObjectIdentifier(file)).inserted { heldBack.append(file) }
                        continue
                    }
                    let read = self.pump(file)
                    busy = read || busy
                    if read { readLastPass.append(file) }
                    if read, reconcile, events != nil, !changes.paths.contains(file.path), known.contains(ObjectIdentifier(file)),
                        !owed.contains(ObjectIdentifier(file)) {
                        let directory = Self.directory(of: file.path)
                        if !eventDirectories.contains(directory) { polled.insert(directory) }
                    }
                }
            }
            if self.appendedThisPass {
                self.appendedThisPass = false
                self.spool.notifyGrowth()
            }
            // Only a pumped file changes these, and a reconcile (which may start a drain) looks at them all.
            var seen = Set<ObjectIdentifier>()
            lingering = (reconcile ? self.followed : lingering + pumped).filter {
                ($0.isDraining || !$0.partial.isEmpty) && seen.insert(ObjectIdentifier($0)).inserted
            }
            if lingering.contains(where: \.isDraining) { self.letGoOfDrained() }
            self.advanceCheckpoints()
            if let state = self.progressFile?.poll(warn: self.warn) { self.progress.record(explicit: state) }
            if reconcile {
                // Without inotify every poll is a reconcile; a pass after a busy one reads on only in
                // the files that had more (a full pass each time doubled the cost of polling).
                nextReconcile = now + (events == nil ? self.options.pollInterval : self.options.reconcileInterval)
                eventDirectories = []
            }
            // Taken: a pass that reads on must not reconcile again for the same events.
            changes = FileEvents.Changes()
            // While a file has more to read, read on; the kernel keeps the events meanwhile.
            if busy { continue }
            if let wakeup, !heldBack.isEmpty {
                // Set before looking again, so a release in between either sees it or is seen.
                wakeup.setWaitingForRoom(true)
                if self.mayRead {
                    wakeup.setWaitingForRoom(false)
                    continue
                }
            }
            defer { self.wakeup?.setWaitingForRoom(false) }
            if let events {
                let passEnd = ContinuousClock.now
                let wait = pacing.wait(
                    passStarted: now, now: passEnd,
                    nextLook: polled.isEmpty ? nextReconcile : min(nextReconcile, passEnd + self.options.pollInterval))
                if wait.holdOff > .zero { Self.sleep(wait.holdOff) }
                changes = events.wait(timeout: wait.timeout, wakeup: self.wakeup)
                eventDirectories.formUnion(changes.paths.map(Self.directory(of:)))
            } else if let wakeup = self.wakeup {
                wakeup.sleep(max(.zero, nextReconcile - ContinuousClock.now))
            } else {
                Self.sleep(max(.zero, nextReconcile - ContinuousClock.now))
            }
        }
        let deadline = ContinuousClock.now + drainTimeout
        while ContinuousClock.now < deadline, !self.awaitingAcknowledgement.isEmpty {
            self.advanceCheckpoints()
            Self.sleep(.milliseconds(50))
        }
        self.advanceCheckpoints(force: true)
    }

    /// Reading goes on while the spool takes what is read and holds less than `maxUnacknowledged`: the
    /// files themselves are the buffer.
    private var mayRead: Bool { !self.spoolRefuses && self.spool.unacknowledgedBytes < self.options.maxUnacknowledged }

    /// The tailer runs on its own thread (blocking reads and inotify), so it sleeps the thread.
    static func sleep(_ duration: Duration) {
        Thread.sleep(forTimeInterval: Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    // MARK: finding files

    /// Expands the patterns, opens new files, and marks files whose path now names another file (or
    /// none) as draining. Returns the directories to watch: where the patterns can find files, and
    /// those of the files followed.
    private func scan() -> Set<String> {
        var seen = Set<String>()
        var directories = Set<String>()
        // First what was rotated away, so the new file at its path is opened in this same scan.
        for file in self.followed where !file.isDraining {
            directories.insert(Self.directory(of: file.path))
            // lstat: a link put where the file was is another file (never followed), so this one drains.
            var st = stat()
            file.state.pathNow(names: lstat(file.path, &st) == 0 ? (device: UInt64(st.st_dev), inode: UInt64(st.st_ino)) : nil)
        }
        let current = Set(self.followed.lazy.filter { !$0.isDraining }.map(\.path))
        var found: [String] = []
        var links = Set<String>()
        for pattern in self.options.patterns {
            let (files, reachable, matchedLinks) = pattern.expand()
            directories.formUnion(reachable)
            links.formUnion(matchedLinks)
            for path in files where seen.insert(path).inserted { found.append(path) }
        }
        func excluded(_ path: String) -> Bool { self.options.excludes.contains { $0.matches(path) } }
        // Forgotten once gone: a link planted again is reported again.
        self.reportedLinks.formIntersection(links)
        for link in links.sorted() where !excluded(link) { self.reportLink(link) }
        // Excluded files are never opened.
        for path in found where !current.contains(path) && !excluded(path) { self.consider(path) }
        // The files found, in job.json at once (their bytes would write it anyway): one write per scan.
        try? self.spool.saveManifestIfChanged()
        self.firstScan = false
        return directories
    }

    private func reportLink(_ path: String) {
        guard self.reportedLinks.insert(path).inserted else { return }
        self.warn("\(path) is a symbolic link (to \(RegularFile.target(ofLink: path))): not followed; tail never reads through a link it finds (name the target itself)")
    }

    /// A file rotated away while we were down is found by identity beside its old path and read to its
    /// end under its old stream, before the new file at that path; otherwise its last lines were lost.
    private func recoverRenamed() {
        for checkpoint in self.discovery.restored {
            if case .success(let fd) = RegularFile.open(checkpoint.path) {
                let same = FileIdentity.of(fd: fd).map { $0.continues(checkpoint.identity) } ?? false
                close(fd)
                if same { continue }
            }
            let directory = Self.directory(of: checkpoint.path)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
                let candidate = directory + "/" + name
                guard case .success(let fd) = RegularFile.open(candidate) else { continue }
                guard let identity = FileIdentity.of(fd: fd), identity.continues(checkpoint.identity) else {
                    close(fd)
                    continue
                }
                let stream = self.spool.streamID(named: checkpoint.path) ?? self.spool.addStream(named: checkpoint.path, at: checkpoint.streamOffset)
                self.followed.append(Followed(path: checkpoint.path, stream: stream, fd: fd,
                                              state: .rotatedAway(checkpoint, identity: identity, now: .now)))
                self.discovery.recovered(checkpoint)
                break
            }
        }
    }

    private func consider(_ path: String) {
        // One file per path is read at a time, so a stream's bytes stay in order: a rotated file drains
        // first. The new file at the path is opened at once and waits its turn: a second rotation
        // before the first file is drained would otherwise take it away unread.
        guard self.followed.allSatisfy({ $0.path != path || $0.isDraining }) else { return }
        let fd: Int32
        switch RegularFile.open(path) {
        case .success(let opened): fd = opened
        case .failure(.link): return self.reportLink(path)
        case .failure(.other): return
        }
        var st = stat()
        guard let identity = FileIdentity.of(fd: fd), fstat(fd, &st) == 0 else {
            close(fd)
            return
        }
        let decision = self.discovery.decide(
            path: path, identity: identity, size: UInt64(st.st_size), quietSeconds: time(nil) - st.st_mtim.tv_sec,
            startsAtEnd: self.firstScan && self.isFirstRun && !self.options.fromStart, followed: self.followed.lazy.map(\.state.identity),
            atFollowedPath: self.followed.contains { $0.path == path })
        guard case .follow(let fileOffset, let streamOffset, let resumes, let checkpoint) = decision else {
            close(fd)
            return
        }
        let stream: UInt32
        if let existing = self.spool.streamID(named: path) {
            stream = existing
            // Resuming a checkpoint after the path's earlier file: the bytes between are the server's already.
            if resumes { self.spool.skip(stream: stream, to: streamOffset) }
        } else {
            stream = self.spool.addStream(named: path, at: streamOffset)
        }
        let state = FollowedFile(path: path, identity: identity, fileOffset: fileOffset,
                                 streamOffset: self.spool.streamSizes[stream] ?? streamOffset, now: .now)
        self.followed.append(Followed(path: path, stream: stream, fd: fd, state: state))
        if let checkpoint { self.discovery.recovered(checkpoint) }
        self.checkpointsChanged = true
    }

    // MARK: reading

    /// The files being read: per path, the oldest one followed (the others wait behind it).
    private var reading: (files: [Followed], byPath: [String: Followed]) {
        if let cached = self.readingCache { return cached }
        var byPath: [String: Followed] = [:]
        let files = self.followed.filter { file in
            guard byPath[file.path] == nil else { return false }
            byPath[file.path] = file
            return true
        }
        self.readingCache = (files, byPath)
        return (files, byPath)
    }

    /// Reads what is new in one file; returns whether it read anything.
    private func pump(_ file: Followed) -> Bool {
        var st = stat()
        guard fstat(file.fd, &st) == 0 else { return false }
        let seen = FollowedFile.Seen(size: UInt64(st.st_size), modifiedSeconds: st.st_mtim.tv_sec, modifiedNanoseconds: st.st_mtim.tv_nsec)
        switch file.state.looked(at: seen, identity: FileIdentity.of(fd: file.fd)) {
        case .unchanged:
            self.flushQuietPartialLine(file)
            return false
        case .read:
            break
        case .truncated(let offset, let copiedFingerprint):
            if let copiedFingerprint { self.discovery.truncated(copiedFingerprint: copiedFingerprint) }
            // copytruncate: the file was emptied under us. Lines written between our last read and the
            // truncation may be lost; that race is inherent to copytruncate (prefer rename + create).
            self.warn("\(file.path) was truncated at \(offset) bytes (copytruncate?): reading it again from the start; lines written just before the truncation may be missing")
            file.partial = []
            file.skipping = false
        }
        let n = self.readBuffer.withUnsafeMutableBytes { pread(file.fd, $0.baseAddress!, $0.count, off_t(file.state.readOffset)) }
        guard n > 0 else {
            self.flushQuietPartialLine(file)
            return false
        }
        let before = (state: file.state, partial: file.partial, skipping: file.skipping)
        file.state.read(n, now: .now)
        let limit = self.options.maxLineBytes
        var cuts = 0
        var out: [UInt8] = []
        out.reserveCapacity(n + file.partial.count)
        // Line by line with memchr: a byte-at-a-time loop read a fast-growing file at 25 MB/s.
        self.readBuffer.withUnsafeBytes { raw in
            let base = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            var start = 0
            while start < n {
                let newline = memchr(base + start, 0x0A, n - start).map { UnsafePointer($0.assumingMemoryBound(to: UInt8.self)) - base }
                let end = newline.map { $0 + 1 } ?? n
                let content = UnsafeBufferPointer(start: base + start, count: (newline ?? n) - start)
                defer { start = end }
                if file.skipping {
                    // The rest of an over-long line: dropped up to its newline.
                    if newline != nil {
                        file.skipping = false
                        out.append(0x0A)
                    }
                    continue
                }
                if file.partial.count + content.count >= limit {
                    let kept = file.partial + content.prefix(limit - file.partial.count)
                    out += kept.prefix(UTF8Boundary.completePrefixLength(kept))
                    file.partial.removeAll(keepingCapacity: true)
                    cuts += 1
                    if newline != nil { out.append(0x0A) } else { file.skipping = true }
                } else if newline != nil {
                    out += file.partial
                    out.append(contentsOf: UnsafeBufferPointer(start: base + start, count: end - start))
                    file.partial.removeAll(keepingCapacity: true)
                } else {
                    file.partial.append(contentsOf: content)
                }
            }
        }
        if !out.isEmpty, !self.emit(out, from: file, fileEnd: file.state.readOffset - UInt64(file.partial.count)) {
            // Not read after all: the file keeps the bytes until the spool can take them.
            (file.state, file.partial, file.skipping) = before
            return false
        }
        if cuts > 0 {
            self.cutLines += cuts
            self.warn("\(file.path): a line longer than \(limit) bytes was cut (\(self.cutLines) so far)")
        }
        return true
    }

    /// A last line without newline goes anyway once the file is quiet for a while, or is let go.
    private func flushQuietPartialLine(_ file: Followed) {
        guard !file.partial.isEmpty, file.state.flushesPartialLine(now: .now, timeout: self.options.partialLineTimeout) else { return }
        // The start of a character the writer has not finished waits for its end (unless the file is
        // done): a watcher never gets it in halves.
        let whole = file.isDraining ? file.partial.count : UTF8Boundary.completePrefixLength(file.partial)
        guard whole > 0 else { return }
        let rest = file.partial.count - whole
        if self.emit(Array(file.partial.prefix(whole)), from: file, fileEnd: file.state.readOffset - UInt64(rest)) {
            file.partial.removeFirst(whole)
        }
    }

    /// Hands bytes to the spool; false when it refused them (the agent's disk is full): reading pauses
    /// until it has room, and the bytes are read again from the file.
    private func emit(_ bytes: [UInt8], from file: Followed, fileEnd: UInt64) -> Bool {
        guard bytes.withUnsafeBytes({ self.spool.append(stream: file.stream, bytes: $0, timeMs: UnixTime.nowMs(), notify: false) }) else {
            if !self.spoolRefuses { self.warn("the disk of --state-dir is full: reading paused until it has room (the files keep the lines)") }
            self.spoolRefuses = true
            return false
        }
        self.appendedThisPass = true
        if file.state.unacknowledged.isEmpty { self.awaitingAcknowledgement.append(file) }
        file.state.spooled(streamEnd: self.spool.streamSizes[file.stream] ?? 0, fileEnd: fileEnd)
        return true
    }

    /// Drained files are closed (a deleted file's space is freed).
    private func letGoOfDrained() {
        let reading = Set(self.reading.files.map { ObjectIdentifier($0) })
        let now = ContinuousClock.now
        self.followed.removeAll { file in
            var st = stat()
            guard reading.contains(ObjectIdentifier(file)), fstat(file.fd, &st) == 0,
                file.state.isDrained(size: UInt64(st.st_size), holdsPartialLine: !file.partial.isEmpty, now: now)
            else { return false }
            close(file.fd)
            self.discovery.letGo(file.state.identity, checkpoint: file.state.checkpoint)
            self.checkpointsChanged = true
            return true
        }
    }

    // MARK: checkpoints

    /// Checkpoints are written at most once a second (and on stop): with a thousand files, encoding and
    /// syncing them on every acknowledgement cost most of a core. A kill -9 then resends at most a
    /// second more, which the server drops by offset.
    private func advanceCheckpoints(force: Bool = false) {
        if !self.awaitingAcknowledgement.isEmpty {
            let acknowledged = self.acknowledged()
            self.awaitingAcknowledgement.removeAll { file in
                if file.state.acknowledged(upTo: acknowledged[file.stream] ?? 0) { self.checkpointsChanged = true }
                return file.state.unacknowledged.isEmpty
            }
        }
        guard force || (self.checkpointsChanged && ContinuousClock.now >= self.checkpointsSavedAt + .seconds(1)) else { return }
        self.checkpointsChanged = false
        do {
            // Draining files too: after a restart they are found by identity and read to their end first.
            var json = Data("[".utf8)
            for (index, file) in self.followed.enumerated() {
                if file.encoded?.checkpoint != file.state.checkpoint {
                    file.encoded = (file.state.checkpoint, try ProtocolJSON.encode(file.state.checkpoint, pretty: false))
                }
                if index > 0 { json.append(UInt8(ascii: ",")) }
                json.append(file.encoded!.json)
            }
            for (index, checkpoint) in self.discovery.restored.enumerated() {
                if index > 0 || !self.followed.isEmpty { json.append(UInt8(ascii: ",")) }
                json.append(try ProtocolJSON.encode(checkpoint, pretty: false))
            }
            json.append(UInt8(ascii: "]"))
            try AtomicFile.replace(self.checkpointPath, with: json)
            self.checkpointsSavedAt = ContinuousClock.now
        } catch {
            self.warn("\(error)")
        }
    }
}
