import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import TailcastServer

@Suite struct BlockingPoolExecutorTests {
    /// A publish session appends where it reads (`PublishSession.run`): that is only right while it runs
    /// on NIO's thread pool, also after it was resumed from an event loop (the next message) or a timer.
    @Test func tasksThatPreferItRunOnTheThreadPool() async throws {
        let outside = Self.threadName()
        let names = await Task(executorPreference: BlockingPoolExecutor.shared) { () -> [String] in
            var names = [Self.threadName()]
            await withCheckedContinuation { continuation in
                MultiThreadedEventLoopGroup.singleton.next().execute { continuation.resume() }
            }
            names.append(Self.threadName())
            try? await Task.sleep(for: .milliseconds(2))
            names.append(Self.threadName())
            return names
        }.value
        // NIO names its pool's threads "…TP-#n".
        #expect(names.allSatisfy { $0.contains("TP-#") }, "\(names)")
        #expect(!outside.contains("TP-#"))
    }

    private static func threadName() -> String { Thread.current.name ?? "" }
}
