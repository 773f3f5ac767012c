import NIOCore
import Testing

@testable import TailcastServer

@Suite struct MemberIndexTests {
    typealias Entry = MemberIndex.Entry
    let index = MemberIndex(entries: [Entry(stream: 0, file: 0), Entry(stream: 100, file: 40), Entry(stream: 250, file: 90)])

    @Test func findsTheMemberOfEveryOffset() {
        #expect(self.index.member(containing: 0) == 0)
        #expect(self.index.member(containing: 99) == 0)
        #expect(self.index.member(containing: 100) == 1)
        #expect(self.index.member(containing: 249) == 1)
        #expect(self.index.member(containing: 250) == nil)
        #expect(self.index.member(1) == (stream: 100..<250, file: 40..<90))
        #expect(self.index.size == 250 && self.index.storedBytes == 90 && self.index.memberCount == 2)
    }

    @Test func roundTripsAndRefusesTornOrDisorderedFiles() {
        #expect(MemberIndex(encoded: self.index.encoded) == self.index)
        var torn = self.index.encoded
        torn.moveWriterIndex(to: torn.writerIndex - 3)
        #expect(MemberIndex(encoded: torn) == nil)
        let disordered = MemberIndex(entries: [Entry(stream: 0, file: 0), Entry(stream: 100, file: 40), Entry(stream: 90, file: 50)])
        #expect(MemberIndex(encoded: disordered.encoded) == nil)
        #expect(MemberIndex(encoded: ByteBuffer()) == nil)
    }
}
