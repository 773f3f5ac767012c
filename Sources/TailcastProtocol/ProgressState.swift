/// How far one of a job's progress bars is: parsed from what the job prints, or reported explicitly.
/// Sent by agents in `progress`, kept by the server with the job, shown by `watch` and `ls`.
public struct ProgressState: Codable, Equatable, Sendable {
    public enum Source: String, Codable, Sendable {
        /// Recognised in the job's output (tqdm, rsync, curl, ...).
        case parsed
        /// Reported by the job with `tailcast progress` (wins over parsed progress).
        case explicit
    }

    /// Keeps concurrent bars of one job apart.
    public var key: String
    public var label: String?
    public var current: Double
    public var total: Double?
    /// "B" for bytes, "it", "epochs", ... or "".
    public var unit: String
    /// Units per second.
    public var rate: Double?
    public var etaSeconds: Double?
    /// 0...100, when the total is known.
    public var percent: Double?
    public var message: String?
    public var source: Source
    public var updatedMs: UInt64
    /// The job ended: this is the bar's final state.
    public var done: Bool

    public init(
        key: String, label: String? = nil, current: Double, total: Double? = nil, unit: String = "", rate: Double? = nil,
        etaSeconds: Double? = nil, message: String? = nil, source: Source, updatedMs: UInt64, done: Bool = false
    ) {
        self.key = key
        self.label = label
        self.current = current
        self.total = total
        self.unit = unit
        self.rate = rate
        self.etaSeconds = etaSeconds
        self.message = message
        self.source = source
        self.updatedMs = updatedMs
        self.done = done
        self.percent = total.flatMap { $0 > 0 ? min(100, max(0, current / $0 * 100)) : nil }
    }
}
