/// Counters no recogniser above knows: `step 40/100`, `Epoch 3/10, Step 40/100`, `[45/120] Building …` (ninja),
/// `Building [=====>    ] 45/120: serde` (cargo), `Processing 150 of 1200`, `4 of 10 done`, `Downloaded 4 MB of 10 MB`,
/// `progress: 45%`, `[ 45%] Building …` (CMake).
///
/// A number counts only with context that says it is progress: a word such as step or epoch next to `N/M`, a bar or
/// brackets around it, a line that is little else. `user 3/4 logged in` or `disk usage: 93%` are left alone:
/// missing a counter is better than reporting one that is not.
enum GenericParser {
    static let maxReadingsPerLine = 4

    static let countWords: Set<String> = [
        "step", "steps", "epoch", "epochs", "batch", "batches", "iter", "iters", "iteration", "iterations",
        "file", "files", "item", "items", "progress", "task", "tasks", "test", "tests", "chunk", "chunks", "part",
        "parts", "page", "pages", "sample", "samples", "shard", "shards", "job", "jobs", "stage", "stages", "round",
        "rounds", "trial", "trials", "episode", "episodes", "image", "images", "record", "records", "block", "blocks",
        "package", "packages", "layer", "layers", "object", "objects", "target", "targets", "fold", "folds", "frame",
        "frames", "request", "requests", "query", "queries", "case", "cases", "row", "rows",
    ]

    static let percentWords: Set<String> = [
        "progress", "complete", "completed", "done", "downloading", "downloaded", "uploading", "uploaded",
        "processing", "processed", "loading", "loaded", "installing", "finished",
    ]

    static func readings(in line: ScannedLine) -> [ProgressReading] {
        let words = line.tokens.filter { !core(of: $0, in: line).isEmpty }  // bare brackets say nothing
        if line.marks.contains(.slash) {
            let fractions = fractionReadings(in: line, words: words)
            if !fractions.isEmpty { return fractions }
        }
        if let reading = countOfReading(in: line, words: words) { return [reading] }
        guard line.marks.contains(.percent) else { return [] }
        return percentReading(in: line, words: words).map { [$0] } ?? []
    }

    private static func fractionReadings(in line: ScannedLine, words: [Range<Int>]) -> [ProgressReading] {
        var readings: [ProgressReading] = []
        for (index, word) in words.enumerated() {
            let number = core(of: word, in: line)
            guard let slash = line.find("/", from: number.lowerBound, to: number.upperBound),
                let done = line.wholeNumber(number.lowerBound..<slash),
                let all = line.wholeNumber((slash + 1)..<number.upperBound), all > 0, done <= all
            else { continue }
            var label =
                keyword(at: index - 1, in: words, of: line, from: countWords)
                ?? keyword(at: index + 1, in: words, of: line, from: countWords)
            let afterBar = index > 0 && isBar(words[index - 1], in: line)
            if label == nil, afterBar, index > 1 {
                let name = core(of: words[index - 2], in: line)
                if name.allSatisfy({ Ascii.isLetter(line[$0]) }) { label = line.text(name) }
            }
            let alone = index == 0 && (isBracketed(word, core: number, in: line) || words.count == 1)
            guard label != nil || afterBar || alone else { continue }
            readings.append(ProgressReading(family: .generic, current: done, total: all, label: label))
            if readings.count == maxReadingsPerLine { break }
        }
        return readings
    }

    /// `Processing 150 of 1200`, `Downloading file 3 of 10`, `page 2 of 7`, `150 of 1200 files`, `4 of 10 done`: named
    /// by the word before the count, or the count word after it; `Downloaded 4 MB of 10 MB` in bytes.
    private static func countOfReading(in line: ScannedLine, words: [Range<Int>]) -> ProgressReading? {
        guard words.count >= 3 else { return nil }
        for index in 1..<(words.count - 1) where line.equals(words[index], "of") {
            if let reading = sizeOfReading(around: index, in: line, words: words) { return reading }
            guard let done = line.wholeNumber(core(of: words[index - 1], in: line), allowingCommas: true),
                let all = line.wholeNumber(core(of: words[index + 1], in: line), allowingCommas: true), all > 0,
                done <= all
            else { continue }
            let label =
                keyword(at: index - 2, in: words, of: line, from: countWords)
                ?? keyword(at: index - 2, in: words, of: line, from: percentWords)
                ?? keyword(at: index + 2, in: words, of: line, from: countWords)
            let saysDone = keyword(at: index + 2, in: words, of: line, from: percentWords) != nil
            guard label != nil || saysDone else { continue }
            return ProgressReading(family: .generic, current: done, total: all, label: label)
        }
        return nil
    }

