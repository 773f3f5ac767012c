import Logging
import NIOCore
import NIOPosix
import NIOWebSocket
import TailcastProtocol
import WSCore

/// One watcher connection: a `watch` request in, then the job, its streams, their bytes and the end out;
/// or a `list` request in and the list of jobs out.
struct WatchSession {
    enum Request {
        case watch(ControlMessage.Watch)
        case list(ControlMessage.ListRequest)
    }

    let hub: Hub
    let configuration: ServerConfiguration
    let metrics: ServerMetrics
    let logger: Logger

    /// `deflates`: the connection negotiated permessage-deflate, so data goes as prepared deflated batches.
    /// `channel`: the connection's, which the job writes batches to itself while the watcher waits at the live end.
    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, channel: any Channel, deflates: Bool) async throws {
        var messages = inbound.messages(maxSize: self.configuration.maxMessageBytes).makeAsyncIterator()
        let opening = try await openingMessage(&messages, outbound: outbound, logger: self.logger, named: "watch\" or \"list", {
            switch $0 {
            case .watch(let watch): Request.watch(watch)
            case .list(let list): Request.list(list)
            default: nil
            }
        }, job: { if case .watch(let watch) = $0 { watch.job } else { nil } })
        let request: ControlMessage.Watch
        switch opening {
        case .none:
            return
        case .list(let list):
            if let limit = list.limit, limit < 1 {
                return try await outbound.refuse(.badMessage, "\"limit\" \(Hub.pageLimitRule)")
            }
            // Clients accept 4 MiB from any server (PROTOCOL.md, limits), whatever this one takes in.
            let page = self.hub.list(list, maxBytes: min(self.configuration.maxMessageBytes, Wire.defaultMaxMessageBytes) / 2)
            try await outbound.write(.text(ControlMessage.jobs(page).encoded()))
            return try await outbound.close(.normalClosure, reason: "listed")
        case .watch(let watch):
            request = watch
        }
        // Store mode: the job may be newer than this node's cache (published on another node a moment ago).
        await self.hub.hydrate(request.job)
        guard let job = self.hub.job(request.job) else {
            return try await outbound.refuse(.unknownJob, "no job \"\(request.job.prefix(128))\" on this server")
        }
        if let (code, problem) = Self.problem(with: request, of: job.info) {
            return try await outbound.refuse(code, problem)
        }
        let serial = self.hub.nextSerial()
        let wakeUps = job.subscribe(serial)
        self.metrics.watchersConnected.increment()
        var logger = self.logger
        logger[metadataKey: "job"] = "\(request.job)"
        logger.info("watcher connected")
        defer {
            job.unsubscribe(serial)
            self.metrics.watchersConnected.decrement()
            // A watcher that stops answering pings (asleep, stopped, cut off) is closed by the ping
            // check; it resumes by offset when it comes back, and never held the agent or others back.
            logger.info("watcher disconnected")
        }
        let info = job.info
        try await outbound.write(.text(ControlMessage.job(info).encoded()))

        // Only the child task below touches the iterator from here on.
        nonisolated(unsafe) var remaining = messages
        try await withThrowingTaskGroup(of: Void.self) { group in
            // A watcher sends nothing after `watch`; reading on notices its close promptly. Its side ending
            // (a close frame, or only the end of its TCP stream) ends the session as a closed agent's does,
            // with 1000; throwing here made the library close with 1011, an internal error.
            group.addTask {
                while try await remaining.next() != nil {}
            }
            group.addTask {
                let live = LiveJob.LiveOutput(channel: channel, deflates: deflates, relayed: self.metrics.bytesRelayed)
                try await self.stream(
                    job: job, request: request, sentState: info.state, wakeUps: wakeUps, live: (serial, live), outbound: outbound)
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    private func stream(
        job: LiveJob, request: ControlMessage.Watch, sentState: JobState, wakeUps: AsyncStream<Void>,
        live: (serial: UInt64, output: LiveJob.LiveOutput), outbound: WebSocketOutboundWriter
    ) async throws {
        var feed = WatchFeed(job: job, request: request, sentState: sentState, wakeUps: wakeUps, live: live)
        while let step = try await feed.next() {
            switch step {
            case .idle:
                // Pings (autoPing) keep a quiet WebSocket alive.
                continue
            case .replaced:
                return try await outbound.refuse(.jobReplaced, "job \"\(job.id)\" was started anew by a new run (run --replace): watch it again to follow that run")
            case .removed(let why):
                return try await outbound.refuse(.unknownJob, "job \"\(job.id)\" was deleted on the server (\(why))")
            case .stream(let name, let id, let offset):
                try await outbound.write(.text(ControlMessage.stream(.init(stream: id, name: name, offset: offset)).encoded()))
            case .bytes(let name, let id, let file, let from, let upTo):
                let batch = try await job.preparedBatch(stream: id, file: file, from: from, upTo: upTo)
                // The same deflated bytes for every watcher: written as they are (BoundedDeflate passes them).
                try await outbound.write(.custom(batch.frame(deflated: live.output.deflates)))
                self.metrics.bytesRelayed.increment(by: Int(batch.end - from))
                feed.sent(name, upTo: batch.end)
            case .progress(let bars):
                try await outbound.write(.text(ControlMessage.progress(.init(bars: bars)).encoded()))
            case .finished(let exit, let endedAtMs):
                try await outbound.write(.text(ControlMessage.finished(.init(exit: exit, endedAtMs: endedAtMs)).encoded()))
                return try await outbound.close(.normalClosure, reason: "job ended")
            case .state(let info):
                try await outbound.write(.text(ControlMessage.job(info).encoded()))
            case .caughtUp(let state):
                try await outbound.write(.text(ControlMessage.caughtUp(.init(state: state)).encoded()))
                return try await outbound.close(.normalClosure, reason: "caught up")
            }
        }
    }

    /// Reads up to one batch of a stream from the archive, cut where its time marks change: a message of at
    /// most `Wire.maxBatchBytes` bytes, chunk headers included (PROTOCOL.md, limits). `memoryOnly`: see
    /// `StreamFile.read`.
    static func dataMessage(file: StreamFile, id: UInt32, from: UInt64, upTo: UInt64, memoryOnly: Bool) throws -> (ByteBuffer, UInt64) {
        let bytes = try file.read(from: from, maxBytes: Int(min(upTo - from, UInt64(Wire.maxBatchBytes))), memoryOnly: memoryOnly)
        var message = ByteBuffer()
        message.reserveCapacity(min(Wire.maxBatchBytes, bytes.readableBytes + 64))
        DataMessage.begin(into: &message)
        var position = from
        let end = from + UInt64(bytes.readableBytes)
        while position < end {
            let (time, nextMark) = try file.timing(at: position, memoryOnly: memoryOnly)
            let header = DataMessage.chunkHeaderSize(stream: id, offset: position, timeMs: time, length: Int(end - position))
            let room = Wire.maxBatchBytes - message.readableBytes - header
            guard room > 0 else { break }
            let chunkEnd = min(end, nextMark ?? end, position + UInt64(room))
            let slice = bytes.getSlice(at: bytes.readerIndex + Int(position - from), length: Int(chunkEnd - position))!
            DataMessage.appendChunk(stream: id, offset: position, timeMs: time, bytes: slice, into: &message)
            position = chunkEnd
        }
        return (message, position)
    }

    /// Why the server refuses a watch request, or nil: a stream named in `streams` or `offsets` that the job
    /// does not have and never will (it ended, or the watch does not follow), or an invalid name.
    static func problem(with request: ControlMessage.Watch, of job: JobInfo) -> (ErrorCode, String)? {
        for (field, names) in [("streams", request.streams ?? []), ("offsets", (request.offsets ?? []).map(\.name))] {
            if let problem = names.lazy.compactMap(StreamName.problem(with:)).first { return (.badMessage, "\"\(field)\": \(problem)") }
        }
        var offsetNames = Set<String>()
        if let twice = (request.offsets ?? []).first(where: { !offsetNames.insert($0.name).inserted }) {
            return (.badMessage, "\"offsets\" names stream \"\(twice.name.prefix(256))\" twice")
        }
        let names = (request.streams ?? []) + (request.offsets ?? []).map(\.name)
        guard job.exit != nil || !request.follow else { return nil }
        let held = Set(job.streams.map(\.name))
        guard let unknown = names.first(where: { !held.contains($0) }) else { return nil }
        let list = job.streams.prefix(20).map { "\"\($0.name)\"" }.joined(separator: ", ")
        return (.unknownStream, "job \"\(job.id)\" has no stream \"\(unknown.prefix(256))\" (its streams: \(list.isEmpty ? "none" : list))")
    }
}
