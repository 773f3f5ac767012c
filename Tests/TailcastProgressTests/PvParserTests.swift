import Testing

@testable import TailcastProgress

@Suite struct PvParserTests {
    @Test func readsBinaryUnitsAndDerivesTheTotalFromThePercentage() {
        let events = progressEvents(
            in: "\r10.0MiB 0:00:01 [9.21MiB/s] [=====>      ] 20% ETA 0:00:03"
                + "\r48.0MiB 0:00:04 [10.2MiB/s] [============>] 100%            \n")
        #expect(
            events == [
                ProgressEvent(
                    key: "pv", current: 10_485_760, total: 52_428_800, unit: "B", rate: 9.21 * 1_048_576,
                    etaSeconds: 3),
                ProgressEvent(
                    key: "pv", current: 50_331_648, total: 50_331_648, unit: "B", rate: 10.2 * 1_048_576,
                    etaSeconds: 0),
            ])
    }

    @Test func readsPaddedColumnsWithoutAKnownSize() {
        let events = progressEvents(
            in: "\r0.00 B 0:00:00 [0.00 B/s] [<=>     ]\r 512KiB 0:00:02 [ 256KiB/s] [   <=>  ]\n")
        #expect(
            events == [
                ProgressEvent(key: "pv", current: 0, unit: "B", rate: 0),
                ProgressEvent(key: "pv", current: 524_288, unit: "B", rate: 262_144),
            ])
    }

    @Test func readsLineCounts() {
        let event = progressEvents(in: "\r1.00k 0:00:01 [1.00k/s] [ <=>  ]\n").first
        #expect(event == ProgressEvent(key: "pv", current: 1000, rate: 1000))
    }
}
