import Testing

@testable import TailcastProgress

@Suite struct DdParserTests {
    @Test func readsExactBytesAndTheSummaryLine() {
        let events = progressEvents(
            in: "\r10551296 bytes (11 MB, 10 MiB) copied, 1 s, 9.7 MB/s\r\n768+0 records in\r\n768+0 records out\r\n"
                + "50331648 bytes (50 MB, 48 MiB) copied, 4.71534 s, 10.7 MB/s\r\n")
        #expect(
            events == [
                ProgressEvent(key: "dd", current: 10_551_296, unit: "B", rate: 9.7 * 1_000_000),
                ProgressEvent(key: "dd", current: 50_331_648, unit: "B", rate: 10.7 * 1_000_000),
            ])
    }

    @Test func readsTheShortFormForSmallCopies() {
        #expect(progressEvents(in: "512 bytes copied, 0.000201 s, 2.5 MB/s\n").first?.current == 512)
    }
}
