import Testing

@testable import TailcastProgress

@Suite struct GitParserTests {
    @Test func keysEachPhaseByNameWithItsLastWordAsUnit() {
        var parser = ProgressParser()
        let events = parser.feed(
            Array(
                ("remote: Counting objects:  10% (24010/240099)\u{1B}[K"
                    + "\rremote: Counting objects: 100% (240099/240099), done.\u{1B}[K\r\n"
                    + "Receiving objects:  45% (108045/240099), 10.00 MiB | 10.00 MiB/s"
                    + "\rResolving deltas: 100% (78431/78431), done.\nUpdating files:  45% (450/1000)\r").utf8))
            + parser.finish()
        #expect(
            events.map(\.key) == [
                "Counting objects", "Counting objects", "Receiving objects", "Resolving deltas", "Updating files",
            ])
        #expect(
            parser.latest["Receiving objects"]
                == ProgressEvent(
                    key: "Receiving objects", current: 108_045, total: 240_099, unit: "objects",
                    label: "Receiving objects"))
        #expect(parser.latest["Resolving deltas"]?.unit == "deltas")
        #expect(parser.latest["Updating files"]?.unit == "files")
    }
}
