import Foundation
import Testing

@testable import TailcastProtocol

@Suite struct ErrorCodeTests {
    @Test func everyKnownCodeHasItsOwnNameAndCloseCode() {
        #expect(Set(ErrorCode.known.map(\.rawValue)).count == ErrorCode.known.count)
        #expect(Set(ErrorCode.known.map(\.closeCode)).count == ErrorCode.known.count)
        for code in ErrorCode.known {
            #expect(ErrorCode(rawValue: code.rawValue) == code)
            #expect((4000..<5000).contains(code.closeCode))
        }
    }

    @Test func unknownCodesSurviveAndAreFinal() throws {
        let code = ErrorCode(rawValue: "quota_exceeded")
        #expect(code == .other("quota_exceeded"))
        #expect(code.isFinal)
        let text = ControlMessage.error(.init(code: code, message: "m")).encoded()
        #expect(text.contains(#""code":"quota_exceeded""#))
    }

    @Test(arguments: [ErrorCode.busy, .storage, .replaced, .jobEnded])
    func retriedCodesAreNotFinal(_ code: ErrorCode) {
        #expect(!code.isFinal)
    }
}

@Suite struct JobMetaLimitTests {
    static let meta = JobMeta(kind: "run", command: ["python3", "train.py"], host: "box", user: "ann", startedAtMs: 1)

    @Test func ordinaryMetadataPasses() {
        #expect(JobMeta.problem(with: Self.meta, agent: "tailcast/0.1") == nil)
        #expect(Self.meta.fitted() == Self.meta)
    }

    @Test func eachFieldIsCappedAndNamed() {
        var meta = Self.meta
        meta.command = Array(repeating: String(repeating: "x", count: 1000), count: 9)
        #expect(JobMeta.problem(with: meta, agent: "a")?.contains("\"meta.command\"") == true)
        meta = Self.meta
        meta.host = String(repeating: "h", count: JobMeta.maxFieldBytes + 1)
        #expect(JobMeta.problem(with: meta, agent: "a")?.contains("\"meta.host\"") == true)
        #expect(JobMeta.problem(with: Self.meta, agent: String(repeating: "a", count: 9000))?.contains("\"agent\"") == true)
    }

    @Test func fittedMetadataIsAcceptedAndKeepsWhatFits() {
        var meta = Self.meta
        meta.command = ["run"] + Array(repeating: String(repeating: "é", count: 50_000), count: 20)
        meta.cwd = String(repeating: "/deep", count: 5000)
        let fitted = meta.fitted()
        #expect(JobMeta.problem(with: fitted, agent: "a") == nil)
        #expect(fitted.command.first == "run" && fitted.command.last == "…")
        #expect(fitted.cwd!.hasSuffix("…") && fitted.cwd!.hasPrefix("/deep"))
    }

    @Test func exitStatusNeedsExactlyOneOfCodeAndSignal() {
        #expect(ExitStatus(code: 0).problem == nil)
        #expect(ExitStatus(signal: 9).problem == nil)
        #expect(ExitStatus().problem != nil)
        #expect(ExitStatus(code: 1, signal: 2).problem != nil)
        #expect(ExitStatus(signal: 0).problem != nil)
        #expect(ExitStatus(code: 255).problem == nil)
        #expect(ExitStatus(code: 256).problem != nil)
        #expect(ExitStatus(code: -1).problem != nil)
    }

    /// Agents cut a bar's text to the server's bounds, on whole characters.
    @Test func fittedBarsPassTheServersBounds() {
        let bar = ProgressState(
            key: String(repeating: "k", count: 300), label: String(repeating: "é", count: 200), current: 1,
            unit: String(repeating: "u", count: 100), message: String(repeating: "🙂", count: 400), source: .parsed, updatedMs: 1)
        #expect(bar.problem != nil)
        let fitted = bar.fitted()
        #expect(fitted.problem == nil)
        #expect(fitted.label!.hasSuffix("…") && fitted.label!.utf8.count <= ProgressState.maxLabelBytes)
        #expect(fitted.message!.utf8.count > ProgressState.maxMessageBytes - 8)
    }
}
