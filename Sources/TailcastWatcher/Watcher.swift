import Foundation
import HTTPTypes
import Logging
import NIOCore
import Synchronization
import TailcastClient
import TailcastProtocol
import WSClient
import WSCompression

/// Follows one job: replays what it missed, then prints live, reconnecting and resuming by offset
/// (never by time, which duplicates or skips) until the job ends.
public final class Watcher: Sendable {
    public struct Options: Sendable {
        public var endpoint: ServerEndpoint
        public var job: String
        public var follow: Bool
        public var tailLines: UInt64?
        public var sinceMs: UInt64?
        public var streams: [String]?
        public var timestamps: Bool
        /// A line `==> PATH <==` whenever output switches to another tailed file, as `tail -F a b` does.
        public var headers: Bool
        /// Output read after this Unix time (ms) is not printed, and following ends once it has passed
        /// (set `follow` false when it has passed already).
        public var untilMs: UInt64?
        /// A job that does not exist yet is waited for this long (`--wait`) instead of refused at once.
        public var waitForJob: Duration?
        /// A job whose agent stopped cleanly ends the watch (`--exit-on-stop`) instead of being waited for.
        public var exitOnStop = false

        public init(
            endpoint: ServerEndpoint, job: String, follow: Bool, tailLines: UInt64?, sinceMs: UInt64?, streams: [String]?, timestamps: Bool,
            headers: Bool = false
        ) {
            self.endpoint = endpoint
            self.job = job
            self.follow = follow
            self.tailLines = tailLines
            self.sinceMs = sinceMs
            self.streams = streams
            self.timestamps = timestamps
            self.headers = headers
        }
    }

    public enum Outcome: Sendable, Equatable {
        /// The job ended; its status.
        case finished(ExitStatus)
        /// Not following, and everything archived was printed.
        case caughtUp(JobState)
        /// The server said no (unknown job, bad request).
        case refused(code: ErrorCode, message: String)
        /// `--stream` named streams the job does not have (and, ended or not followed, will never have).
        case unknownStreams(String)
        /// Whoever read our output went away (`watch JOB | head -1`), as `tail -f` ends.
        case outputClosed
    }

    struct StreamState {
        var name: String
        /// Offset just past the last byte printed.
        var printed: UInt64
    }

    struct State {
        var byName: [String: StreamState] = [:]
        var ids: [UInt32: String] = [:]
        /// Headers, timestamps and whole lines of the merged streams.
        var view: MergedView
        var outcome: Outcome?
        var connectedOnce = false
        /// Connections the server answered: a connection that worked resets the reconnect backoff,
        /// however it ended.
        var welcomes = 0
        /// The job's state as last told, for notices when it changes.
        var jobState: JobState?
        var saidWaitingForJob = false
        var saidMissingStreams = false
        /// Following is over (the agent stopped with `exitOnStop`, or `untilMs` passed): what is archived
        /// and not printed yet comes on one more connection, without following, and the watch ends as
        /// `caughtUp` (or `finished`).
        var drainRequested = false
        var draining = false
    }

    let options: Options
    let logger: Logger
    let onNotice: @Sendable (String) -> Void
    private let state: Mutex<State>
    private let output: any WatchOutput

    public init(options: Options, logger: Logger, output: any WatchOutput, onNotice: @escaping @Sendable (String) -> Void) {
        self.options = options
        self.logger = logger
        self.output = output
        self.onNotice = onNotice
        self.state = Mutex(State(view: MergedView(headers: options.headers, holdLines: !(output is RawOutput))))
    }

    public func run() async throws -> Outcome {
        let following = Task { try await self.follow() }
        let ticker = Task { [output] in
            while !Task.isCancelled {
                try await Task.sleep(for: .milliseconds(250))
                self.state.withLock { self.write($0.view.releaseQuietLines(now: .now)) }
                output.tick()
                // Checked with the clock rather than on writes: a reader can go while the job is quiet.
                if isatty(1) != 1 && readerGone(1) {
                    self.state.withLock { $0.outcome = .outputClosed }
                    following.cancel()
                    return
                }
            }
        }
        defer { ticker.cancel() }
        let outcome: Outcome
        do {
            outcome = try await following.value
        } catch {
            // Nothing more can be printed: whatever the connection was doing does not matter.
            guard self.state.withLock({ $0.outcome }) == .outputClosed else { throw error }
            outcome = .outputClosed
        }
        ticker.cancel()
        // A held line and the final bars are for a reader; with the reader gone they would only be noise.
        if outcome != .outputClosed {
            self.state.withLock { self.write($0.view.finish()) }
            self.output.finish()
        }
        return outcome
    }

