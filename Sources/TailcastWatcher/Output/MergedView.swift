import TailcastProtocol

/// What `watch` prints of a job's streams, decided without I/O: the streams' bytes merged in the order they
/// come, each tailed file under a `==> PATH <==` header (as `tail -F a b` prints it), timestamps if asked,
/// and never half a line. Once a second stream shows up, a stream's unfinished last line is held until its
/// newline comes, so neither another stream's output nor a header lands inside it (a replay cuts pieces
/// at time marks, a live agent at read boundaries, neither at line ends). A line still unfinished after a quiet spell is printed as it
/// is; when another stream's output comes before its rest, the shown part ends with ` […]`, the other output starts on a
/// line of its own, and the rest starts with `[…] ` under the stream's header: a cut line is visibly cut.
struct MergedView {
    struct Write: Equatable {
        var fd: Int32
        var bytes: [UInt8]
    }

    private struct Stream {
        /// The last byte given was a newline (for timestamps).
        var atLineStart = true
        /// The last byte printed was a newline (for headers).
        var printedAtLineStart = true
        /// Its unfinished line was ended with the cut mark: the rest starts with the mark again.
        var cut = false
        /// The unfinished last line, held.
        var held: [UInt8] = []
        /// When the held line began, on this clock and on the job's (when its first byte was read).
        var heldSince: ContinuousClock.Instant?
        var heldTimeMs: UInt64 = 0
    }

    /// A held line is printed anyway once it is this old, and either the job's own clock has moved on by
    /// as much (its writer went quiet while others wrote) or nothing came at all for as long (the job is
    /// quiet). A replay, which delivers hours in seconds, never waits on the wall clock alone.
    static let quietLineWait: Duration = .seconds(1)
    static let quietLineWaitMs: UInt64 = 1000
    /// A line longer than this is printed in pieces: holding is for lines, not for a stream without newlines.
    static let maxHeldBytes = 64 << 10
    /// Where another stream's output cuts a line shown unfinished: at the end of its shown part, and before its rest.
    static let cutMarkAtEnd = Array(" […]\n".utf8)
    static let cutMarkAtStart = Array("[…] ".utf8)

    /// Headers between tailed files.
    let headers: Bool
    /// Hold unfinished lines (every view but `--raw`, whose bytes go out as they come).
    let holdLines: Bool
    private var streams: [String: Stream] = [:]
    /// The tailed file whose lines were printed last.
    private var lastFile: String?
    /// The stream whose bytes were printed last.
    private var lastPrinted: String?
    /// The latest time (job clock) of any bytes given, and when bytes last came (wall clock).
    private var latestTimeMs: UInt64 = 0
    private var lastArrival: ContinuousClock.Instant?

    init(headers: Bool, holdLines: Bool) {
        self.headers = headers
        self.holdLines = holdLines
    }

    /// Bytes of stream `name` read at `timeMs` (job clock); `timestamp` is put before each line they start.
    mutating func add(
        _ bytes: some Collection<UInt8>, of name: String, timeMs: UInt64, timestamp: [UInt8]? = nil, now: ContinuousClock.Instant
    ) -> [Write] {
        self.latestTimeMs = max(self.latestTimeMs, timeMs)
        self.lastArrival = now
        var stream = self.streams[name, default: Stream()]
        var text: [UInt8]
        if let timestamp {
            text = []
            text.reserveCapacity(bytes.count)
            for byte in bytes {
                if stream.atLineStart { text += timestamp }
                text.append(byte)
                stream.atLineStart = byte == 0x0A
            }
        } else {
            text = Array(bytes)
            if let last = text.last { stream.atLineStart = last == 0x0A }
        }
        // With one stream so far nothing can land inside its lines: a progress line redrawn with `\r` shows as it comes.
        guard self.holdLines, self.streams.count > 1 || (self.streams.count == 1 && self.streams[name] == nil) else {
            self.streams[name] = stream
            return self.print(text, of: name)
        }
        if stream.held.isEmpty {
            stream.heldSince = now
            stream.heldTimeMs = timeMs
        }
        stream.held += text
        var ready: [UInt8] = []
        if let lastNewline = stream.held.lastIndex(of: 0x0A) {
            ready = Array(stream.held[...lastNewline])
            stream.held.removeSubrange(...lastNewline)
            stream.heldSince = now
            stream.heldTimeMs = timeMs
        }
        if stream.held.count > Self.maxHeldBytes {
            ready += stream.held
            stream.held = []
        }
        self.streams[name] = stream
        return self.print(ready, of: name)
    }

    /// Held lines that waited long enough (see `quietLineWait`), oldest first.
    mutating func releaseQuietLines(now: ContinuousClock.Instant) -> [Write] {
        let quiet = self.lastArrival.map { now - $0 >= Self.quietLineWait } ?? true
        let due = self.streams.filter { _, stream in
            guard let since = stream.heldSince, !stream.held.isEmpty, now - since >= Self.quietLineWait else { return false }
            return quiet || self.latestTimeMs >= stream.heldTimeMs + Self.quietLineWaitMs
        }
        return due.sorted { $0.value.heldTimeMs < $1.value.heldTimeMs }.flatMap { self.release($0.key) }
    }

    /// Every held line: the watch is over.
    mutating func finish() -> [Write] {
        self.streams.filter { !$0.value.held.isEmpty }.sorted { $0.value.heldTimeMs < $1.value.heldTimeMs }.flatMap { self.release($0.key) }
    }

    private mutating func release(_ name: String) -> [Write] {
        let held = self.streams[name]?.held ?? []
        self.streams[name]?.held = []
        self.streams[name]?.heldSince = nil
        return self.print(held, of: name)
    }

    /// Bytes of `name` as printed: under a header when the output switches to another tailed file.
    private mutating func print(_ bytes: [UInt8], of name: String) -> [Write] {
        guard !bytes.isEmpty else { return [] }
        var writes: [Write] = []
        if self.holdLines, let last = self.lastPrinted, last != name, self.streams[last]?.printedAtLineStart == false {
            writes.append(Write(fd: last == "stderr" ? 2 : 1, bytes: Self.cutMarkAtEnd))
            self.streams[last]?.printedAtLineStart = true
            self.streams[last]?.cut = true
        }
        if self.headers, name != "stdout", name != "stderr", self.lastFile != name {
            // A file's unfinished line ends here, and a blank line separates files, as with tail.
            var header: [UInt8] = []
            if let last = self.lastFile { header = Array((self.streams[last]?.printedAtLineStart ?? true ? "\n" : "\n\n").utf8) }
            header += Array("==> \(name.escapingControlCharacters) <==\n".utf8)
            writes.append(Write(fd: 1, bytes: header))
            self.lastFile = name
        }
        if self.streams[name]?.cut == true {
            self.streams[name]?.cut = false
            writes.append(Write(fd: name == "stderr" ? 2 : 1, bytes: Self.cutMarkAtStart))
        }
        writes.append(Write(fd: name == "stderr" ? 2 : 1, bytes: bytes))
        self.streams[name, default: Stream()].printedAtLineStart = bytes.last == 0x0A
        self.lastPrinted = name
        return writes
    }
}
