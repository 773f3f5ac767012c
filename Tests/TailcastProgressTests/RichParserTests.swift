import Testing

@testable import TailcastProgress

@Suite struct RichParserTests {
    static let bar = String(repeating: "━", count: 20)

    @Test func readsThePercentageOfTheDefaultColumnsThroughColours() {
        let events = progressEvents(
            in: "\r\u{1B}[2K\u{1B}[31mDownloading...\u{1B}[0m \u{1B}[38;5;197m\(Self.bar)\u{1B}[0m"
                + "\u{1B}[38;5;237m╺━━━━\u{1B}[0m \u{1B}[35m 78%\u{1B}[0m \u{1B}[36m0:00:01\u{1B}[0m\r\n")
        #expect(
            events == [
                ProgressEvent(
                    key: "Downloading...", current: 78, total: 100, unit: "%", etaSeconds: 1, label: "Downloading...")
            ])
    }

    @Test func readsPipsDownloadColumnInDecimalMegabytes() {
        let event = progressEvents(in: "     \(Self.bar)╸\(Self.bar) 8.4/16.9 MB 3.1 MB/s eta 0:00:03\n").first
        #expect(
            event
                == ProgressEvent(
                    key: "rich", current: 8_400_000, total: 16_900_000, unit: "B", rate: 3_100_000, etaSeconds: 3))
    }

    @Test func readsCountsWhenShown() {
        let event = progressEvents(in: "Processing \(Self.bar) 10/200 0:00:04\n").first
        #expect(event == ProgressEvent(key: "Processing", current: 10, total: 200, label: "Processing"))
    }

    @Test func reportsNoTimeLeftOnceFinished() {
        // Finished tasks show the elapsed time where the remaining time was.
        let event = progressEvents(in: "Working... \(Self.bar) 100% 0:00:04\n").first
        #expect(event?.etaSeconds == 0)
        #expect(event?.percent == 100)
    }

    @Test func keepsTasksWithoutDescriptionApartByRowOnceRedrawn() {
        var parser = ProgressParser()
        _ = parser.feed(
            Array(
                ("\r\u{1B}[2K\(Self.bar) 10%\r\n\(Self.bar) 20%"
                    + "\r\u{1B}[2K\u{1B}[1A\u{1B}[2K\(Self.bar) 30%\r\n\(Self.bar) 40%\r\n").utf8))
        // The first frame has no cursor-up yet, so its second row cannot be told from a redraw of the first.
        #expect(parser.latest["rich"]?.current == 30)
        #expect(parser.latest["rich#1"]?.current == 40)
    }
}
