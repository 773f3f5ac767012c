import Logging
import NIOPosix
import ServiceLifecycle
import TailcastProtocol

/// Applies `serve --retain` and `--max-archive-bytes` (`RetentionPlan` decides, this removes): once at
/// start, then every `period`, and within a quarter second of the archive growing past its cap.
struct RetentionService: Service {
    let hub: Hub
    let retainMs: UInt64?
    let maxBytes: UInt64?
    let metrics: ServerMetrics
    let logger: Logger

    /// A job is removed at most a quarter of `--retain` late (at most a minute, at least a second late).
    var period: Duration {
        guard let retainMs else { return .seconds(60) }
        return .milliseconds(Int64(min(60_000, max(1_000, retainMs / 4))))
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var overCap = false
            while !Task.isCancelled {
                overCap = await self.sweep(wasOverCap: overCap)
                await self.waitForWork()
            }
        }
    }

    /// Until the period passes, or appends take the archive past its cap: looked at four times a second,
    /// since summing every job on every append would cost more than the appends.
    private func waitForWork() async {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < self.period {
            do { try await Task.sleep(for: .milliseconds(250)) } catch { return }
            if let maxBytes = self.maxBytes, self.hub.grew.exchange(false, ordering: .relaxed), self.hub.totals.bytes > maxBytes { return }
        }
    }

    /// Removes what the plan says, one log line per job; returns whether the archive is still over its
    /// cap (only running jobs are left to hold it), which is logged when it starts being so.
    func sweep(wasOverCap: Bool) async -> Bool {
        let plan = RetentionPlan(jobs: self.hub.retentionCandidates, nowMs: UnixTime.nowMs(), retainMs: self.retainMs, maxBytes: self.maxBytes)
        for removal in plan.removals {
            let job = removal.job
            let why: String
            switch removal.reason {
            case .age: why = "finished more than --retain \(Self.describe(ms: self.retainMs!)) ago"
            case .size: why = "the archive held more than --max-archive-bytes \(self.maxBytes!)"
            }
            do {
                let hub = self.hub
                let bytes = try await NIOThreadPool.singleton.runIfActive {
                    try hub.remove(job.id, why: "retention: \(why)", owner: nil, allowUnended: true)
                }
                await hub.removeFromStore(job.id)
                self.metrics.removed(removal.reason == .age ? .age : .size, bytes: bytes)
                self.logger.notice("removed job \(job.id) (\(bytes) bytes): \(why)")
            } catch let refusal as Hub.RemovalRefusal {
                // Its agent came back (or an rm took it) since the plan was made: it is no longer for retention.
                self.logger.debug("kept job \(job.id): \(refusal)")
            } catch {
                self.logger.error("could not remove job \(job.id): \(error)")
            }
        }
        guard let maxBytes = self.maxBytes else { return false }
        let overCap = self.hub.totals.bytes > maxBytes
        if overCap && !wasOverCap {
            self.logger.warning("the archive holds more than --max-archive-bytes \(maxBytes) in running jobs alone: they are never removed")
        }
        return overCap
    }

    /// "30d", "12h", "90m", "45s": the largest unit that divides it.
    static func describe(ms: UInt64) -> String {
        for (unit, size) in [("d", UInt64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000)] where ms >= size && ms % size == 0 {
            return "\(ms / size)\(unit)"
        }
        return "\(ms)ms"
    }
}
