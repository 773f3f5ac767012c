import Foundation
import HTTPTypes
import Logging
import NIOCore
import Synchronization
import TailcastClient
import TailcastAgent
import TailcastProtocol
import WSClient
import WSCompression

/// Carries a spool to the server over one WebSocket, reconnecting with backoff until the server holds
/// every byte and the job's end.
public final class Uplink: Sendable {
    public struct Configuration: Sendable {
        public var endpoint: ServerEndpoint
        public var flushWindow: Duration
        public var maxUnacknowledged: UInt64

        public init(endpoint: ServerEndpoint, flushWindow: Duration = .milliseconds(20), maxUnacknowledged: UInt64 = 64 << 20) {
            self.endpoint = endpoint
            self.flushWindow = flushWindow
            self.maxUnacknowledged = maxUnacknowledged
        }
    }

    public enum Outcome: Sendable, Equatable {
        /// The server holds everything, the end included.
        case delivered
        /// The server refused this job for good (another run owns the id, a bad token, ...).
        case refused(ControlMessage.ErrorReport)
        case cancelled
    }

    /// Something a person should hear about: lost or regained connection.
    public enum Event: Sendable {
        case unreachable(String)
        case connected
        case refused(ControlMessage.ErrorReport)
    }

    let configuration: Configuration
    let spool: Spool
    let progress: ProgressTracker?
    let logger: Logger
    let onEvent: @Sendable (Event) -> Void
    private let machine: Mutex<UplinkStateMachine>
    private let wake = WakeSignal()
    /// What is worth waking the sender for while it waits: spool growth to this extent (0: any), and
    /// progress. Set before each decision to "anything", raised after it to what the wait is for, so
    /// no wake-up is lost and a job's every line does not cost one.
    private let wakeOnSpoolAt = Atomic<UInt64>(0)
    private let wakeOnProgress = Atomic<Bool>(true)
    private let refusal = Mutex<ControlMessage.ErrorReport?>(nil)
    private let welcomed = Atomic<Bool>(false)

    private let attempted = Atomic<Bool>(false)
    /// `stop()` was called: say `stop` to the server, close, and do not reconnect.
    private let stopping = Atomic<Bool>(false)

    /// True once a first connection attempt ended (failed, refused or dropped): the server's first answer is in.
    public var hasAttempted: Bool { self.attempted.load(ordering: .acquiring) }

    /// The server's final refusal of this job, once it gave one.
    public var refused: ControlMessage.ErrorReport? { self.refusal.withLock { $0 } }

    public init(configuration: Configuration, spool: Spool, progress: ProgressTracker?, logger: Logger, onEvent: @escaping @Sendable (Event) -> Void) {
        self.configuration = configuration
        self.spool = spool
        self.progress = progress
        self.logger = logger
        self.onEvent = onEvent
        self.machine = Mutex(UplinkStateMachine(
            flushWindow: configuration.flushWindow, maxUnacknowledged: configuration.maxUnacknowledged, start: spool.releasedPosition))
        spool.observe { [weak self] extent in
            if let self, extent >= self.wakeOnSpoolAt.load(ordering: .relaxed) { self.wake.notify() }
        }
        progress?.observe { [weak self] in
            if let self, self.wakeOnProgress.load(ordering: .relaxed) { self.wake.notify() }
        }
    }

    /// What the server holds durably, per stream id.
    public var acknowledgedOffsets: [UInt32: UInt64] { self.machine.withLock { $0.acknowledgedOffsets } }

    /// True once a server has welcomed this uplink (so `acknowledgedOffsets` reflect what it holds).
    public var hasConnected: Bool { self.welcomed.load(ordering: .acquiring) }

    /// Bytes written by the job that the server has not acknowledged yet.
    public var pendingBytes: UInt64 {
        let acknowledged = self.machine.withLock { $0.acknowledgedOffsets }
        return self.spool.streamSizes.reduce(0) { $0 + ($1.value - min($1.value, acknowledged[$1.key] ?? 0)) }
    }

