import NIOPosix

/// How a node's cache (the archive under `--data`) follows the shared store: a job's record and its
/// committed bytes are copied in before anyone here reads or publishes it, so every reader works on
/// the cache exactly as in the embedded mode.
extension Hub {
    /// The job `stored` describes, in this node's cache: created if new, its streams caught up, then its
    /// record taken. A job whose agent is connected here is left alone: this node is the one writing it.
    /// A record older than the cache's copy (an earlier run's, read before a `run --replace` and adopted
    /// after it) changes nothing: the copy of the newer run is returned as it is.
    @discardableResult
    func adopt(_ stored: Archive.StoredJob, from store: any SharedStore) async throws -> LiveJob {
        let (job, current) = try await NIOThreadPool.singleton.runIfActive { try self.cached(stored) }
        if !current || job.hasPublisher { return job }
        try await self.catchUp(job, from: store)
        try await NIOThreadPool.singleton.runIfActive { try job.refresh(from: stored) }
        return job
    }

    /// The cache's copy of the job, and whether it is of the run `stored` describes (false: `stored` is stale).
    private func cached(_ stored: Archive.StoredJob) throws -> (LiveJob, current: Bool) {
        try self.adopting.withLock { _ in
            if let earlier = self.job(stored.info.id), !earlier.isRun(stored.runId) {
                guard stored.generation >= earlier.generation else { return (earlier, false) }
                // Another run took the id (`run --replace`, on any node): this copy of the earlier run goes,
                // and its watchers are told, as on the node that replaced it. (Equal generations are records
                // stored before generations were counted: the store's is taken, as it was then.)
                if earlier.markReplaced() { try self.discard(earlier) }
            }
            return (try self.copy(of: stored), true)
        }
    }

    /// The cache's job under `stored`'s id, created empty if there is none, with `stored`'s streams open.
    private func copy(of stored: Archive.StoredJob) throws -> LiveJob {
        let job: LiveJob
        if let known = self.job(stored.info.id) {
            job = known
        } else {
            try self.archive.createJobDirectory(stored.info.id)
            var empty = stored
            empty.streams = []
            let created = LiveJob(stored: empty, files: [], archive: self.archive)
            job = self.jobs.withLock { jobs in
                if let existing = jobs[stored.info.id] { return existing }
                jobs[stored.info.id] = created
                return created
            }
        }
        try job.openStreams(stored.streams)
        return job
    }

    /// Appends to the cache what the store holds past it, stream by stream, and wakes the job's watchers
    /// as a local append does.
    func catchUp(_ job: LiveJob, from store: any SharedStore) async throws {
        for file in job.files {
            try await self.catchUp(file, of: job, from: store)
        }
    }

    /// One stream of `catchUp`: what a notice of a commit to that stream needs.
    func catchUp(_ file: StreamFile, of job: LiveJob, from store: any SharedStore) async throws {
        while true {
            let pieces = try await store.pieces(job: job.id, stream: file.name, from: file.size)
            guard !pieces.isEmpty else { break }
            let added = try await NIOThreadPool.singleton.runIfActive { try job.absorb(pieces) }
            if added > 0 {
                self.grew.store(true, ordering: .relaxed)
                job.bytesAppended()
            }
            if added == 0 || pieces.count < PostgresStore.piecesPerRead { break }
        }
    }

    /// Brings one job up to the store before it is read or published here. When the store does not
    /// answer, the cache serves what it has, at once while an outage is known (the follower and the
    /// commits notice its end).
    func hydrate(_ id: String) async {
        guard let store = self.store, store.health.isUp || self.job(id) == nil else { return }
        do {
            if let stored = try await store.record(id) { try await self.adopt(stored, from: store) }
            store.health.succeeded()
        } catch {
            store.health.failed(error, doing: "reading job \(id)")
        }
    }

    /// The job from this node's cache, for a request that reads it. In store mode a job the cache does not
    /// hold yet (published on another node a moment ago, or this node just started or reconnected) is
    /// read from the store first, as a watch does, rather than answered 404.
    func cachedOrFetched(_ id: String) async -> LiveJob? {
        if let job = self.job(id) { return job }
        await self.hydrate(id)
        return self.job(id)
    }

    /// Every job the store holds, adopted (at start, and after the follower missed notifications).
    func catchUpEverything(from store: any SharedStore) async throws {
        for stored in try await store.records() {
            try await self.adopt(stored, from: store)
        }
    }

    /// A job deleted on another node (or by retention there): its watchers are told, its cache folder goes.
    func dropRemoved(_ id: String) async {
        guard let job = self.job(id) else { return }
        do {
            try job.markRemoved(why: "deleted on another node", owner: nil, allowUnended: true)
            try await NIOThreadPool.singleton.runIfActive { try self.discard(job) }
        } catch {
            self.archive.logger.warning("job \(id) was deleted in the store but stays in this node's cache: \(error)")
        }
    }

    /// A job this node deleted leaves the store too, so every other node drops it.
    func removeFromStore(_ id: String) async {
        guard let store = self.store else { return }
        do {
            try await store.remove(id)
        } catch {
            store.health.failed(error, doing: "deleting job \(id)")
        }
    }
}
