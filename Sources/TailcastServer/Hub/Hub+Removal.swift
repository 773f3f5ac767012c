extension Hub {
    /// Why a job cannot be removed, said to whoever asked (`tailcast rm`, `DELETE /v1/jobs/JOB`).
    public enum RemovalRefusal: Error, Equatable, CustomStringConvertible {
        case unknown(String)
        /// An agent is connected: it would go on writing into a job that no longer exists.
        case running(String)
        /// No exit stored and no agent connected: the agent may still deliver (`tailcast flush`).
        case lost(String)
        /// No exit stored, and its sidecar stopped on purpose: it may start again and continue the job.
        case stopped(String)
        /// Another token created it.
        case otherOwner(String)

        public var description: String {
            switch self {
            case .unknown(let id): "no job \"\(id.prefix(128))\" on this server"
            case .running(let id): "job \"\(id)\" is running: only a job that ended can be deleted"
            case .lost(let id): "job \"\(id)\" lost its agent without an exit status, and its agent may still deliver (tailcast flush): tailcast rm --force (DELETE ?force=1) deletes it anyway"
            case .stopped(let id): "job \"\(id)\" is stopped: its sidecar shut down without the job ending, and may start again and continue it: tailcast rm --force (DELETE ?force=1) deletes it anyway"
            case .otherOwner(let id): "job \"\(id)\" was created with another token: only that token may delete it"
            }
        }
    }

    /// Deletes a job that has ended (see `LiveJob.markRemoved` for which may go): its watchers are told
    /// `why`, its folder leaves the archive atomically, and the bytes its stream files took on disk are returned.
    /// Blocking (it removes files): call it on NIO's thread pool.
    func remove(_ id: String, why: String, owner: String?, allowUnended: Bool) throws -> UInt64 {
        guard let job = self.job(id) else { throw RemovalRefusal.unknown(id) }
        try job.markRemoved(why: why, owner: owner, allowUnended: allowUnended)
        let bytes = job.storedBytes
        do {
            try self.discard(job)
        } catch {
            job.unmarkRemoved()
            throw error
        }
        return bytes
    }

    /// Takes a retired job out of the archive: its folder first (renamed aside atomically, so a crash
    /// leaves nothing half-removed under its id), then out of the hub, then its descriptors.
    func discard(_ job: LiveJob) throws {
        try self.archive.retire(job.id)
        _ = self.removeJob(job)
        job.closeFiles()
    }
}
