/// A stream of bare percentages, one a line: `pv -n` (`12`, `25`, `37`…), and what `dialog --gauge` and
/// `whiptail --gauge` read. One number alone is not progress (`wc -l` prints one too): it counts from the second
/// one of a rising run within 0...100, and a number that falls or leaves that range ends the run.
struct PercentStreamParser: Sendable {
    private var last: Double?
    private var runLength = 0

    /// Whether the line is nothing but a number: such lines are read here and nowhere else.
    static func isBareNumber(_ line: ScannedLine) -> Bool {
        line.tokens.count == 1 && line.wholeNumber(line.tokens[0]) != nil
    }

    mutating func reading(in line: ScannedLine) -> ProgressReading? {
        guard let value = line.wholeNumber(line.tokens[0]), value <= 100 else {
            runLength = 0
            last = nil
            return nil
        }
        if let last, value >= last { runLength += 1 } else { runLength = 1 }
        last = value
        return runLength >= 2 ? .percentOnly(.percentStream, percent: value) : nil
    }
}
