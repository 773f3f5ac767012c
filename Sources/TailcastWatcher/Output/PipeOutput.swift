import Foundation
import Synchronization
import TailcastProtocol

/// A pipe or file: a line redrawn with carriage returns is printed once, in its last state, instead of
/// hundreds of copies; lines without a lone `\r` pass unchanged, except that a job run under a
/// pseudo-terminal has its `\r\n` (the terminal's line ending) printed as `\n`, so `grep 'x$'` and
/// other line tools work. Progress goes to stderr as a plain line at most every few seconds, and once
/// more, final, at the end.
final class PipeOutput: WatchOutput, @unchecked Sendable {
    static let progressInterval: Duration = .seconds(5)
    /// A partial line is printed anyway after this long, or when it grows this big.
    static let partialLineWait: Duration = .seconds(1)
    static let partialLineLimit = 64 << 10

    struct State {
        var pending: [Int32: [UInt8]] = [:]
        var pendingSince: [Int32: ContinuousClock.Instant] = [:]
        var bars: [ProgressState] = []
        var progressChanged = false
        var lastProgress = ContinuousClock.now
        /// The job ran under a pseudo-terminal: its lines end in `\r\n`.
        var terminalLines = false
    }

    private let state = Mutex(State())

    func write(_ bytes: [UInt8], to fd: Int32) {
        self.state.withLock { state in
            var pending = state.pending[fd, default: []]
            if pending.isEmpty { state.pendingSince[fd] = .now }
            pending += bytes
            if let lastNewline = pending.lastIndex(of: 0x0A) {
                writeFully(fd, Self.collapse(state.terminalLines, pending[...lastNewline]))
                pending.removeSubrange(...lastNewline)
                state.pendingSince[fd] = .now
            }
            if pending.count > Self.partialLineLimit {
                writeFully(fd, Self.collapse(state.terminalLines, pending[...]))
                pending = []
            }
            state.pending[fd] = pending
        }
    }

    func started(_ job: JobInfo) {
        self.state.withLock { $0.terminalLines = job.meta.pty == true }
    }

    func progress(_ bars: [ProgressState]) {
        self.state.withLock { state in
            state.bars = bars
            state.progressChanged = true
        }
    }

    func tick() {
        self.state.withLock { state in
            for (fd, since) in state.pendingSince where !(state.pending[fd]?.isEmpty ?? true) && ContinuousClock.now >= since + Self.partialLineWait {
                writeFully(fd, Self.collapse(state.terminalLines, state.pending[fd]![...]))
                state.pending[fd] = []
            }
            guard state.progressChanged, ContinuousClock.now >= state.lastProgress + Self.progressInterval else { return }
            state.progressChanged = false
            state.lastProgress = .now
            let active = state.bars.filter { !$0.done }
            guard !active.isEmpty else { return }
            writeFully(2, Array(active.map { "tailcast: " + ProgressFormat.plain($0) + "\n" }.joined().utf8))
        }
    }

    func finish() {
        self.state.withLock { state in
            for (fd, pending) in state.pending where !pending.isEmpty { writeFully(fd, Self.collapse(state.terminalLines, pending[...])) }
            state.pending = [:]
            guard !state.bars.isEmpty else { return }
            writeFully(2, Array(state.bars.map { "tailcast: " + ProgressFormat.plain($0) + "\n" }.joined().utf8))
            state.bars = []
        }
    }

    /// Each line as a terminal would leave it: text after a carriage return overwrites from the line's
    /// start. Only lines with a `\r` that is not part of `\r\n` change; escape sequences in those are
    /// dropped, since their positions no longer mean anything.
    ///
    /// On the buffer with memchr rather than through the slice's generic searches: those made it a third
    /// of `watch`'s CPU at full speed (perf, 200 MiB of logs with some `\r\n` lines into a pipe).
    static func collapse(_ terminalLines: Bool, _ text: ArraySlice<UInt8>) -> [UInt8] {
        text.withUnsafeBufferPointer { text in
            guard let base = text.baseAddress, memchr(base, 0x0D, text.count) != nil else { return Array(text) }
            func find(_ byte: UInt8, from: Int, to: Int) -> Int? {
                memchr(base + from, Int32(byte), to - from).map { UnsafeRawPointer($0) - UnsafeRawPointer(base) }
            }
            func bytes(_ range: Range<Int>) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: text[range]) }
            var out: [UInt8] = []
            out.reserveCapacity(text.count)
            var lineStart = 0
            while lineStart < text.count {
                let newline = find(0x0A, from: lineStart, to: text.count)
                let lineEnd = newline.map { $0 + 1 } ?? text.count
                var bodyEnd = newline ?? text.count
                var endingStart = bodyEnd
                if newline != nil, bodyEnd > lineStart, text[bodyEnd - 1] == 0x0D {
                    bodyEnd -= 1
                    if !terminalLines { endingStart = bodyEnd }
                }
                if find(0x0D, from: lineStart, to: bodyEnd) != nil {
                    out += self.overwrite(self.stripEscapes(bytes(lineStart..<bodyEnd)))
                } else {
                    out.append(contentsOf: bytes(lineStart..<bodyEnd))
                }
                out.append(contentsOf: bytes(endingStart..<lineEnd))
                lineStart = lineEnd
            }
            return out
        }
    }

    private static func overwrite(_ body: [UInt8]) -> [UInt8] {
        var screen: [UInt8] = []
        var column = 0
        for byte in body {
            if byte == 0x0D {
                column = 0
            } else if column < screen.count {
                screen[column] = byte
                column += 1
            } else {
                screen.append(byte)
                column += 1
            }
        }
        while screen.last == 0x20 { screen.removeLast() }
        return screen
    }

    /// Removes CSI sequences (ESC [ ... final byte) and other two-byte escapes.
    private static func stripEscapes(_ body: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        var index = body.startIndex
        while index < body.endIndex {
            let byte = body[index]
            guard byte == 0x1B else {
                out.append(byte)
                index += 1
                continue
            }
            index += 1
            guard index < body.endIndex else { break }
            if body[index] == 0x5B {  // '['
                index += 1
                while index < body.endIndex, !(0x40...0x7E).contains(body[index]) { index += 1 }
            }
            index += 1
        }
        return out
    }
}
