import Testing

@testable import TailcastProgress

@Suite struct GenericParserTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var line: String
        var key: String
        var current: Double
        var total: Double
        var testDescription: String { line }
    }

    @Test(arguments: [
        Case(line: "step 40/100", key: "step", current: 40, total: 100),
        Case(line: "epoch 3/10", key: "epoch", current: 3, total: 10),
        Case(line: "Step [40/100] loss=0.31", key: "Step", current: 40, total: 100),
        Case(line: "Tests: 5/10 passed", key: "Tests", current: 5, total: 10),
        Case(line: "processed 30/100 files", key: "files", current: 30, total: 100),
        Case(line: "[45/120] Building CXX object foo.o", key: "progress", current: 45, total: 120),
        Case(
            line: "    Building [=======>                 ] 45/120: serde, tokio", key: "Building", current: 45,
            total: 120),
        Case(line: "3/10", key: "progress", current: 3, total: 10),
        Case(line: "progress: 45%", key: "progress", current: 45, total: 100),
        Case(line: "[ 45%] Building CXX object foo.o", key: "progress", current: 45, total: 100),
        Case(line: "45% done", key: "progress", current: 45, total: 100),
    ])
    func readsCountersWithContext(_ example: Case) {
        let events = progressEvents(in: example.line + "\n")
        #expect(events.count == 1)
        #expect(events.first?.key == example.key)
        #expect(events.first?.current == example.current)
        #expect(events.first?.total == example.total)
    }

    @Test func readsEveryCounterOfALine() {
        let events = progressEvents(in: "Epoch 3/10, Step 40/100, loss=0.3\n")
        #expect(events.map(\.key) == ["Epoch", "Step"])
        #expect(events.map(\.percent) == [30, 40])
    }

    @Test(arguments: [
        "HTTP/1.1 200 OK",
        "2024-01-01 12:00:00 started",
        "2024/01/15 12:00:00 [error] upstream timed out",
        "user 3/4 logged in",
        "GET /api/v1/items/3/4 200",
        "ratio 1/2 of the cases",
        "loss improved by 12% since last epoch",
        "disk usage: 93%",
        "12% of users",
        "see https://example.org/a/b 50%",
        "GET /search?q=a%20b HTTP/1.1",
        "INFO step 50: loss=0.0200",
    ])
    func leavesOtherLinesAlone(_ line: String) {
        #expect(progressEvents(in: line + "\n").isEmpty)
    }
}
