import Testing

@testable import TailcastWatcher

@Suite struct PipeOutputCollapseTests {
    static func collapse(_ text: String, terminalLines: Bool = false) -> String {
        String(decoding: PipeOutput.collapse(terminalLines, Array(text.utf8)[...]), as: UTF8.self)
    }

    @Test func linesWithoutACarriageReturnPassUnchanged() {
        #expect(Self.collapse("one\ntwo\n\nthree") == "one\ntwo\n\nthree")
        #expect(Self.collapse("") == "")
    }

    @Test func aRedrawnLineIsPrintedInItsLastState() {
        #expect(Self.collapse("10%\r20%\r30%\nnext\n") == "30%\nnext\n")
        // A shorter redraw leaves the end of the longer one, as on a terminal.
        #expect(Self.collapse("abcdef\rxy\n") == "xycdef\n")
        // Padding with spaces to erase is trimmed.
        #expect(Self.collapse("long line\rshort    \n") == "short\n")
        #expect(Self.collapse("12345\r     \rdone\n") == "done\n")
    }

    @Test func crlfStaysUnlessTheJobRanUnderATerminal() {
        #expect(Self.collapse("a\r\nb\r\n") == "a\r\nb\r\n")
        #expect(Self.collapse("a\r\nb\r\n", terminalLines: true) == "a\nb\n")
        #expect(Self.collapse("\r\n", terminalLines: true) == "\n")
        #expect(Self.collapse("\r\n") == "\r\n")
    }

    @Test func aRedrawEndedByCrlfKeepsItsLastState() {
        #expect(Self.collapse("1/3\r2/3\r3/3\r\n") == "3/3\r\n")
        #expect(Self.collapse("1/3\r2/3\r3/3\r\n", terminalLines: true) == "3/3\n")
    }

    @Test func escapesInARedrawnLineAreDropped() {
        #expect(Self.collapse("\u{1B}[32m50%\u{1B}[0m\r\u{1B}[32m100%\u{1B}[0m\n") == "100%\n")
        // Outside redrawn lines colours pass untouched.
        #expect(Self.collapse("\u{1B}[31merror\u{1B}[0m\nx\ry\n") == "\u{1B}[31merror\u{1B}[0m\ny\n")
    }

    @Test func anUnfinishedRedrawIsCollapsedToo() {
        #expect(Self.collapse("done\n10%\r20%") == "done\n20%")
        // A carriage return alone moves the cursor back; nothing is erased.
        #expect(Self.collapse("a\r") == "a")
    }
}
