/// Runs the program-family parsers over a candidate line, most distinctive format first, and falls back to the
/// generic `N/M` and `NN%` rules. A bar wins over an `N/M` elsewhere in its line, which is folded into it when it
/// counts something the bar is part of (`epoch 4/6: 37%|…| 111/300`, see OuterCounter), as is a counter on a line of
/// its own before the bar (OuterCounterLine).
struct LineRecognizer: Sendable {
    private var wget = WgetParser()
    private var keyValue = KeyValueParser()
    private var apt = AptParser()
    private var percentStream = PercentStreamParser()
    private var outerCounterLine = OuterCounterLine()

    mutating func readings(in line: ScannedLine) -> [ProgressReading] {
        outerCounterLine.follow(recognize(line), in: line)
    }

    private mutating func recognize(_ line: ScannedLine) -> [ProgressReading] {
        guard !line.tokens.isEmpty, !wget.noteContext(line), !keyValue.noteContext(line), !apt.noteContext(line)
        else { return [] }
        if PercentStreamParser.isBareNumber(line) { return percentStream.reading(in: line).map { [$0] } ?? [] }
        if let reading = familyReading(in: line) { return [OuterCounter.nest(reading)] }
        return GenericParser.readings(in: line)
    }

    private mutating func familyReading(in line: ScannedLine) -> ProgressReading? {
        if let reading = apt.reading(in: line) { return reading }
        if let reading = GitParser.reading(in: line) { return reading }
        if let reading = DdParser.reading(in: line) { return reading }
        if let reading = RsyncParser.reading(in: line) { return reading }
        if let reading = CurlParser.meterReading(in: line) { return reading }
        if let reading = wget.dotsReading(in: line) { return reading }
        if let reading = wget.barReading(in: line) { return reading }
        if let reading = wget.savedReading(in: line) { return reading }
        if let reading = PvParser.reading(in: line) { return reading }
        if let reading = XzParser.reading(in: line) { return reading }
        if let reading = AwsCliParser.reading(in: line) { return reading }
        if let reading = KerasParser.reading(in: line) { return reading }
        if let reading = TqdmParser.reading(in: line) { return reading }
        if let reading = RichParser.reading(in: line) { return reading }
        if let reading = CurlParser.barReading(in: line) { return reading }
        return keyValue.reading(in: line)
    }
}
