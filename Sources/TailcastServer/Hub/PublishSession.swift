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

    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        let serial = self.hub.nextSerial()
        var messages = inbound.messages(maxSize: self.configuration.maxMessageBytes).makeAsyncIterator()
        guard let hello = try await openingMessage(&messages, outbound: outbound, logger: self.logger, named: "hello", {
            if case .hello(let hello) = $0 { hello } else { nil }
        }, job: \.job) else { return }
        let job: LiveJob
        let welcome: ControlMessage.Welcome
        do {
            job = try self.hub.jobForPublisher(hello, maxJobs: self.configuration.maxJobs)
            let attached = try job.attachPublisher(hello, connection: serial)
            welcome = attached.welcome
            if attached.replaced != nil {
                self.logger.info("agent reconnected; the older connection is replaced", metadata: ["job": "\(hello.job)"])
            }
        } catch let refusal as LiveJob.PublishRefusal {
            self.logger.notice("refused an agent: \(refusal.description)", metadata: ["job": "\(hello.job)"])
            return try await outbound.refuse(CloseCode.jobConflict, "job_conflict", refusal.description)
        } catch let full as JobLimitReached {
            self.logger.warning("refused a new job: the archive holds \(full.limit) jobs (--max-jobs)")
            return try await outbound.refuse(CloseCode.limit, "limit", "the server holds its limit of \(full.limit) jobs (serve --max-jobs)")
        } catch let error as ArchiveError {
            return try await self.refuseForStorage(error, outbound: outbound, logger: self.logger)
        }
        var logger = self.logger
        logger[metadataKey: "job"] = "\(hello.job)"
        logger.info("agent connected", metadata: ["host": "\(hello.meta.host.escapingControlCharacters)", "agent": "\(hello.agent.escapingControlCharacters)"])
        self.metrics.agentsConnected.increment()
        job.notifyWatchers()
        defer {
            job.detachPublisher(serial)
            self.metrics.agentsConnected.decrement()
            logger.info("agent disconnected")
        }
        try await outbound.write(.text(ControlMessage.welcome(welcome).encoded()))

        var streams: [UInt32: StreamFile] = [:]
        let (syncRequests, requestSync) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let acknowledger = Acknowledger(interval: self.configuration.ackInterval, metrics: self.metrics)

        let jobLogger = logger
        try await withThrowingTaskGroup(of: Void.self) { group in
            // Acknowledgements are paced: one fsync and one ack covers everything that arrived meanwhile.
            group.addTask {
                do {
                    for await _ in syncRequests {
                        try await Task.sleep(for: acknowledger.interval)
                        let ack = try await acknowledger.syncAndAcknowledge(streams: await acknowledger.streams)
                        try await outbound.write(.text(ControlMessage.ack(ack).encoded()))
                    }
                } catch let error as ArchiveError {
                    try? await self.refuseForStorage(error, outbound: outbound, logger: jobLogger)
                }
            }
            defer { requestSync.finish() }
            do {
                while let message = try await messages.next() {
                    switch message {
                    case .binary(let buffer):
                        let chunks = try DataMessage.decode(buffer)
                        var added = 0
                        let incoming = chunks.reduce(UInt64(0)) { $0 + UInt64($1.bytes.readableBytes) }
                        if job.totalBytes + incoming > self.configuration.maxJobBytes {
                            throw Refusal(
                                code: CloseCode.limit, name: "limit",
                                message: "the job would pass its limit of \(self.configuration.maxJobBytes) bytes (serve --max-job-bytes)")
                        }
                        for chunk in chunks {
                            guard let file = streams[chunk.stream] else {
                                throw Refusal(code: CloseCode.badMessage, name: "bad_message", message: "data for stream \(chunk.stream), which was not opened")
                            }
                            added += try job.append(chunk, to: file, connection: serial)
                        }
                        self.metrics.bytesArchived.increment(by: added)
                        job.notifyWatchers()
                        requestSync.yield()
                    case .text(let text):
                        switch try ControlMessage.decode(text) {
                        case .open(let open):
                            if let problem = StreamName.problem(with: open.name) {
                                throw Refusal(code: CloseCode.badMessage, name: "bad_message", message: problem)
                            }
                            guard job.isPublisher(serial) else { throw LiveJob.Replaced() }
                            guard job.streamCount < self.configuration.maxStreamsPerJob || job.file(named: open.name) != nil else {
                                throw Refusal(code: CloseCode.limit, name: "limit", message: "more than \(self.configuration.maxStreamsPerJob) streams in one job")
                            }
                            let file = try job.openStream(named: open.name)
                            streams[open.stream] = file
                            await acknowledger.track(open.stream, file)
                        case .progress(let progress):
                            guard job.isPublisher(serial) else { throw LiveJob.Replaced() }
                            guard progress.bars.count <= LiveJob.maxBars, progress.bars.allSatisfy({ $0.key.utf8.count <= 256 }) else {
                                throw Refusal(code: CloseCode.badMessage, name: "bad_message", message: "at most \(LiveJob.maxBars) bars, keys of at most 256 bytes")
                            }
                            job.updateProgress(progress.bars)
                        case .end(let end):
                            guard job.isPublisher(serial) else { throw LiveJob.Replaced() }
                            for (id, size) in end.sizes {
                                guard let file = UInt32(id).flatMap({ streams[$0] }), file.size >= size else {
                                    throw Refusal(code: CloseCode.gap, name: "gap", message: "end names size \(size) for stream \(id), which the server does not hold")
                                }
                            }
                            var ack = try await acknowledger.syncAndAcknowledge(streams: streams, everyStream: true)
                            try job.end(end)
                            ack.ended = true
                            try await outbound.write(.text(ControlMessage.ack(ack).encoded()))
                            logger.info("job ended", metadata: ["exit": "\(end.exit.description)"])
                        default:
                            throw Refusal(code: CloseCode.badMessage, name: "bad_message", message: "an agent may not send \"\(text.prefix(40))\"")
                        }
                    }
                }
            } catch let refusal as Refusal {
                logger.warning("closing agent connection: \(refusal.message)")
                try await outbound.refuse(refusal.code, refusal.name, refusal.message)
            } catch let error as DataMessage.DecodeError {
                logger.warning("closing agent connection: \(error)")
                try await outbound.refuse(CloseCode.badMessage, "bad_message", error.description)
            } catch let error as ControlMessage.DecodeError {
                logger.warning("closing agent connection: \(error)")
                try await outbound.refuse(CloseCode.badMessage, "bad_message", error.description)
            } catch let gap as StreamFile.Gap {
                logger.warning("closing agent connection: \(gap)")
                try await outbound.refuse(CloseCode.gap, "gap", gap.description)
            } catch is LiveJob.Replaced {
                try await outbound.refuse(CloseCode.replaced, "replaced", "a newer connection of this run took over")
            } catch let error as ArchiveError {
                try await self.refuseForStorage(error, outbound: outbound, logger: logger)
            }
            group.cancelAll()
        }
    }

    /// Nothing more can be acknowledged: say why in the log and metrics, and tell the agent, which keeps
    /// its spool and reconnects with backoff; watchers go on reading what is archived.
    private func refuseForStorage(_ error: ArchiveError, outbound: WebSocketOutboundWriter, logger: Logger) async throws {
        let why = error.isNoSpace ? "the disk is full" : "the archive cannot be written"
        logger.error("\(why): \(error); not acknowledging until writes succeed again")
        self.metrics.storageErrors.increment()
        self.metrics.storageFailing.record(1)
        try await outbound.refuse(CloseCode.storageUnavailable, "storage", "\(why) on the server (\(error)); retrying")
    }

    struct Refusal: Error {
        var code: UInt16
        var name: String
        var message: String
    }
}

