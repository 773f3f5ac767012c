import Logging
import NIOCore
import NIOPosix
import NIOWebSocket
import TailcastProtocol
import WSCore

/// One agent connection: hello → welcome, then streams and data in, durable acknowledgements out.
struct PublishSession {
    let hub: Hub
    let configuration: ServerConfiguration
    let metrics: ServerMetrics
    let logger: Logger

    /// Runs on NIO's thread pool (`BlockingPoolExecutor`): it appends every data message to the archive
    /// where it reads it.
    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, owner: String) async throws {
        try await withTaskExecutorPreference(BlockingPoolExecutor.shared) {
            try await self.serve(inbound: inbound, outbound: outbound, owner: owner)
        }
    }

    private func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, owner: String) async throws {
        let serial = self.hub.nextSerial()
        var machine = PublishStateMachine(limits: .init(
            maxStreamsPerJob: self.configuration.maxStreamsPerJob, maxJobBytes: self.configuration.maxJobBytes))
        var messages = inbound.messages(maxSize: self.configuration.maxMessageBytes).makeAsyncIterator()
        let hello: ControlMessage.Hello
        do {
            guard let first = try await messages.next() else { return }
            let opening: ControlMessage
            switch first {
            case .text(let text): opening = try ControlMessage.decode(text)
            case .binary: throw Refusal(code: .badMessage, message: "the first message must be a \"hello\" text message")
            }
            switch machine.received(opening) {
            case .attach(let attach): hello = attach
            case .refuse(let code, let message): throw Refusal(code: code, message: message)
            default: return
            }
        } catch let refusal as Refusal {
            self.logger.notice("refused a connection: \(refusal.message.escapingControlCharacters)")
            return try await outbound.refuse(refusal.code, refusal.message)
        } catch let error as ControlMessage.DecodeError {
            self.logger.notice("refused a connection: expected \"hello\": \("\(error)".escapingControlCharacters)")
            return try await outbound.refuse(.badMessage, "expected \"hello\": \(error)")
        }
        let job: LiveJob
        var welcome: ControlMessage.Welcome
        var lease: PublishLease?
        do {
            if let store = self.hub.store {
                // --max-jobs counts this node's cache, which holds every job of the store; the store checks
                // it again for a new job, under a lock, since the cache lags the other nodes by a notice.
                try self.hub.checkRoom(for: hello.job, maxJobs: self.configuration.maxJobs)
                // The store decides whose job this is; this node's cache is brought up to it first.
                let new = Archive.StoredJob(
                    info: JobInfo(id: hello.job, meta: hello.meta, state: .lost, lastSeenMs: UnixTime.nowMs(), streams: []),
                    streams: [], runId: hello.runId, owner: owner)
                do {
                    let stored: Archive.StoredJob
                    if hello.replace == true {
                        let (record, replaced) = try await store.replace(new, maxJobs: self.configuration.maxJobs)
                        if replaced { self.logger.notice("job started anew by a new run (--replace); the earlier run's output is removed", metadata: ["job": "\(hello.job)"]) }
                        stored = record
                    } else {
                        stored = try await store.claim(new, maxJobs: self.configuration.maxJobs)
                    }
                    // A replaced run's copy in this cache is retired here (see `Hub.adopt`).
                    try await self.hub.adopt(stored, from: store)
                } catch let error as ArchiveError {
                    throw error
                } catch let refusal as LiveJob.PublishRefusal {
                    throw refusal
                } catch let full as JobLimitReached {
                    throw full
                } catch {
                    throw StoreUnavailable(error: error)
                }
            }
            if hello.replace == true, self.hub.store == nil {
                // Retiring a job removes its folder: blocking work, done here since this session runs on NIO's
                // thread pool (`run`).
                let (replacing, retired) = try self.hub.replaceJob(hello, owner: owner, maxJobs: self.configuration.maxJobs)
                job = replacing
                if retired { self.logger.notice("job started anew by a new run (--replace); the earlier run's output is removed", metadata: ["job": "\(hello.job)"]) }
            } else {
                job = try self.hub.jobForPublisher(hello, owner: owner, maxJobs: self.configuration.maxJobs)
            }
            let attached = try job.attachPublisher(hello, owner: owner, connection: serial)
            welcome = attached.welcome
            if attached.replaced != nil {
                self.logger.info("agent reconnected; the older connection is replaced", metadata: ["job": "\(hello.job)"])
            }
            if let store = self.hub.store, !welcome.ended {
                lease = try await self.takeLease(job, hello: hello, welcome: &welcome, store: store, connection: serial)
            } else if self.hub.store != nil {
                // The cache is not synced in store mode, so its durable sizes are not what is durable: an
                // ended job's cache holds what the store committed (`adopt` above brought it up to it).
                welcome.streams = job.files.map { StreamInfo(name: $0.name, size: $0.size) }
            }
        } catch let refusal as LiveJob.PublishRefusal {
            self.logger.notice("refused an agent: \(refusal.description)", metadata: ["job": "\(hello.job)"])
            return try await outbound.refuse(.jobConflict, refusal.description)
        } catch let full as JobLimitReached {
            self.logger.warning("refused a new job: the archive holds \(full.limit) jobs (--max-jobs)")
            return try await outbound.refuse(.limit, "the server holds its limit of \(full.limit) jobs (serve --max-jobs)")
        } catch let error as ArchiveError {
            return try await self.refuseForStorage(error, outbound: outbound, logger: self.logger)
        } catch is StoreLease.Lost {
            // A newer connection of the run took the job over while this one was taking it: `replaced`, as on
            // one server, not a store that does not answer.
            var logger = self.logger
            logger[metadataKey: "job"] = "\(hello.job)"
            return try await self.refuseTakenOver(outbound: outbound, logger: logger)
        } catch let store as StoreUnavailable {
            self.hub.store?.health.failed(store.error, doing: "taking job \(hello.job)")
            return try await outbound.refuse(.storage, "the shared store does not answer (\(StoreError.describe(store.error))); retrying")
        }
        machine.welcomed(ended: welcome.ended)
        var logger = self.logger
        logger[metadataKey: "job"] = "\(hello.job)"
        if welcome.ended {
            // The same run again after its end was stored (its last ack was lost): it only needs to hear so.
            logger.info("agent of an ended job reconnected; told it has ended")
            try await outbound.write(.text(ControlMessage.welcome(welcome).encoded()))
            return try await self.serveEnded(&messages, outbound: outbound, machine: &machine, logger: logger)
        }
        logger.info("agent connected", metadata: ["host": "\(hello.meta.host.escapingControlCharacters)", "agent": "\(hello.agent.escapingControlCharacters)"])
        self.metrics.agentsConnected.increment()
        job.notifyWatchers()
        defer {
            job.detachPublisher(serial)
            if let lease {
                let hub = self.hub
                // Then, as a follower, what another node committed while this connection still held the
                // job here (a takeover it had not noticed yet): those notices were skipped.
                Task {
                    await lease.release()
                    await hub.hydrate(job.id)
                }
            }
            self.metrics.agentsConnected.decrement()
            logger.info("agent disconnected")
        }
        try await outbound.write(.text(ControlMessage.welcome(welcome).encoded()))

        var streams: [UInt32: StreamFile] = [:]
        let (syncRequests, requestSync) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let (commitRequests, requestCommit) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let acknowledger = Acknowledger(interval: self.configuration.ackInterval, metrics: self.metrics, lease: lease)

        let jobLogger = logger
        try await withThrowingTaskGroup(of: Void.self) { group in
            // Acknowledgements are paced: one fsync and one ack covers everything that arrived meanwhile.
            group.addTask {
                do {
                    for await _ in syncRequests {
                        try await Task.sleep(for: acknowledger.interval)
                        try await acknowledger.acknowledgeMoved(outbound: outbound)
                    }
                } catch let error as ArchiveError {
                    try? await self.refuseForStorage(error, outbound: outbound, logger: jobLogger)
                } catch is StoreLease.Lost {
                    try? await self.refuseTakenOver(outbound: outbound, logger: jobLogger)
                }
            }
            if let lease {
                // Store mode: bytes are committed as soon as they arrive, not once per ack window, because
                // watchers on other nodes see them only once committed. One transaction takes all that
                // arrived during the one before, so a fast job still commits in large batches. The paced
                // acks then name what is committed.
                group.addTask {
                    do {
                        for await _ in commitRequests {
                            _ = try await lease.commitWaiting()
                            requestSync.yield()
                        }
                    } catch is StoreLease.Lost {
                        try? await self.refuseTakenOver(outbound: outbound, logger: jobLogger)
                    }
                }
                group.addTask {
                    do {
                        try await lease.keepRenewed()
                    } catch is StoreLease.Lost {
                        try? await self.refuseTakenOver(outbound: outbound, logger: jobLogger)
                    }
                }
            }
            defer {
                requestSync.finish()
                requestCommit.finish()
            }
            do {
                while let message = try await messages.next() {
                    let action: PublishStateMachine.Action
                    switch message {
                    case .binary(let buffer):
                        action = machine.received(chunks: try DataMessage.decode(buffer), jobBytes: job.totalBytes)
                    case .text(let text):
                        action = machine.received(
                            try ControlMessage.decode(text), heldSize: { streams[$0]?.size }, streamCount: job.streamCount,
                            streamNameBytes: job.streamNameBytes, hasStream: { job.file(named: $0) != nil })
                    }
                    switch action {
                    case .append(let chunks):
                        // Writes block (a slow disk, a full one): this session runs on NIO's thread pool
                        // (`run`), never on the cooperative threads every session shares. Watchers at the
                        // live end get the bytes from here, as soon as they are in.
                        let added = try chunks.reduce(0) { $0 + (try job.append($1, to: streams[$1.stream]!, connection: serial)) }
                        job.bytesAppended()
                        for chunk in chunks { try lease?.add(chunk, stream: streams[chunk.stream]!.name) }
                        self.metrics.bytesArchived.increment(by: added)
                        self.hub.grew.store(true, ordering: .relaxed)
                        if lease == nil { requestSync.yield() } else { requestCommit.yield() }
                    case .openStream(let id, let name):
                        guard job.isPublisher(serial) else { throw LiveJob.Replaced() }
                        let file = try job.openStream(named: name)
                        streams[id] = file
                        await acknowledger.track(id, file)
                        // Other nodes learn of the stream before any of its bytes.
                        try await lease?.save()
                    case .updateProgress(let bars):
                        guard job.isPublisher(serial) else { throw LiveJob.Replaced() }
                        if job.updateProgress(bars) { lease?.saveSoon() }
                    case .markStopped:
                        job.markStopped(connection: serial)
                        logger.info("agent stopping cleanly")
                    case .storeEnd(let end):
                        var ack = try await acknowledger.syncAndAcknowledge(streams: streams, everyStream: true)
                        try job.end(end, connection: serial)
                        try await lease?.save()
                        machine.endStored()
                        ack.ended = true
                        try await acknowledger.acknowledgeEnd(ack, outbound: outbound)
                        logger.info("job ended", metadata: ["exit": "\(end.exit.description)"])
                    case .refuse(let code, let message):
                        throw Refusal(code: code, message: message)
                    case .attach:
                        throw Refusal(code: .badMessage, message: "\"hello\" comes once, first")
                    }
                }
            } catch let refusal as Refusal {
                logger.warning("closing agent connection: \(refusal.message.escapingControlCharacters)")
                try await outbound.refuse(refusal.code, refusal.message)
            } catch let error as DataMessage.DecodeError {
                logger.warning("closing agent connection: \(error)")
                try await outbound.refuse(.badMessage, error.description)
            } catch let error as ControlMessage.DecodeError {
                logger.warning("closing agent connection: \(error)")
                try await outbound.refuse(.badMessage, error.description)
            } catch let gap as StreamFile.Gap {
                logger.warning("closing agent connection: \(gap)")
                try await outbound.refuse(.gap, gap.description)
            } catch is LiveJob.Replaced {
                try await outbound.refuse(.replaced, "a newer connection of this run took over")
            } catch is StoreLease.Lost {
                try await self.refuseTakenOver(outbound: outbound, logger: logger)
            } catch is LiveJob.Ended {
                try await outbound.refuse(.jobEnded, "the job has ended: its exit status is stored, nothing more is accepted")
            } catch let error as ArchiveError {
                try await self.refuseForStorage(error, outbound: outbound, logger: logger)
            }
            group.cancelAll()
        }
    }

    /// After a welcome with `ended`: the agent closes; anything it sends instead is refused.
    private func serveEnded(
        _ messages: inout WebSocketInboundMessageStream.AsyncIterator, outbound: WebSocketOutboundWriter,
        machine: inout PublishStateMachine, logger: Logger
    ) async throws {
        guard let message = try await messages.next() else { return }
        let action: PublishStateMachine.Action
        switch message {
        case .binary: action = machine.received(chunks: [], jobBytes: 0)
        case .text(let text):
            guard let control = try? ControlMessage.decode(text) else {
                return try await outbound.refuse(.badMessage, "not a control message")
            }
            action = machine.received(control)
        }
        if case .refuse(let code, let text) = action {
            logger.notice("refused an agent of an ended job: \(text.escapingControlCharacters)")
            try await outbound.refuse(code, text)
        }
    }

    /// Nothing more can be acknowledged: say why in the log and metrics, and tell the agent, which keeps
    /// its spool and reconnects with backoff; watchers go on reading what is archived.
    private func refuseForStorage(_ error: ArchiveError, outbound: WebSocketOutboundWriter, logger: Logger) async throws {
        let why = error.isNoSpace ? "the disk is full" : "the archive cannot be written"
        logger.error("\(why): \(error); not acknowledging until writes succeed again")
        self.metrics.storageErrors.increment()
        self.metrics.storageFailing.record(1)
        // The agent is told the cause, not the server's file names: those stay in the server's log.
        try await outbound.refuse(.storage, "\(why) on the server (\(error.reason)); retrying")
    }

    /// Store mode: takes the job's lease (a reconnect of the run takes it over from any node at once), brings
    /// the cache up to what the previous holder committed (it can commit nothing more now), and says in the
    /// welcome what the store holds, which is where the agent resends from.
    private func takeLease(
        _ job: LiveJob, hello: ControlMessage.Hello, welcome: inout ControlMessage.Welcome, store: any SharedStore, connection: UInt64
    ) async throws -> PublishLease {
        do {
            guard let taken = try await store.takeLease(job: job.id, runId: hello.runId) else {
                job.detachPublisher(connection)
                throw LiveJob.PublishRefusal.otherRun(job.id)
            }
            try await self.hub.catchUp(job, from: store)
            let lease = PublishLease(store: store, lease: taken) { job.record }
            welcome.streams = job.files.map { StreamInfo(name: $0.name, size: lease.committedEnd($0.name)) }
            try await lease.save()
            store.health.succeeded()
            return lease
        } catch let refusal as LiveJob.PublishRefusal {
            throw refusal
        } catch let lost as StoreLease.Lost {
            job.detachPublisher(connection)
            throw lost
        } catch {
            job.detachPublisher(connection)
            throw StoreUnavailable(error: error)
        }
    }

    /// Another connection of the run took the job over, here or on another node: this one stops acknowledging.
    private func refuseTakenOver(outbound: WebSocketOutboundWriter, logger: Logger) async throws {
        logger.info("the job was taken over by a newer connection of its run")
        try await outbound.refuse(.replaced, "a newer connection of this run took over")
    }

    struct StoreUnavailable: Error {
        var error: any Error
    }

    struct Refusal: Error {
        var code: ErrorCode
        var message: String
    }
}

