import NIOPosix
import Synchronization

/// A job's batches of one kind, each made once for every watcher at the same place (`BatchCache` decides):
/// kept, being made (joined), made at once from memory, or made on NIO's thread pool, since making one
/// from the archive reads a file and compresses or formats it.
final class SharedBatches<Batch: SharedBatch>: Sendable {
    private let cache: Mutex<BatchCache<Batch, Task<Batch, Error>>>

    init(maxBytes: Int, maxCount: Int) {
        self.cache = Mutex(BatchCache(maxBytes: maxBytes, maxCount: maxCount))
    }

    /// The batch for a watcher of `audience` that has sent stream `id` up to `from` and may send up to
    /// `upTo`. `make` turns bytes `from..<end` into a batch (ending at or before `end`), off the cooperative
    /// threads. `makeAtOnce`, when given, is tried first under the cache's lock for small batches whose bytes
    /// are in memory (nil when they are not): at the live end a deflate of a few kB costs less than the two
    /// thread switches of a hop to the pool, and every watcher woken meanwhile finds the batch kept.
    func batch(
        _ audience: Batch.Audience, stream id: UInt32, from: UInt64, upTo: UInt64, maxBytes: Int,
        makeAtOnce: (@Sendable (_ from: UInt64, _ end: UInt64) -> Batch?)? = nil,
        make: @escaping @Sendable (_ from: UInt64, _ end: UInt64) throws -> Batch
    ) async throws -> Batch {
        let next: Next = self.cache.withLock { cache in
            switch Self.plan(&cache, audience, stream: id, from: from, upTo: upTo, maxBytes: maxBytes, makeAtOnce: { makeAtOnce?($0, $1) }) {
            case .kept(let batch):
                return .kept(batch)
            case .making(let maker):
                return .making(maker)
            case .toMake(let from, let end):
                // Its own task, so that a watcher that goes away while making does not fail the others.
                let maker = Task {
                    do {
                        let batch = try await NIOThreadPool.singleton.runIfActive { try make(from, end) }
                        self.cache.withLock { $0.keep(batch) }
                        return batch
                    } catch {
                        self.cache.withLock { $0.abandon(audience, stream: id, from: from) }
                        throw error
                    }
                }
                cache.making(audience, stream: id, from: from, end: end, maker)
                return .making(maker)
            }
        }
        switch next {
        case .kept(let batch): return batch
        case .making(let maker): return try await maker.value
        }
    }

    /// The batch for a watcher at `from`, only if it is kept or `make` makes it now (under the cache's lock,
    /// from memory); nil when it is being made elsewhere or `make` gives none. For the job's own writes to
    /// watchers at the live end (`LiveWatchers`), which never wait.
    func batchAtOnce(
        _ audience: Batch.Audience, stream id: UInt32, from: UInt64, upTo: UInt64, maxBytes: Int,
        make: @Sendable (_ from: UInt64, _ end: UInt64) -> Batch?
    ) -> Batch? {
        self.cache.withLock { cache in
            switch Self.plan(&cache, audience, stream: id, from: from, upTo: upTo, maxBytes: maxBytes, makeAtOnce: make) {
            case .kept(let batch): batch
            case .making, .toMake: nil
            }
        }
    }

    /// What the cache has for a watcher at `from`, after `makeAtOnce` had its try at a batch still to
    /// make: one made now is kept for the others.
    private static func plan(
        _ cache: inout BatchCache<Batch, Task<Batch, Error>>, _ audience: Batch.Audience, stream id: UInt32, from: UInt64, upTo: UInt64,
        maxBytes: Int, makeAtOnce: @Sendable (_ from: UInt64, _ end: UInt64) -> Batch?
    ) -> Planned {
        switch cache.plan(audience, stream: id, from: from, upTo: upTo, maxBytes: maxBytes) {
        case .use(let batch):
            return .kept(batch)
        case .join(let maker):
            return .making(maker)
        case .make(let from, let end):
            guard let batch = makeAtOnce(from, end) else { return .toMake(from: from, end: end) }
            cache.keep(batch)
            return .kept(batch)
        }
    }

    private enum Planned {
        case kept(Batch)
        case making(Task<Batch, Error>)
        /// Bytes `from..<end` to make off the lock.
        case toMake(from: UInt64, end: UInt64)
    }

    private enum Next {
        case kept(Batch)
        case making(Task<Batch, Error>)
    }
}
