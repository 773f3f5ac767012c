/// Bytes of `value` as an unsigned LEB128 varint.
func varintSize(_ value: UInt64) -> Int { max(1, (64 - value.leadingZeroBitCount + 6) / 7) }

/// What a full spool gives up to keep the newest output: the oldest records the uplink has not read
/// yet (bytes it may have sent are never given up: the server may hold them), replaced by one marker
/// per stream saying how much was lost there. The stream stays contiguous: the marker takes the lost
/// bytes' place, and later offsets of that stream move by the difference (`Adjustment`).
///
/// Pure: the spool reads the record headers and writes the result.
struct EvictionPlan: Equatable {
    struct RecordHeader: Equatable {
        /// Where the record starts in spool.bin, and its encoded size.
        var position: UInt64
        var size: UInt64
        var stream: UInt32
        /// Offset in the delivered stream (adjustments already applied) and byte count.
        var offset: UInt64
        var length: UInt64
        var timeMs: UInt64
        /// Set when the record is an earlier marker: the output it stands for, merged into the new one.
        var lost: UInt64? = nil
    }

    struct Marker: Equatable {
        var stream: UInt32
        var offset: UInt64
        var timeMs: UInt64
        var lost: UInt64
        var text: [UInt8]

        var encodedSize: UInt64 {
            UInt64(varintSize(UInt64(self.stream)) + varintSize(self.offset) + varintSize(self.timeMs)
                + varintSize(UInt64(self.text.count)) + self.text.count)
        }
    }

    /// Records of `stream` at spool positions in `positions` with an offset at or past `fromOffset`
    /// are delivered `shift` bytes earlier (later, if negative): the marker before them is shorter
    /// (longer) than what it replaces.
    struct Adjustment: Codable, Equatable, Sendable {
        var stream: UInt32
        var fromPosition: UInt64
        var toPosition: UInt64
        var fromOffset: UInt64
        var shift: Int64

        func apply(stream: UInt32, offset: UInt64, at position: UInt64) -> UInt64 {
            guard stream == self.stream, position >= self.fromPosition, position < self.toPosition, offset >= self.fromOffset else {
                return offset
            }
            return UInt64(Int64(offset) - self.shift)
        }
    }

    /// Spool positions given up; the markers are written at its start, the rest becomes a hole.
    var range: Range<UInt64>
    var markers: [Marker]
    var adjustments: [Adjustment]

    var markerBytes: UInt64 { self.markers.reduce(0) { $0 + $1.encodedSize } }
    /// Spool bytes this plan frees.
    var freed: UInt64 { UInt64(self.range.count) - self.markerBytes }

    /// Gives up the first records, oldest first, until `needed` bytes are free after the markers;
    /// nil when all of `records` would not free that much. `fileEnd`: the spool's length now.
    static func make(records: [RecordHeader], needed: UInt64, fileEnd: UInt64) -> EvictionPlan? {
        guard let first = records.first else { return nil }
        var lost: [UInt32: (from: UInt64, to: UInt64, timeMs: UInt64, bytes: UInt64)] = [:]
        var order: [UInt32] = []
        for record in records {
            let bytes = record.lost ?? record.length
            if let range = lost[record.stream] {
                lost[record.stream] = (range.from, record.offset + record.length, range.timeMs, range.bytes + bytes)
            } else {
                lost[record.stream] = (record.offset, record.offset + record.length, record.timeMs, bytes)
                order.append(record.stream)
            }
            let end = record.position + record.size
            let markers = order.map { stream in
                let range = lost[stream]!
                return Marker(stream: stream, offset: range.from, timeMs: range.timeMs, lost: range.bytes, text: Self.text(lostBytes: range.bytes))
            }
            let plan = EvictionPlan(
                range: first.position..<end, markers: markers,
                adjustments: markers.map { marker in
                    let range = lost[marker.stream]!
                    return Adjustment(
                        stream: marker.stream, fromPosition: end, toPosition: fileEnd, fromOffset: range.to,
                        shift: Int64(range.to - range.from) - Int64(marker.text.count))
                })
            if plan.markerBytes <= UInt64(plan.range.count) && plan.freed >= needed { return plan }
        }
        return nil
    }

    /// A line a watcher sees where output was lost; on its own line, whatever came before.
    static func text(lostBytes: UInt64) -> [UInt8] {
        Array("\n[tailcast: \(lostBytes) bytes of output lost here: the agent's spool was full (--spool-max-mib) while the server could not take them]\n".utf8)
    }
}
