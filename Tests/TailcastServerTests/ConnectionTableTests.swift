import Testing

@testable import TailcastServer

@Suite struct ConnectionTableTests {
    typealias Table = ConnectionTable<String>

    static func admitted(_ admission: Table.Admission) -> (id: Table.ID, evicted: String?)? {
        guard case .admitted(let id, let evicted) = admission else { return nil }
        return (id, evicted)
    }

    @Test func admitsUpToTheLimitWithoutEvicting() throws {
        var table = Table(limit: 3)
        for name in ["a", "b", "c"] {
            #expect(try #require(Self.admitted(table.accept(name))).evicted == nil)
        }
        #expect(table.count == 3)
    }

    @Test func aFullTableEvictsTheOldestConnectionStillWaitingForItsHead() throws {
        var table = Table(limit: 3)
        let a = try #require(Self.admitted(table.accept("a")))
        _ = table.accept("b")
        _ = table.accept("c")
        table.headComplete(a.id)
        #expect(try #require(Self.admitted(table.accept("d"))).evicted == "b", "a is past its head; b is the oldest waiting")
        #expect(try #require(Self.admitted(table.accept("e"))).evicted == "c")
        #expect(try #require(Self.admitted(table.accept("f"))).evicted == "d")
        #expect(table.count == 3)
    }

    @Test func aTableFullOfConnectionsPastTheirHeadRefuses() throws {
        var table = Table(limit: 2)
        let a = try #require(Self.admitted(table.accept("a")))
        let b = try #require(Self.admitted(table.accept("b")))
        table.headComplete(a.id)
        table.headComplete(b.id)
        guard case .refused = table.accept("c") else { Issue.record("admitted beyond the limit"); return }
        table.closed(b.id)
        #expect(try #require(Self.admitted(table.accept("d"))).evicted == nil, "a closed connection frees its place")
    }

    @Test func anEvictedConnectionFreesItsPlaceOnce() throws {
        var table = Table(limit: 1)
        let a = try #require(Self.admitted(table.accept("a")))
        let b = try #require(Self.admitted(table.accept("b")))
        #expect(b.evicted == "a")
        table.headComplete(a.id)  // the evicted connection's head may still arrive before it closes
        table.closed(a.id)
        #expect(table.count == 1, "b still holds the one place")
        table.headComplete(b.id)
        guard case .refused = table.accept("c") else { Issue.record("admitted beyond the limit"); return }
    }
}
