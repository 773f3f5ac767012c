import Foundation
import Testing

@testable import TailcastProgress

/// Every event `output` yields, fed in one piece and finished.
func progressEvents(in output: String) -> [ProgressEvent] {
    var parser = ProgressParser()
    return parser.feed(Array(output.utf8)) + parser.finish()
}

/// Feeds `bytes` in chunks of 1...`maxChunk` bytes and finishes: the events, and the parser for its `latest`.
func progressEvents(
    in bytes: [UInt8], chunkedBy generator: inout some RandomNumberGenerator, maxChunk: Int = 17
) -> (events: [ProgressEvent], parser: ProgressParser) {
    var parser = ProgressParser()
    var events: [ProgressEvent] = []
    var start = 0
    while start < bytes.count {
        let end = min(start + Int.random(in: 1...maxChunk, using: &generator), bytes.count)
        events += parser.feed(bytes[start..<end])
        start = end
    }
    events += parser.finish()
    return (events, parser)
}

/// Every candidate line the splitter hands out for `chunks`, the unterminated rest included.
func splitLines(_ chunks: [[UInt8]]) -> [TerminalLine] {
    var splitter = TerminalLineSplitter()
    var lines: [TerminalLine] = []
    for chunk in chunks {
        chunk.withUnsafeBytes { bytes in
            var index = 0
            while let line = splitter.nextLine(in: bytes, from: &index) { lines.append(line) }
        }
    }
    if let last = splitter.finish() { lines.append(last) }
    return lines
}

func splitLines(_ chunks: String...) -> [String] {
    splitLines(chunks.map { Array($0.utf8) }).map { String(decoding: $0.bytes, as: UTF8.self) }
}

/// SplitMix64: seeded, so a failing chunking can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}

/// A capture in `Tests/TailcastProgressTests/Fixtures`, byte for byte: output of programs that are not in the corpus,
/// written the way those programs print (see each test for how it was made).
func fixture(_ name: String) throws -> [UInt8] {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)")
    return try [UInt8](Data(contentsOf: path))
}

/// `fixture(name)` fed in random chunks, checked to give the same events as fed whole.
func fixtureEvents(_ name: String) throws -> (events: [ProgressEvent], parser: ProgressParser) {
    let bytes = try fixture(name)
    var generator = SeededGenerator(state: UInt64(bytes.count))
    let chunked = progressEvents(in: bytes, chunkedBy: &generator)
    var whole = ProgressParser()
    #expect(whole.feed(bytes) + whole.finish() == chunked.events, "chunk boundaries changed the events")
    return chunked
}