    /// Ends a job that continues later (a sidecar shut down cleanly): the server is told `stop`, so the
    /// job shows `stopped` rather than `lost`, and `run()` returns `.cancelled` without reconnecting.
    public func stop() {
        self.stopping.store(true, ordering: .releasing)
        self.wake.notify()
    }

    public func run() async -> Outcome {
        let unreachable = Atomic<Bool>(false)
        while !Task.isCancelled && !self.stopping.load(ordering: .acquiring) {
            do {
                try await self.connectOnce {
                    if unreachable.exchange(false, ordering: .relaxed) { self.onEvent(.connected) }
                }
            } catch let refused as ConnectionRefused where refused.report.code.isFinal {
                self.refusal.withLock { $0 = refused.report }
            } catch {
                if !Task.isCancelled && !unreachable.exchange(true, ordering: .relaxed) {
                    self.onEvent(.unreachable(ServerEndpoint.describe(error)))
                }
                self.logger.debug("uplink connection failed: \(error)")
            }
            self.attempted.store(true, ordering: .releasing)
            if self.machine.withLock({ $0.isFinished }) { return .delivered }
            if let refusal = self.refusal.withLock({ $0 }) {
                self.onEvent(.refused(refusal))
                return .refused(refusal)
            }
            let delay = self.machine.withLock { $0.disconnected(jitter: Double.random(in: 0.5...1)) }
            try? await Task.sleep(for: delay)
        }
        return .cancelled
    }

