import NIOCore
import Testing

@testable import TailcastProtocol
@testable import TailcastServer

@Suite struct PublishStateMachineTests {
    static let hello = ControlMessage.Hello(
        job: "j", runId: "r", agent: "a", meta: JobMeta(kind: "run", command: ["x"], host: "h", user: "u", startedAtMs: 1))
    static let limits = PublishStateMachine.Limits(maxStreamsPerJob: 2, maxJobBytes: 10)

    static func chunk(_ stream: UInt32, _ text: String) -> DataChunk {
        DataChunk(stream: stream, offset: 0, timeMs: 1, bytes: ByteBuffer(string: text))
    }

    func publishing() -> PublishStateMachine {
        var machine = PublishStateMachine(limits: Self.limits)
        #expect(machine.received(.hello(Self.hello)) == .attach(Self.hello))
        machine.welcomed(ended: false)
        return machine
    }

    func code(_ action: PublishStateMachine.Action) -> ErrorCode? {
        if case .refuse(let code, _) = action { return code }
        return nil
    }

    @Test func stopIsAcceptedOnlyWhilePublishing() {
        var machine = self.publishing()
        #expect(machine.received(.stop(.init())) == .markStopped)
        var fresh = PublishStateMachine(limits: Self.limits)
        #expect(code(fresh.received(.stop(.init()))) == .badMessage)
    }

    /// `stop` is the agent's last word: data, progress, another stop or an end after it are refused.
    @Test func nothingFollowsStop() {
        let after: [(inout PublishStateMachine) -> PublishStateMachine.Action] = [
            { $0.received(chunks: [Self.chunk(1, "x")], jobBytes: 0) },
            { $0.received(.stop(.init())) },
            { $0.received(.progress(.init(bars: []))) },
            { $0.received(.open(.init(stream: 2, name: "s"))) },
            { $0.received(.end(.init(exit: .init(code: 0), endedAtMs: 1, sizes: ["1": 0]))) },
        ]
        for message in after {
            var machine = self.publishing()
            _ = machine.received(.open(.init(stream: 1, name: "out")))
            #expect(machine.received(.stop(.init())) == .markStopped)
            #expect(machine.state == .stopped)
            #expect(code(message(&machine)) == .badMessage)
            #expect(machine.state == .closed)
        }
    }

    @Test func helloComesFirst() {
        var machine = PublishStateMachine(limits: Self.limits)
        #expect(code(machine.received(.open(.init(stream: 1, name: "s")))) == .badMessage)
        #expect(machine.state == .closed)
        machine = PublishStateMachine(limits: Self.limits)
        #expect(code(machine.received(chunks: [Self.chunk(1, "x")], jobBytes: 0)) == .badMessage)
    }

    @Test func invalidIdsAndOversizedMetadataAreRefusedAtHello() {
        var machine = PublishStateMachine(limits: Self.limits)
        var hello = Self.hello
        hello.job = "../etc"
        #expect(code(machine.received(.hello(hello))) == .badMessage)
        machine = PublishStateMachine(limits: Self.limits)
        hello = Self.hello
        hello.meta.command = [String(repeating: "x", count: 9000)]
        #expect(code(machine.received(.hello(hello))) == .limit)
    }

    @Test func dataNeedsAnOpenedStreamAndFitsTheJobLimit() {
        var machine = self.publishing()
        #expect(code(machine.received(chunks: [Self.chunk(1, "x")], jobBytes: 0)) == .badMessage)
        machine = self.publishing()
        #expect(machine.received(.open(.init(stream: 1, name: "out"))) == .openStream(id: 1, name: "out"))
        #expect(machine.received(chunks: [Self.chunk(1, "hello")], jobBytes: 5) == .append([Self.chunk(1, "hello")]))
        #expect(code(machine.received(chunks: [Self.chunk(1, "hello!")], jobBytes: 5)) == .limit)
    }

