/// Recognises the progress that programs print (tqdm, rich and pip, Keras, wget, curl, rsync, pv, dd, git, ffmpeg,
/// apt, xz, aws-cli, `key=value` lines, bare percentages, plain `N/M`, `N of M` and `NN%` lines) in the raw bytes a job writes to a
/// terminal or a pipe, fed in chunks of any size.
///
/// Events come from finished lines: a bar that is redrawn with a leading carriage return is reported when its next
/// redraw starts. `flushPartialLine()` reports the line being drawn, for a bar that has gone quiet.
public struct ProgressParser: Sendable {
    /// Bars kept in `latest`; the least recently updated is dropped beyond this.
    public static let maxTrackedBars = 64

    private struct Tracked: Sendable {
        var event: ProgressEvent
        var sequence: Int
    }

    private var splitter = TerminalLineSplitter()
    private var recognizer = LineRecognizer()
    private var tracked: [String: Tracked] = [:]
    private var sequence = 0

    public init() {}

    /// The latest state of each bar, by key.
    public var latest: [String: ProgressEvent] { tracked.mapValues(\.event) }

    /// The state of the bar updated last.
    public var mostRecent: ProgressEvent? { tracked.values.max { $0.sequence < $1.sequence }?.event }

    /// The progress found in the lines these bytes complete; a state equal to its bar's latest is not repeated.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [ProgressEvent] {
        var events: [ProgressEvent] = []
        var index = 0
        while let line = splitter.nextLine(in: bytes, from: &index) {
            record(line, into: &events)
        }
        return events
    }

    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [ProgressEvent] {
        if let events = bytes.withContiguousStorageIfAvailable({ feed(UnsafeRawBufferPointer($0)) }) {
            return events
        }
        return Array(bytes).withUnsafeBytes { feed($0) }
    }

    /// Ends the output: reports its unterminated last line.
    public mutating func finish() -> [ProgressEvent] {
        var events: [ProgressEvent] = []
        if let line = splitter.finish() { record(line, into: &events) }
        return events
    }

    /// Reports the line being written as if it had ended, without ending it: call it when the output has been quiet
    /// for a while, since bars redraw by starting a new line and so finish a line only when they next change.
    public mutating func flushPartialLine() -> [ProgressEvent] {
        var events: [ProgressEvent] = []
        if let line = splitter.pendingLine() { record(line, into: &events) }
        return events
    }

    private mutating func record(_ line: TerminalLine, into events: inout [ProgressEvent]) {
        for reading in recognizer.readings(in: ScannedLine(line.bytes)) {
            let event = ProgressEvent(
                key: Self.key(for: reading, depth: line.depth), current: reading.current, total: reading.total,
                unit: reading.unit, rate: reading.rate, etaSeconds: reading.etaSeconds, label: reading.label)
            let known = tracked.index(forKey: event.key)  // hashed once for a bar seen before, the usual case
            if let known, tracked.values[known].event == event { continue }
            sequence += 1
            let state = Tracked(event: event, sequence: sequence)
            if let known { tracked.values[known] = state } else { tracked[event.key] = state }
            if tracked.count > Self.maxTrackedBars,
                let oldest = tracked.min(by: { $0.value.sequence < $1.value.sequence })?.key
            {
                tracked[oldest] = nil
            }
            events.append(event)
        }
    }

    private static func key(for reading: ProgressReading, depth: Int) -> String {
        if reading.family.keysByLabel, let label = reading.label { return label }
        return depth > 0 ? "\(reading.family.rawValue)#\(depth)" : reading.family.rawValue
    }
}
