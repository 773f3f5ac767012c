#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import TailcastProtocol

/// A terminal: the log scrolls, and one line per active progress bar stays pinned below it, redrawn in
/// place. Each update is one write (erase the bars, print, redraw), so nothing flickers. While the job's own bar
/// is being redrawn on an unfinished line, the pinned bars go below that line and the line is printed again.
final class TerminalOutput: WatchOutput, @unchecked Sendable {
    static let maxBars = 6
    static let redrawInterval: Duration = .milliseconds(100)

    struct State {
        var bars: [ProgressState] = []
        /// Bar lines drawn below the cursor (the cursor sits at the start of the first, or at the end of the open
        /// line above them).
        var drawn = 0
        /// The line the output left unfinished: bars never split it.
        var openLine = OpenLine()
        var atLineStart: Bool { openLine.atLineStart }
        var dirty = false
        var lastDraw = ContinuousClock.now - .seconds(1)
    }

    private let state = Mutex(State())
    /// Bars drawn dim, apart from the log (`--color`).
    private let dim: Bool

    init(dim: Bool) {
        self.dim = dim
    }

    func write(_ bytes: [UInt8], to fd: Int32) {
        guard !bytes.isEmpty else { return }
        self.state.withLock { state in
            var out = Self.erase(&state)
            if fd == 1 {
                out += bytes
            } else {
                writeFully(1, out)
                out = []
                writeFully(fd, bytes)
            }
            state.openLine.append(bytes)
            out += self.draw(&state)
            writeFully(1, out)
        }
    }

    func progress(_ bars: [ProgressState]) {
        self.state.withLock { state in
            state.bars = bars
            state.dirty = true
            self.redrawIfDue(&state)
        }
    }

    func tick() {
        self.state.withLock { self.redrawIfDue(&$0) }
    }

    func finish() {
        self.state.withLock { state in
            var out = Self.erase(&state)
            if !state.atLineStart { out += Array("\n".utf8) }
            let width = Self.width()
            for bar in state.bars.prefix(16) {
                out += Array((ProgressFormat.line(bar, width: width) + "\n").utf8)
            }
            state.bars = []
            writeFully(1, out)
        }
    }

    private func redrawIfDue(_ state: inout State) {
        guard state.dirty, ContinuousClock.now >= state.lastDraw + Self.redrawInterval else { return }
        writeFully(1, Self.erase(&state) + self.draw(&state))
    }

    /// Clears the pinned bars: the cursor is at their first line.
    private static func erase(_ state: inout State) -> [UInt8] {
        guard state.drawn > 0 else { return [] }
        state.drawn = 0
        return Array("\u{1B}[J".utf8)
    }

    /// Draws the active bars below the cursor, then moves the cursor back up to the first of them; below an open
    /// line, draws them on the rows after it and prints the line again, which puts the cursor back at its end.
    private func draw(_ state: inout State) -> [UInt8] {
        state.dirty = false
        state.lastDraw = .now
        let active = state.bars.filter { !$0.done }.prefix(Self.maxBars)
        guard !active.isEmpty else { return [] }
        let width = Self.width()
        let lines = active.map { bar in
            let line = ProgressFormat.line(bar, width: width)
            return Array(((self.dim ? "\u{1B}[2m" + line + "\u{1B}[0m" : line) + "\u{1B}[K").utf8)
        }
        var out: [UInt8] = []
        if state.atLineStart {
            for line in lines { out += line + [0x0A] }
            out += Array("\u{1B}[\(active.count)A".utf8)
        } else {
            guard let openLine = state.openLine.redraw(width: width) else { return [] }
            for line in lines { out += [0x0A] + line }
            out += Array("\u{1B}[\(active.count)A".utf8) + openLine
        }
        state.drawn = active.count
        return out
    }

    private static func width() -> Int {
        TerminalWidth.of(1) ?? 80
    }
}
