import Foundation
import Testing

@testable import TailcastProgress

/// Real captures, byte for byte (`<repo>/../shared/corpus/progress/<name>/output.raw`): fed in small random chunks,
/// each must end in the state its `meta.json` says the run reached.
@Suite struct CorpusTests {
    struct Meta: Decodable {
        struct Expected: Decodable {
            var finalCurrent: Double
            var finalTotal: Double?
            var unit: String?
            var finalPercent: Double?
            /// git: the phase the top-level numbers belong to.
            var phase: String?
            /// Several bars in one run; the first is the top-level one.
            var bars: [Bar]?
        }

        struct Bar: Decodable {
            var desc: String
            var finalCurrent: Double
            var finalTotal: Double?
            var finalPercent: Double?
            var leave: Bool?
        }

        var expected: Expected
    }

    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("../shared/corpus/progress").standardizedFileURL

    static let samples = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()

    /// Displays with a percentage and no counts (curl `-#`, rich's default columns): only the percentage is there to
    /// recover, reported as current = percent, total = 100, unit "%".
    static let percentOnlyDisplays: Set<String> = [
        "curl-bar-pipe", "curl-bar-tty", "rich-track-pipe", "rich-track-tty", "rich-multi-task-pipe",
        "rich-multi-task-tty",
    ]

    /// How far a display's rounding lets the final count be off; exact (to the byte or item) when not listed.
    static let displayPrecision: [String: Double] = [
        "pip-download-pipe": 50_000, "pip-download-tty": 50_000,  // `16.9/16.9 MB`
    ]

    /// 34 captures: 17 programs and modes, each through a pipe and a pseudo-terminal.
    @Test func corpusIsThere() {
        #expect(Self.samples.count >= 34, "corpus missing or incomplete at \(Self.directory.path)")
    }

    @Test(arguments: CorpusTests.samples)
    func endsInTheStateTheRunReached(_ sample: String) throws {
        let folder = Self.directory.appendingPathComponent(sample)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let expected = try decoder.decode(Meta.self, from: Data(contentsOf: folder.appendingPathComponent("meta.json")))
            .expected
        let output = try [UInt8](Data(contentsOf: folder.appendingPathComponent("output.raw")))

        var generator = SeededGenerator(state: UInt64(output.count))
        let (events, parser) = progressEvents(in: output, chunkedBy: &generator)
        var whole = ProgressParser()
        let unchunkedEvents = whole.feed(output) + whole.finish()
        #expect(unchunkedEvents == events, "chunk boundaries changed the events")

        let state: ProgressEvent? =
            if let bars = expected.bars {
                parser.latest[bars[0].desc]
            } else if let phase = expected.phase {
                parser.latest[phase]
            } else {
                parser.mostRecent
            }
        let finalState = try #require(state)
        if Self.percentOnlyDisplays.contains(sample) {
            #expect(finalState.unit == "%")
            #expect(finalState.percent == expected.finalPercent)
        } else {
            let precision = Self.displayPrecision[sample] ?? 0.5
            #expect(isClose(finalState.current, expected.finalCurrent, within: precision))
            #expect(isClose(finalState.total, expected.finalTotal, within: precision))
            #expect(finalState.unit == expected.unit)
            #expect(isClose(finalState.percent, expected.finalPercent, within: 0.5))
        }

        for bar in expected.bars ?? [] {
            let barState = try #require(parser.latest[bar.desc], "no bar \(bar.desc)")
            if Self.percentOnlyDisplays.contains(sample) {
                #expect(barState.percent == bar.finalPercent)
            } else if bar.leave == false {
                // tqdm erases a leave=False bar when it closes, before drawing its last count: the display's last
                // word on it is 98/100, which is all there is to report.
                #expect(barState.total == bar.finalTotal)
                #expect(barState.current < bar.finalCurrent && barState.current >= bar.finalCurrent * 0.9)
            } else {
                #expect(isClose(barState.current, bar.finalCurrent, within: 0.5))
                #expect(isClose(barState.total, bar.finalTotal, within: 0.5))
            }
        }

        // Nothing else in the output was taken for progress.
        if let bars = expected.bars {
            #expect(Set(parser.latest.keys) == Set(bars.map(\.desc)))
        } else if expected.phase == nil {
            #expect(parser.latest.count == 1, "bars: \(parser.latest.keys.sorted())")
        }
    }

    private func isClose(_ actual: Double?, _ expected: Double?, within precision: Double) -> Bool {
        switch (actual, expected) {
        case (nil, nil): true
        case let (actual?, expected?): abs(actual - expected) <= precision
        default: false
        }
    }
}
