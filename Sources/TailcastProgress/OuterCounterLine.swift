/// An outer counter printed on a line of its own, before the bar of its steps: Keras' `Epoch 3/4` above
/// `44/100 [=====>....] - ETA: 3s`, or a loop's `epoch 3 of 4` above a tqdm bar without a caption. Read alone,
/// the counter says 75% for the whole of epoch 3 and the bar starts again from 0 every epoch; folded like a
/// caption's counter (OuterCounter), they are one bar for the whole run, keyed by the counter's word.
///
/// The counter applies to uncaptioned bars that follow within `maxLinesWithoutBar` lines that may hold progress
/// (other lines do not reach the recognisers), and for as long as they keep being drawn: a bar started long after a
/// counter was printed is not its steps. Once a bar has shown how many steps an epoch has, the next counter line
/// reports the run's position at the start of its epoch in those steps, so the bar does not jump back to the
/// counter's own `3/4` between epochs.
struct OuterCounterLine: Sendable {
    static let maxLinesWithoutBar = 8

    private struct Counter: Sendable {
        var current: Double
        var total: Double
        var label: String
    }

    private var counter: Counter?
    private var linesWithoutBar = 0
    /// The inner bar's total and unit under the current counter, once a bar was folded.
    private var inner: (total: Double, unit: String)?

    /// The readings of one line as they are reported: a lone counter remembered (and, with a known inner bar, in
    /// its steps), an uncaptioned bar after a recent counter folded into it.
    mutating func follow(_ readings: [ProgressReading], in line: ScannedLine) -> [ProgressReading] {
        if readings.count == 1, let reading = readings.first {
            if let found = Self.loneCounter(reading, in: line) { return [remember(found, from: reading)] }
            if let folded = fold(reading) {
                linesWithoutBar = 0
                return [folded]
            }
        }
        linesWithoutBar += 1
        if linesWithoutBar > Self.maxLinesWithoutBar {
            counter = nil
            inner = nil
        }
        return readings
    }

    private mutating func remember(_ found: Counter, from reading: ProgressReading) -> ProgressReading {
        if let counter, counter.label != found.label || counter.total != found.total { inner = nil }
        counter = found
        linesWithoutBar = 0
        guard let inner else { return reading }
        return ProgressReading(
            family: reading.family, current: max(found.current - 1, 0) * inner.total, total: found.total * inner.total,
            unit: inner.unit, label: found.label)
    }

    private mutating func fold(_ reading: ProgressReading) -> ProgressReading? {
        guard let counter, reading.label == nil, Self.stepsOfAnOuterCount.contains(reading.family),
            let folded = OuterCounter.fold(reading, into: counter.current, of: counter.total, label: counter.label),
            let total = reading.total
        else { return nil }
        inner = (total, reading.unit)
        return folded
    }

    /// Bars that count the steps of an epoch: those of training loops, drawn without a caption.
    private static let stepsOfAnOuterCount: Set<ProgressReading.Family> = [.tqdm, .rich, .keras]

    /// `Epoch 3/4` or `epoch 3 of 4`, and nothing else on the line.
    private static func loneCounter(_ reading: ProgressReading, in line: ScannedLine) -> Counter? {
        guard reading.family == .generic, let label = reading.label, let total = reading.total,
            GenericParser.countWords.contains(label.lowercased()),
            line.tokens.count == 2 || (line.tokens.count == 4 && line.equals(line.tokens[2], "of"))
        else { return nil }
        return Counter(current: reading.current, total: total, label: label)
    }
}
