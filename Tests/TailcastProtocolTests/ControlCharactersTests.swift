import Testing

@testable import TailcastProtocol

@Suite struct ControlCharactersTests {
    @Test func plainTextIsUnchanged() {
        for text in ["", "python3 train.py --lr 0.1", "/var/log/app/ünïcode ✓.log", "C:\\windows\\x", "tab\\tliteral"] {
            #expect(text.escapingControlCharacters == text)
        }
    }

    @Test func terminalSequencesBecomeVisibleText() {
        // Clear screen, an OSC 52 clipboard write (ended by BEL, then by ST), a title change.
        #expect("a\u{1B}[2Jb".escapingControlCharacters == "a\\x1b[2Jb")
        #expect("\u{1B}]52;c;ZXZpbA==\u{07}".escapingControlCharacters == "\\x1b]52;c;ZXZpbA==\\x07")
        #expect("\u{1B}]52;c;ZXZpbA==\u{1B}\\".escapingControlCharacters == "\\x1b]52;c;ZXZpbA==\\x1b\\")
        #expect("\u{1B}]0;owned\u{07}".escapingControlCharacters == "\\x1b]0;owned\\x07")
    }

    @Test func lineBreaksCannotForgeALine() {
        #expect("host\n2026-01-01 info forged".escapingControlCharacters == "host\\n2026-01-01 info forged")
        #expect("a\r\nb\tc".escapingControlCharacters == "a\\r\\nb\\tc")
    }

    @Test func everyC0DelAndC1ControlIsEscaped() {
        for value in UInt32(0)..<0x20 {
            let escaped = String(Unicode.Scalar(value)!).escapingControlCharacters
            #expect(escaped.hasPrefix("\\") && !escaped.unicodeScalars.contains { $0.value < 0x20 })
        }
        #expect("\u{7F}".escapingControlCharacters == "\\x7f")
        #expect("\u{00}".escapingControlCharacters == "\\x00")
        // C1: CSI (U+009B) is ESC [ on terminals that take 8-bit controls; U+0080 and U+009F are the ends.
        #expect("\u{9B}2J".escapingControlCharacters == "\\u009b2J")
        #expect("\u{80}\u{9F}".escapingControlCharacters == "\\u0080\\u009f")
        // Just past the ranges: printable.
        #expect("\u{A0}~ ".escapingControlCharacters == "\u{A0}~ ")
    }

    @Test func substringsToo() {
        let line = "x\u{1B}y z"
        #expect(line.split(separator: " ")[0].escapingControlCharacters == "x\\x1by")
    }
}
