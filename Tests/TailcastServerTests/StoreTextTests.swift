import Foundation
import Testing

@testable import TailcastServer

@Suite struct StoreTextTests {
    static let marker = String(Unicode.Scalar(0xFDD0)!)

    static let values = [
        "plain", "", "a\u{0}b", "\u{0}", "\u{0}\u{0}0", "\(marker)", "\(marker)0", "\(marker)\(marker)", "\u{0}\(marker)\u{0}",
        #"a\u0000b"#, #"\\u0000"#, "\\", "é ü ☃ 😀", "'; DROP TABLE jobs; --", "$1 % _",
    ]

    @Test(arguments: values)
    func aTextParameterHoldsNoNULAndKeepsValuesApart(value: String) {
        let escaped = StoreText.escaped(value)
        #expect(!escaped.utf8.contains(0))
        for other in Self.values where other != value {
            #expect(StoreText.escaped(other) != escaped)
        }
    }

    struct Record: Codable, Equatable {
        var value: String
        var list: [String]
    }

    @Test(arguments: values)
    func aRecordReadsBackAsWrittenWithoutANULEscape(value: String) throws {
        let record = Record(value: value, list: [value, "x\u{0}"])
        let stored = StoreText.escapedJSON(try JSONEncoder().encode(record))
        #expect(!stored.contains(#"\u0000"#) || value.contains(#"\u0000"#))
        #expect(try JSONDecoder().decode(Record.self, from: StoreText.unescapedJSON(stored)) == record)
        // jsonb gives the record back in its own layout: spaces after `:` and `,`, the marker as UTF-8.
        let relaid = stored.replacingOccurrences(of: "\":", with: "\": ").replacingOccurrences(of: "\",", with: "\", ")
        #expect(try JSONDecoder().decode(Record.self, from: StoreText.unescapedJSON(relaid)) == record)
    }

    @Test func aRecordsRunIdIsTheEscapedRunId() throws {
        let runId = "r\u{0}\(Self.marker)"
        let stored = StoreText.escapedJSON(try JSONEncoder().encode(["run_id": runId]))
        let field = try JSONDecoder().decode([String: String].self, from: Data(stored.utf8))["run_id"]
        #expect(field == StoreText.escaped(runId))
    }

    @Test func aMarkerStoredBeforeIsKept() throws {
        let text = #"{"value":"a\#(Self.marker)b","list":[]}"#
        #expect(try JSONDecoder().decode(Record.self, from: StoreText.unescapedJSON(text)).value == "a\(Self.marker)b")
    }
}
