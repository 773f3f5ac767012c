/// One observed state of one progress bar.
///
/// Values are in base units: bytes when `unit` is "B" (a display such as `48.0M` is converted back), items otherwise.
/// When a program shows only a percentage (curl's `-#` bar, rich's default columns), `unit` is "%", `current` is that
/// percentage and `total` is 100.
public struct ProgressEvent: Equatable, Sendable {
    /// Keeps the concurrent bars of one job apart: the bar's own name when it has one (tqdm description, rich task,
    /// git phase, the word before a plain `N/M`, the caption of an outer counter such as `epoch`), otherwise the
    /// program family ("curl", "wget", "pv", "dd", "rsync", "tqdm", "rich", "keras", "ffmpeg", "apt", "xz", "aws",
    /// "percent" for a stream of bare percentages, "progress"), suffixed with "#n" for an unnamed bar drawn n rows
    /// below the top of a multi-row display.
    public var key: String
    public var current: Double
    public var total: Double?
    /// "B", "it", "objects", "%", "s" (ffmpeg's media time), or "" when the program names no unit.
    public var unit: String
    /// Units per second.
    public var rate: Double?
    public var etaSeconds: Double?
    /// The caption the program shows with the bar: a description, a phase or a file name.
    public var label: String?

    public init(
        key: String, current: Double, total: Double? = nil, unit: String = "", rate: Double? = nil,
        etaSeconds: Double? = nil, label: String? = nil
    ) {
        self.key = key
        self.current = current
        self.total = total
        self.unit = unit
        self.rate = rate
        self.etaSeconds = etaSeconds
        self.label = label
    }

    /// 0...100, when the total is known.
    public var percent: Double? {
        guard let total, total > 0 else { return nil }
        return min(current / total, 1) * 100
    }
}
