import Foundation
import Logging
import Metrics
import NIOCore
import PostgresNIO
import Synchronization
import TailcastProtocol

/// The shared store's settings (`serve --store`, `--node`, `--store-pool-size`, `--store-statement-timeout`).
public struct StoreConfiguration: Sendable {
    public var url: StoreURL
    public var node: String
    public var poolSize: Int
    /// PostgreSQL's `statement_timeout` for every query, and the bound on connecting.
    public var statementTimeoutMs: Int

    public init(url: StoreURL, node: String, poolSize: Int = 4, statementTimeoutMs: Int = 5000) {
        self.url = url
        self.node = node
        self.poolSize = poolSize
        self.statementTimeoutMs = statementTimeoutMs
    }

    var statementTimeout: Duration { .milliseconds(self.statementTimeoutMs) }
}

/// The archive shared by every node, in PostgreSQL: job records, chunks keyed by (job, stream, offset),
/// and one lease per job. Every value reaches SQL as a bind parameter (`PostgresQuery` interpolation);
/// the only text spliced into SQL is this file's own constants. Values a client chose that may hold U+0000
/// (the record, the run id) go through `StoreText`.
///
/// Lock order: a transaction that locks more than one of a job's rows takes the job's row first, then
/// its lease, then its chunks. Two nodes taking them in opposite orders (a progress save against a
/// takeover, the reaper against a takeover) deadlocked, and PostgreSQL broke that after a second by
/// failing one of them.
public final class PostgresStore: SharedStore {
    public let configuration: StoreConfiguration
    let client: PostgresClient
    let tls: StoreTLS
    let health: StoreHealth
    let logger: Logger
    private let running: Task<Void, Never>

    var node: String { self.configuration.node }

    /// The schema version this build writes and reads.
    public static var schemaVersion: Int { Migrations.current }

    /// A lease not renewed for this long is free for another run. Commits renew it, and so does a timer
    /// while the agent is quiet (`PublishLease.renewInterval`).
    static let leaseTTLMs: Int64 = 10_000
    /// The database's clock, so that nodes whose clocks differ agree on when a lease expires.
    private static let nowMs = "(extract(epoch from clock_timestamp()) * 1000)::int8"
    /// The generation of a record inserted or replaced now (`Archive.StoredJob.generation`): greater than any
    /// before it, on every node.
    private static let nextGeneration = "to_jsonb(nextval('job_generations'))"
    static let channel = "tailcast"