    /// Called with the state locked, so that what the view decided reaches the output in that order.
    private func write(_ writes: [MergedView.Write]) {
        for write in writes { self.output.write(write.bytes, to: write.fd) }
    }

    private func follow() async throws -> Outcome {
        var attempt = 0
        let waitUntil = self.options.waitForJob.map { ContinuousClock.now + $0 }
        while true {
            try Task.checkCancellation()
            let welcomedBefore = self.state.withLock { $0.welcomes }
            do {
                try await self.connectOnce()
                attempt = 0
            } catch let refused as ConnectionRefused {
                throw WatchError.refused(code: refused.report.code, message: refused.report.message)
            } catch {
                self.logger.debug("watch connection failed: \(error)")
                let connectedBefore = self.state.withLock { $0.connectedOnce }
                if !connectedBefore && attempt >= 2 {
                    throw WatchError.unreachable(self.options.endpoint.url, ServerEndpoint.describe(error))
                }
            }
            if let waitUntil, case .refused(code: .unknownJob, _)? = self.state.withLock({ $0.outcome }) {
                // `--wait`: the job has not started yet; ask again until it has, within the bound.
                if ContinuousClock.now < waitUntil {
                    let first = self.state.withLock { state in
                        state.outcome = nil
                        defer { state.saidWaitingForJob = true }
                        return !state.saidWaitingForJob
                    }
                    if first { self.onNotice("no job \"\(self.options.job)\" yet; waiting for it to start (--wait)") }
                    try await Task.sleep(for: .milliseconds(250))
                    continue
                }
                let bound = self.options.waitForJob.map { "\($0.components.seconds)s" } ?? ""
                self.state.withLock {
                    $0.outcome = .refused(code: .unknownJob, message: "no job \"\(self.options.job)\" started within \(bound) (--wait)")
                }
            }
            let drainNow = self.state.withLock { state in
                defer { state.draining = state.draining || state.drainRequested }
                return state.drainRequested && !state.draining && state.outcome == nil
            }
            if drainNow { continue }
            if let outcome = self.state.withLock({ $0.outcome }) { return outcome }
            if self.state.withLock({ $0.welcomes }) > welcomedBefore { attempt = 0 }
            attempt += 1
            if attempt == 1 { self.onNotice("connection lost; reconnecting and resuming where it stopped") }
            try await Task.sleep(for: .milliseconds(min(5000, 100 << min(attempt, 6))))
        }
    }

    private func request() -> ControlMessage.Watch {
        let (printed, draining) = self.state.withLock { ($0.byName.values.map { StreamPosition(name: $0.name, offset: $0.printed) }, $0.draining) }
        var request = ControlMessage.Watch(job: self.options.job, follow: self.options.follow && !draining, streams: self.options.streams)
        if printed.isEmpty {
            request.tailLines = self.options.tailLines
            request.sinceMs = self.options.sinceMs
        } else {
            // Resuming: every stream we have seen continues where it stopped; new ones from their start.
            request.offsets = printed
        }
        return request
    }

    private func connectOnce() async throws {
        try await self.options.endpoint.connect(
            path: Wire.watchPath,
            extensions: [.perMessageDeflate(maxDecompressedFrameSize: Wire.defaultMaxMessageBytes)],
            logger: self.logger
        ) { inbound, outbound, _, answered in
            try await outbound.write(.text(ControlMessage.watch(self.request()).encoded()))
            try await self.untilDeadline {
                for try await message in inbound.messages(maxSize: Wire.defaultMaxMessageBytes) {
                    answered()
                    switch message {
                    case .binary(let buffer):
                        for chunk in try DataMessage.decode(buffer) { self.print(chunk) }
                    case .text(let text):
                        switch try ControlMessage.decode(text) {
                        case .job(let job):
                            self.state.withLock {
                                $0.connectedOnce = true
                                $0.welcomes += 1
                            }
                            self.output.started(job)
                            self.output.progress(job.progress)
                            if self.endsConnection(job) { return }
                        case .progress(let progress):
                            self.output.progress(progress.bars)
                        case .stream(let announce):
                            self.state.withLock { state in
                                state.ids[announce.stream] = announce.name
                                if state.byName[announce.name] == nil {
                                    state.byName[announce.name] = StreamState(name: announce.name, printed: announce.offset)
                                }
                            }
                        case .finished(let finished):
                            self.state.withLock { $0.outcome = .finished(finished.exit) }
                        case .caughtUp(let caughtUp):
                            self.state.withLock { $0.outcome = .caughtUp(caughtUp.state) }
                        case .error(let error) where error.code == .busy:
                            // Full for now: the follow loop retries with backoff.
                            self.onNotice(error.message)
                            return
                        case .error(let error):
                            self.state.withLock { $0.outcome = .refused(code: error.code, message: error.message) }
                        default:
                            continue
                        }
                    }
                }
            }
        }
    }

