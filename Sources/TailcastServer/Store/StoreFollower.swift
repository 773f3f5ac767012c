import Logging
import PostgresNIO
import ServiceLifecycle

/// Keeps this node's cache in step with the other nodes: one connection of its own LISTENs for what they
/// commit (`StoreNotice`), and each notice copies the record or the bytes in and wakes the job's watchers,
/// as a publish on this node does. On every (re)connect it first catches every job up: notices sent while
/// it was not listening are lost.
struct StoreFollower: Service {
    let store: PostgresStore
    let hub: Hub
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var backoff = PublishLease.firstBackoff
            while !Task.isCancelled {
                do {
                    // A session that got as far as listening starts the next one's backoff afresh.
                    try await self.follow { backoff = PublishLease.firstBackoff }
                } catch {
                    if Task.isCancelled { return }
                    self.store.health.failed(error, doing: "following the other nodes")
                }
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, PublishLease.maxBackoff)
            }
        }
    }

    /// Listens until the connection fails; `listening` is called once it listens and has caught up.
    private func follow(listening: () -> Void) async throws {
        // Bounded like every request: a connection reset during its start-up must not leave the follower waiting.
        let connection = try await self.store.timeLimited(closing: PostgresStore.InUse()) { [store, logger] in
            try await PostgresConnection.connect(configuration: store.connectionConfiguration(), id: 0, logger: logger)
        }
        defer { Task { try? await connection.close() } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            // From the start: a connection that goes dead while it starts listening is replaced too.
            group.addTask { try await self.keepAlive(connection) }
            group.addTask { await self.reapExpiredLeases() }
            try await connection.listen(on: PostgresStore.channel) { notifications in
                try await self.hub.catchUpEverything(from: self.store)
                self.store.health.succeeded()
                listening()
                for try await notification in notifications {
                    guard let notice = StoreNotice(payload: notification.payload) else { continue }
                    await self.apply(notice)
                }
            }
            group.cancelAll()
        }
    }

    /// How often the LISTEN connection is asked a question: nothing else is sent on it, so without one a
    /// connection whose route went dead (no reset, no answer) would be waited on forever.
    static let keepAliveInterval: Duration = .seconds(3)

    /// Runs `SELECT 1` on the listening connection every `keepAliveInterval`. One that does not answer
    /// within the statement timeout is closed, which ends the listen, and the follower connects again.
    private func keepAlive(_ connection: PostgresConnection) async throws {
        while true {
            try await Task.sleep(for: Self.keepAliveInterval)
            do {
                try await self.store.timeLimited(closing: PostgresStore.InUse(connection)) { [logger] in
                    _ = try await connection.query("SELECT 1", logger: logger)
                }
            } catch {
                try Task.checkCancellation()
                self.store.health.failed(error, doing: "listening for the other nodes")
                try? await connection.close()
                throw error
            }
        }
    }

    /// Every node looks for jobs whose node died, so that they show `lost` everywhere within about a
    /// lease's time to live plus this interval, whichever nodes are left.
    static let reapInterval: Duration = .seconds(5)

    private func reapExpiredLeases() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: Self.reapInterval)
            // A failure is the commits' and the LISTEN's to report; the next round tries again.
            guard let reaped = try? await self.store.reapExpiredLeases(), reaped > 0 else { continue }
            self.logger.info("\(reaped) job(s) lost their node and their agent: shown as lost")
        }
    }

    private func apply(_ notice: StoreNotice) async {
        switch notice {
        case .job(let id):
            await self.hub.hydrate(id)
        case .removed(let id):
            await self.hub.dropRemoved(id)
        case .chunk(let id, let stream, let end):
            guard let job = self.hub.job(id), let file = job.file(named: stream) else {
                return await self.hub.hydrate(id)
            }
            // Its publisher is here: the bytes are in the cache already.
            guard !job.hasPublisher, file.size < end else { return }
            do {
                try await self.hub.catchUp(file, of: job, from: self.store)
            } catch {
                self.store.health.failed(error, doing: "reading job \(id)")
            }
        }
    }
}
