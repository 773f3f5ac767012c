#!/usr/bin/env python3
"""The fan-out load generator: N watchers of one stream, all held by this one asyncio process.

    watchers.py tailcast URL JOB --count N --lines L --times FILE --deadline S
    watchers.py websocketd PORT --count N --lines L --times FILE --deadline S

tailcast watchers follow PROTOCOL.md §3.2, offering permessage-deflate: `watch` with `follow`, then
every data message is parsed and each chunk checked against the bytes emit.py writes (offset
contiguous from 0, content equal: in order, exactly once) until `finished`. Both kinds of watcher read
frames with lineframes.py rather than a WebSocket library (whose tens of microseconds per message,
times a thousand connections, would measure this process); a deflated message that many watchers
received byte-identical is inflated and compared once (see `Inflated`). websocketd watchers read its
one-line messages (websocketd never negotiates compression) and check each line.

Prints "connected" once every connection is open and "ready" once every watcher has shown the
writer's first line; the benchmark then starts the writer's clock. It prints "done" when every watcher
is done or the deadline passed, and then one JSON line: latency percentiles over every line at every watcher, watchers
complete, bytes on the wire per watcher (TCP_INFO: received plus acknowledged sent bytes, so headers
and handshake included), and its own CPU seconds while the stream ran.
"""
import argparse
import array
import asyncio
import json
import resource
import socket
import struct
import sys
import time
import zlib
from pathlib import Path

from harness import Corpus, READY, latencies_ms, percentiles, raise_open_files, read_times
from lineframes import FrameParser, handshake, masked

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Tests" / "e2e"))
from peer import decode_data  # noqa: E402  the protocol's reference peer: parsed as any client written from PROTOCOL.md

TCPI_BYTES_ACKED = 120  # offsets in struct tcp_info (linux/tcp.h)
TCPI_BYTES_RECEIVED = 128


def wire_bytes(sock):
    """Bytes this connection carried so far, both directions; read while it is open."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    acked, = struct.unpack_from("Q", info, TCPI_BYTES_ACKED)
    received, = struct.unpack_from("Q", info, TCPI_BYTES_RECEIVED)
    return acked + received


class Watcher:
    """What one watcher saw: the position reached and when, checked against the expected bytes."""

    def __init__(self, expected):
        self.expected = expected
        self.got = 0
        self.times, self.ends = array.array("d"), array.array("q")
        self.error = None
        self.complete = asyncio.Event()
        self.ready = asyncio.Event()
        self.wire = 0

    def saw(self, now):
        self.times.append(now)
        self.ends.append(self.got)
        if self.got >= len(READY):
            self.ready.set()
        if self.got >= len(self.expected):
            self.complete.set()

    def fail(self, error):
        self.error = self.error or error
        self.ready.set()
        self.complete.set()


class Inflated:
    """What each distinct deflated data message holds, checked once against the written bytes.

    With `server_no_context_takeover` every message inflates on its own, and the server sends the same
    bytes to every watcher at the same place; inflating and comparing each of a thousand identical
    copies in one Python process would measure this process, not the server. A message's chunks and
    their check are a function of its bytes, so each watcher still checks every chunk it received:
    its stream, its offset (in order, exactly once) and, through the message's bytes, its content."""

    def __init__(self, expected):
        self.expected, self.known = expected, {}

    def chunks(self, payload, deflated):
        known = self.known.get(payload)
        if known is None:
            message = zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff") if deflated else payload
            known = [(stream, offset, len(data), data == self.expected[offset:offset + len(data)])
                     for stream, offset, _, data in decode_data(message)]
            if len(self.known) > 50_000:
                self.known.clear()
            self.known[payload] = known
        return known


