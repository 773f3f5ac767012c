/// A command line as a person would type it back: arguments shell-quoted, and shortened to fit a column
/// between arguments where possible, so what is shown still reads as the command.
enum ShellWords {
    /// `arg` as a POSIX shell reads it back: as is when it holds only safe characters, else in single quotes.
    static func quote(_ arg: String) -> String {
        let safe = arg.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (scalar.properties.isAlphabetic || scalar.properties.numericType != nil || "_@%+=:,./-".unicodeScalars.contains(scalar))
        }
        if !arg.isEmpty && safe { return arg }
        return "'" + arg.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// `words` (quoted already) joined, at most `width` characters: whole words and `…` when at least
    /// half the width is kept that way, else cut mid-word with `…`.
    static func shorten(_ words: [String], width: Int) -> String {
        let full = words.joined(separator: " ")
        guard full.count > width else { return full }
        var kept = ""
        for word in words {
            let longer = kept.isEmpty ? word : kept + " " + word
            if longer.count + 2 > width { break }
            kept = longer
        }
        if kept.count * 2 >= width { return kept + " …" }
        return String(full.prefix(max(width - 1, 0))) + "…"
    }
}
