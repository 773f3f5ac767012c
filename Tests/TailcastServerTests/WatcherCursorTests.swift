import Testing

@testable import TailcastServer
import TailcastProtocol

typealias ExitStatus = TailcastProtocol.ExitStatus

@Suite struct WatcherCursorTests {
    func snapshot(_ streams: [(String, UInt64, UInt64)], exit: ExitStatus? = nil, state: JobState = .running) -> JobSnapshot {
        JobSnapshot(streams: streams.enumerated().map { .init(name: $1.0, id: UInt32($0 + 1), size: $1.1, headTimeMs: $1.2) }, exit: exit, endedAtMs: exit == nil ? nil : 9, state: state)
    }

    @Test func announcesEachStreamOnceBeforeSendingIt() {
        var cursor = WatcherCursor(follow: true, streams: nil)
        let s = snapshot([("stdout", 10, 0), ("stderr", 5, 0)])
        #expect(cursor.next(s) == .announce(name: "stdout", id: 1))
        cursor.announced("stdout", id: 1, offset: 0)
        #expect(cursor.next(s) == .announce(name: "stderr", id: 2))
        cursor.announced("stderr", id: 2, offset: 2)
        #expect(cursor.next(s) == .send(name: "stdout", id: 1, from: 0, upTo: 10, readBy: 0))
    }

    @Test func replaysStreamsInTheOrderTheirBytesWereRead() {
        var cursor = WatcherCursor(follow: true, streams: nil)
        cursor.announced("stdout", id: 1, offset: 0)
        cursor.announced("stderr", id: 2, offset: 0)
        // stderr goes first, but only its bytes read by 500, when stdout's next byte was read
        #expect(cursor.next(snapshot([("stdout", 10, 500), ("stderr", 5, 100)])) == .send(name: "stderr", id: 2, from: 0, upTo: 5, readBy: 500))
        cursor.sent("stderr", upTo: 3)
        #expect(cursor.next(snapshot([("stdout", 10, 500), ("stderr", 5, 700)])) == .send(name: "stdout", id: 1, from: 0, upTo: 10, readBy: 700))
        cursor.sent("stdout", upTo: 10)
        // the runner-up is the earliest of the others, and a stream with nothing left to send bounds nothing
        #expect(cursor.next(snapshot([("stdout", 10, 0), ("stderr", 5, 700)])) == .send(name: "stderr", id: 2, from: 3, upTo: 5, readBy: nil))
    }

    @Test func followingWaitsAtTheEndAndFinishesOnlyWhenEverythingWasSent() {
        var cursor = WatcherCursor(follow: true, streams: nil)
        cursor.announced("stdout", id: 1, offset: 0)
        cursor.sent("stdout", upTo: 10)
        #expect(cursor.next(snapshot([("stdout", 10, 0)])) == .wait)
        // the job ended but 5 more bytes arrived first
        #expect(cursor.next(snapshot([("stdout", 15, 0)], exit: ExitStatus(code: 1))) == .send(name: "stdout", id: 1, from: 10, upTo: 15, readBy: nil))
        cursor.sent("stdout", upTo: 15)
        #expect(cursor.next(snapshot([("stdout", 15, 0)], exit: ExitStatus(code: 1))) == .finish(ExitStatus(code: 1), endedAtMs: 9))
        #expect(cursor.next(snapshot([("stdout", 15, 0)], exit: ExitStatus(code: 1))) == .done)
    }

    @Test func withoutFollowSendsOnlyWhatExistedWhenTheWatchBegan() {
        var cursor = WatcherCursor(follow: false, streams: nil)
        #expect(cursor.next(snapshot([("stdout", 10, 0)])) == .announce(name: "stdout", id: 1))
        cursor.announced("stdout", id: 1, offset: 0)
        #expect(cursor.next(snapshot([("stdout", 50, 0), ("later", 5, 0)])) == .announce(name: "later", id: 2))
        cursor.announced("later", id: 2, offset: 0)
        #expect(cursor.next(snapshot([("stdout", 50, 0), ("later", 5, 0)])) == .send(name: "stdout", id: 1, from: 0, upTo: 10, readBy: nil))
        cursor.sent("stdout", upTo: 10)
        #expect(cursor.next(snapshot([("stdout", 50, 0), ("later", 5, 0)])) == .caughtUp(.running))
    }

    @Test func progressFollowsTheBytesAndPrecedesTheEnd() {
        var cursor = WatcherCursor(follow: true, streams: nil)
        cursor.announced("stdout", id: 1, offset: 0)
        var s = snapshot([("stdout", 10, 0)])
        s.progressVersion = 3
        #expect(cursor.next(s) == .send(name: "stdout", id: 1, from: 0, upTo: 10, readBy: nil))
        cursor.sent("stdout", upTo: 10)
        #expect(cursor.next(s) == .progress(version: 3))
        cursor.progressSent(version: 3)
        #expect(cursor.next(s) == .wait)
        s.exit = ExitStatus(code: 0)
        s.progressVersion = 4  // the end marks every bar done
        #expect(cursor.next(s) == .progress(version: 4))
        cursor.progressSent(version: 4)
        #expect(cursor.next(s) == .finish(ExitStatus(code: 0), endedAtMs: 0))
    }

    @Test func onlyTheStreamsAskedForAreSent() {
        var cursor = WatcherCursor(follow: true, streams: ["stderr"])
        let s = snapshot([("stdout", 10, 0), ("stderr", 0, 0)], exit: ExitStatus(code: 0))
        // Ids are the job's, not the watcher's: the only stream this watcher sees is still 2.
        #expect(cursor.next(s) == .announce(name: "stderr", id: 2))
        cursor.announced("stderr", id: 2, offset: 0)
        #expect(cursor.next(s) == .finish(ExitStatus(code: 0), endedAtMs: 9))
    }

    @Test func aFollowerIsToldWhenTheJobsStateChangesOnceCaughtUp() {
        var cursor = WatcherCursor(follow: true, streams: nil)
        cursor.stateSent(.running)
        cursor.announced("stdout", id: 1, offset: 0)
        // Bytes first: the state is news only once everything before it was sent.
        #expect(cursor.next(snapshot([("stdout", 10, 0)], state: .stopped)) == .send(name: "stdout", id: 1, from: 0, upTo: 10, readBy: nil))
        cursor.sent("stdout", upTo: 10)
        #expect(cursor.next(snapshot([("stdout", 10, 0)], state: .stopped)) == .state(.stopped))
        cursor.stateSent(.stopped)
        #expect(cursor.next(snapshot([("stdout", 10, 0)], state: .stopped)) == .wait)
        #expect(cursor.next(snapshot([("stdout", 10, 0)], state: .running)) == .state(.running))
    }
}