    private func connectOnce(onWelcome: @escaping @Sendable () -> Void) async throws {
        let manifest = self.spool.manifest
        try await self.configuration.endpoint.connect(
            path: Wire.publishPath,
            // Context takeover on the uplink is what makes batches of log lines compress like a file.
            extensions: [AdaptiveDeflateBuilder.factory(maxDecompressedBytes: 1 << 20)],
            logger: self.logger
        ) { inbound, outbound, _, answered in
            try await outbound.write(.text(ControlMessage.hello(manifest.hello).encoded()))
            var messages = inbound.messages(maxSize: Wire.defaultMaxMessageBytes).makeAsyncIterator()
            guard case .text(let text) = try await messages.next() else { return }
            answered()
            switch try ControlMessage.decode(text) {
            case .welcome(let welcome):
                let ids = Dictionary(manifest.streams.map { ($0.name, $0.stream) }, uniquingKeysWith: { a, _ in a })
                let durable = Dictionary(welcome.streams.compactMap { s in ids[s.name].map { ($0, s.size) } }, uniquingKeysWith: max)
                self.machine.withLock { $0.connected(durable: durable, ended: welcome.ended) }
                self.progress?.markAllUnsent()
                self.welcomed.store(true, ordering: .releasing)
                onWelcome()
            case .error(let error):
                self.heard(error)
                return
            default:
                return
            }
            // Only the acknowledgement task touches the iterator from here on.
            nonisolated(unsafe) var remaining = messages
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    defer { self.wake.notify() }
                    while let message = try await remaining.next() {
                        guard case .text(let text) = message else { continue }
                        switch try ControlMessage.decode(text) {
                        case .ack(let ack):
                            let offsets = Dictionary(ack.offsets.compactMap { k, v in UInt32(k).map { ($0, v) } }, uniquingKeysWith: max)
                            let release = self.machine.withLock { $0.acknowledged(offsets: offsets, ended: ack.ended) }
                            self.spool.release(upTo: release)
                            self.wake.notify()
                        case .error(let error):
                            self.heard(error)
                        default:
                            continue
                        }
                    }
                }
                group.addTask { try await self.send(outbound) }
                try await group.next()
                group.cancelAll()
            }
        }
    }

    /// Refusals that reconnecting would only meet again: stop, keep the spool, say why. Everything else
    /// (`storage`: a full disk on the server, `replaced`, errors without a code we know) is retried.
    static func isFinal(_ error: ControlMessage.ErrorReport) -> Bool {
        error.code.isFinal
    }

    /// An `error` from the server. A final one is kept for the command, which says it once as it acts on
    /// it (an exit status, a kept spool); one that is retried is logged, since nothing else says it.
    private func heard(_ error: ControlMessage.ErrorReport) {
        if Self.isFinal(error) {
            self.refusal.withLock { $0 = error }
        } else {
            self.logger.warning("server: \(error.message)")
        }
    }

    /// Sends spool records, then the end, as the state machine decides.
    private func send(_ outbound: WebSocketOutboundWriter) async throws {
        var opened = 0
        while !Task.isCancelled {
            if self.stopping.load(ordering: .acquiring) {
                try await outbound.write(.text(ControlMessage.stop(.init()).encoded()))
                try await outbound.close(.normalClosure, reason: "stopped")
                return
            }
            // Streams are declared on each connection before their data; a sidecar adds them as files appear.
            func openNewStreams() async throws {
                for open in try self.spool.streams(after: opened) {
                    try await outbound.write(.text(ControlMessage.open(open).encoded()))
                    opened += 1
                }
            }
            try await openNewStreams()
            self.wakeOnSpoolAt.store(0, ordering: .relaxed)
            self.wakeOnProgress.store(true, ordering: .relaxed)
            let now = ContinuousClock.now
            let action = self.machine.withLock {
                // The exit first: once it is set nothing more is appended, so the extent read after it is final.
                let jobEnded = self.spool.exit != nil
                return $0.next(
                    spoolEnd: self.spool.extent, jobEnded: jobEnded, progressPending: self.progress?.hasUnsent ?? false, now: now)
            }
            switch action {
            case .send(let from):
                _ = self.spool.seal()
                let (chunks, end) = try self.spool.read(from: from, maxBytes: Wire.maxBatchBytes)
                guard !chunks.isEmpty else {
                    // The spool could not write (the agent's disk is full): retry shortly, do not spin.
                    try await Task.sleep(for: .milliseconds(200))
                    continue
                }
                // A sidecar may have found a file and spooled its first bytes since the streams were declared
                // above; a stream is always added before its bytes, so declaring again now covers them.
                try await openNewStreams()
                var offsets: [UInt32: UInt64] = [:]
                for chunk in chunks { offsets[chunk.stream] = max(offsets[chunk.stream] ?? 0, chunk.endOffset) }
                try await outbound.write(.binary(DataMessage.encode(chunks)))
                // The window runs from when the send began: from its end, every window would also hold the
                // time the message took to read, deflate and write, and a line wait for it twice.
                self.machine.withLock { $0.sent(upTo: end, offsets: offsets, at: now) }
            case .sendProgress:
                // Cut to the server's bounds: a bar's label comes from whatever the job printed.
                let bars = (self.progress?.takeUnsent() ?? []).map { $0.fitted() }
                for start in stride(from: 0, to: bars.count, by: ProgressState.maxBarsPerMessage) {
                    let slice = Array(bars[start..<min(bars.count, start + ProgressState.maxBarsPerMessage)])
                    try await outbound.write(.text(ControlMessage.progress(.init(bars: slice)).encoded()))
                }
                self.machine.withLock { $0.progressSent(at: .now) }
            case .waitUntil(let instant, let spoolAt):
                self.wakeOnSpoolAt.store(spoolAt, ordering: .relaxed)
                self.wakeOnProgress.store(false, ordering: .relaxed)
                await self.wake.wait(until: instant)
            case .waitForAck:
                // Acks and the job's end wake it; more output does not change what it waits for.
                self.wakeOnSpoolAt.store(.max, ordering: .relaxed)
                await self.wake.wait()
            case .idle:
                await self.wake.wait()
            case .sendEnd:
                guard let (exit, endedAtMs) = self.spool.exit else { continue }
                let sizes = Dictionary(uniqueKeysWithValues: self.spool.streamSizes.map { (String($0.key), $0.value) })
                try await outbound.write(.text(ControlMessage.end(.init(exit: exit, endedAtMs: endedAtMs, sizes: sizes)).encoded()))
                self.machine.withLock { $0.endSent() }
            case .finished:
                try await outbound.close(.normalClosure, reason: "delivered")
                return
            case .disconnected:
                return
            }
        }
    }
}
