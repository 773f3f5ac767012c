import Testing
import TailcastProgress
import TailcastProtocol

@testable import TailcastAgent

/// The tracker gives every bar a rate and a time left: the program's own when it prints them, measured otherwise.
@Suite struct ProgressTrackerTests {
    @Test func measuresACounterThatPrintsNoRate() throws {
        let tracker = ProgressTracker()
        tracker.record(parsed: [ProgressEvent(key: "step", current: 10, total: 100, label: "step")], timeMs: 1_000)
        #expect(tracker.bars.first?.rate == nil)
        tracker.record(parsed: [ProgressEvent(key: "step", current: 30, total: 100, label: "step")], timeMs: 3_000)
        let bar = try #require(tracker.bars.first)
        #expect(bar.rate == 10)
        #expect(bar.etaSeconds == 7)
    }

    @Test func prefersWhatTheProgramPrints() throws {
        let tracker = ProgressTracker()
        tracker.record(parsed: [ProgressEvent(key: "dl", current: 10, total: 100, unit: "B", rate: 50)], timeMs: 0)
        tracker.record(parsed: [ProgressEvent(key: "dl", current: 20, total: 100, unit: "B", rate: 50)], timeMs: 5_000)
        for (current, ms) in [(1.0, UInt64(0)), (3, 1_000)] {
            let event = ProgressEvent(key: "t", current: current, total: 9, unit: "it", rate: 1, etaSeconds: 4)
            tracker.record(parsed: [event], timeMs: ms)
        }
        let bars = Dictionary(uniqueKeysWithValues: tracker.bars.map { ($0.key, $0) })
        // The printed 50 B/s, not the 2 B/s the updates alone would say; the time left follows from it.
        #expect(bars["dl"]?.rate == 50)
        #expect(bars["dl"]?.etaSeconds == 1.6)
        // A printed time left stays as printed.
        #expect(bars["t"]?.etaSeconds == 4)
    }

    @Test func measuresExplicitReportsBetweenUpdatesFarApart() throws {
        let tracker = ProgressTracker()
        for (epoch, ms) in [(1.0, UInt64(0)), (2, 30_000), (3, 60_000)] {
            tracker.record(
                explicit: ProgressState(
                    key: "explicit:train", label: "train", current: epoch, total: 6, unit: "epochs", source: .explicit,
                    updatedMs: ms))
        }
        let bar = try #require(tracker.bars.first)
        #expect(bar.rate.map { abs($0 - 1.0 / 30) < 1e-12 } == true)
        #expect(bar.etaSeconds.map { abs($0 - 90) < 1e-9 } == true)
    }
}
