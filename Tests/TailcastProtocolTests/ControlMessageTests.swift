import Foundation
import Testing

@testable import TailcastProtocol

@Suite struct ControlMessageTests {
    static let meta = JobMeta(kind: "run", command: ["python3", "train.py"], host: "box", user: "ann", startedAtMs: 42)

    @Test(arguments: [
        ControlMessage.hello(.init(job: "train-42", runId: "r1", agent: "tailcast/0.1", meta: meta)),
        .open(.init(stream: 1, name: "/var/log/My_App.log")),
        .welcome(.init(job: "j", streams: [StreamInfo(name: "Std_Out", size: 9)], ended: false)),
        .ack(.init(offsets: ["1": 10, "2": 0], ended: true)),
        .end(.init(exit: ExitStatus(signal: 9), endedAtMs: 7, sizes: ["1": 10])),
        .watch(.init(job: "j", follow: true, offsets: [StreamPosition(name: "a_B", offset: 3)], tailLines: 10)),
        .list(.init()),
        .list(.init(limit: 10, after: "1700000000000/build-7")),
        .jobs(.init(jobs: [], next: "1/j")),
        .jobs(.init(jobs: [])),
        .stream(.init(stream: 3, name: "stderr", offset: 0)),
        .finished(.init(exit: ExitStatus(code: 3), endedAtMs: 1)),
        .caughtUp(.init(state: .lost)),
        .caughtUp(.init(state: .stopped)),
        .stop(.init()),
        .error(.init(code: .unknownJob, message: "no job \"x\"")),
        .error(.init(code: .other("from_the_future"), message: "a newer server")),
    ])
    func roundTripsThroughJSON(_ message: ControlMessage) throws {
        let text = message.encoded()
        #expect(text.contains("\"type\":\"\(message.typeName)\""))
        #expect(try ControlMessage.decode(text) == message)
    }

    @Test func usesSnakeCaseKeysThatThirdPartiesRead() throws {
        let text = ControlMessage.hello(.init(job: "j", runId: "r", agent: "a", meta: Self.meta)).encoded()
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        #expect(object["run_id"] as? String == "r")
        #expect((object["meta"] as! [String: Any])["started_at_ms"] as? Int == 42)
    }

    @Test func explainsWhatIsWrong() {
        #expect(throws: ControlMessage.DecodeError.self) { try ControlMessage.decode("not json") }
        do {
            _ = try ControlMessage.decode(#"{"type":"open","stream":1}"#)
            Issue.record("decoded a message without name")
        } catch {
            #expect(error.description.contains("\"name\""))
        }
        do {
            _ = try ControlMessage.decode(#"{"type":"launch"}"#)
            Issue.record("decoded an unknown type")
        } catch {
            #expect(error.description == "unknown control message type \"launch\"")
        }
    }

    /// Errors name members as the wire spells them, never Swift's property names or coding paths.
    @Test(arguments: [
        (#"{"type":"end","exit":{"code":0},"sizes":{}}"#, #"missing "ended_at_ms""#),
        (#"{"type":"progress","bars":[{"key":"k","unit":"","source":"parsed","updated_ms":1,"done":false}]}"#, #"missing "bars[0].current""#),
        (#"{"type":"open","stream":4294967296,"name":"x"}"#, #""stream""#),
        (#"{"type":"open","stream":"1","name":"x"}"#, #""stream" must be a whole number from 0 to 4294967295"#),
        (#"{"type":"watch","job":"j","follow":true,"offsets":[{"name":"a","offset":-1}]}"#, #""offsets[0].offset""#),
        (#"{"type":1}"#, #""type" must be a string"#),
        ("[1", "not valid JSON"),
        // Real timestamps (all from 2^31 on) used to exhaust a fixed number of probes before the culprit.
        (#"{"type":"end","exit":{"code":0},"ended_at_ms":1764800000000,"sizes":{"1":3000000000,"2":3000000000,"3":3000000000,"4":3000000000,"5":3000000000,"6":3000000000,"7":3000000000,"8":3000000000,"9":3000000000,"10":3000000000,"11":3000000000,"12":3000000000,"13":3000000000,"14":3000000000,"15":3000000000,"99":-1}}"#, #""sizes.99""#),
    ])
    func errorsNameTheWireMember(_ text: String, _ expected: String) {
        do {
            _ = try ControlMessage.decode(text)
            Issue.record("decoded \(text)")
        } catch {
            #expect(error.description.contains(expected), "\(error.description)")
            #expect(!error.description.contains("Index"), "\(error.description)")
            #expect(!error.description.contains("not valid JSON") || text == "[1", "\(error.description)")
        }
    }

    @Test func validatesJobIdsAgainstPathTricks() {
        #expect(JobID.problem(with: "train-42.v2_x") == nil)
        for bad in ["", "../etc", "a/b", ".hidden", "-flag", "a\u{0}b", String(repeating: "x", count: 129), "é"] {
            #expect(JobID.problem(with: bad) != nil, "accepted \(bad)")
        }
        #expect(ExitStatus(signal: 15).shellStatus == 143)
        #expect(ExitStatus(code: 3).shellStatus == 3)
        // from a peer: never trap on nonsense
        #expect(ExitStatus(signal: Int32.max).shellStatus == 1)
        #expect(ExitStatus(code: -1).shellStatus == 255)
    }
}
