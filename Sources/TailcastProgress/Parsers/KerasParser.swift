/// Keras' progress bar (`verbose=1`): `  44/100 [============>.................] - ETA: 3s - loss: 0.3021`, and when
/// the epoch is done `100/100 [==============================] - 4s 41ms/step - loss: 0.2874`. The time left is
/// `3s`, `1:02` or `1:02:03`; the pace is time per step (`41ms/step`, `850us/step`, `2s/step`). The epoch counter
/// Keras prints on the line before (`Epoch 3/4`) is folded in by OuterCounterLine.
enum KerasParser {
    static func reading(in line: ScannedLine) -> ProgressReading? {
        let tokens = line.tokens
        guard line.marks.contains(.slash), line.marks.contains(.openBracket), tokens.count >= 2,
            isBar(tokens[1], in: line),
            let slash = line.find("/", from: tokens[0].lowerBound, to: tokens[0].upperBound),
            let current = line.wholeNumber(tokens[0].lowerBound..<slash),
            let total = line.wholeNumber((slash + 1)..<tokens[0].upperBound), total > 0, current <= total
        else { return nil }
        var eta: Double? = current == total ? 0 : nil
        var rate: Double?
        for index in tokens.indices.dropFirst(2) {
            if line.equals(tokens[index], "ETA:"), index + 1 < tokens.count {
                eta = line.compactDuration(tokens[index + 1]) ?? line.clock(tokens[index + 1])
            } else if let secondsPerStep = secondsPerStep(tokens[index], in: line), secondsPerStep > 0 {
                rate = 1 / secondsPerStep
            }
        }
        return ProgressReading(family: .keras, current: current, total: total, rate: rate, etaSeconds: eta)
    }

    /// `[=====>....]` or, finished, `[==========]`.
    private static func isBar(_ token: Range<Int>, in line: ScannedLine) -> Bool {
        guard token.count >= 3, line[token.lowerBound] == Ascii.openBracket,
            line[token.upperBound - 1] == Ascii.closeBracket
        else { return false }
        return ((token.lowerBound + 1)..<(token.upperBound - 1)).allSatisfy { index in
            line[index] == UInt8(ascii: "=") || line[index] == UInt8(ascii: ">") || line[index] == Ascii.dot
        }
    }

    /// `41ms/step`, `850us/step`, `2s/step`: seconds.
    private static func secondsPerStep(_ token: Range<Int>, in line: ScannedLine) -> Double? {
        guard line.hasSuffix(token, "s/step"), let parsed = line.number(at: token.lowerBound, upTo: token.upperBound)
        else { return nil }
        switch line.text(parsed.end..<(token.upperBound - 5)) {
        case "s": return parsed.value
        case "ms": return parsed.value / 1000
        case "us": return parsed.value / 1_000_000
        default: return nil
        }
    }
}
