import Testing

@testable import TailcastProgress

@Suite struct KeyValueParserTests {
    /// ffmpeg 5.1 (Debian 12) transcoding an 83.45 s clip at 1.19x, stderr on a terminal: the banner, the input's
    /// `Duration:`, a stats line every 0.5 s ended by `\r`, the final `Lsize=` line, the encoder's summary.
    @Test func readsFfmpegStatsAgainstTheInputsDuration() throws {
        let (events, parser) = try fixtureEvents("ffmpeg-transcode-tty.raw")
        // `frame=  150 fps= 30 q=28.0 size=     512kB time=00:00:05.96 bitrate= 703.2kbits/s speed=1.19x`
        let at596 = try #require(events.first { abs($0.current - 5.96) < 1e-9 })
        #expect(at596.key == "ffmpeg")
        #expect(at596.total.map { abs($0 - 83.45) < 1e-9 } == true)
        #expect(at596.unit == "s")
        #expect(at596.rate == 1.19)
        #expect(at596.etaSeconds.map { abs($0 - (83.45 - 5.96) / 1.19) < 1e-9 } == true)
        // `Lsize=` is ffmpeg's last report: done, though its last frame starts before the end of the input.
        let last = try #require(events.last)
        #expect(last.percent == 100)
        #expect(last.etaSeconds == 0)
        #expect(parser.latest.count == 1, "bars: \(parser.latest.keys.sorted())")
    }

    /// `ffmpeg -nostats -progress pipe:1 … 2>&1`: the header, then blocks of one pair a line; `out_time=` is the
    /// position, and speed comes on a line of its own, so the rate is left to be measured.
    @Test func readsFfmpegProgressBlocks() throws {
        let (events, parser) = try fixtureEvents("ffmpeg-progress-pipe.raw")
        let first = try #require(events.first)
        #expect(first.key == "ffmpeg" && first.unit == "s" && first.rate == nil)
        #expect(abs(first.current - 0.52) < 1e-9)
        #expect(events.last.flatMap(\.percent).map { $0 > 99.9 } == true)  // 83.41 s of 83.45
        #expect(events.count > 100)
        #expect(parser.latest.count == 1, "bars: \(parser.latest.keys.sorted())")
    }

    /// Go's log/slog text handler and logfmt loggers in general: a count word with a fraction, or a counter and its
    /// total; quoted values with spaces and RFC 3339 `time=` stamps are not progress.
    @Test func readsCountersInLogfmtLines() {
        let events = progressEvents(
            in: """
                time=2026-12-03T08:50:01.123Z level=INFO msg="loading shards" dir=/data/shards
                time=2026-12-03T08:50:02.207Z level=INFO msg="processed chunk" processed=150 total=1200 eta=1m12s
                time=2026-12-03T08:50:03.311Z level=INFO msg=train epoch=3/10 loss=0.3121
                time=2026-12-03T08:50:04.020Z level=INFO msg=upload progress=45%
                time=2026-12-03T08:50:05.020Z level=INFO msg=verify done=7 total=10

                """)
        #expect(
            events == [
                ProgressEvent(key: "processed", current: 150, total: 1200, etaSeconds: 72, label: "processed"),
                ProgressEvent(key: "epoch", current: 3, total: 10, label: "epoch"),
                ProgressEvent(key: "progress", current: 45, total: 100, unit: "%"),
                ProgressEvent(key: "done", current: 7, total: 10, label: "done"),
            ])
    }
}
