#!/usr/bin/env python3
"""What wire ratio the uplink can reach at 2,000 lines/s, by flush window, without running tailcast.

The agent sends one data message per flush window; each is deflated with context takeover (zlib level 9,
memLevel 9, as AdaptiveDeflate does below 8 MB/s) and ends in a sync flush (RFC 7692), and each costs a
masked frame header (6 or 8 bytes). This replays the corpus through exactly that, three ways: with
PROTOCOL.md's chunk header (`0x01`, stream, offset, time_ms, length: one chunk per 20 ms time mark), with a
leaner header that leaves the offset implicit and the time as a delta (a protocol change, not built), and
with no header at all (the floor). Prints one Markdown table, each ratio as a share of gzip -6 of the
whole corpus. It decides whether a protocol change can buy the issue's "ratio ≥ 1.00 of gzip -6 at the
default window" with zlib's encoder: no; even without any header a 20 ms window reaches about 1.01, and
the window cannot grow without pushing latency p99 past 25 ms. (The agent passes it since session 11 with
an encoder of its own and one chunk per message: Benchmarks/README.md.)
"""
import zlib
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "logs"
RATE = 2000  # lines per second
MARK_MS = 20  # a new chunk when a read comes this long after the chunk's time (PROTOCOL.md)
EPOCH_MS = 1_764_000_000_000


def uvarint(n):
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def header(kind, line_index, offset, length):
    time_ms = EPOCH_MS + line_index * 1000 // RATE
    if kind == "protocol":
        return uvarint(1) + uvarint(offset) + uvarint(time_ms) + uvarint(length)
    if kind == "lean":
        return uvarint(1) + uvarint(MARK_MS) + uvarint(length)
    return b""


def wire_bytes(lines, window_ms, kind):
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    per_message = max(1, RATE * window_ms // 1000)
    per_chunk = max(1, RATE * MARK_MS // 1000)
    total = offset = 0
    for first in range(0, len(lines), per_message):
        message = bytearray() if kind == "none" else bytearray(b"\x01")
        batch = lines[first:first + per_message]
        for start in range(0, len(batch), per_chunk):
            piece = b"".join(batch[start:start + per_chunk])
            message += header(kind, first + start, offset, len(piece)) + piece
            offset += len(piece)
        size = len(deflater.compress(bytes(message)) + deflater.flush(zlib.Z_SYNC_FLUSH)) - 4
        total += size + 6 + (2 if size >= 126 else 0)
    return total


def main():
    lines = [line for path in sorted(CORPUS.glob("*.log")) for line in path.read_bytes().splitlines(keepends=True)]
    raw = sum(map(len, lines))
    gzip6 = raw / len(zlib.compress(b"".join(lines), 6))
    print(f"corpus: {raw:,} bytes, {len(lines):,} lines; gzip -6 of the whole: {gzip6:.2f}x\n")
    print("| flush window at 2,000 lines/s | PROTOCOL.md chunk header | lean header (offset implicit) | no header |")
    print("|---|---|---|---|")
    for window in (10, 15, 20, 25, 40):
        ratios = [raw / wire_bytes(lines, window, kind) for kind in ("protocol", "lean", "none")]
        cells = [f"{ratio:.2f}x ({ratio / gzip6:.3f})" for ratio in ratios]
        print(f"| {window} ms | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