    /// Runs a connection's message loop until it ends or, while following, until `untilMs` passes; then
    /// the connection closes (the loop has finished: no two connections ever print at once) and a drain
    /// prints what was read before that time.
    private func untilDeadline(_ body: @escaping @Sendable () async throws -> Void) async throws {
        let draining = self.state.withLock { $0.draining }
        guard let until = self.options.untilMs, self.options.follow, !draining else { return try await body() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await body() }
            group.addTask {
                let now = UnixTime.nowMs()
                if until > now { try await Task.sleep(for: .milliseconds(Int64(clamping: until - now))) }
                self.state.withLock { $0.drainRequested = true }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Whether the job as told (at the start, and again when its state changes) ends this connection: an
    /// unknown stream ends the watch, a stop with `exitOnStop` its following; otherwise it goes on, with a
    /// notice when there is something to say.
    private func endsConnection(_ job: JobInfo) -> Bool {
        let names = job.streams.map(\.name)
        let missing = (self.options.streams ?? []).filter { !names.contains($0) }
        let (saidMissing, previous, draining) = self.state.withLock { state in
            defer {
                state.saidMissingStreams = state.saidMissingStreams || !missing.isEmpty
                state.jobState = job.state
            }
            return (state.saidMissingStreams, state.jobState, state.draining)
        }
        if !missing.isEmpty {
            let quoted = missing.map { "\"\($0)\"" }.joined(separator: ", ")
            let has = names.isEmpty ? "it has no streams yet" : "its streams: " + names.joined(separator: ", ")
            // A running job may still open it (a sidecar picks up new files): only then is it worth waiting.
            if job.state == .exited || !self.options.follow {
                self.state.withLock { $0.outcome = .unknownStreams("job \"\(job.id)\" has no stream \(quoted); \(has)") }
                return true
            }
            if !saidMissing { self.onNotice("job \"\(job.id)\" has no stream \(quoted) yet (\(has)); waiting for it") }
        }
        guard job.state == .stopped, previous != .stopped, self.options.follow, !draining else { return false }
        if self.options.exitOnStop {
            self.state.withLock { $0.drainRequested = true }
            return true
        }
        self.onNotice("job \"\(job.id)\" is stopped: its agent shut down cleanly; waiting for it to come back (--exit-on-stop exits instead)")
        return false
    }

    /// Prints the part of a chunk not printed yet: a resumed connection may repeat bytes, never skip them.
    private func print(_ chunk: DataChunk) {
        let timestamp = self.options.timestamps
            ? Array((Self.timestampFormatter.string(from: Date(timeIntervalSince1970: Double(chunk.timeMs) / 1000)) + " ").utf8) : nil
        self.state.withLock { state in
            guard let name = state.ids[chunk.stream], let stream = state.byName[name] else { return }
            guard chunk.endOffset > stream.printed, chunk.offset <= stream.printed else { return }
            // Read after `--until`: not shown (the position still moves on, so a resume skips it too).
            if let until = self.options.untilMs, chunk.timeMs > until {
                state.byName[name]!.printed = chunk.endOffset
                return
            }
            let skip = Int(stream.printed - chunk.offset)
            let bytes = chunk.bytes.readableBytesView.dropFirst(skip)
            self.write(state.view.add(bytes, of: name, timeMs: chunk.timeMs, timestamp: timestamp, now: .now))
            state.byName[name]!.printed = chunk.endOffset
        }
    }

    nonisolated(unsafe) static let timestampFormatter: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()
}

public enum WatchError: Error, CustomStringConvertible {
    case unreachable(String, String)
    /// The server answered with an `error` (code, message).
    case refused(code: ErrorCode, message: String)
    public var description: String {
        switch self {
        case .unreachable(let server, let detail): "cannot reach the server at \(server): \(detail)"
        case .refused(_, let message): message
        }
    }
}
