import Foundation
import Logging
import Testing

@testable import TailcastProtocol
@testable import TailcastServer

/// How a node's cache takes records of the shared store (`Hub.adopt`), in whatever order they arrive: a
/// record read before a `run --replace` may be adopted after the replacement's. A real archive in a
/// temporary folder; the store holds no bytes, so only records are weighed.
@Suite struct HubAdoptTests {
    /// The part of a shared store `adopt` reads (a stream's committed pieces: none); nothing else is called.
    struct RecordsOnlyStore: SharedStore {
        struct NotUsed: Error {}
        let node = "test"
        let health = StoreHealth(logger: Logger(label: "test"))
        func claim(_ new: Archive.StoredJob, maxJobs: Int) async throws -> Archive.StoredJob { throw NotUsed() }
        func replace(_ new: Archive.StoredJob, maxJobs: Int) async throws -> (Archive.StoredJob, replaced: Bool) { throw NotUsed() }
        func record(_ id: String) async throws -> Archive.StoredJob? { throw NotUsed() }
        func records() async throws -> [Archive.StoredJob] { throw NotUsed() }
        func takeLease(job: String, runId: String) async throws -> StoreLease? { throw NotUsed() }
        func commit(_ pieces: ArraySlice<CommitPlan.Piece>, lease: StoreLease) async throws { throw NotUsed() }
        func renew(_ lease: StoreLease) async throws { throw NotUsed() }
        func save(_ stored: Archive.StoredJob, lease: StoreLease, release: Bool) async throws { throw NotUsed() }
        func pieces(job: String, stream: String, from offset: UInt64) async throws -> [CommitPlan.Piece] { [] }
        func remove(_ id: String) async throws { throw NotUsed() }
    }

    final class Fixture {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("adopt-\(UUID().uuidString)").path
        let store = RecordsOnlyStore()
        let hub: Hub

        init() throws {
            self.hub = try Hub(archive: Archive(root: self.folder, maxOpenFiles: 64, logger: Logger(label: "test")), store: self.store)
        }

        deinit { try? FileManager.default.removeItem(atPath: self.folder) }

        func adopt(_ stored: Archive.StoredJob) async throws -> LiveJob {
            try await self.hub.adopt(stored, from: self.store)
        }
    }

    static func record(run: String, generation: UInt64, command: String = "x", exit: Int32? = nil) -> Archive.StoredJob {
        var info = JobInfo(
            id: "lost", meta: JobMeta(kind: "run", command: [command], host: "h", user: "u", startedAtMs: 1), state: .lost,
            lastSeenMs: 1, streams: [])
        if let exit { info.exit = ExitStatus(code: exit) }
        return Archive.StoredJob(info: info, streams: [.init(name: "stdout", file: "stdout.log")], runId: run, owner: "o", generation: generation)
    }

    static func hello(run: String) -> ControlMessage.Hello {
        ControlMessage.Hello(
            job: "lost", runId: run, agent: "a", meta: JobMeta(kind: "run", command: ["y"], host: "h", user: "u", startedAtMs: 2))
    }

    @Test func aStaleRecordOfTheEarlierRunAdoptedAfterTheReplacementChangesNothing() async throws {
        let fixture = try Fixture()
        let earlier = try await fixture.adopt(Self.record(run: "first", generation: 4, exit: 0))
        let replacing = try await fixture.adopt(Self.record(run: "second", generation: 9, command: "y"))
        #expect(earlier.retirement == .replaced && replacing !== earlier)

        // The earlier run's record, read before the replace, arrives now.
        let stale = try await fixture.adopt(Self.record(run: "first", generation: 4, exit: 0))
        #expect(stale === replacing)
        #expect(fixture.hub.job("lost") === replacing)
        #expect(replacing.retirement == nil && replacing.isRun("second") && replacing.generation == 9)
        #expect(replacing.info.meta.command == ["y"] && replacing.info.exit == nil)
        // So the replacing run's agent is let in.
        let attached = try replacing.attachPublisher(Self.hello(run: "second"), owner: "o", connection: 1)
        #expect(!attached.welcome.ended)
    }

    @Test func aNewerRunRetiresTheCopyOfTheEarlierOneAndItsWatchersAreTold() async throws {
        let fixture = try Fixture()
        let earlier = try await fixture.adopt(Self.record(run: "first", generation: 4))
        let feed = earlier.subscribe(1)
        let newer = try await fixture.adopt(Self.record(run: "second", generation: 5))
        #expect(earlier.retirement == .replaced)
        #expect(fixture.hub.job("lost") === newer && newer.isRun("second"))
        var wakeUps = feed.makeAsyncIterator()
        #expect(await wakeUps.next() != nil)
        #expect(throws: LiveJob.PublishRefusal.self) {
            try earlier.attachPublisher(Self.hello(run: "first"), owner: "o", connection: 2)
        }
    }

    @Test func recordsFromBeforeGenerationsWereCountedTakeTheStoresRunAsBefore() async throws {
        let fixture = try Fixture()
        let earlier = try await fixture.adopt(Self.record(run: "first", generation: 0))
        let newer = try await fixture.adopt(Self.record(run: "second", generation: 0))
        #expect(earlier.retirement == .replaced && fixture.hub.job("lost") === newer)
    }

    @Test func theSameRunsLaterRecordIsTaken() async throws {
        let fixture = try Fixture()
        let job = try await fixture.adopt(Self.record(run: "first", generation: 4))
        let again = try await fixture.adopt(Self.record(run: "first", generation: 4, exit: 3))
        #expect(again === job && job.info.exit?.code == 3)
    }

    @Test func anotherRunsRecordNeverBecomesACopysOwn() throws {
        let fixture = try Fixture()
        let job = try fixture.hub.jobForPublisher(Self.hello(run: "first"), owner: "o", maxJobs: 10)
        try job.refresh(from: Self.record(run: "second", generation: 7, command: "z", exit: 1))
        #expect(job.isRun("first") && job.generation == 0 && job.info.exit == nil && job.info.meta.command == ["y"])
    }
}
