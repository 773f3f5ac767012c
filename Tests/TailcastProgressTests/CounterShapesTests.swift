import Testing

@testable import TailcastProgress

/// Counters with a known total, by programs not in the corpus.
@Suite struct CounterShapesTests {
    /// ninja 1.11 (`ninja -j2` under `script`, a build.ninja written like CMake's): the status line
    /// `\r[37/120] Building C object …\e[K` redrawn as edges start and finish, a compiler warning in between.
    @Test func readsNinjasStatusLine() throws {
        let (events, parser) = try fixtureEvents("ninja-build-tty.raw")
        #expect(events.map(\.current) == (0...120).map(Double.init))
        #expect(events.allSatisfy { $0.key == "progress" && $0.total == 120 })
        #expect(parser.latest.count == 1, "bars: \(parser.latest.keys.sorted())")
    }

    @Test(arguments: [
        ("[ 37/120] Compiling src/io/pool.c", "progress", 37.0, 120.0),
        ("Processing 150 of 1200", "Processing", 150, 1200),
        ("Processing 1,150 of 1,200: IMG_1150.jpg", "Processing", 1150, 1200),
        ("Downloading file 3 of 10: data.tar", "file", 3, 10),
        ("page 2 of 7", "page", 2, 7),
        ("150 of 1200 files copied", "files", 150, 1200),
        ("4 of 10 done", "progress", 4, 10),
    ])
    func readsCountersWithAKnownTotal(_ line: String, _ key: String, _ current: Double, _ total: Double) {
        let label = key == "progress" ? nil : key
        let event = ProgressEvent(key: key, current: current, total: total, label: label)
        #expect(progressEvents(in: line + "\n") == [event])
    }

    @Test(arguments: [
        ("Downloaded 4 MB of 10 MB", 4e6, 10e6),
        ("uploaded 1.5GiB of 4GiB", 1.5 * 1_073_741_824, 4 * 1_073_741_824),
    ] as [(String, Double, Double)])
    func readsSizesWithAKnownTotal(_ line: String, _ current: Double, _ total: Double) {
        let key = String(line.prefix { $0 != " " })
        let event = ProgressEvent(key: key, current: current, total: total, unit: "B", label: key)
        #expect(progressEvents(in: line + "\n") == [event])
    }

    @Test(arguments: [
        "3 of 4 users logged in", "one of 2 replicas is down", "Processing 12 of them", "chapter 3 of the book",
    ])
    func leavesOfPhrasesWithoutACountAlone(_ line: String) {
        #expect(progressEvents(in: line + "\n").isEmpty)
    }

    /// yt-dlp downloading a 10-item playlist on a terminal: `[download] Downloading item 3 of 10` between each file's
    /// own percentage, redrawn after `\r`.
    @Test func readsAPlaylistsItemCounter() throws {
        let (events, parser) = try fixtureEvents("yt-dlp-playlist-tty.raw")
        #expect(events.map(\.current) == (1...10).map(Double.init))
        #expect(Set(events.map(\.key)) == ["item"])
        #expect(parser.latest.count == 1, "bars: \(parser.latest.keys.sorted())")
    }
}

@Suite struct PercentStreamParserTests {
    /// pv 1.6.20 in a backup script, `pv -n -i 0.2 -L 8M FILE | gzip`, stdout and stderr into one pipe: a whole
    /// percentage per line, the script's lines around them, and a bare count before.
    @Test func readsPvsNumericOutput() throws {
        let (events, parser) = try fixtureEvents("pv-numeric-pipe.raw")
        // The count before pv and pv's first number stand alone: progress starts with the second of a run.
        #expect(events.map(\.current) == [16, 25, 33, 41, 50, 58, 67, 75, 83, 92, 100])
        #expect(events.allSatisfy { $0.key == "percent" && $0.unit == "%" && $0.total == 100 })
        #expect(parser.latest.count == 1)
    }

    @Test func aLoneNumberOrAFallingOneIsNotProgress() {
        #expect(progressEvents(in: "42\nsome text\n").isEmpty)
        #expect(progressEvents(in: "90\n10\n").isEmpty)
        #expect(progressEvents(in: "10\n250\n300\n").isEmpty)
    }
}
