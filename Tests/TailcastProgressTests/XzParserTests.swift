import Testing

@testable import TailcastProgress

@Suite struct XzParserTests {
    /// xz 5.4.1, `xz -v -T1 -9 -k -c data.txt > /dev/null` (15.5 MiB) under `script`: the file name, then the status line
    /// redrawn after `\r` every second, speed blank for the first two, the time left from the eighth second on.
    @Test func readsXzVerboseOnATerminal() throws {
        let (events, parser) = try fixtureEvents("xz-compress-tty.raw")
        #expect(events.count == 13)
        #expect(events.allSatisfy { $0.key == "xz" && $0.unit == "B" })
        let percents = events.compactMap { event in event.total.map { (event.current / $0 * 1000).rounded() / 10 } }
        #expect(percents == [12.2, 24.0, 34.3, 45.9, 52.9, 59.1, 65.0, 70.7, 76.6, 82.4, 87.7, 93.1, 100])
        #expect(events.map(\.etaSeconds) == [nil, nil, nil, nil, nil, nil, nil, 3, 2, 2, 1, 1, 0])
        #expect(events.map(\.rate).first == .some(nil))
        #expect(events.last?.rate == 1.2 * 1_048_576)
        #expect(events.last?.current == 15.5 * 1_048_576)
        #expect(parser.latest.count == 1)
    }

    @Test func readsLongTimesLeftAndThousandsSeparators() {
        let event = progressEvents(
            in: "\r  5.0 %   8,114.0 KiB / 10,240.0 KiB = 0.792   1.2 MiB/s   0:08   2 min 30 s\r").first
        #expect(event?.current == 10_485_760)
        #expect(event?.etaSeconds == 150)
    }
}
