/// A bar whose caption holds a counter of its own, the way training loops name their inner bar:
/// `epoch 4/6:  37%|███▋      | 111/300 [...]`. The bar counts steps within epoch 4; the job is at
/// 3 + 111/300 of 6 epochs. Read alone, the caption's `4/6` says 66% at the start of epoch 4 and 100% as soon
/// as epoch 6 begins; read alone, the bar starts again from 0 every epoch and gets a new key with each caption.
///
/// So the two are read together, as one bar keyed by the caption without its counter (`epoch`), in the inner
/// bar's units: epochs before this one count as whole inner totals, `(4 - 1) × 300 + 111` of `6 × 300` steps.
/// That assumes every epoch has as many steps as this one, which is what a loop over one data set does. The
/// outer count is taken as the epoch in progress (1-based), as tqdm descriptions and Keras' `Epoch 4/6` write it.
/// A counter on a line of its own before the bar is folded the same way (OuterCounterLine).
enum OuterCounter {
    /// `reading` with the outer counter of its caption folded in; unchanged when the caption has none or the
    /// inner bar has no total.
    static func nest(_ reading: ProgressReading) -> ProgressReading {
        guard reading.family.keysByLabel, let caption = reading.label, let outer = counter(in: caption) else {
            return reading
        }
        return fold(reading, into: outer.current, of: outer.total, label: outer.rest) ?? reading
    }

    /// `reading`, the steps of outer count `current` of `total`, as a bar for the whole run named `label`; nil when
    /// the inner bar has no total.
    static func fold(
        _ reading: ProgressReading, into current: Double, of total: Double, label: String
    ) -> ProgressReading? {
        guard let innerTotal = reading.total, innerTotal > 0 else { return nil }
        var nested = reading
        let finishedOuter = max(current - 1, 0)
        nested.current = finishedOuter * innerTotal + min(reading.current, innerTotal)
        nested.total = total * innerTotal
        nested.label = label
        // The program's remaining time covers this epoch; the epochs after it take as long at the program's rate.
        if let eta = reading.etaSeconds {
            let laterOuter = total - max(current, 1)
            if laterOuter <= 0 {
                nested.etaSeconds = eta
            } else if let rate = reading.rate, rate > 0 {
                nested.etaSeconds = eta + laterOuter * innerTotal / rate
            } else {
                nested.etaSeconds = nil
            }
        }
        return nested
    }

    /// `epoch 4/6` or `4/6 epochs` in a caption: the counter, and the caption without it (`epoch`).
    static func counter(in caption: String) -> (current: Double, total: Double, rest: String)? {
        let words = caption.split(separator: " ")
        for (index, word) in words.enumerated() {
            let fraction = word.split(separator: "/", omittingEmptySubsequences: false)
            guard fraction.count == 2,
                fraction.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
                let current = Double(fraction[0]), let total = Double(fraction[1]), total > 0, current <= total
            else { continue }
            let named = [index - 1, index + 1].contains { neighbour in
                words.indices.contains(neighbour)
                    && GenericParser.countWords.contains(words[neighbour].lowercased())
            }
            guard named else { continue }
            var rest = words
            rest.remove(at: index)
            return (current, total, rest.joined(separator: " "))
        }
        return nil
    }
}
