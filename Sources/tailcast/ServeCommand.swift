import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOSSL
import TailcastClient
import TailcastProtocol
#if canImport(Glibc)
import Glibc
#endif
import TailcastServer

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the server: archive every job's output and relay it live to watchers.",
        discussion: """
            Everything is kept under --data (no external server needed): one folder per job, each stream a plain file that `cat` reads. What the server acknowledges to an agent is on disk (fsync) and survives kill -9. Stop it with Ctrl-C or SIGTERM: agents and watchers are closed with WebSocket code 1001 (they reconnect and resume), open requests finish first. One server per --data: a second one exits 6 and names the first one's pid (a lock the kernel drops when the server ends, even by kill -9).

            Archive lifecycle: --retain and --max-archive-bytes remove finished jobs (exited, agent lost, or stopped: no agent connected), oldest first, at start and as time passes or the archive grows, one log line each (counted in /metrics as tailcast_jobs_removed_total); a job with an agent connected is never removed. `tailcast rm JOB` deletes a finished job by hand. Once a job has ended its streams are compressed at rest (NAME.log becomes NAME.log.gz, gzip members that zcat reads), read back transparently.

            Access: with no tokens the server trusts everyone who can connect, so it listens on loopback only (unless --insecure-listen-any). Tokens have a role: publish (agents) or watch (watchers, ls, the HTTP API). Put them in --tokens-file (one "publish TOKEN" or "watch TOKEN" per line; tokens on the command line show in `ps`). Clients give theirs with --token or TAILCAST_TOKEN. /healthz and /metrics need no token.

            TLS: --tls-cert and --tls-key (PEM) serve wss:// and https://; clients trust a private CA with --ca. TLS 1.2 or newer only, and under TLS 1.2 only ECDHE with AES-GCM or ChaCha20-Poly1305.

            Scale out: with --store postgres://USER[:PASSWORD]@HOST[:PORT]/DB (or TAILCAST_STORE; parameters ?sslmode=disable|prefer|require|verify-ca|verify-full and &sslrootcert=CA.pem) several nodes share one archive in PostgreSQL, and --data is each node's own cache of it. sslmode means what it means to libpq: prefer (the default) and require encrypt without checking the server's certificate, verify-ca checks that a trusted CA issued it, verify-full also that it is for HOST (a name or an IP address); sslrootcert is a PEM file of the CAs to trust instead of the system's (with require, it checks the chain as verify-ca does). The schema is created or migrated at start. An ack means the bytes are committed in PostgreSQL. --store URL --check prints whether the database is reachable and its schema version, and exits 0; 3 if it cannot be reached (a certificate that fails the check, too), 7 if its schema is newer than this tailcast, 64 for a bad URL or a sslrootcert file that cannot be used.
            """
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on.")
    var port = 7070

    @Option(help: ArgumentHelp("Directory for the archive.", valueName: "dir"))
    var data = "tailcast-data"

    @Option(help: ArgumentHelp("Largest WebSocket message accepted, after decompression, in bytes (at least 524288).", valueName: "bytes"))
    var maxMessageBytes = 4 << 20
    static let minMessageBytes = 512 << 10

    @Option(help: ArgumentHelp("At most one fsync and acknowledgement per agent this often, in milliseconds.", valueName: "ms"))
    var ackIntervalMs = 200

    @Option(help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error, critical.", valueName: "level"))
    var logLevel = "info"

    @Option(help: ArgumentHelp("A token agents may publish with (repeatable).", valueName: "token"))
    var publishToken: [String] = []

    @Option(help: ArgumentHelp("A token watchers may watch and list with (repeatable).", valueName: "token"))
    var watchToken: [String] = []

    @Option(help: ArgumentHelp("File of tokens, one \"publish TOKEN\" or \"watch TOKEN\" per line; # comments. Only its owner may read it (chmod 600).", valueName: "file"))
    var tokensFile: String?

    @Flag(help: "Listen on a non-loopback address without tokens: anyone who can connect may publish and watch.")
    var insecureListenAny = false

    @Option(help: ArgumentHelp(
        "A web page origin (https://dash.example.com) whose scripts may use this server, besides its own (repeatable). Requests from any other page are refused with 403.",
        valueName: "origin"))
    var allowOrigin: [String] = []

    @Option(help: ArgumentHelp("Certificate chain (PEM) to serve wss:// with; needs --tls-key.", valueName: "file"))
    var tlsCert: String?

    @Option(help: ArgumentHelp("Private key (PEM) for --tls-cert.", valueName: "file"))
    var tlsKey: String?

    @Option(help: ArgumentHelp("Ping every connection this often, in seconds: below the idle timeout of any proxy in front.", valueName: "seconds"))
    var pingInterval: Double = 20

    @Option(help: ArgumentHelp("Most WebSocket connections at once, agents and watchers together; more are told to retry later.", valueName: "n"))
    var maxConnections = 4096

    @Option(help: ArgumentHelp("Close a connection whose request head is not complete this long after it was accepted, in seconds.", valueName: "seconds"))
    var requestHeadTimeout: Double = 10

    @Option(help: ArgumentHelp("Most jobs the archive holds; agents of new jobs are refused beyond it.", valueName: "n"))
    var maxJobs = 10_000

    @Option(help: ArgumentHelp("Most bytes one job may archive, all its streams together.", valueName: "bytes"))
    var maxJobBytes: UInt64 = 1 << 40

    @Option(help: ArgumentHelp("Most streams (files, for tail) in one job.", valueName: "n"))
    var maxStreamsPerJob = 2_048

    @Option(help: ArgumentHelp("Most descriptors the archive's stream files hold at once (2 per stream); the least recently used are closed. Default: half of ulimit -n, at most 4096.", valueName: "n"))
    var maxOpenFiles: Int?

    @Option(help: ArgumentHelp("Remove finished jobs (exited, or agent lost) this long after they finished: 30d, 12h, 90m. Checked at start and then at least every minute. Default: keep them.", valueName: "duration"))
    var retain: String?

    @Option(help: ArgumentHelp("Remove the oldest finished jobs while the archive's stream files take more than this on disk: 500M, 2G (powers of 1024). Running jobs are never removed. Not with --store (cap the database). Default: no cap.", valueName: "size"))
    var maxArchiveBytes: String?

    @Option(help: ArgumentHelp(
        "Share the archive with other nodes in PostgreSQL (also TAILCAST_STORE): postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=…]. --data is then this node's cache.",
        valueName: "url"))
    var store: String?

    @Option(help: ArgumentHelp("This node's name in logs, leases and /healthz (also TAILCAST_NODE). Default: the host name.", valueName: "name"))
    var node: String?

    @Option(help: ArgumentHelp("Most connections to the store at once (the follower's LISTEN has one more).", valueName: "n"))
    var storePoolSize = 4

    @Option(help: ArgumentHelp("Longest a query to the store may take, in milliseconds; also bounds connecting.", valueName: "ms"))
    var storeStatementTimeout = 5000

    @Flag(help: "With --store: say whether the database is reachable and at which schema version, then exit.")
    var check = false

    /// The store URL, parsed: from --store, else TAILCAST_STORE.
    func storeURL() throws -> StoreURL? {
        guard let text = self.store ?? ProcessInfo.processInfo.environment["TAILCAST_STORE"], !text.isEmpty else { return nil }
        return try StoreURL(parsing: text)
    }

    func validate() throws {
        guard (1...1000).contains(self.storePoolSize) else { throw ValidationError("--store-pool-size must be between 1 and 1000") }
        guard (100...600_000).contains(self.storeStatementTimeout) else {
            throw ValidationError("--store-statement-timeout must be between 100 and 600000 milliseconds")
        }
        do {
            let store = try self.storeURL()
            if store == nil && self.check { throw ValidationError("--check needs --store (or TAILCAST_STORE)") }
            // The cap would measure this node's cache and delete jobs from the store, for every node.
            if store != nil && self.maxArchiveBytes != nil {
                throw ValidationError(
                    "--max-archive-bytes cannot go with --store: it would measure this node's cache and delete the cluster's jobs"
                        + " from the database; cap the database instead (--retain works on every node)")
            }
        } catch let invalid as StoreURL.Invalid {
            throw ValidationError(invalid.description)
        }
        guard (1...65535).contains(self.port) else { throw ValidationError("--port must be between 1 and 65535") }
        guard Logger.Level(rawValue: self.logLevel) != nil else { throw ValidationError("unknown --log-level \"\(self.logLevel)\"") }
        // An agent's data message holds up to 262,144 bytes (Wire.maxBatchBytes) and a bit: a lower limit
        // would refuse an agent with a backlog for good, at every reconnect.
        guard self.maxMessageBytes >= Self.minMessageBytes else {
            throw ValidationError("--max-message-bytes must be at least \(Self.minMessageBytes) (an agent's data message holds up to \(Wire.maxBatchBytes) bytes)")
        }
        guard (1...10_000).contains(self.ackIntervalMs) else { throw ValidationError("--ack-interval-ms must be between 1 and 10000") }
        guard self.maxConnections >= 1, self.maxJobs >= 1, self.maxJobBytes >= 1, self.maxStreamsPerJob >= 1 else {
            throw ValidationError("--max-connections, --max-jobs, --max-job-bytes and --max-streams-per-job must be at least 1")
        }
        if let maxOpenFiles {
            guard maxOpenFiles >= 2 else { throw ValidationError("--max-open-files must be at least 2 (one stream's two files)") }
            if let limit = ServerConfiguration.descriptorLimit, maxOpenFiles > limit - Self.reservedDescriptors {
                throw ValidationError("""
                    --max-open-files \(maxOpenFiles) leaves too few of the \(limit) descriptors this process may open (ulimit -n) \
                    for connections: give at most \(max(2, limit - Self.reservedDescriptors)), or raise the limit
                    """)
            }
        }
        if let retain, (TimeArgument.durationMs(retain) ?? 0) == 0 {
            throw ValidationError("--retain takes a duration like 30d, 12h or 90m (got \"\(retain)\")")
        }
        if let maxArchiveBytes, (ByteSize.parse(maxArchiveBytes) ?? 0) == 0 {
            throw ValidationError("--max-archive-bytes takes a size like 500M or 2G (got \"\(maxArchiveBytes)\")")
        }
        guard (0.1...3600).contains(self.pingInterval) else { throw ValidationError("--ping-interval must be between 0.1 and 3600 seconds") }
        guard (0.1...3600).contains(self.requestHeadTimeout) else { throw ValidationError("--request-head-timeout must be between 0.1 and 3600 seconds") }
        for token in self.publishToken + self.watchToken {
            if let problem = AccessTokens.problem(with: token) { throw ValidationError("--publish-token/--watch-token: \(problem)") }
        }
        for origin in self.allowOrigin where RequestOriginGuard.normalizedOrigin(origin) == nil {
            throw ValidationError("--allow-origin must be an origin such as https://dash.example.com (got \"\(origin)\")")
        }
        if (self.tlsCert == nil) != (self.tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        let hasTokens = !self.publishToken.isEmpty || !self.watchToken.isEmpty || self.tokensFile != nil
        if !hasTokens && !self.insecureListenAny && !Loopback.contains(host: self.host) {
            throw ValidationError("""
                refusing to listen on \(self.host) without tokens: anyone who reaches it could publish and read every job. \
                Give --tokens-file (or --publish-token/--watch-token), or --insecure-listen-any if the network is trusted.
                """)
        }
    }

    /// Descriptors kept out of --max-open-files: the listener, event loops, logs, a few connections.
    static let reservedDescriptors = 64

    /// Tokens from the flags and the file; a bad file stops the server before it listens.
    func accessTokens() throws -> AccessTokens {
        var tokens = self.publishToken.map { (role: AccessTokens.Role.publish, token: $0) } + self.watchToken.map { (role: .watch, token: $0) }
        if let file = self.tokensFile { tokens += try AccessTokens.parse(file: file) }
        return AccessTokens(tokens)
    }

    func tlsConfiguration() throws -> TLSConfiguration? {
        guard let cert = self.tlsCert, let key = self.tlsKey else { return nil }
        let chain = try NIOSSLCertificate.fromPEMFile(cert).map { NIOSSLCertificateSource.certificate($0) }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
        configuration.requireModernTLS()
        return configuration
    }

    func storeConfiguration(_ url: StoreURL) -> StoreConfiguration {
        let node = self.node ?? ProcessInfo.processInfo.environment["TAILCAST_NODE"] ?? ProcessInfo.processInfo.hostName
        return StoreConfiguration(url: url, node: node, poolSize: self.storePoolSize, statementTimeoutMs: self.storeStatementTimeout)
    }

    /// The pool. A `sslrootcert` file that cannot be used exits 64, as a bad URL does, with one line.
    func makeStore(_ url: StoreURL, logger: Logger) throws -> PostgresStore {
        do {
            return try PostgresStore(configuration: self.storeConfiguration(url), logger: logger)
        } catch {
            notice(error.description)
            throw ExitCode.validationFailure
        }
    }

    /// The database's schema version, or an exit: 3 if it cannot be reached (the line says why, from a
    /// connection of its own: the pool only retries), 7 if a newer tailcast migrated it.
    func reachableSchema(_ store: PostgresStore, url: StoreURL) async throws -> Int {
        let version: Int
        do {
            version = try await store.schemaVersion()
        } catch {
            notice("store \(url): unreachable: \(StoreError.describe(error))")
            throw ExitCode(ExitCodes.unreachable)
        }
        guard version <= PostgresStore.schemaVersion else {
            notice("store \(url): \(StoreError.newerSchema(version))")
            throw ExitCode(ExitCodes.storeSchemaNewer)
        }
        return version
    }

    /// `--check`: one line, and an exit code a script can test.
    func checkStore(_ url: StoreURL, logger: Logger) async throws {
        let store = try self.makeStore(url, logger: logger)
        defer { store.close() }
        let version = try await self.reachableSchema(store, url: url)
        print("store \(url): reachable, schema version \(version) (this tailcast: \(PostgresStore.schemaVersion))")
    }

    /// Store mode: the pool, with the schema brought to this build's version before anything is served.
    func openStore(_ url: StoreURL, logger: Logger) async throws -> PostgresStore {
        let store = try self.makeStore(url, logger: logger)
        do {
            _ = try await self.reachableSchema(store, url: url)
            try await store.migrate()
        } catch let exit as ExitCode {
            store.close()
            throw exit
        } catch {
            store.close()
            notice("store \(url): cannot migrate the schema: \(StoreError.describe(error))")
            throw ExitCode(ExitCodes.unreachable)
        }
        logger.notice("store \(url): schema version \(PostgresStore.schemaVersion), node \(store.configuration.node); \(self.data) is this node's cache")
        return store
    }

    func run() async throws {
        var logger = Logger(label: "tailcast.server")
        logger.logLevel = Logger.Level(rawValue: self.logLevel)!
        let url = try self.storeURL()
        if self.check, let url { return try await self.checkStore(url, logger: logger) }
        var store: PostgresStore?
        if let url { store = try await self.openStore(url, logger: logger) }
        let access: AccessTokens
        let tls: TLSConfiguration?
        do {
            access = try self.accessTokens()
            tls = try self.tlsConfiguration()
        } catch {
            notice("\(error)")
            throw ExitCode(ExitCodes.failure)
        }
        if access.isEmpty && self.tokensFile != nil {
            notice("\(self.tokensFile!) holds no tokens: refusing to start open to everyone by accident")
            throw ExitCode(ExitCodes.failure)
        }
        var configuration = ServerConfiguration(
            host: self.host, port: self.port, dataDirectory: self.data, maxMessageBytes: self.maxMessageBytes,
            ackInterval: .milliseconds(self.ackIntervalMs), pingInterval: .milliseconds(Int(self.pingInterval * 1000)),
            access: access, tls: tls
        )
        configuration.maxConnections = self.maxConnections
        configuration.requestHeadTimeout = .milliseconds(Int(self.requestHeadTimeout * 1000))
        configuration.maxJobs = self.maxJobs
        configuration.maxJobBytes = self.maxJobBytes
        configuration.maxStreamsPerJob = self.maxStreamsPerJob
        configuration.allowedOrigins = self.allowOrigin
        configuration.anyHostWithoutTokens = self.insecureListenAny
        if let maxOpenFiles { configuration.maxOpenFiles = maxOpenFiles }
        configuration.retainMs = self.retain.flatMap(TimeArgument.durationMs)
        configuration.maxArchiveBytes = self.maxArchiveBytes.flatMap(ByteSize.parse)
        let app: any ApplicationProtocol
        let departure = Departure()
        do {
            app = try TailcastServer.makeApplication(configuration: configuration, logger: logger, departure: departure, store: store)
        } catch let held as ArchiveLock.Held {
            notice("cannot open the archive at \(self.data): \(held)")
            throw ExitCode(ExitCodes.archiveInUse)
        } catch {
            notice("cannot open the archive at \(self.data): \(error)")
            throw ExitCode(ExitCodes.failure)
        }
        let scheme = tls == nil ? "ws" : "wss"
        let guarded = access.isEmpty ? "no tokens" : "tokens required"
        logger.notice("tailcast serving \(scheme)://\(self.host):\(self.port) (\(guarded)), archive in \(self.data)")
        do {
            try await TailcastServer.run(app, departure: departure, logger: logger)
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            notice("cannot listen on \(self.host):\(self.port): the address is in use (another tailcast serve?); pick another --port")
            throw ExitCode(ExitCodes.failure)
        }
    }
}