    @Test func anIdCannotBeReboundToAnotherName() {
        var machine = self.publishing()
        _ = machine.received(.open(.init(stream: 1, name: "out")))
        #expect(machine.received(.open(.init(stream: 1, name: "out"))) == .openStream(id: 1, name: "out"))
        #expect(code(machine.received(.open(.init(stream: 1, name: "err")))) == .badMessage)
    }

    @Test func aNameCannotBeOpenUnderTwoIds() {
        var machine = self.publishing()
        _ = machine.received(.open(.init(stream: 1, name: "out")))
        #expect(code(machine.received(.open(.init(stream: 2, name: "out")))) == .badMessage)
    }

    @Test func streamNamesTogetherAreBounded() {
        var machine = self.publishing()
        let name = String(repeating: "n", count: 1000)
        #expect(code(machine.received(.open(.init(stream: 1, name: name)), streamNameBytes: StreamName.maxBytesPerJob - 999)) == .limit)
        machine = self.publishing()
        #expect(machine.received(.open(.init(stream: 1, name: name)), streamNameBytes: StreamName.maxBytesPerJob - 1000) == .openStream(id: 1, name: name))
        // A stream the job has already is continued, whatever the names hold.
        machine = self.publishing()
        #expect(
            machine.received(.open(.init(stream: 1, name: name)), streamNameBytes: StreamName.maxBytesPerJob, hasStream: { _ in true })
                == .openStream(id: 1, name: name))
    }

    @Test func helloNeedsAKnownKindAndAProcessId() {
        for change in [{ (meta: inout JobMeta) in meta.kind = "tale" }, { $0.pid = -5 }, { $0.pid = 0 }] {
            var machine = PublishStateMachine(limits: Self.limits)
            var hello = Self.hello
            change(&hello.meta)
            #expect(code(machine.received(.hello(hello))) == .badMessage)
        }
    }

    @Test func streamCountLimitSparesStreamsTheJobHas() {
        var machine = self.publishing()
        #expect(machine.received(.open(.init(stream: 3, name: "old")), streamCount: 2, hasStream: { $0 == "old" }) == .openStream(id: 3, name: "old"))
        #expect(code(machine.received(.open(.init(stream: 4, name: "new")), streamCount: 2)) == .limit)
    }

    @Test func endNeedsEveryNamedByteAndAValidExit() {
        var machine = self.publishing()
        _ = machine.received(.open(.init(stream: 1, name: "out")))
        let end = ControlMessage.End(exit: ExitStatus(code: 0), endedAtMs: 2, sizes: ["1": 5])
        #expect(code(machine.received(.end(end), heldSize: { _ in 4 })) == .gap)
        machine = self.publishing()
        _ = machine.received(.open(.init(stream: 1, name: "out")))
        #expect(code(machine.received(.end(.init(exit: ExitStatus(code: 0), endedAtMs: 2, sizes: ["2": 0])), heldSize: { _ in 0 })) == .badMessage)
        machine = self.publishing()
        _ = machine.received(.open(.init(stream: 1, name: "out")))
        #expect(code(machine.received(.end(.init(exit: ExitStatus(), endedAtMs: 2, sizes: [:])))) == .badMessage)
        machine = self.publishing()
        _ = machine.received(.open(.init(stream: 1, name: "out")))
        #expect(machine.received(.end(end), heldSize: { _ in 5 }) == .storeEnd(end))
    }

    @Test func endSizesNameEveryOpenedStream() {
        var machine = self.publishing()
        _ = machine.received(.open(.init(stream: 1, name: "out")))
        _ = machine.received(.open(.init(stream: 2, name: "err")))
        #expect(code(machine.received(.end(.init(exit: ExitStatus(code: 0), endedAtMs: 2, sizes: ["1": 5])), heldSize: { _ in 5 })) == .badMessage)
        machine = self.publishing()
        _ = machine.received(.open(.init(stream: 1, name: "out")))
        _ = machine.received(.open(.init(stream: 2, name: "err")))
        let less = ControlMessage.End(exit: ExitStatus(code: 0), endedAtMs: 2, sizes: ["1": 3, "2": 5])
        #expect(machine.received(.end(less), heldSize: { _ in 5 }) == .storeEnd(less))
    }

    @Test func nothingIsAcceptedAfterTheEnd() {
        let end = ControlMessage.End(exit: ExitStatus(code: 0), endedAtMs: 2, sizes: [:])
        let after: [ControlMessage] = [.open(.init(stream: 1, name: "out")), .progress(.init(bars: [])), .end(end)]
        for message in after {
            var machine = self.publishing()
            #expect(machine.received(.end(end)) == .storeEnd(end))
            #expect(code(machine.received(message)) == .jobEnded)
            machine = self.publishing()
            _ = machine.received(.end(end))
            machine.endStored()
            #expect(machine.state == .ended)
            #expect(code(machine.received(chunks: [Self.chunk(1, "x")], jobBytes: 0)) == .jobEnded)
            // A reconnect of the same run after its end was stored: welcomed as ended, then nothing.
            var again = PublishStateMachine(limits: Self.limits)
            _ = again.received(.hello(Self.hello))
            again.welcomed(ended: true)
            #expect(code(again.received(message)) == .jobEnded)
        }
    }

    @Test func progressIsBounded() {
        var machine = self.publishing()
        let bar = ProgressState(key: String(repeating: "k", count: 300), current: 1, unit: "it", source: .explicit, updatedMs: 1)
        #expect(code(machine.received(.progress(.init(bars: [bar])))) == .badMessage)
        let long = ProgressState(key: "k", current: 1, unit: "it", message: String(repeating: "m", count: 1025), source: .explicit, updatedMs: 1)
        machine = self.publishing()
        #expect(machine.received(.progress(.init(bars: [long]))) == .refuse(.badMessage, #"bars[0]: "message" is 1025 bytes; at most 1024 are accepted"#))
        machine = self.publishing()
        #expect(machine.received(.progress(.init(bars: [long.fitted()]))) == .updateProgress([long.fitted()]))
    }

    @Test(arguments: [ControlMessage.welcome(.init(job: "j", streams: [], ended: false)), .list(.init()), .hello(hello)])
    func serverAndWatcherMessagesAreRefused(_ message: ControlMessage) {
        var machine = self.publishing()
        #expect(code(machine.received(message)) == .badMessage)
    }
}

