import Testing

@testable import TailcastServer

@Suite struct LineIndexTests {
    @Test func aLineBreakIsLookedForInTheBlockThatHoldsIt() {
        var index = LineIndex()
        #expect(index.search(break: 1) == (0, 0))
        index.append(blockBreaks: 10)
        index.append(blockBreaks: 0)
        index.append(blockBreaks: 5)
        let block = LineIndex.blockBytes
        #expect(index.indexedBytes == 3 * block && index.breaks == 15)
        #expect(index.search(break: 10) == (0, 0))
        // A block with no break is passed over: the 11th is in the third block.
        #expect(index.search(break: 11) == (2 * block, 10))
        #expect(index.search(break: 15) == (2 * block, 10))
        // Past what is indexed: counted on from its end.
        #expect(index.search(break: 16) == (3 * block, 15))
    }

    @Test func breaksAreCounted() {
        let bytes: [UInt8] = Array("a\nb\n\nc".utf8)
        #expect(bytes.withUnsafeBytes(LineIndex.breaks(in:)) == 3)
    }
}
