extension ProgressState {
    /// Bounds on a bar's text, in bytes of UTF-8. With at most 32 bars a job's progress stays near 50 KiB,
    /// so a `progress`, `job` or `jobs` message from the server stays under the 4 MiB message limit; an
    /// unbounded `message` once made a `job` of 8 MB that tailcast's own watcher could not read.
    public static let maxBarsPerMessage = 32
    public static let maxKeyBytes = 256
    public static let maxLabelBytes = 256
    public static let maxUnitBytes = 64
    public static let maxMessageBytes = 1024

    /// Why a server refuses this bar, naming the wire member, or nil.
    public var problem: String? {
        let fields: [(String, Int, Int)] = [
            ("key", self.key.utf8.count, Self.maxKeyBytes), ("label", self.label?.utf8.count ?? 0, Self.maxLabelBytes),
            ("unit", self.unit.utf8.count, Self.maxUnitBytes), ("message", self.message?.utf8.count ?? 0, Self.maxMessageBytes),
        ]
        for (name, size, limit) in fields where size > limit {
            return "\"\(name)\" is \(size) bytes; at most \(limit) are accepted"
        }
        return nil
    }

    /// The same bar with its text cut to the bounds (a cut text ends with "…"): what agents send.
    public func fitted() -> ProgressState {
        var bar = self
        bar.key = bar.key.cut(toUTF8Bytes: Self.maxKeyBytes)
        bar.label = bar.label.map { $0.cut(toUTF8Bytes: Self.maxLabelBytes) }
        bar.unit = bar.unit.cut(toUTF8Bytes: Self.maxUnitBytes)
        bar.message = bar.message.map { $0.cut(toUTF8Bytes: Self.maxMessageBytes) }
        return bar
    }
}