class TailcastProtocol(asyncio.Protocol):
    """One watcher following PROTOCOL.md §3.2: `watch` with `follow`, offering permessage-deflate."""

    def __init__(self, watcher, job, inflated, host, port):
        self.watcher, self.job, self.inflated = watcher, job, inflated
        self.host, self.port = host, port
        self.parser, self.transport = FrameParser(flags=True), None
        self.names, self.shared, self.inflater = {}, False, None
        self.finished = asyncio.Event()

    def connection_made(self, transport):
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.write(handshake(self.host, self.port, "/v1/watch", [
            ("Sec-WebSocket-Protocol", "tailcast.v1"),
            ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")]))

    def data_received(self, data):
        now, watcher = time.time(), self.watcher
        head = self.parser.head
        try:
            messages = self.parser.feed(data)
            if head and not self.parser.head:
                extensions = [line for line in self.parser.response_head.decode().lower().split("\r\n")
                              if line.startswith("sec-websocket-extensions:")]
                self.shared = any("server_no_context_takeover" in line for line in extensions)
                if extensions and not self.shared:
                    self.inflater = zlib.decompressobj(-15)  # context takeover: this connection's own window
                self.transport.write(masked(0x1, json.dumps({"type": "watch", "job": self.job, "follow": True}).encode()))
            for opcode, deflated, payload in messages:
                if opcode == 0x1:
                    self.control(json.loads(payload))
                    continue
                if self.inflater is not None and deflated:
                    message = self.inflater.decompress(payload + b"\x00\x00\xff\xff")
                    chunks = [(stream, offset, len(bytes_), bytes_ == watcher.expected[offset:offset + len(bytes_)])
                              for stream, offset, _, bytes_ in decode_data(message)]
                else:
                    chunks = self.inflated.chunks(payload, deflated)
                for stream, offset, length, same in chunks:
                    if self.names.get(stream) != "stdout" or offset != watcher.got:
                        watcher.fail(f"chunk of stream {stream} at {offset:,} where {watcher.got:,} was next")
                    elif not same:
                        watcher.fail(f"bytes at {offset:,} differ from what was written")
                    watcher.got += length
                watcher.saw(now)
        except (ValueError, ConnectionError, zlib.error) as error:
            watcher.fail(f"{type(error).__name__}: {error}")
            self.transport.close()
        if self.parser.replies:
            self.transport.write(bytes(self.parser.replies))
            self.parser.replies.clear()

    def control(self, control):
        kind, watcher = control["type"], self.watcher
        if kind == "stream":  # stdout carries the lines; stderr is announced too, and must stay empty
            self.names[control["stream"]] = control["name"]
            if control["offset"] != 0:
                watcher.fail(f"a stream announced from offset {control['offset']:,}")
        elif kind == "finished":
            watcher.wire = wire_bytes(self.transport.get_extra_info("socket"))
            if watcher.got != len(watcher.expected):
                watcher.fail(f"finished after {watcher.got:,} of {len(watcher.expected):,} bytes")
            watcher.complete.set()
            self.finished.set()
        elif kind in ("error", "caught_up"):
            watcher.fail(f"{kind}: {control}")

    def connection_lost(self, _):
        # The benchmark stops once every line is at every watcher, which may come before `finished`.
        if not self.finished.is_set() and self.watcher.got < len(self.watcher.expected):
            reason = self.parser.close_reason
            code = f" (close {int.from_bytes(reason[:2], 'big')} {reason[2:].decode(errors='replace')})" if reason else ""
            self.watcher.fail(f"connection closed after {self.watcher.got:,} bytes{code}")
        self.finished.set()


async def hold(watcher, gate, stop, connect):
    """One connection, opened through `gate` by `connect()` (which returns its transport) and held until `stop`."""
    try:
        async with gate:
            transport = await connect()
    except OSError as error:
        watcher.fail(f"connect: {error}")
        return
    finally:
        gate.attempted += 1
    try:
        await stop.wait()
    finally:
        if not watcher.wire:
            try:
                watcher.wire = wire_bytes(transport.get_extra_info("socket"))
            except OSError:
                pass
        transport.close()


async def tailcast_watcher(url, job, watcher, gate, stop, inflated):
    host, port = url.removeprefix("ws://").rsplit(":", 1)

    async def connect():
        transport, _ = await asyncio.get_running_loop().create_connection(
            lambda: TailcastProtocol(watcher, job, inflated, host, int(port)), host, int(port))
        return transport
    await hold(watcher, gate, stop, connect)


class LineProtocol(asyncio.Protocol):
    def __init__(self, watcher):
        self.watcher, self.parser, self.transport = watcher, FrameParser(), None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        now = time.time()
        watcher = self.watcher
        try:
            for message in self.parser.feed(data):
                end = watcher.expected.index(b"\n", watcher.got) + 1
                if message != watcher.expected[watcher.got:end].removesuffix(b"\n").removesuffix(b"\r"):
                    watcher.fail(f"line at {watcher.got:,} differs from what was written")
                watcher.got = end
        except (ValueError, ConnectionError) as error:
            watcher.fail(str(error))
        if self.parser.replies:
            self.transport.write(bytes(self.parser.replies))
            self.parser.replies.clear()
        watcher.saw(now)

    def connection_lost(self, _):
        if self.watcher.got < len(self.watcher.expected):
            self.watcher.fail(f"connection closed after {self.watcher.got:,} bytes")


async def websocketd_watcher(port, watcher, gate, stop):
    try:
        async with gate:
            transport, _ = await asyncio.get_running_loop().create_connection(lambda: LineProtocol(watcher), "127.0.0.1", port)
            transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            transport.write(handshake("127.0.0.1", port))
    except OSError as error:
        watcher.fail(f"connect: {error}")
        return
    finally:
        gate.attempted += 1
    try:
        await stop.wait()
    finally:
        watcher.wire = wire_bytes(transport.get_extra_info("socket"))
        transport.close()


class Gate(asyncio.Semaphore):
    """Handshakes in flight at once (within any listen backlog), and how many connections were tried."""

    def __init__(self):
        super().__init__(64)
        self.attempted = 0


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def drive(args, watchers, tasks, gate, stop, ends):
    """Says "connected", "ready" and "done" as the watchers get there, then prints the JSON report."""
    async with asyncio.timeout(180):
        while gate.attempted < args.count:
            await asyncio.sleep(0.05)
    print("connected", flush=True)
    async with asyncio.timeout(120):
        await asyncio.gather(*(w.ready.wait() for w in watchers))
    print("ready", flush=True)
    cpu0, start = cpu_seconds(), time.monotonic()
    try:
        async with asyncio.timeout(args.deadline):
            await asyncio.gather(*(w.complete.wait() for w in watchers))
    except TimeoutError:
        pass
    seconds, cpu = time.monotonic() - start, cpu_seconds() - cpu0
    print("done", flush=True)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    deadline = time.monotonic() + 60
    while not Path(args.times).exists() or Path(args.times).stat().st_size < 8 * args.lines:
        if time.monotonic() > deadline:
            raise SystemExit("the writer's times never came")
        await asyncio.sleep(0.1)
    import numpy
    write_times = read_times(args.times)
    delays = numpy.concatenate([latencies_ms(write_times, ends, w.times, w.ends) for w in watchers])
    errors = [w.error for w in watchers if w.error]
    print(json.dumps({"watchers": args.count, "complete": sum(1 for w in watchers if w.got == len(w.expected) and not w.error),
                      "lines": int(len(delays)), "of_lines": args.lines * args.count, **percentiles(delays),
                      "wire_per_watcher": sum(w.wire for w in watchers) / args.count, "raw": len(watchers[0].expected),
                      "seconds": seconds, "cpu": cpu, "errors": errors[:3], "error_count": len(errors)}), flush=True)


def add_load_arguments(parser):
    """What every load generator is told: how many readers, how many lines, where their write times come, until when."""
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--lines", type=int, required=True)
    parser.add_argument("--times", required=True)
    parser.add_argument("--deadline", type=float, required=True, help="seconds after ready")


async def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("tailcast", "websocketd"))
    parser.add_argument("target", help="tailcast: ws://HOST:PORT URL; websocketd: the port")
    parser.add_argument("job", nargs="?")
    add_load_arguments(parser)
    args = parser.parse_args()
    raise_open_files()
    expected, ends = Corpus().stream(args.lines)
    watchers = [Watcher(expected) for _ in range(args.count)]
    gate, stop = Gate(), asyncio.Event()
    if args.mode == "tailcast":
        inflated = Inflated(expected)
        tasks = [asyncio.create_task(tailcast_watcher(args.target, args.job, w, gate, stop, inflated)) for w in watchers]
    else:
        tasks = [asyncio.create_task(websocketd_watcher(int(args.target), w, gate, stop)) for w in watchers]
    await drive(args, watchers, tasks, gate, stop, ends)


if __name__ == "__main__":
    asyncio.run(main())