    /// Starts the connection pool (connections are opened on demand). Nothing is read yet: see `migrate`.
    /// Throws `StoreURL.Invalid` for a `sslrootcert` that cannot be used.
    public init(configuration: StoreConfiguration, logger: Logger) throws(StoreURL.Invalid) {
        self.configuration = configuration
        self.logger = logger
        _ = TailcastServer.registry
        self.health = StoreHealth(logger: logger)
        self.tls = try StoreTLS(configuration.url)
        var client = PostgresClient.Configuration(
            host: configuration.url.host, port: configuration.url.port, username: configuration.url.user,
            password: configuration.url.password, database: configuration.url.database, tls: self.tls.client)
        client.options.maximumConnections = configuration.poolSize
        client.options.connectTimeout = configuration.statementTimeout
        client.options.additionalStartupParameters = Self.startupParameters(configuration)
        // The pool retries a database that is down on its own, with a line per attempt; `StoreHealth` says it once.
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .error)
        self.client = PostgresClient(configuration: client, backgroundLogger: quiet)
        let pool = self.client
        self.running = Task { await pool.run() }
    }

    deinit { self.running.cancel() }

    /// Closes the pool (queries after this fail).
    public func close() { self.running.cancel() }

    private static func startupParameters(_ configuration: StoreConfiguration) -> [(String, String)] {
        [("statement_timeout", "\(configuration.statementTimeoutMs)"),
         ("application_name", "tailcast \(configuration.node)".prefix(63).description)]
    }

    /// The settings for a connection of its own (the follower's LISTEN, which must not hold a pool place).
    func connectionConfiguration() -> PostgresConnection.Configuration {
        let url = self.configuration.url
        var configuration = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password, database: url.database, tls: self.tls.connection)
        configuration.options.connectTimeout = .milliseconds(Int64(self.configuration.statementTimeoutMs))
        configuration.options.additionalStartupParameters = Self.startupParameters(self.configuration)
        return configuration
    }

    /// Runs `body` on a pooled connection, giving up after the statement timeout and a margin: a database
    /// that is unreachable (not refusing, just silent) must not hold an acknowledgement forever. A lost
    /// lease or a newer schema found inside a transaction is thrown as itself, not as the transaction's failure.
    /// A connection that failed otherwise is closed, not handed back: the pool opens a fresh one, which
    /// takes the database as it is now (a session opened while it was read-only stays read-only).
    private func bounded<R: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> R) async throws -> R {
        let inUse = InUse()
        return try await self.timeLimited(closing: inUse) { [client] in
            try await client.withConnection { connection in
                inUse.connection.withLock { $0 = connection }
                do {
                    return try await body(connection)
                } catch let error as PostgresTransactionError {
                    if let ours = error.closureError,
                        ours is StoreLease.Lost || ours is StoreError || ours is LiveJob.PublishRefusal || ours is JobLimitReached {
                        throw ours
                    }
                    try? await connection.close()
                    throw error
                } catch let ours as StoreLease.Lost {
                    throw ours
                } catch {
                    try? await connection.close()
                    throw error
                }
            }
        }
    }

    /// `bounded`, in one transaction.
    private func transaction<R: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> R) async throws -> R {
        try await self.bounded { [logger] connection in
            try await connection.withTransaction(logger: logger) { try await body($0) }
        }
    }

    /// The connection a bounded request runs on, once it has one.
    final class InUse: Sendable {
        let connection: Mutex<PostgresConnection?>

        init(_ connection: PostgresConnection? = nil) { self.connection = Mutex(connection) }
    }

    /// Runs `body` for at most the statement timeout and a margin. Past it, or when cancelled, the connection
    /// in use is closed (on a black-holed route its query would never end: no timeout of PostgreSQL's can
    /// reach us there) and `body` is cancelled but not waited for. A task group would wait for it, and
    /// postgres-nio does not always end a request whose connection was reset mid-way: under resets every
    /// 0.1 s, about one node in ten was seen to wait for good on a catch-up read after the route healed.
    /// A `body` that never ends is left behind, with its closed connection.
    func timeLimited<R: Sendable>(closing inUse: InUse, _ body: @escaping @Sendable () async throws -> R) async throws -> R {
        let limit = self.configuration.statementTimeout + .seconds(2)
        // The first of the body's result and the deadline; nil for the deadline (or a cancellation).
        let (outcomes, outcome) = AsyncStream.makeStream(of: Result<R, any Error>?.self)
        let work = Task {
            do { outcome.yield(.success(try await body())) } catch { outcome.yield(.failure(error)) }
        }
        let deadline = Task {
            try? await Task.sleep(for: limit)
            outcome.yield(nil)
        }
        defer { deadline.cancel() }
        return try await withTaskCancellationHandler {
            for await first in outcomes {
                if let result = first { return try result.get() }
                break
            }
            work.cancel()
            try? await inUse.connection.withLock { $0 }?.close()
            throw Task.isCancelled ? CancellationError() : StoreError.timedOut(limit)
        } onCancel: {
            outcome.finish()
        }
    }

    // MARK: schema

    /// The version of the schema the database holds (0: none yet). On a connection of its own, not the
    /// pool's (which retries quietly): a connection that fails says why.
    public func schemaVersion() async throws -> Int {
        let configuration = self.connectionConfiguration()
        let inUse = InUse()
        return try await self.timeLimited(closing: inUse) { [logger] in
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
            inUse.connection.withLock { $0 = connection }
            defer { Task { try? await connection.close() } }
            let exists = try await connection.query("SELECT to_regclass('tailcast_schema_migrations') IS NOT NULL", logger: logger)
            for try await (found) in exists.decode(Bool.self) where !found { return 0 }
            let rows = try await connection.query("SELECT coalesce(max(version), 0)::int8 FROM tailcast_schema_migrations", logger: logger)
            for try await version in rows.decode(Int64.self) { return Int(version) }
            return 0
        }
    }

    /// Brings the schema to this build's version, one logged step at a time. Nodes starting together
    /// take turns on an advisory lock held until each one's transaction ends. Throws `StoreError.newerSchema`
    /// for a database a newer tailcast migrated: this one would misread it.
    public func migrate() async throws {
        try await self.transaction { [logger] connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Migrations.lockKey))", logger: logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS tailcast_schema_migrations (
                    version int PRIMARY KEY, name text NOT NULL, applied_ms bigint NOT NULL)
                """, logger: logger)
            var version = 0
            for try await found in try await connection.query(
                "SELECT coalesce(max(version), 0)::int8 FROM tailcast_schema_migrations", logger: logger
            ).decode(Int64.self) { version = Int(found) }
            guard version <= Migrations.current else { throw StoreError.newerSchema(version) }
            for migration in Migrations.pending(after: version) {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("""
                    INSERT INTO tailcast_schema_migrations (version, name, applied_ms)
                    VALUES (\(migration.version), \(migration.name), \(Int64(UnixTime.nowMs())))
                    """, logger: logger)
                logger.notice("store schema migrated to version \(migration.version): \(migration.name)")
            }
        }
    }

    // MARK: job records

    private static func encode(_ stored: Archive.StoredJob) throws -> String {
        StoreText.escapedJSON(try ProtocolJSON.encode(stored))
    }

    private static func decode(_ text: String) throws -> Archive.StoredJob {
        try ProtocolJSON.decode(Archive.StoredJob.self, from: StoreText.unescapedJSON(text))
    }

    /// Inserts the job's record unless the store has one, and tells the other nodes of a new one; returns
    /// whether it was inserted. A new job waits for its turn on an advisory lock and is inserted only
    /// while the store holds fewer than `maxJobs`, else `JobLimitReached`; a job that exists takes no
    /// lock. Inside the caller's transaction.
    @discardableResult
    private static func insertIfAbsent(
        _ id: String, record: String, maxJobs: Int, _ connection: PostgresConnection, _ logger: Logger
    ) async throws -> Bool {
        func exists() async throws -> Bool {
            for try await _ in try await connection.query("SELECT true FROM jobs WHERE id = \(id)", logger: logger).decode(Bool.self) {
                return true
            }
            return false
        }
        if try await exists() { return false }
        // Held to the end of the transaction: the count below sees every job inserted before it.
        try await connection.query("SELECT pg_advisory_xact_lock(\(Self.newJobsLockKey))", logger: logger)
        let inserted = try await connection.query("""
            INSERT INTO jobs (id, record, updated_ms)
            SELECT \(id), jsonb_set(\(record)::jsonb, '{generation}', \(unescaped: Self.nextGeneration)), \(Int64(UnixTime.nowMs())) WHERE (SELECT count(*) FROM jobs) < \(Int64(maxJobs))
            ON CONFLICT (id) DO NOTHING RETURNING id
            """, logger: logger)
        var created = false
        for try await _ in inserted.decode(String.self) { created = true }
        if created {
            try await connection.query("SELECT pg_notify(\(Self.channel), \(StoreNotice.job(id).payload))", logger: logger)
        } else if try await !exists() {
            throw JobLimitReached(limit: maxJobs)
        }
        return created
    }

    /// The advisory lock new jobs take turns on (`insertIfAbsent`); the migrations' is `Migrations.lockKey`.
    private static let newJobsLockKey: Int64 = 0x7461_696C_6A6F_6273

    func claim(_ new: Archive.StoredJob, maxJobs: Int) async throws -> Archive.StoredJob {
        let record = try Self.encode(new)
        return try await self.transaction { [logger] connection in
            try await Self.insertIfAbsent(new.info.id, record: record, maxJobs: maxJobs, connection, logger)
            guard let stored = try await Self.record(new.info.id, connection, logger) else { throw StoreError.vanished(new.info.id) }
            return stored
        }
    }

    /// The record as the store holds it, on `connection` (in the caller's transaction, if any); nil if none.
    /// `locked`: its row stays locked to the end of the transaction (`FOR NO KEY UPDATE`: the id stays).
    private static func record(
        _ id: String, _ connection: PostgresConnection, _ logger: Logger, locked: Bool = false
    ) async throws -> Archive.StoredJob? {
        let query = try await connection.query(
            "SELECT record::text FROM jobs WHERE id = \(id)\(unescaped: locked ? " FOR NO KEY UPDATE" : "")", logger: logger)
        // Read to its end (one row at most: the id is the key) before the transaction's next query.
        var found: Archive.StoredJob?
        for try await text in query.decode(String.self) { found = try Self.decode(text) }
        return found
    }

    func replace(_ new: Archive.StoredJob, maxJobs: Int) async throws -> (Archive.StoredJob, replaced: Bool) {
        let record = try Self.encode(new)
        let id = new.info.id
        return try await self.transaction { [logger] connection in
            if try await Self.insertIfAbsent(id, record: record, maxJobs: maxJobs, connection, logger) {
                guard let inserted = try await Self.record(id, connection, logger) else { throw StoreError.vanished(id) }
                return (inserted, false)
            }
            // Locked to the end, in the lock order above: a takeover by the earlier run either holds the
            // lease already (and this is refused) or waits and finds this run.
            guard let current = try await Self.record(id, connection, logger, locked: true) else { throw StoreError.vanished(id) }
            if AccessTokens.constantTimeEqual(Array(current.runId.utf8), Array(new.runId.utf8)) { return (current, false) }
            guard AccessTokens.constantTimeEqual(Array(current.owner.utf8), Array(new.owner.utf8)) else {
                throw LiveJob.PublishRefusal.otherRun(id)
            }
            // The lease row is locked whether or not it has expired: a commit of the earlier run still in
            // flight renews an expired lease it holds, and its chunks must not land after the DELETE below.
            let held = try await connection.query("""
                SELECT expires_ms >= \(unescaped: Self.nowMs) FROM leases WHERE job = \(id) FOR UPDATE
                """, logger: logger)
            var running = false
            for try await live in held.decode(Bool.self) { running = live }
            if running { throw LiveJob.PublishRefusal.running(id) }
            // The new run's stream starts again at offset 0: an earlier chunk left at an offset would
            // keep the new bytes out (the key drops them).
            try await connection.query("DELETE FROM chunks WHERE job = \(id)", logger: logger)
            try await connection.query("DELETE FROM leases WHERE job = \(id)", logger: logger)
            // Returned as stored: its generation is the database's.
            let updated = try await connection.query("""
                UPDATE jobs SET record = jsonb_set(\(record)::jsonb, '{generation}', \(unescaped: Self.nextGeneration)), updated_ms = \(Int64(UnixTime.nowMs())) WHERE id = \(id)
                RETURNING record::text
                """, logger: logger)
            var replacement: Archive.StoredJob?
            for try await text in updated.decode(String.self) { replacement = try Self.decode(text) }
            try await connection.query("SELECT pg_notify(\(Self.channel), \(StoreNotice.job(id).payload))", logger: logger)
            guard let replacement else { throw StoreError.vanished(id) }
            return (replacement, true)
        }
    }

    func record(_ id: String) async throws -> Archive.StoredJob? {
        try await self.bounded { [logger] connection in try await Self.record(id, connection, logger) }
    }

    func records() async throws -> [Archive.StoredJob] {
        try await self.bounded { [logger] connection in
            var records: [Archive.StoredJob] = []
            for try await text in try await connection.query("SELECT record::text FROM jobs ORDER BY id", logger: logger).decode(String.self) {
                records.append(try Self.decode(text))
            }
            return records
        }
    }

    func save(_ stored: Archive.StoredJob, lease: StoreLease, release: Bool) async throws {
        let record = try Self.encode(stored)
        let expires = release ? "0" : "\(Self.nowMs) + \(Self.leaseTTLMs)"
        try await self.transaction { [logger] connection in
            // The record before the lease (the lock order above); a lease found lost rolls the record back.
            try await connection.query("""
                UPDATE jobs SET record = \(record)::jsonb, updated_ms = \(Int64(UnixTime.nowMs())) WHERE id = \(lease.job)
                """, logger: logger)
            try await Self.holdLease(lease, expires: expires, connection, logger)
            try await connection.query("SELECT pg_notify(\(Self.channel), \(StoreNotice.job(lease.job).payload))", logger: logger)
        }
    }

    func remove(_ id: String) async throws {
        try await self.transaction { [logger] connection in
            try await connection.query("DELETE FROM jobs WHERE id = \(id)", logger: logger)
            try await connection.query("DELETE FROM leases WHERE job = \(id)", logger: logger)
            try await connection.query("DELETE FROM chunks WHERE job = \(id)", logger: logger)
            try await connection.query("SELECT pg_notify(\(Self.channel), \(StoreNotice.removed(id).payload))", logger: logger)
        }
    }

    // MARK: leases and chunks

    func takeLease(job: String, runId: String) async throws -> StoreLease? {
        let session = UUID()
        let node = self.node
        // As the record holds it (`StoreText`), so that a run id with U+0000 compares equal and fits in `text`.
        let runId = StoreText.escaped(runId)
        return try await self.transaction { [logger] connection -> StoreLease? in
            // Only for the run the record names, read under a lock: a `run --replace` committed after
            // this run's hello was checked must not be written into by this run.
            var recorded: String?
            for try await run in try await connection.query("SELECT record->>'run_id' FROM jobs WHERE id = \(job) FOR SHARE", logger: logger)
                .decode(String.self) {
                recorded = run
            }
            guard let recorded, AccessTokens.constantTimeEqual(Array(recorded.utf8), Array(runId.utf8)) else { return nil }
            let taken = try await connection.query("""
                INSERT INTO leases AS l (job, node, session, run_id, expires_ms)
                VALUES (\(job), \(node), \(session), \(runId), \(unescaped: Self.nowMs) + \(Self.leaseTTLMs))
                ON CONFLICT (job) DO UPDATE SET node = excluded.node, session = excluded.session,
                    run_id = excluded.run_id, expires_ms = excluded.expires_ms
                WHERE l.expires_ms < \(unescaped: Self.nowMs) OR l.run_id = excluded.run_id
                RETURNING session
                """, logger: logger)
            var held = false
            for try await _ in taken.decode(UUID.self) { held = true }
            guard held else { return nil }
            var committed: [String: UInt64] = [:]
            let ends = try await connection.query("""
                SELECT stream, max(start_offset + octet_length(bytes))::int8 FROM chunks WHERE job = \(job) GROUP BY stream
                """, logger: logger)
            for try await (stream, end) in ends.decode((String, Int64).self) { committed[stream] = UInt64(end) }
            return StoreLease(job: job, session: session, committed: committed)
        }
    }

    /// Renews `lease` inside a transaction, or throws `StoreLease.Lost`: the row is locked until the
    /// transaction ends, so a takeover waits for it and then reads what it committed.
    private static func holdLease(_ lease: StoreLease, expires: String, _ connection: PostgresConnection, _ logger: Logger) async throws {
        let rows = try await connection.query("""
            UPDATE leases SET expires_ms = \(unescaped: expires) WHERE job = \(lease.job) AND session = \(lease.session) RETURNING job
            """, logger: logger)
        var held = false
        for try await _ in rows.decode(String.self) { held = true }
        guard held else { throw StoreLease.Lost() }
    }

    func renew(_ lease: StoreLease) async throws {
        try await self.transaction { [logger] connection in
            try await Self.holdLease(lease, expires: "\(Self.nowMs) + \(Self.leaseTTLMs)", connection, logger)
        }
    }

    func commit(_ pieces: ArraySlice<CommitPlan.Piece>, lease: StoreLease) async throws {
        guard !pieces.isEmpty else { return }
        let streams = pieces.map(\.stream)
        let offsets = pieces.map { Int64($0.offset) }
        let bytes = pieces.map(\.bytes)
        let times = pieces.map { Int64(clamping: $0.timeMs) }
        var ends: [String: UInt64] = [:]
        for piece in pieces { ends[piece.stream] = piece.end }
        let notices = ends.sorted { $0.key < $1.key }.map { StoreNotice.chunk(job: lease.job, stream: $0.key, end: $0.value).payload }
        let started = ContinuousClock.now
        // One statement, so one round trip and its own transaction, where a BEGIN, the lease's renewal, the
        // insert, the notices and the COMMIT took five: the commit is on every line's way to other nodes.
        // Without the lease (`held` empty) nothing is inserted or notified.
        try await self.bounded { [logger] connection in
            let rows = try await connection.query("""
                WITH held AS (
                    UPDATE leases SET expires_ms = \(unescaped: Self.nowMs) + \(Self.leaseTTLMs)
                    WHERE job = \(lease.job) AND session = \(lease.session) RETURNING job),
                inserted AS (
                    INSERT INTO chunks (job, stream, start_offset, bytes, time_ms)
                    SELECT held.job, s, o, b, t
                    FROM held, unnest(\(streams)::text[], \(offsets)::int8[], \(bytes)::bytea[], \(times)::int8[]) AS u(s, o, b, t)
                    ON CONFLICT DO NOTHING)
                SELECT pg_notify(\(Self.channel), n) FROM held, unnest(\(notices)::text[]) AS n
                """, logger: logger)
            var notified = 0
            for try await _ in rows { notified += 1 }
            guard notified > 0 else { throw StoreLease.Lost() }
        }
        self.health.commitSeconds.record(duration: ContinuousClock.now - started)
    }

    /// Jobs whose node stopped renewing their lease (it died with its agent, or lost the database for
    /// longer than a lease) are recorded `lost`, as one server shows a job whose agent is gone. One
    /// statement, taking each job's row before its lease (the lock order above): a job whose row a
    /// takeover holds is skipped (the takeover renews its lease, or the next round reaps it); a takeover
    /// that comes later waits for this, and its own record comes after. Returns how many jobs changed.
    func reapExpiredLeases() async throws -> Int {
        try await self.transaction { [logger] connection in
            let rows = try await connection.query("""
                WITH candidates AS (
                    SELECT jobs.id FROM jobs JOIN leases ON leases.job = jobs.id
                    WHERE leases.expires_ms > 0 AND leases.expires_ms < \(unescaped: Self.nowMs)
                    FOR NO KEY UPDATE OF jobs SKIP LOCKED),
                expired AS (
                    UPDATE leases SET expires_ms = 0 FROM candidates
                    WHERE leases.job = candidates.id AND leases.expires_ms > 0 AND leases.expires_ms < \(unescaped: Self.nowMs)
                    RETURNING leases.job)
                UPDATE jobs SET record = jsonb_set(record, '{info,state}', '"lost"'), updated_ms = \(Int64(UnixTime.nowMs()))
                FROM expired WHERE jobs.id = expired.job AND jobs.record->'info'->>'state' = 'running'
                RETURNING jobs.id
                """, logger: logger)
            var ids: [String] = []
            for try await id in rows.decode(String.self) { ids.append(id) }
            let notices = ids.map { StoreNotice.job($0).payload }
            try await connection.query("SELECT pg_notify(\(Self.channel), n) FROM unnest(\(notices)::text[]) AS n", logger: logger)
            return ids.count
        }
    }

    /// Rows per read while catching a cache up.
    static let piecesPerRead = 256

    func pieces(job: String, stream: String, from offset: UInt64) async throws -> [CommitPlan.Piece] {
        let from = Int64(offset)
        return try await self.bounded { [logger] connection in
            // From the chunk that holds `offset` (found on the primary key), not from a test on every row's end.
            let rows = try await connection.query("""
                SELECT start_offset, bytes, time_ms FROM chunks
                WHERE job = \(job) AND stream = \(stream) AND start_offset >= coalesce(
                    (SELECT max(start_offset) FROM chunks WHERE job = \(job) AND stream = \(stream) AND start_offset <= \(from)), 0)
                ORDER BY start_offset LIMIT \(Self.piecesPerRead)
                """, logger: logger)
            var pieces: [CommitPlan.Piece] = []
            for try await (start, bytes, time) in rows.decode((Int64, ByteBuffer, Int64).self) {
                pieces.append(CommitPlan.Piece(stream: stream, offset: UInt64(start), bytes: bytes, timeMs: UInt64(max(0, time))))
            }
            return pieces.filter { $0.end > offset }
        }
    }
}
