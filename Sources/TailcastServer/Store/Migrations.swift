/// The store's schema, as the versioned steps that build it. Each step runs once per database, in
/// order, in one transaction with its row in `tailcast_schema_migrations`; a step is never edited after
/// a release (a change is a new step), so every node agrees on what version N means.
struct Migration: Sendable {
    var version: Int
    var name: String
    var statements: [String]
}

enum Migrations {
    static let all: [Migration] = [
        Migration(version: 1, name: "jobs, chunks and leases", statements: [
            // The job record is the StoredJob every node keeps in its job.json, so a node rebuilds its cache from it.
            """
            CREATE TABLE jobs (
                id text PRIMARY KEY,
                record jsonb NOT NULL,
                updated_ms bigint NOT NULL
            )
            """,
            // Keyed by offset: a resend after any reconnect, to any node, is archived once (ON CONFLICT DO NOTHING).
            """
            CREATE TABLE chunks (
                job text NOT NULL,
                stream text NOT NULL,
                start_offset bigint NOT NULL,
                bytes bytea NOT NULL,
                time_ms bigint NOT NULL,
                PRIMARY KEY (job, stream, start_offset)
            )
            """,
            // One publisher per job across the cluster: the node whose session holds an unexpired row.
            """
            CREATE TABLE leases (
                job text PRIMARY KEY,
                node text NOT NULL,
                session uuid NOT NULL,
                run_id text NOT NULL,
                expires_ms bigint NOT NULL
            )
            """,
        ]),
        // PostgreSQL compresses a chunk over 2 kB (TOAST) with pglz by default. Copying 100 MiB of the log
        // corpus in 256 KiB chunks took 2.1-2.6 s with pglz and 1.0-1.5 s with lz4, for 16.8 and 16.4 MB
        // stored; at full speed the database shares the machine with the node, so this is throughput. A
        // server built without lz4 (or older than PostgreSQL 14) keeps pglz: the step is then a no-op.
        Migration(version: 2, name: "chunks compressed with lz4 where the server has it", statements: [
            """
            DO $$
            BEGIN
                EXECUTE 'ALTER TABLE chunks ALTER COLUMN bytes SET COMPRESSION lz4';
            EXCEPTION WHEN feature_not_supported OR syntax_error THEN
                RAISE NOTICE 'lz4 is not available: chunks stay compressed with pglz';
            END
            $$
            """,
        ]),
        // `run --replace` gives a job's id to a new run. A node may read the earlier run's record just before
        // that and adopt it just after; the generation in the record (`Archive.StoredJob.generation`) tells
        // it which is newer. One sequence, not a count in the record, so a job deleted and created again
        // with the same id still counts up.
        Migration(version: 3, name: "a generation for every run of a job id", statements: [
            "CREATE SEQUENCE job_generations",
        ]),
    ]

    /// The schema version this build writes and reads.
    static var current: Int { self.all.last?.version ?? 0 }

    /// The steps a database at `version` still needs, in order.
    static func pending(after version: Int) -> [Migration] {
        self.all.filter { $0.version > version }
    }

    /// Taken with `pg_advisory_xact_lock` around migrating, so nodes that start together migrate one at a
    /// time (the others then find nothing to do). Any constant works; this one is "tailcast" in ASCII.
    static let lockKey: Int64 = 0x7461_696C_6361_7374
}
