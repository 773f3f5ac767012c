import Foundation

/// What the hub and a publishing session ask of a store shared by several nodes. Nil in the embedded mode,
/// which therefore runs no store code at all; `PostgresStore` is the one implementation.
protocol SharedStore: Sendable {
    /// This node's name (`serve --node`): in leases, logs and `/healthz`.
    var node: String { get }
    var health: StoreHealth { get }

    /// The job's record as the store has it, after inserting `new` if the store had none: the store, not
    /// the node an agent reached, decides which run and token a job belongs to. Throws `JobLimitReached`
    /// for a new job while the store holds `maxJobs`: new jobs take turns across nodes, so nodes racing
    /// cannot pass the limit between them.
    func claim(_ new: Archive.StoredJob, maxJobs: Int) async throws -> Archive.StoredJob
    /// `claim` for a hello with `replace`: a record of another run made with the same token, whose lease
    /// no run holds, gives way to `new` (its chunks and lease deleted, in the same transaction), and every
    /// node retires its copy. Returns the record and whether an earlier run's was replaced. Throws
    /// `LiveJob.PublishRefusal` for another token's job (`otherRun`) and for one whose lease is held (`running`).
    func replace(_ new: Archive.StoredJob, maxJobs: Int) async throws -> (Archive.StoredJob, replaced: Bool)
    func record(_ id: String) async throws -> Archive.StoredJob?
    func records() async throws -> [Archive.StoredJob]

    /// Takes the job's lease for `runId`: free, expired, or held by the same run (a reconnect, to any
    /// node, takes over at once). Nil while another run holds it.
    func takeLease(job: String, runId: String) async throws -> StoreLease?
    /// Commits the pieces in one transaction that also renews the lease; throws `StoreLease.Lost` if the
    /// lease was taken, and then commits nothing.
    func commit(_ pieces: ArraySlice<CommitPlan.Piece>, lease: StoreLease) async throws
    func renew(_ lease: StoreLease) async throws
    /// Writes the record if `lease` still holds the job; `release` lets the lease go in the same transaction.
    func save(_ stored: Archive.StoredJob, lease: StoreLease, release: Bool) async throws

    /// Committed bytes of a stream from `offset` on, in order (the first piece may begin before it).
    func pieces(job: String, stream: String, from offset: UInt64) async throws -> [CommitPlan.Piece]
    /// Deletes the job everywhere: every node drops it from its cache.
    func remove(_ id: String) async throws
}

/// A node's hold on publishing one job, and what the store held of each stream when it was taken.
struct StoreLease: Sendable {
    var job: String
    var session: UUID
    var committed: [String: UInt64]

    /// Another connection of the run took the job over on some node: this one must stop acknowledging.
    struct Lost: Error {}
}
