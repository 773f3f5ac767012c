import Logging
import Synchronization
import TailcastProtocol

/// Every job the server knows, loaded from the archive at start and created as agents say hello.
public final class Hub: Sendable {
    let archive: Archive
    /// The archive shared with other nodes (`serve --store`), of which `archive` is this node's cache; nil
    /// in the embedded mode.
    let store: (any SharedStore)?
    let jobs: Mutex<[String: LiveJob]>
    /// Held while a record of the shared store is taken into the cache (`adopt`): a stale record and its
    /// replacement, adopted at once, are then weighed one after the other, never between a check and a retirement.
    let adopting = Mutex<Void>(())
    private let serials = Atomic<UInt64>(0)
    /// Set by every append, so retention looks at the archive's size soon after it grew (`RetentionService`).
    let grew = Atomic<Bool>(false)

    public convenience init(archive: Archive) throws {
        try self.init(archive: archive, store: nil)
    }

    init(archive: Archive, store: (any SharedStore)?) throws {
        self.archive = archive
        self.store = store
        var jobs: [String: LiveJob] = [:]
        for (stored, files) in try archive.loadJobs() {
            jobs[stored.info.id] = LiveJob(stored: stored, files: files, archive: archive)
        }
        self.jobs = Mutex(jobs)
    }

    /// Drops `job` from the hub, if it is still the one under its id.
    func removeJob(_ job: LiveJob) -> Bool {
        self.jobs.withLock { jobs in
            guard jobs[job.id] === job else { return false }
            jobs.removeValue(forKey: job.id)
            return true
        }
    }

    /// A serial for a new connection, used to tell publishers and watchers apart.
    func nextSerial() -> UInt64 { self.serials.add(1, ordering: .relaxed).newValue }

    public func job(_ id: String) -> LiveJob? { self.jobs.withLock { $0[id] } }

    /// Most jobs in one page of a list, and the most bytes of JSON: a page must fit in a message
    /// (`--max-message-bytes`, at least 512 KiB) whatever the archive holds.
    public static let maxPageJobs = 500
    /// Why a page `limit` is refused, for `list` and `GET /v1/jobs` alike.
    static let pageLimitRule = "must be a whole number from 1 (at most \(maxPageJobs) jobs per page)"

    /// One page of the jobs, oldest first (by start, then id), after the cursor `after` (the `next` of
    /// the page before), of those `filter` matches. A page holds at least one job, and stops before
    /// `maxBytes` of JSON.
    public func list(_ request: ControlMessage.ListRequest = .init(), filter: JobFilter = .init(), maxBytes: Int) -> ControlMessage.JobList {
        let limit = min(max(request.limit ?? Self.maxPageJobs, 1), Self.maxPageJobs)
        func key(_ info: JobInfo) -> String { "\(info.meta.startedAtMs)/\(info.id)" }
        func precedes(_ a: JobInfo, _ b: JobInfo) -> Bool {
            (a.meta.startedAtMs, a.id) < (b.meta.startedAtMs, b.id)
        }
        var infos = self.jobs.withLock { Array($0.values) }.map(\.info).filter(filter.matches).sorted(by: precedes)
        if let after = request.after, let cut = Self.parse(cursor: after) {
            infos = infos.filter { ($0.meta.startedAtMs, $0.id) > cut }
        }
        var page: [JobInfo] = []
        var bytes = 64
        for info in infos.prefix(limit) {
            let size = (try? ProtocolJSON.encode(info).count) ?? 0
            if !page.isEmpty && bytes + size > maxBytes { break }
            page.append(info)
            bytes += size + 1
        }
        return .init(jobs: page, next: page.count < infos.count ? page.last.map(key) : nil)
    }

    private static func parse(cursor: String) -> (UInt64, String)? {
        let parts = cursor.split(separator: "/", maxSplits: 1)
        guard parts.count == 2, let started = UInt64(parts[0]) else { return nil }
        return (started, String(parts[1]))
    }

    /// The job a hello names, created (directory and job.json, durably) on first sight for `owner`, unless
    /// the archive already holds `maxJobs` jobs.
    func jobForPublisher(_ hello: ControlMessage.Hello, owner: String, maxJobs: Int) throws -> LiveJob {
        if let job = self.job(hello.job) { return job }
        try self.checkRoom(for: hello.job, maxJobs: maxJobs)
        try self.archive.createJobDirectory(hello.job)
        let stored = Archive.StoredJob(
            info: JobInfo(id: hello.job, meta: hello.meta, state: .lost, lastSeenMs: UnixTime.nowMs(), streams: []),
            streams: [], runId: hello.runId, owner: owner
        )
        let created = LiveJob(stored: stored, files: [], archive: self.archive)
        let job = self.jobs.withLock { jobs in
            if let existing = jobs[hello.job] { return existing }
            jobs[hello.job] = created
            return created
        }
        if job === created { try job.saveRecord() }
        return job
    }
}

extension Hub {
    /// Throws `JobLimitReached` for a job the hub does not hold while it holds `maxJobs` already.
    func checkRoom(for id: String, maxJobs: Int) throws {
        guard self.job(id) == nil else { return }
        guard self.jobs.withLock({ $0.count }) < maxJobs else { throw JobLimitReached(limit: maxJobs) }
    }

    /// The job for a hello with `replace`: a job of another run of the same token, with no agent connected,
    /// is retired (watchers told, its folder removed) and started anew for this run. The same run (an
    /// agent reconnecting with the hello it always sends) keeps its job.
    /// Returns the job and whether an earlier run's was retired for it.
    func replaceJob(_ hello: ControlMessage.Hello, owner: String, maxJobs: Int) throws -> (LiveJob, retired: Bool) {
        guard let old = self.job(hello.job), !old.isRun(hello.runId) else {
            return (try self.jobForPublisher(hello, owner: owner, maxJobs: maxJobs), false)
        }
        try old.checkReplaceable(owner: owner)
        let removed = old.markReplaced()
        if removed { try self.discard(old) }
        return (try self.jobForPublisher(hello, owner: owner, maxJobs: maxJobs), removed)
    }
}

struct JobLimitReached: Error {
    var limit: Int
}
