import Logging
import Synchronization
import TailcastProtocol

/// Every job the server knows, loaded from the archive at start and created as agents say hello.
public final class Hub: Sendable {
    let archive: Archive
    private let jobs: Mutex<[String: LiveJob]>
    private let serials = Atomic<UInt64>(0)

    public init(archive: Archive) throws {
        self.archive = archive
        var jobs: [String: LiveJob] = [:]
        for (stored, files) in try archive.loadJobs() {
            jobs[stored.info.id] = LiveJob(stored: stored, files: files, archive: archive)
        }
        self.jobs = Mutex(jobs)
    }

    /// A serial for a new connection, used to tell publishers and watchers apart.
    func nextSerial() -> UInt64 { self.serials.add(1, ordering: .relaxed).newValue }

    public func job(_ id: String) -> LiveJob? { self.jobs.withLock { $0[id] } }

    public func list() -> [JobInfo] {
        self.jobs.withLock { Array($0.values) }.map(\.info).sorted { $0.meta.startedAtMs < $1.meta.startedAtMs }
    }

    /// The job a hello names, created (directory and job.json, durably) on first sight for `owner`, unless
    /// the archive already holds `maxJobs` jobs.
    func jobForPublisher(_ hello: ControlMessage.Hello, owner: String, maxJobs: Int) throws -> LiveJob {
        if let job = self.job(hello.job) { return job }
        let count = self.jobs.withLock { $0.count }
        guard count < maxJobs else { throw JobLimitReached(limit: maxJobs) }
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

struct JobLimitReached: Error {
    var limit: Int
}
