import Testing

@testable import TailcastServer

@Suite struct RecordSavesTests {
    @Test func oneSaverWritesTheNewestRecordOnceForEveryChangeAskedMeanwhile() {
        var saves = RecordSaves<String>()
        let first = saves.ask(release: false)
        #expect(first.generation == 1 && first.start)
        var next = saves.next()
        #expect(next == .save(generation: 1, release: false))
        // Two more changes while the first is written: nobody else starts, and one write covers both.
        let second = saves.ask(release: false)
        let third = saves.ask(release: false)
        #expect(!second.start && !third.start && third.generation == 3)
        let waits = saves.wait(for: 3, "end")
        #expect(waits)
        let early = saves.saved(1)
        #expect(early.isEmpty)
        next = saves.next()
        #expect(next == .save(generation: 3, release: false))
        let ready = saves.saved(3)
        #expect(ready == ["end"])
        next = saves.next()
        #expect(next == .idle)
        // Idle again: the next change starts a saver, and a save already done is not waited for.
        let late = saves.wait(for: 3, "late")
        #expect(!late)
        let again = saves.ask(release: false)
        #expect(again.start)
    }

    @Test func aFailedSaverHandsOverAndItsWaitersHearWhy() {
        var saves = RecordSaves<String>()
        _ = saves.ask(release: false)
        _ = saves.next()
        _ = saves.ask(release: false)
        _ = saves.wait(for: 2, "stream")
        let told = saves.stopped()
        #expect(told == ["stream"])
        // What failed is still to save: the next change's saver writes it with its own, the lease let go.
        let release = saves.ask(release: true)
        #expect(release.generation == 3 && release.start)
        let next = saves.next()
        #expect(next == .save(generation: 3, release: true))
    }
}