/// Owns the fsync-then-ack step: fsync runs on NIO's blocking thread pool, never on the cooperative pool.
/// It hops there itself (`runIfActive`) rather than rely on its callers' executor; from a publish session,
/// already on the pool, that costs one hand-off per ack interval, not one per message.
actor Acknowledger {
    let interval: Duration
    let metrics: ServerMetrics
    /// Store mode: bytes are durable once committed there, and the local cache is not synced.
    let lease: PublishLease?
    private(set) var streams: [UInt32: StreamFile] = [:]

    init(interval: Duration, metrics: ServerMetrics, lease: PublishLease? = nil) {
        self.interval = interval
        self.metrics = metrics
        self.lease = lease
    }

    /// A stream opened on this connection: its durable size is what the welcome said, so the first ack
    /// names it only once more of it is durable.
    func track(_ id: UInt32, _ file: StreamFile) {
        self.streams[id] = file
        self.acknowledged[id] = self.acknowledged[id] ?? self.lease?.committedEnd(file.name) ?? file.durableSize
    }

    /// True once the ack with `ended: true` is on its way: it is the last message an agent gets.
    private var ended = false
    /// The ack being written; the next one goes after it, so acks reach the agent in the order decided here.
    private var writing: Task<Void, any Error>?

    /// The paced ack: the streams whose durable offset moved, if any did (an empty ack tells the agent
    /// nothing), and none once the end's ack is on its way. In store mode it names what the session's
    /// commit task has committed, and commits nothing itself: a second commit of the batch in flight
    /// would insert those bytes twice (the key drops them, after the work).
    func acknowledgeMoved(outbound: WebSocketOutboundWriter) async throws {
        let ack = try await self.syncAndAcknowledge(streams: self.streams, commitWaiting: false)
        guard !self.ended, !ack.offsets.isEmpty else { return }
        try await self.write(ack, outbound: outbound)
    }

    func acknowledgeEnd(_ ack: ControlMessage.Ack, outbound: WebSocketOutboundWriter) async throws {
        self.ended = true
        try await self.write(ack, outbound: outbound)
    }

    private func write(_ ack: ControlMessage.Ack, outbound: WebSocketOutboundWriter) async throws {
        let previous = self.writing
        let task = Task {
            _ = try? await previous?.value
            try await outbound.write(.text(ControlMessage.ack(ack).encoded()))
        }
        self.writing = task
        try await task.value
    }

    /// What the last ack said, per stream: the next one names only the streams that moved, because a
    /// sidecar has a stream per file, and acking a thousand idle ones five times a second cost the agent
    /// more CPU to decode than its files cost to read.
    private var acknowledged: [UInt32: UInt64] = [:]

    /// Makes the streams durable (fdatasync, or a commit to the shared store of what is waiting) and says
    /// how far; `everyStream` names them all (the ack of an `end`).
    func syncAndAcknowledge(streams: [UInt32: StreamFile], everyStream: Bool = false, commitWaiting: Bool = true) async throws -> ControlMessage.Ack {
        let durable: [UInt32: UInt64]
        if let lease = self.lease {
            let committed = commitWaiting ? try await lease.commitWaiting() : lease.committedEnds
            durable = streams.mapValues { committed[$0.name] ?? 0 }
        } else {
            durable = try await NIOThreadPool.singleton.runIfActive {
                try streams.mapValues { try $0.sync() }
            }
        }
        self.metrics.storageFailing.record(0)
        let moved = everyStream ? durable : durable.filter { (self.acknowledged[$0.key] ?? 0) != $0.value }
        self.acknowledged.merge(moved) { $1 }
        return ControlMessage.Ack(offsets: Dictionary(uniqueKeysWithValues: moved.map { (String($0.key), $0.value) }))
    }
}
