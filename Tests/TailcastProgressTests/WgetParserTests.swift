import Testing

@testable import TailcastProgress

@Suite struct WgetParserTests {
    @Test func readsTheBarWithTheExactLengthAnnouncedBeforeIt() {
        let events = progressEvents(
            in: "Length: 50331648 (48M) [application/octet-stream]\r\nSaving to: ‘/srv/pc-data/dl/wget.bin’\r\n\r\n"
                + "\r/srv/pc-data/dl/wget.bin  21%[======>       ]  10.12M  10.1MB/s               "
                + "\r/srv/pc-data/dl/wget.bin  66%[=========>    ]  32.16M  10.0MB/s    eta 1m 5s  "
                + "\r/srv/pc-data/dl/wget.bin 100%[=============>]  48.00M  10.0MB/s    in 4.8s    \r\n")
        let file = "/srv/pc-data/dl/wget.bin"
        #expect(
            events == [
                ProgressEvent(
                    key: "wget", current: 10.12 * 1_048_576, total: 50_331_648, unit: "B", rate: 10.1 * 1_048_576,
                    label: file),
                ProgressEvent(
                    key: "wget", current: 32.16 * 1_048_576, total: 50_331_648, unit: "B", rate: 10 * 1_048_576,
                    etaSeconds: 65, label: file),
                ProgressEvent(
                    key: "wget", current: 50_331_648, total: 50_331_648, unit: "B", rate: 10 * 1_048_576,
                    etaSeconds: 0, label: file),
            ])
    }

    @Test func readsTheBarOfADownloadOfUnknownSize() {
        let event = progressEvents(in: "\rwget.bin                [  <=>     ]   1.23M  4.56MB/s\n").first
        #expect(
            event
                == ProgressEvent(
                    key: "wget", current: 1.23 * 1_048_576, unit: "B", rate: 4.56 * 1_048_576, label: "wget.bin"))
    }

    @Test func countsDotRowsIncludingAFullLastRow() {
        let dots = String(repeating: " ..........", count: 5)
        let events = progressEvents(
            in: "Length: 153600 (150K) [text/plain]\n\n     0K\(dots) 33% 7.77M 0s\n"
                + "    50K\(dots) 66% 8.07M 0s\n   100K\(dots)100% 7.90M=0.02s\n")
        #expect(events.map(\.current) == [51200, 102_400, 153_600])
        #expect(events.allSatisfy { $0.total == 153_600 && $0.key == "wget" })
        #expect(events.first?.rate == 7.77 * 1_048_576)
        #expect(events.last?.rate == nil)
    }

    @Test func learnsTheDotSizeOfOtherStylesFromTheRowOffsets() {
        let dots = String(repeating: " ........", count: 6)  // dot:binary, 8 KiB a dot
        let events = progressEvents(in: "     0K\(dots) 16% 1.00M 1s\n   384K\(dots) 33% 1.00M 1s\n")
        #expect(events.last?.current == 768.0 * 1024)
    }

    @Test func takesTheFinalCountFromTheSavedLine() {
        let event = progressEvents(
            in: "2026-11-25 12:41:47 (10.0 MB/s) - ‘wget.bin’ saved [50331648/50331648]\n"
        ).first
        #expect(
            event
                == ProgressEvent(
                    key: "wget", current: 50_331_648, total: 50_331_648, unit: "B", etaSeconds: 0, label: "wget.bin"))
    }
}
