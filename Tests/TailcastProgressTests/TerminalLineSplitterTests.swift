import Testing

@testable import TailcastProgress

@Suite struct TerminalLineSplitterTests {
    @Test func dropsEscapeSequencesWhereverTheChunksSplitThem() {
        let output = Array("\u{1B}[32m45%\u{1B}[0m \u{1B}]0;title\u{7}done\u{1B}(B\u{1B}[?25l\n".utf8)
        for split in 0...output.count {
            let lines = splitLines([Array(output[..<split]), Array(output[split...])])
            #expect(lines.map { String(decoding: $0.bytes, as: UTF8.self) } == ["45% done"], "split at \(split)")
        }
    }

    @Test func keepsMultiByteCharactersWhereverTheChunksSplitThem() {
        let output = Array("\rtrain:  50%|█████▌    | 5/10 [00:01<00:01, 5.00it/s]\r".utf8)
        for split in 0...output.count {
            let lines = splitLines([Array(output[..<split]), Array(output[split...])])
            #expect(lines.map(\.bytes) == [Array(output.dropFirst().dropLast())], "split at \(split)")
        }
    }

    @Test func endsControlStringsAtStringTerminatorToo() {
        #expect(splitLines("\u{1B}]8;;https://x.org/1/2\u{1B}\\step 4/5\u{1B}]8;;\u{1B}\\\n") == ["step 4/5"])
    }

    @Test func handsOutOnlyLinesThatMayHoldProgress() {
        #expect(splitLines("plain log line\npaths /usr/lib/x86_64\n12 of 40 done 30%\n") == ["12 of 40 done 30%"])
    }

    @Test func takesEveryRedrawnLineButNotCarriageReturnLineFeedEndings() {
        // curl's meter has neither % nor /: that it is redrawn is what marks it.
        #expect(splitLines("no marker\r\nnext\r\n") == [])
        #expect(splitLines("no marker\r", "\n") == [])
        #expect(splitLines("\r  0     0    0\r", " 14 48.0M   14\n") == ["  0     0    0", " 14 48.0M   14"])
    }

    @Test func findsMarksAndControlBytesAtEveryPlaceOfAnEightByteWord() {
        for place in 0..<20 {
            let before = String(repeating: "a", count: place)
            let after = String(repeating: "b", count: 19 - place)
            #expect(splitLines(before + "7%" + after + "\n") == [before + "7%" + after], "% at \(place)")
            #expect(splitLines(before + "3/4" + after + "\n") == [before + "3/4" + after], "/ at \(place)")
            // A bell draws nothing and ends the run of printable bytes wherever it is.
            #expect(splitLines(before + "\u{7}" + after + " 5%\n") == [before + after + " 5%"], "bell at \(place)")
            #expect(splitLines(before + "\u{7F}" + after + " 5%\n") == [before + after + " 5%"], "delete at \(place)")
            #expect(splitLines(before + after + "\n") == [], "no mark, \(place)")
            // A redraw: both lines are handed out, the one redrawn over and the one drawn after it.
            let redrawn = "a" + before, drawn = after + "b"
            #expect(splitLines(redrawn + "\r" + drawn + "\n") == [redrawn, drawn], "redraw at \(place)")
        }
    }

    @Test func findsCountsWithoutMarksAtEveryPlaceOfAnEightByteWord() {
        for place in 0..<20 {
            let before = String(repeating: "x", count: place) + " "
            #expect(splitLines(before + "12 of 40 done\n") == [before + "12 of 40 done"], "of at \(place)")
            #expect(splitLines(before + "4 MB of 10 MB\n") == [before + "4 MB of 10 MB"], "MB of at \(place)")
            #expect(splitLines(before + "total=1200\n") == [before + "total=1200"], "total= at \(place)")
            #expect(splitLines(before + "one of us\n") == [], "no count, \(place)")
            #expect(splitLines(before + "12 of x\n") == [], "no count after of, \(place)")
            #expect(splitLines(before + "sub=1200\n") == [], "not total=, \(place)")
        }
        #expect(splitLines("of 12\n") == [])
        #expect(splitLines("7 of 9\n") == ["7 of 9"])
    }

    @Test func backspaceErasesWholeCharacters() {
        #expect(splitLines("50% ██\u{8}\n") == ["50% █"])
    }

    @Test func capsLongLines() {
        let lines = splitLines("50% " + String(repeating: "x", count: 10_000) + "\n")
        #expect(lines.map(\.count) == [TerminalLineSplitter.lineCapacity])
    }

    @Test func tellsRowsOfAMultiRowDisplayApart() {
        let lines = splitLines([
            Array("\router 0/3\n\rinner 1/9\u{1B}[A\n\rinner 2/9\u{1B}[A\router 1/3\n".utf8)
        ])
        #expect(lines.map(\.depth) == [0, 1, 1, 0])
    }

    @Test func pendingLineIsTheLineBeingDrawn() {
        var splitter = TerminalLineSplitter()
        Array("\rstep 4/9\rstep 5/9".utf8).withUnsafeBytes { bytes in
            var index = 0
            while splitter.nextLine(in: bytes, from: &index) != nil {}
        }
        #expect(splitter.pendingLine().map { String(decoding: $0.bytes, as: UTF8.self) } == "step 5/9")
    }
}
