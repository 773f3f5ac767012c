import NIOCore
import Testing

@testable import TailcastServer

@Suite struct CommitPlanTests {
    static func bytes(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    @Test func bytesBelowTheCommittedEndAreTrimmed() throws {
        var plan = CommitPlan(committed: ["stdout": 5])
        // A resend from 0 after a move to another node: only "fgh" is new.
        try plan.add(stream: "stdout", offset: 0, bytes: Self.bytes("abcdefgh"), timeMs: 7)
        #expect(plan.waiting == [CommitPlan.Piece(stream: "stdout", offset: 5, bytes: Self.bytes("fgh"), timeMs: 7)])
        // Wholly committed or already waiting: nothing more.
        try plan.add(stream: "stdout", offset: 2, bytes: Self.bytes("cd"), timeMs: 8)
        try plan.add(stream: "stdout", offset: 6, bytes: Self.bytes("gh"), timeMs: 8)
        #expect(plan.waiting.count == 1)
    }

    @Test func aChunkPastWhatIsHeldIsAGap() {
        var plan = CommitPlan(committed: ["stdout": 5])
        #expect(throws: StreamFile.Gap.self) {
            try plan.add(stream: "stdout", offset: 6, bytes: Self.bytes("x"), timeMs: 0)
        }
        #expect(throws: StreamFile.Gap.self) {
            try plan.add(stream: "stderr", offset: 1, bytes: Self.bytes("x"), timeMs: 0)
        }
    }

    @Test func committingAdvancesTheEndAndDropsThePiecesOnce() throws {
        var plan = CommitPlan(committed: [:])
        try plan.add(stream: "stdout", offset: 0, bytes: Self.bytes("ab"), timeMs: 1)
        try plan.add(stream: "stderr", offset: 0, bytes: Self.bytes("x"), timeMs: 1)
        try plan.add(stream: "stdout", offset: 2, bytes: Self.bytes("cd"), timeMs: 2)
        let first = plan.next(maxBytes: 3)
        #expect(first.map(\.end) == [2, 1])
        // The same batch reported twice (two commits overlapped) drops nothing more.
        plan.committed(first)
        plan.committed(first)
        #expect(plan.committedEnd("stdout") == 2)
        #expect(plan.committedEnd("stderr") == 1)
        #expect(plan.waiting.map(\.end) == [4])
    }

    @Test func aBatchHoldsAtLeastOnePieceHoweverLarge() throws {
        var plan = CommitPlan(committed: [:])
        try plan.add(stream: "stdout", offset: 0, bytes: Self.bytes("abcdef"), timeMs: 1)
        try plan.add(stream: "stdout", offset: 6, bytes: Self.bytes("g"), timeMs: 1)
        #expect(plan.next(maxBytes: 2).count == 1)
    }
}