    /// `Downloaded 4 MB of 10 MB`, `uploaded 1.5GiB of 4GiB`: sizes on both sides of the `of` at `index`, after a word
    /// that says progress. `MB` is 1000-based here, as most programs that write whole words mean it.
    private static func sizeOfReading(around index: Int, in line: ScannedLine, words: [Range<Int>]) -> ProgressReading? {
        func size(_ range: Range<Int>) -> Double? { line.byteQuantity(range, plainPrefixBase: 1000) }
        var labelIndex = index - 2
        var done = size(core(of: words[index - 1], in: line))
        if done == nil, index >= 2 {
            done = size(words[index - 2].lowerBound..<core(of: words[index - 1], in: line).upperBound)
            labelIndex = index - 3
        }
        var all = size(core(of: words[index + 1], in: line))
        if all == nil, index + 2 < words.count {
            all = size(words[index + 1].lowerBound..<core(of: words[index + 2], in: line).upperBound)
        }
        guard let done, let all, all > 0, done <= all,
            let label = keyword(at: labelIndex, in: words, of: line, from: percentWords)
        else { return nil }
        return ProgressReading(family: .generic, current: done, total: all, unit: "B", label: label)
    }

    private static func percentReading(in line: ScannedLine, words: [Range<Int>]) -> ProgressReading? {
        for (index, word) in words.enumerated() {
            let number = core(of: word, in: line)
            guard let percent = line.percent(number) else { continue }
            let label = keyword(at: index - 1, in: words, of: line, from: percentWords)
            let saysDone = keyword(at: index + 1, in: words, of: line, from: percentWords) != nil
            let leads = index == 0 && isBracketed(word, core: number, in: line)
            guard label != nil || saysDone || leads || words.count <= 2 else { continue }
            return .percentOnly(.generic, percent: percent, label: label)
        }
        return nil
    }

    /// The word at `index` without brackets and punctuation, as written, if its lowercase form is in `set`.
    private static func keyword(
        at index: Int, in words: [Range<Int>], of line: ScannedLine, from set: Set<String>
    ) -> String? {
        guard words.indices.contains(index) else { return nil }
        let word = core(of: words[index], in: line)
        guard word.count <= 12, word.allSatisfy({ Ascii.isLetter(line[$0]) }) else { return nil }
        let text = line.text(word)
        return set.contains(text) || set.contains(text.lowercased()) ? text : nil
    }

    /// A token without the brackets, parentheses and punctuation around it: `[45/120]` → `45/120`, `Epoch:` → `Epoch`.
    private static func core(of token: Range<Int>, in line: ScannedLine) -> Range<Int> {
        var lower = token.lowerBound
        var upper = token.upperBound
        while lower < upper && (line[lower] == Ascii.openBracket || line[lower] == Ascii.openParenthesis) { lower += 1 }
        while upper > lower {
            switch line[upper - 1] {
            case Ascii.closeBracket, Ascii.closeParenthesis, Ascii.colon, Ascii.comma, UInt8(ascii: ";"): upper -= 1
            default: return lower..<upper
            }
        }
        return lower..<upper
    }

    private static func isBracketed(_ token: Range<Int>, core: Range<Int>, in line: ScannedLine) -> Bool {
        token.lowerBound < core.lowerBound
            || (core.upperBound < token.upperBound
                && (line[core.upperBound] == Ascii.closeBracket || line[core.upperBound] == Ascii.closeParenthesis))
    }

    /// `[=====>` or `[===>  ]` (cargo puts the bar's closing bracket in a token of its own).
    private static func isBar(_ token: Range<Int>, in line: ScannedLine) -> Bool {
        guard line[token.lowerBound] == Ascii.openBracket else { return false }
        let end = line[token.upperBound - 1] == Ascii.closeBracket ? token.upperBound - 1 : token.upperBound
        return (token.lowerBound + 1..<max(end, token.lowerBound + 1)).allSatisfy { index in
            switch line[index] {
            case UInt8(ascii: "="), UInt8(ascii: ">"), UInt8(ascii: "-"), UInt8(ascii: "#"), UInt8(ascii: "<"): true
            default: false
            }
        }
    }
}