/// Owns the fsync-then-ack step: fsync runs on NIO's blocking thread pool, never on the cooperative pool.
actor Acknowledger {
    let interval: Duration
    let metrics: ServerMetrics
    private(set) var streams: [UInt32: StreamFile] = [:]

    init(interval: Duration, metrics: ServerMetrics) {
        self.interval = interval
        self.metrics = metrics
    }

    func track(_ id: UInt32, _ file: StreamFile) { self.streams[id] = file }

    /// What the last ack said, per stream: the next one names only the streams that moved, because a
    /// sidecar has a stream per file, and acking a thousand idle ones five times a second cost the agent
    /// more CPU to decode than its files cost to read.
    private var acknowledged: [UInt32: UInt64] = [:]

    /// Makes the streams durable and says how far; `everyStream` names them all (the ack of an `end`).
    func syncAndAcknowledge(streams: [UInt32: StreamFile], everyStream: Bool = false) async throws -> ControlMessage.Ack {
        let durable = try await NIOThreadPool.singleton.runIfActive {
            try streams.mapValues { try $0.sync() }
        }
        self.metrics.storageFailing.record(0)
        let moved = everyStream ? durable : durable.filter { (self.acknowledged[$0.key] ?? 0) != $0.value }
        self.acknowledged.merge(moved) { $1 }
        return ControlMessage.Ack(offsets: Dictionary(uniqueKeysWithValues: moved.map { (String($0.key), $0.value) }))
    }
}
