import Testing

@testable import TailcastProgress

@Suite struct AptParserTests {
    /// `apt-get install -y pv ninja-build > log 2>&1` on Debian 12 (apt 2.6), lines of waiting for another apt's lock
    /// removed: `Need to get 188 kB`, two `Get:` lines, `Fetched`, then dpkg's own `(Reading database ... 45%`.
    @Test func addsUpTheDownloadListAgainstNeedToGet() throws {
        let (events, parser) = try fixtureEvents("apt-get-install-pipe.raw")
        #expect(
            events == [
                ProgressEvent(key: "apt", current: 135_000, total: 188_000, unit: "B"),
                ProgressEvent(key: "apt", current: 188_000, total: 188_000, unit: "B"),
                ProgressEvent(key: "apt", current: 188_000, total: 188_000, unit: "B", rate: 371_000, etaSeconds: 0),
            ])
        #expect(parser.latest.count == 1, "bars: \(parser.latest.keys.sorted())")
    }

    /// `apt-get update > log 2>&1`: no total, then `Fetched` closes the list.
    @Test func countsAnUpdateWithoutATotal() throws {
        let (events, _) = try fixtureEvents("apt-get-update-pipe.raw")
        #expect(events.map(\.current) == [151_000, 206_400, 241_200, 241_000])
        #expect(events.map(\.total) == [nil, nil, nil, 241_000])
        #expect(events.last?.rate == 106_000)
    }

    @Test func readsThousandsSeparatorsAndACachedPart() {
        let events = progressEvents(
            in: """
                Need to get 1,204 kB/45.0 MB of archives.
                Get:1 http://archive.ubuntu.com/ubuntu jammy-updates/main amd64 libssl3 amd64 3.0.2-0ubuntu1.18 [1,204 kB]
                Fetched 1,204 kB in 1s (1,115 kB/s)

                """)
        #expect(events.map(\.current) == [1_204_000, 1_204_000])
        #expect(events.map(\.total) == [1_204_000, 1_204_000])
    }
}
