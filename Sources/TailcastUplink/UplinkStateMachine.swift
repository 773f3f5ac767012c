import DequeModule
import TailcastProtocol

/// The uplink's decisions, without I/O: what to send next from the spool, what the server's acks
/// release, when to send the end, how long to back off. Positions are byte positions in the spool file.
///
/// Exactly-once: the server acknowledges per-stream offsets it holds durably; after a reconnect we resend
/// from the oldest position not wholly acknowledged and the server drops the bytes it already has.
public struct UplinkStateMachine {
    public enum Action: Equatable {
        /// Send spool records from this position.
        case send(from: UInt64)
        /// Send the progress bars that changed.
        case sendProgress
        /// Wait: the last message left less than a flush window ago (or progress, its interval); go at
        /// this instant, or earlier once the spool reaches `orSpoolAt` (a full batch goes at once; data
        /// on an idle link too).
        case waitUntil(ContinuousClock.Instant, orSpoolAt: UInt64)
        /// Too much is unacknowledged; wait for an ack.
        case waitForAck
        /// Everything is sent; tell the server how the job ended.
        case sendEnd
        /// The server holds everything, end included.
        case finished
        /// Nothing to do until the spool grows, an ack comes, or the job ends.
        case idle
        /// Not connected.
        case disconnected
    }

    struct InFlight {
        var end: UInt64
        var offsets: [UInt32: UInt64]
    }

    enum Connection {
        case down(attempts: Int)
        case up(sent: UInt64, inFlight: Deque<InFlight>, endSent: Bool)
    }

    public let flushWindow: Duration
    public let maxUnacknowledged: UInt64
    /// This much waiting compresses about as well as any larger batch: send it without waiting for the window.
    public let fullBatchBytes: UInt64
    /// Every spool byte before this position is durable on the server.
    public private(set) var acknowledgedPosition: UInt64 = 0
    public private(set) var acknowledgedOffsets: [UInt32: UInt64] = [:]
    public private(set) var isFinished = false
    private var connection: Connection = .down(attempts: 0)
    private var lastSend: ContinuousClock.Instant?
    private var lastProgress: ContinuousClock.Instant?
    /// Progress redraws are coalesced: at most one progress message per interval.
    public let progressInterval: Duration = .milliseconds(250)

    /// `start`: the spool position before which the server already holds everything (a reopened spool).
    public init(flushWindow: Duration, maxUnacknowledged: UInt64, fullBatchBytes: UInt64 = 32 << 10, start: UInt64 = 0) {
        self.flushWindow = flushWindow
        self.maxUnacknowledged = maxUnacknowledged
        self.fullBatchBytes = fullBatchBytes
        self.acknowledgedPosition = start
    }

    /// Connected and welcomed: `durable` is what the server already holds per stream id.
    public mutating func connected(durable: [UInt32: UInt64], ended: Bool) {
        for (stream, offset) in durable {
            self.acknowledgedOffsets[stream] = max(self.acknowledgedOffsets[stream] ?? 0, offset)
        }
        self.isFinished = self.isFinished || ended
        self.connection = .up(sent: self.acknowledgedPosition, inFlight: [], endSent: false)
        self.lastSend = nil
        self.lastProgress = nil
    }

    public mutating func progressSent(at now: ContinuousClock.Instant) {
        self.lastProgress = now
    }

    /// A data message holding spool bytes up to `end` went out; `offsets` are its streams' end offsets.
    public mutating func sent(upTo end: UInt64, offsets: [UInt32: UInt64], at now: ContinuousClock.Instant) {
        guard case .up(_, var inFlight, let endSent) = self.connection else { return }
        inFlight.append(InFlight(end: end, offsets: offsets))
        self.connection = .up(sent: end, inFlight: inFlight, endSent: endSent)
        self.lastSend = now
    }

    public mutating func endSent() {
        guard case .up(let sent, let inFlight, _) = self.connection else { return }
        self.connection = .up(sent: sent, inFlight: inFlight, endSent: true)
    }

    /// Applies an ack; returns the spool position that may now be released.
    public mutating func acknowledged(offsets: [UInt32: UInt64], ended: Bool) -> UInt64 {
        for (stream, offset) in offsets {
            self.acknowledgedOffsets[stream] = max(self.acknowledgedOffsets[stream] ?? 0, offset)
        }
        if ended { self.isFinished = true }
        guard case .up(let sent, var inFlight, let endSent) = self.connection else { return self.acknowledgedPosition }
        while let first = inFlight.first,
            first.offsets.allSatisfy({ self.acknowledgedOffsets[$0.key, default: 0] >= $0.value })
        {
            self.acknowledgedPosition = max(self.acknowledgedPosition, first.end)
            inFlight.removeFirst()
        }
        self.connection = .up(sent: sent, inFlight: inFlight, endSent: endSent)
        return self.acknowledgedPosition
    }

    /// What to do now, given how far the spool reaches, whether progress changed, and whether the job ended.
    public func next(spoolEnd: UInt64, jobEnded: Bool, progressPending: Bool = false, now: ContinuousClock.Instant) -> Action {
        if self.isFinished { return .finished }
        guard case .up(let sent, _, let endSent) = self.connection else { return .disconnected }
        let progressDue = self.lastProgress.map { now >= $0 + self.progressInterval } ?? true
        if progressPending && progressDue { return .sendProgress }
        if sent < spoolEnd {
            if sent - self.acknowledgedPosition >= self.maxUnacknowledged { return .waitForAck }
            // Send at once on an idle link; while messages flow, at most one per flush window, so batches
            // grow with the rate (better compression) while latency stays bounded by the window. A batch
            // big enough to compress as well as a file goes at once: waiting would only add latency.
            if let last = self.lastSend, now < last + self.flushWindow, spoolEnd - sent < self.fullBatchBytes {
                return .waitUntil(last + self.flushWindow, orSpoolAt: sent + self.fullBatchBytes)
            }
            return .send(from: sent)
        }
        // The bars' final state goes before the end, whatever the interval.
        if jobEnded && !endSent { return progressPending ? .sendProgress : .sendEnd }
        if progressPending, let last = self.lastProgress { return .waitUntil(last + self.progressInterval, orSpoolAt: spoolEnd + 1) }
        return .idle
    }

    /// The connection is gone; returns how long to wait before the next attempt.
    public mutating func disconnected(jitter: Double) -> Duration {
        let attempts: Int
        switch self.connection {
        case .down(let previous): attempts = previous + 1
        case .up: attempts = 1
        }
        self.connection = .down(attempts: attempts)
        return Self.backoff(attempt: attempts, jitter: jitter)
    }

    /// Exponential from 100 ms to 5 s, scaled by a jitter in 0.5...1 so agents do not reconnect in step.
    static func backoff(attempt: Int, jitter: Double) -> Duration {
        let base = min(5.0, 0.1 * pow2(attempt - 1))
        return .milliseconds(Int(base * 1000 * min(1, max(0.5, jitter))))
    }

    private static func pow2(_ n: Int) -> Double { n <= 0 ? 1 : Double(1 << min(n, 30)) }
}
