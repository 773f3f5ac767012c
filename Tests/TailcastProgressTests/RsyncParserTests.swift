import Testing

@testable import TailcastProgress

@Suite struct RsyncParserTests {
    @Test func readsExactBytesAndDerivesTheTotalFromThePercentage() {
        let events = progressEvents(
            in: "\r     21,659,648  43%   10.01MB/s    0:00:02  "
                + "\r     50,331,648 100%   10.10MB/s    0:00:04 (xfr#1, to-chk=0/1)\n")
        #expect(
            events == [
                ProgressEvent(
                    key: "rsync", current: 21_659_648, total: 21_659_648 * 100 / 43, unit: "B",
                    rate: 10.01 * 1_048_576, etaSeconds: 2),
                ProgressEvent(
                    key: "rsync", current: 50_331_648, total: 50_331_648, unit: "B", rate: 10.10 * 1_048_576,
                    etaSeconds: 0),
            ])
    }

    @Test func readsHumanReadableSizes() {
        #expect(progressEvents(in: "\r         10.85M  21%   10.01MB/s    0:00:03  \n").first?.current == 10_850_000)
    }
}
