import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import TailcastProtocol

extension TailcastServer {
    /// `GET /v1/jobs/JOB/events`: the job as Server-Sent Events, for clients that only read (curl,
    /// EventSource, proxies that dislike WebSocket). The same `WatchFeed` as a WebSocket watch, so the same
    /// order and the same end; `id:` holds every stream's offset, and `Last-Event-ID` (or `?last_event_id=`)
    /// resumes there. PROTOCOL.md, "Server-Sent Events", describes it for clients.
    static func events(
        _ request: Request, job: LiveJob, hub: Hub, connections: ConnectionGate, configuration: ServerConfiguration, metrics: ServerMetrics,
        logger: Logger
    ) throws -> Response {
        let query = request.uri.queryParameters
        let resumeID = request.headers[HTTPField.Name("Last-Event-ID")!] ?? query.get("last_event_id")
        var resumed = EventStreamPosition()
        if let resumeID, !resumeID.isEmpty {
            guard let parsed = EventStreamPosition(id: resumeID) else {
                throw HTTPError(.badRequest, message: "Last-Event-ID must be an id this server sent (NAME:OFFSET,...)")
            }
            resumed = parsed
        }
        let tail = try query.get("tail").map { value -> UInt64 in
            guard let lines = UInt64(value) else { throw HTTPError(.badRequest, message: "tail must be a number of lines") }
            return lines
        }
        let follow = !["0", "false", "no"].contains(query.get("follow") ?? "1")
        let streams = query.getAll("stream").map { String($0) }
        let watch = ControlMessage.Watch(
            job: job.id, follow: follow, offsets: resumed.offsets.map { .init(name: $0.name, offset: $0.offset) }, tailLines: tail,
            streams: streams.isEmpty ? nil : streams)
        // Under the 60 s idle timeouts of common proxies, as pings are for WebSocket.
        let keepAlive = min(configuration.pingInterval, .seconds(15))
        // Checked last, as for WebSocket sessions: a request refused for another reason never holds a place.
        guard let place = connections.place() else { throw connections.refusal(logger: logger) }
        let body = ResponseBody { [resumed] writer in
            var position = resumed
            let serial = hub.nextSerial()
            let jobWakeUps = job.subscribe(serial)
            metrics.watchersConnected.increment()
            defer {
                job.unsubscribe(serial)
                metrics.watchersConnected.decrement()
                // The place is the response's until it is released, after this body.
                withExtendedLifetime(place) {}
            }
            // The feed wakes for the job's changes and, a few times per keep-alive interval, to say it is alive.
            let (wakeUps, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
            // A stream never ends by itself while the job runs: on shutdown (SIGTERM) the response ends, without `end`,
            // and the client reconnects with its Last-Event-ID.
            try await withGracefulShutdownHandler {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await _ in jobWakeUps { wake.yield() }
                        wake.finish()
                    }
                    group.addTask {
                        while true {
                            try await Task.sleep(for: keepAlive / 3)
                            wake.yield()
                        }
                    }
                    defer { group.cancelAll() }
                    let info = job.info
                    var feed = WatchFeed(job: job, request: watch, sentState: info.state, wakeUps: wakeUps)
                    var lastWrite = ContinuousClock.now
                    func send(_ event: ByteBuffer) async throws {
                        try await writer.write(event)
                        lastWrite = .now
                    }
                    try await send(ServerSentEvent.event("job", id: nil, data: ControlMessage.job(info).encoded()))
                    steps: while let step = try await feed.next() {
                        switch step {
                        case .idle:
                            if ContinuousClock.now - lastWrite >= keepAlive { try await send(ServerSentEvent.keepAlive) }
                        case .replaced:
                            let report = ControlMessage.error(.init(code: .jobReplaced, message: "job \"\(job.id)\" was started anew by a new run (run --replace): watch it again to follow that run"))
                            try await send(ServerSentEvent.event("error", id: nil, data: report.encoded()))
                            break steps
                        case .removed(let why):
                            let report = ControlMessage.error(.init(code: .unknownJob, message: "job \"\(job.id)\" was deleted on the server (\(why))"))
                            try await send(ServerSentEvent.event("error", id: nil, data: report.encoded()))
                            break steps
                        case .state(let info):
                            try await send(ServerSentEvent.event("job", id: position.id, data: ControlMessage.job(info).encoded()))
                        case .stream(let name, let id, let offset):
                            position.set(name, offset)
                            let announce = ControlMessage.stream(.init(stream: id, name: name, offset: offset))
                            try await send(ServerSentEvent.event("stream", id: position.id, data: announce.encoded()))
                        case .bytes(let name, let id, let file, let from, let upTo):
                            // Shared with every reader at the same place: written as it is.
                            let audience = position.blanking(name)
                            let event = try await job.events.batch(audience, stream: id, from: from, upTo: upTo, maxBytes: Wire.maxBatchBytes) {
                                try PreparedEvent.make(audience, stream: id, name: name, file: file, from: $0, end: $1)
                            }
                            position.set(name, event.end)
                            try await send(event.event)
                            metrics.bytesRelayed.increment(by: Int(event.end - from))
                            feed.sent(name, upTo: event.end)
                        case .progress(let bars):
                            try await send(ServerSentEvent.event("progress", id: position.id, data: ControlMessage.progress(.init(bars: bars)).encoded()))
                        case .finished(let exit, let endedAtMs):
                            let finished = ControlMessage.finished(.init(exit: exit, endedAtMs: endedAtMs))
                            try await send(ServerSentEvent.event("end", id: position.id, data: finished.encoded()))
                        case .caughtUp(let state):
                            try await send(ServerSentEvent.event("caught_up", id: position.id, data: ControlMessage.caughtUp(.init(state: state)).encoded()))
                        }
                    }
                }
            } onGracefulShutdown: {
                wake.finish()
            }
            try await writer.finish(nil)
        }
        let headers: HTTPFields = [
            .contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache",
            // nginx buffers responses unless told not to.
            HTTPField.Name("X-Accel-Buffering")!: "no",
        ]
        return Response(status: .ok, headers: headers, body: body)
    }
}