@Suite struct RequestOriginGuardTests {
    let open = RequestOriginGuard(allowedOrigins: ["https://Dash.Example:443"], loopbackHostsOnly: true)

    @Test(arguments: ["localhost:7070", "127.0.0.1:7070", "127.200.3.4", "[::1]:7070", "LOCALHOST"])
    func loopbackNamesAreServed(_ host: String) {
        #expect(self.open.decide(host: host, origin: nil, tls: false) == .allowed)
    }

    @Test(arguments: ["evil.example:7070", "127.0.0.1.evil.example", "127.1", "10.0.0.1:7070", "0x7f.0.0.1", "", "[::1"])
    func otherNamesAreRefusedWithoutTokens(_ host: String) {
        #expect(self.open.decide(host: host, origin: nil, tls: false) != .allowed)
        #expect(RequestOriginGuard(loopbackHostsOnly: false).decide(host: host, origin: nil, tls: false) == .allowed)
    }

    @Test func browserOriginsMustBeOwnOrAllowed() {
        let host = "127.0.0.1:7070"
        #expect(self.open.decide(host: host, origin: "http://127.0.0.1:7070", tls: false) == .allowed)
        #expect(self.open.decide(host: host, origin: "https://dash.example", tls: false) == .allowed)
        #expect(self.open.decide(host: host, origin: "ws://127.0.0.1", tls: false) == .allowed)
        #expect(self.open.decide(host: host, origin: "https://127.0.0.1:7070", tls: false) != .allowed)
        #expect(self.open.decide(host: host, origin: "http://evil.example", tls: false) != .allowed)
        #expect(self.open.decide(host: host, origin: "null", tls: false) != .allowed)
        #expect(self.open.decide(host: host, origin: "http://127.0.0.1:7070.evil.example", tls: false) != .allowed)
    }

}
