import CTailcastSystem
import NIOCore
import NIOWebSocket
import Synchronization
import TailcastProtocol

/// One data message of a job, made once for every watcher at the same place in a stream: the message, and
/// the same message deflated on its own (RFC 7692 with no context: what `server_no_context_takeover`
/// promises), ready to be written as the payload of an RSV1 frame to every watcher that negotiated
/// permessage-deflate. A thousand watchers of one job then cost one read and one compression per batch.
struct PreparedBatch: SharedBatch, Equatable {
    /// Every WebSocket watcher at the same place gets the same message.
    struct Everyone: Hashable, Sendable {}

    /// Stream id (the same for every watcher of the job), and the bytes `from..<end` the message holds.
    var stream: UInt32
    var from: UInt64
    var end: UInt64
    var message: ByteBuffer
    var deflated: ByteBuffer

    var cost: Int { self.message.readableBytes + self.deflated.readableBytes }
    var audience: Everyone { Everyone() }

    /// The frame a watcher is written: deflated, in an RSV1 frame, to one that negotiated permessage-deflate.
    func frame(deflated: Bool) -> WebSocketFrame {
        deflated
            ? WebSocketFrame(fin: true, rsv1: true, opcode: .binary, data: self.deflated)
            : WebSocketFrame(fin: true, opcode: .binary, data: self.message)
    }

    func frameBytes(deflated: Bool) -> Int {
        deflated ? self.deflated.readableBytes : self.message.readableBytes
    }
}

/// A message made once and written as it is to every watcher at the same place (`BatchCache`).
protocol SharedBatch: Sendable {
    /// What, besides the stream and the offset, watchers must have in common to share a batch.
    associatedtype Audience: Hashable & Sendable
    var audience: Audience { get }
    var stream: UInt32 { get }
    /// The stream's bytes `from..<end` are in it.
    var from: UInt64 { get }
    var end: UInt64 { get }
    /// Bytes it holds, for the cache's bound.
    var cost: Int { get }
}

extension PreparedBatch {
    /// Up to one batch of `file` from `from`, read and deflated now; `memoryOnly`: only from the bytes and
    /// time marks in memory (`StreamFile.NotInMemory` otherwise), so it never waits for the disk.
    init(file: StreamFile, stream id: UInt32, from: UInt64, upTo: UInt64, memoryOnly: Bool) throws {
        let (message, end) = try WatchSession.dataMessage(file: file, id: id, from: from, upTo: upTo, memoryOnly: memoryOnly)
        self.init(stream: id, from: from, end: end, message: message, deflated: try DeflaterPool.shared.deflate(message))
    }
}

/// Which prepared batch a watcher gets, decided without I/O. A batch is found by its stream and first byte,
/// so watchers at the same place share it; a watcher that is elsewhere (it joined, or resumed, between two
/// batches' edges) gets a batch of its own that ends where the next kept batch begins, and from there on
/// shares again. A batch being made is shared too (`Pending`, how the maker's result is awaited): woken
/// together, a thousand watchers at the live end would otherwise each make the same batch. Kept batches
/// are bounded by bytes and by count; the oldest go first (a watcher that needs one again makes it anew
/// from the archive, which stays every watcher's queue). The count bounds the scan for the next kept
/// batch that every new batch makes: one-line batches (`--flush-window-ms 0`) filled 4 MiB with some
/// 15,000, tens of microseconds per line (perf).
struct BatchCache<Batch: SharedBatch, Pending> {
    enum Plan {
        /// Send this batch as it is.
        case use(Batch)
        /// Wait for the batch another watcher is making here, and send it.
        case join(Pending)
        /// Make a batch of bytes `from..<upTo`: say so with `making`, then `keep` it (or `abandon` it).
        case make(from: UInt64, upTo: UInt64)
    }

    private struct Key: Hashable {
        var audience: Batch.Audience
        var stream: UInt32
        var from: UInt64
    }

    let maxBytes: Int
    let maxCount: Int
    private var batches: [Key: Batch] = [:]
    private var pending: [Key: (end: UInt64, value: Pending)] = [:]
    /// Insertion order, for eviction.
    private var order: [Key] = []
    private var head = 0
    private(set) var bytes = 0

    init(maxBytes: Int, maxCount: Int) {
        self.maxBytes = maxBytes
        self.maxCount = maxCount
    }

    var count: Int { self.batches.count }
    var makingCount: Int { self.pending.count }

