import NIOCore
import NIOPosix
import Testing

@testable import TailcastClient

@Suite struct ConnectionLoopTests {
    /// What a connection's handler relies on: it runs on the connection's own loop, and comes back there
    /// after waits that other threads end (a timer, a continuation resumed elsewhere), and so do its
    /// child tasks. Were a resumption to land on a cooperative thread, every message would cross threads
    /// again, and nothing else would show it.
    @Test func tasksThatPreferItRunOnTheLoopAndComeBackToIt() async throws {
        let loop = ConnectionLoop.shared.group.next()
        let seen = await Task(executorPreference: ConnectionLoop.shared) { () -> [Bool] in
            var seen = [loop.inEventLoop]
            try? await Task.sleep(for: .milliseconds(2))
            seen.append(loop.inEventLoop)
            await withCheckedContinuation { continuation in
                MultiThreadedEventLoopGroup.singleton.next().execute { continuation.resume() }
            }
            seen.append(loop.inEventLoop)
            seen += await withTaskGroup(of: Bool.self) { group in
                group.addTask { loop.inEventLoop }
                return await group.reduce(into: []) { $0.append($1) }
            }
            return seen
        }.value
        #expect(seen == [true, true, true, true])
        #expect(!loop.inEventLoop)
    }
}
