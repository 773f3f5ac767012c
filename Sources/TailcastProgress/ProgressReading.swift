/// What a recogniser read from one line, before the parser gives it a key.
struct ProgressReading: Equatable, Sendable {
    enum Family: String, Sendable {
        case tqdm, rich, keras, git, wget, curl, pv, dd, rsync, ffmpeg, apt, xz, aws
        case percentStream = "percent"
        case generic = "progress"

        /// Whether labels name distinct bars. For the other families a label is only a caption (a file name) and a
        /// stream shows one bar at a time, so keying by family stays stable when the caption changes or is missing.
        var keysByLabel: Bool {
            switch self {
            case .tqdm, .rich, .keras, .git, .generic: true
            case .wget, .curl, .pv, .dd, .rsync, .ffmpeg, .apt, .xz, .aws, .percentStream: false
            }
        }
    }

    var family: Family
    var current: Double
    var total: Double? = nil
    var unit: String = ""
    var rate: Double? = nil
    var etaSeconds: Double? = nil
    var label: String? = nil

    static func percentOnly(
        _ family: Family, percent: Double, etaSeconds: Double? = nil, label: String? = nil
    ) -> ProgressReading {
        ProgressReading(family: family, current: percent, total: 100, unit: "%", etaSeconds: etaSeconds, label: label)
    }

    /// The total a shown whole-number percentage implies: exact at 100%, as coarse as the rounding below that.
    static func total(current: Double, shownPercent: Double) -> Double? {
        if shownPercent >= 100 { return current }
        guard shownPercent > 0 else { return nil }
        return current * 100 / shownPercent
    }
}
