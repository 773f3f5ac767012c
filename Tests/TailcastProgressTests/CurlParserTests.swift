import Testing

@testable import TailcastProgress

@Suite struct CurlParserTests {
    static let header =
        "  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n"
        + "                                 Dload  Upload   Total   Spent    Left  Speed\n"

    @Test func readsTheMeterIn1024BasedUnitsAndEndsExactlyAtTheTotal() {
        let events = progressEvents(
            in: Self.header
                + "\r  0     0    0     0    0     0      0      0 --:--:-- --:--:-- --:--:--     0"
                + "\r 14 48.0M   14 7360k    0     0  10.0M      0  0:00:04 --:--:--  0:00:04 10.0M"
                + "\r100 48.0M  100 48.0M    0     0  10.0M      0  0:00:04  0:00:04 --:--:-- 10.0M\n")
        #expect(
            events == [
                ProgressEvent(key: "curl", current: 0, unit: "B", rate: 0),
                ProgressEvent(
                    key: "curl", current: 7360 * 1024, total: 50_331_648, unit: "B", rate: 10 * 1_048_576,
                    etaSeconds: 4),
                ProgressEvent(key: "curl", current: 50_331_648, total: 50_331_648, unit: "B", rate: 10 * 1_048_576),
            ])
    }

    @Test func leavesTheTotalOutWhenTheServerSentNoSize() {
        let event = progressEvents(
            in: "\r  0     0    0  7360k    0     0  10.0M      0 --:--:--  0:00:01 --:--:-- 10.0M\n"
        ).first
        #expect(event == ProgressEvent(key: "curl", current: 7360 * 1024, unit: "B", rate: 10 * 1_048_576))
    }

    @Test func readsTheHashBarAsAPercentage() {
        let events = progressEvents(
            in: "\r#####" + String(repeating: " ", count: 40) + "12.9%\r" + String(repeating: "#", count: 46)
                + " 100.0%\n")
        #expect(
            events == [
                ProgressEvent(key: "curl", current: 12.9, total: 100, unit: "%"),
                ProgressEvent(key: "curl", current: 100, total: 100, unit: "%"),
            ])
    }
}
