import Testing

@testable import TailcastServer

@Suite struct OpenFilePolicyTests {
    typealias Policy = OpenFilePolicy<String>

    /// Checks `key` out and back in, as one read or write does.
    func use(_ policy: inout Policy, _ key: String, pinned: Bool = false) -> [String] {
        var closed: [String] = []
        for action in [policy.checkOut(key), policy.checkIn(key, pinned: pinned)] {
            if case .close(let keys) = action { closed += keys }
        }
        return closed
    }

    @Test func closesTheLeastRecentlyUsedFirst() {
        var policy = Policy(capacity: 2)
        #expect(use(&policy, "a") == [])
        #expect(use(&policy, "b") == [])
        #expect(use(&policy, "a") == [])
        #expect(use(&policy, "c") == ["b"])
        #expect(policy.openCount == 2 && policy.isOpen("a") && policy.isOpen("c") && !policy.isOpen("b"))
        #expect(use(&policy, "b") == ["a"])
    }

    @Test func neverClosesAFileInUseAndShrinksWhenItIsReturned() {
        var policy = Policy(capacity: 1)
        #expect(policy.checkOut("a") == .none)
        #expect(policy.checkOut("b") == .none)  // both in use: one over for a moment
        #expect(policy.openCount == 2)
        #expect(policy.checkOut("a") == .none)  // a second user of the same file
        #expect(policy.checkIn("a", pinned: false) == .none)  // a still has a user
        #expect(policy.checkIn("b", pinned: false) == .close(["b"]))
        #expect(policy.checkIn("a", pinned: false) == .none)
        #expect(policy.openCount == 1 && policy.isOpen("a"))
    }

    @Test func pinnedFilesAreClosedOnlyWhenNothingElseCanBe() {
        var policy = Policy(capacity: 2)
        #expect(use(&policy, "live", pinned: true) == [])
        #expect(use(&policy, "old") == [])
        #expect(use(&policy, "new") == ["old"])
        #expect(use(&policy, "newer") == ["new"])
        var small = Policy(capacity: 1)
        #expect(use(&small, "live", pinned: true) == [])
        #expect(use(&small, "other") == ["live"])
    }

    @Test func unpinningMakesAFileAnOrdinaryCandidate() {
        var policy = Policy(capacity: 2)
        #expect(use(&policy, "a", pinned: true) == [])
        #expect(use(&policy, "b") == [])
        #expect(use(&policy, "a", pinned: false) == [])
        #expect(use(&policy, "b") == [])
        #expect(use(&policy, "c") == ["a"])
    }

    @Test func aForgottenFileClosesAtOnceWhenIdleElseAtItsLastCheckIn() {
        var policy = Policy(capacity: 4)
        #expect(use(&policy, "idle") == [])
        #expect(policy.forget("idle") == .close(["idle"]))
        #expect(!policy.isOpen("idle"))
        #expect(policy.forget("never-opened") == .none)
        #expect(policy.checkOut("busy") == .none)
        #expect(policy.checkOut("busy") == .none)
        #expect(policy.forget("busy") == .none)  // two reads hold it
        #expect(policy.checkIn("busy", pinned: false) == .none)
        #expect(policy.checkIn("busy", pinned: false) == .close(["busy"]))
        #expect(policy.openCount == 0)
    }
}
