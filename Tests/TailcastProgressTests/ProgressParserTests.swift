import Testing

@testable import TailcastProgress

@Suite struct ProgressParserTests {
    static let redraw = "\r 50%|#####     | 5/10 [00:01<00:01, 5.00it/s]"

    @Test func reportsAStateOnceEvenWhenDrawnTwice() {
        #expect(progressEvents(in: Self.redraw + Self.redraw + "\n").count == 1)
    }

    @Test func reportsARedrawnBarWhenItsNextRedrawStartsOrTheOutputEnds() {
        var parser = ProgressParser()
        let whileDrawn = parser.feed(Array(Self.redraw.utf8))
        let atTheEnd = parser.finish()
        #expect(whileDrawn.isEmpty)
        #expect(atTheEnd.map(\.current) == [5])
    }

    @Test func flushPartialLineReportsAQuietBarWithoutEndingIt() {
        var parser = ProgressParser()
        _ = parser.feed(Array(Self.redraw.utf8))
        let quiet = parser.flushPartialLine()
        let stillQuiet = parser.flushPartialLine()
        let redrawn = parser.feed(Array("\r 60%|######    | 6/10 [00:01<00:01, 5.00it/s]".utf8))
        let quietAgain = parser.flushPartialLine()
        let atTheEnd = parser.finish()
        #expect(quiet.map(\.current) == [5])
        #expect(stillQuiet.isEmpty, "already reported")
        #expect(redrawn.isEmpty, "the line that ended was the one already reported")
        #expect(quietAgain.map(\.current) == [6])
        #expect(atTheEnd.isEmpty)
    }

    @Test func acceptsAnyByteSequence() {
        var parser = ProgressParser()
        let fromSlice = parser.feed(Array("step 4/5\n".utf8)[...])
        let fromSequence = parser.feed(AnySequence(Array("step 5/5\n".utf8)))
        #expect(fromSlice.map(\.current) == [4])
        #expect(fromSequence.map(\.current) == [5])
        #expect(parser.mostRecent?.current == 5)
    }

    @Test func forgetsTheLeastRecentlyUpdatedBarBeyondTheLimit() {
        var parser = ProgressParser()
        for bar in 0...ProgressParser.maxTrackedBars {
            _ = parser.feed(Array("\rfile\(bar): 50%|#####     | 1/2 [00:00<00:00, 1.00it/s]\n".utf8))
        }
        #expect(parser.latest.count == ProgressParser.maxTrackedBars)
        #expect(parser.latest["file0"] == nil)
        #expect(parser.latest["file\(ProgressParser.maxTrackedBars)"] != nil)
    }

    @Test func percentIsKnownOnlyWithATotal() {
        #expect(ProgressEvent(key: "k", current: 5, total: 20).percent == 25)
        #expect(ProgressEvent(key: "k", current: 30, total: 20).percent == 100)
        #expect(ProgressEvent(key: "k", current: 5).percent == nil)
        #expect(ProgressEvent(key: "k", current: 5, total: 0).percent == nil)
    }
}
