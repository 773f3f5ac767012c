import Testing

@testable import TailcastProgress

@Suite struct AwsCliParserTests {
    @Test func readsBinarySizesAndTheRate() {
        let event = progressEvents(
            in: "\rCompleted 4.0 MiB/10.0 MiB (5.0 MiB/s) with 1 file(s) remaining\n").first
        #expect(
            event == ProgressEvent(
                key: "aws", current: 4 * 1_048_576, total: 10 * 1_048_576, unit: "B", rate: 5 * 1_048_576))
    }

    @Test func readsBytesBelowAKibibyte() {
        let event = progressEvents(in: "\rCompleted 512 Bytes/1.0 KiB (1.2 KiB/s) with 1 file(s) remaining\n").first
        #expect(event?.current == 512)
        #expect(event?.total == 1024)
    }

    @Test func aFileCountAloneIsNotABar() {
        #expect(progressEvents(in: "\rCompleted 3 file(s) with 2 file(s) remaining\n").isEmpty)
    }
}