    /// What a watcher of `audience` that has sent `stream` up to `from` and may send up to `upTo` should send next.
    func plan(_ audience: Batch.Audience, stream: UInt32, from: UInt64, upTo: UInt64, maxBytes: Int) -> Plan {
        let key = Key(audience: audience, stream: stream, from: from)
        if let batch = self.batches[key], batch.end <= upTo {
            return .use(batch)
        }
        if let making = self.pending[key], making.end <= upTo {
            return .join(making.value)
        }
        var end = min(upTo, from + UInt64(maxBytes))
        // Stop where a kept batch begins, so that the next step is shared.
        for key in self.batches.keys where key.stream == stream && key.from > from && key.from < end && key.audience == audience {
            end = key.from
        }
        return .make(from: from, upTo: end)
    }

    /// A batch of `stream` from `from` to `end` is being made; watchers that come there join it. A place
    /// has one maker: a second (a watcher whose bound was below the first one's end) is not recorded.
    mutating func making(_ audience: Batch.Audience, stream: UInt32, from: UInt64, end: UInt64, _ value: Pending) {
        let key = Key(audience: audience, stream: stream, from: from)
        if self.pending[key] == nil { self.pending[key] = (end, value) }
    }

    /// The making of a batch failed: the next watcher there makes it anew.
    mutating func abandon(_ audience: Batch.Audience, stream: UInt32, from: UInt64) {
        self.pending.removeValue(forKey: Key(audience: audience, stream: stream, from: from))
    }

    /// Keeps a batch just made (unless one for the same place is kept already) and drops the oldest
    /// beyond the bound.
    mutating func keep(_ batch: Batch) {
        let key = Key(audience: batch.audience, stream: batch.stream, from: batch.from)
        self.pending.removeValue(forKey: key)
        guard self.batches[key] == nil, batch.cost <= self.maxBytes else { return }
        self.batches[key] = batch
        self.order.append(key)
        self.bytes += batch.cost
        while self.bytes > self.maxBytes || self.batches.count > self.maxCount, self.head < self.order.count {
            let oldest = self.order[self.head]
            self.head += 1
            if let dropped = self.batches.removeValue(forKey: oldest) { self.bytes -= dropped.cost }
        }
        if self.head > 1024 && self.head * 2 > self.order.count {
            self.order.removeFirst(self.head)
            self.head = 0
        }
    }
}

/// Raw deflaters (window 15), reset for every batch: a few shared by all jobs instead of one per watcher.
final class DeflaterPool: Sendable {
    static let shared = DeflaterPool()

    /// Level 6, zlib's default, for the batches of watchers at the live end: compressed once for all of
    /// them, the better ratio is worth its time. A batch of half the largest size or more is read from far
    /// behind the live end (a replay, or a job writing faster than watchers take it) and gets level 2:
    /// level 6 deflates at ~74 MB/s and was most of the server's CPU at full speed (perf, 100 MiB through
    /// one watcher), level 2 at ~200 MB/s with 0.83 of level 6's ratio on the corpus.
    static func level(forBytes count: Int) -> Int32 {
        count >= Wire.maxBatchBytes / 2 ? 2 : 6
    }

    private struct Deflater: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    private let idle = Mutex<[Deflater]>([])

    /// `message` deflated as one RFC 7692 message with no context: a sync flush, without its 00 00 ff ff tail.
    func deflate(_ message: ByteBuffer) throws -> ByteBuffer {
        let deflater = try self.idle.withLock { $0.popLast() } ?? Deflater(pointer: Self.create())
        defer {
            if tailcast_deflater_reset(deflater.pointer) == 0 {
                self.idle.withLock { if $0.count < 8 { $0.append(deflater) } else { tailcast_deflater_destroy(deflater.pointer) } }
            } else {
                tailcast_deflater_destroy(deflater.pointer)
            }
        }
        guard tailcast_deflater_set_level(deflater.pointer, Self.level(forBytes: message.readableBytes)) == 0 else { throw DeflateFailed() }
        let capacity = tailcast_deflater_bound(deflater.pointer, message.readableBytes)
        var output = ByteBuffer()
        let written = output.writeWithUnsafeMutableBytes(minimumWritableBytes: capacity) { out in
            message.withUnsafeReadableBytes { input in
                let count = tailcast_deflater_compress(
                    deflater.pointer, input.baseAddress?.assumingMemoryBound(to: UInt8.self), input.count,
                    out.baseAddress!.assumingMemoryBound(to: UInt8.self), out.count)
                return max(0, count)
            }
        }
        guard written >= 4 else { throw DeflateFailed() }
        output.moveWriterIndex(to: output.writerIndex - 4)
        return output
    }

    private static func create() throws -> OpaquePointer {
        guard let pointer = tailcast_deflater_create(6, 15, 8) else { throw DeflateFailed() }
        return pointer
    }

    struct DeflateFailed: Error {}
}

extension BatchCache.Plan: Equatable where Batch: Equatable, Pending: Equatable {}
