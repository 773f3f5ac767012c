import Synchronization
import TailcastProtocol

/// A publishing session's hold on its job in the shared store: the lease, the bytes not committed yet,
/// and the waiting while the store does not answer. In store mode the commit is the promise an ack makes
/// (what `fdatasync` is in the embedded mode).
final class PublishLease: Sendable {
    let store: any SharedStore
    let lease: StoreLease
    private let plan: Mutex<CommitPlan>
    /// The job's record as it is now: what a save writes.
    private let record: @Sendable () -> Archive.StoredJob
    private let saves = Mutex(RecordSaves<CheckedContinuation<Void, any Error>>())

    /// Well inside the lease's time to live, so a quiet agent keeps its job.
    static let renewInterval: Duration = .seconds(3)
    /// Bytes per transaction: a backlog after an outage goes in several, each acknowledged as it lands.
    static let maxCommitBytes = 4 << 20
    /// Retries while the store does not answer start here and double up to `maxBackoff`.
    static let firstBackoff: Duration = .milliseconds(100)
    static let maxBackoff: Duration = .seconds(5)

    init(store: any SharedStore, lease: StoreLease, record: @escaping @Sendable () -> Archive.StoredJob) {
        self.store = store
        self.lease = lease
        self.record = record
        self.plan = Mutex(CommitPlan(committed: lease.committed))
    }

    func committedEnd(_ stream: String) -> UInt64 { self.plan.withLock { $0.committedEnd(stream) } }

    /// Each stream's committed end, as the last finished commit left it.
    var committedEnds: [String: UInt64] { self.plan.withLock { $0.committed } }

    /// A chunk the session accepted: its bytes past what is committed or waiting wait for the next commit.
    func add(_ chunk: DataChunk, stream: String) throws(StreamFile.Gap) {
        try self.plan.withLock { plan throws(StreamFile.Gap) in
            try plan.add(stream: stream, offset: chunk.offset, bytes: chunk.bytes, timeMs: chunk.timeMs)
        }
    }

    /// Commits everything waiting and returns each stream's committed end. While the store does not answer
    /// it retries with backoff (the agent keeps its bytes meanwhile); throws `StoreLease.Lost` when
    /// another connection took the job, and on cancellation.
    func commitWaiting() async throws -> [String: UInt64] {
        while true {
            let batch = self.plan.withLock { $0.next(maxBytes: Self.maxCommitBytes) }
            if batch.isEmpty { return self.committedEnds }
            try await self.retrying("committing job \(self.lease.job)") {
                try await self.store.commit(batch, lease: self.lease)
            }
            self.plan.withLock { $0.committed(batch) }
        }
    }

    /// Saves the job's record as it is now and returns once it is in the store, retrying like `commitWaiting`.
    func save() async throws {
        let (generation, start) = self.saves.withLock { $0.ask(release: false) }
        try await self.saved(generation, start: start)
    }

    /// Saves the job's record in the background (a progress update): the session goes on meanwhile, and a
    /// save that fails is retried until a newer one supersedes it.
    func saveSoon() {
        guard self.saves.withLock({ $0.ask(release: false) }).start else { return }
        Task { try? await self.drainSaves() }
    }

    /// The agent went away: its last record (lost, stopped or exited), and the lease let go, so that the
    /// state every node shows is right at once. After any save still under way; not at all once a takeover
    /// made this lease void.
    func release() async {
        let (generation, start) = self.saves.withLock { $0.ask(release: true) }
        try? await self.saved(generation, start: start)
    }

    private func saved(_ generation: UInt64, start: Bool) async throws {
        if start { return try await self.drainSaves() }
        try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Void, any Error>) in
            if !self.saves.withLock({ $0.wait(for: generation, waiter) }) { waiter.resume() }
        }
    }

    /// Writes the newest record until every change asked for is saved; the one saver at a time.
    private func drainSaves() async throws {
        do {
            while case .save(let generation, let release) = self.saves.withLock({ $0.next() }) {
                let record = self.record()
                try await self.retrying("saving job \(self.lease.job)") {
                    try await self.store.save(record, lease: self.lease, release: release)
                }
                for waiter in self.saves.withLock({ $0.saved(generation) }) { waiter.resume() }
            }
        } catch {
            for waiter in self.saves.withLock({ $0.stopped() }) { waiter.resume(throwing: error) }
            throw error
        }
    }

    private func retrying(_ what: String, _ body: () async throws -> Void) async throws {
        var backoff = Self.firstBackoff
        while true {
            do {
                try await body()
                self.store.health.succeeded()
                return
            } catch let lost as StoreLease.Lost {
                throw lost
            } catch {
                try Task.checkCancellation()
                self.store.health.failed(error, doing: what)
                try await Task.sleep(for: backoff)
                backoff = min(backoff * 2, Self.maxBackoff)
            }
        }
    }

    /// Renews the lease every `renewInterval` until cancelled; throws `StoreLease.Lost` once it is taken.
    /// A store that does not answer is the commits' to report.
    func keepRenewed() async throws {
        while true {
            try await Task.sleep(for: Self.renewInterval)
            do {
                try await self.store.renew(self.lease)
            } catch let lost as StoreLease.Lost {
                throw lost
            } catch {
                try Task.checkCancellation()
            }
        }
    }
}
