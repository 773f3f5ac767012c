#!/usr/bin/env python3
"""The fan-out load generator: N watchers of one stream, all held by this one asyncio process.

    watchers.py tailcast URL JOB --count N --lines L --times FILE --deadline S
    watchers.py websocketd PORT --count N --lines L --times FILE --deadline S

tailcast watchers follow PROTOCOL.md §3.2 on the `websockets` package, offering permessage-deflate:
`watch` with `follow`, then every data message is parsed and each chunk checked against the bytes
emit.py writes (offset contiguous from 0, content equal: in order, exactly once) until `finished`.
websocketd watchers read its one-line messages with lineframes.py (websocketd never negotiates
compression) and check each line.

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
from pathlib import Path

from harness import Corpus, READY, latencies_ms, percentiles, raise_open_files, read_times
from lineframes import FrameParser, handshake

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


async def tailcast_watcher(url, job, watcher, gate, stop):
    from websockets.asyncio.client import connect
    try:
        async with gate:
            ws = await connect(url + "/v1/watch", subprotocols=["tailcast.v1"], compression="deflate",
                               max_size=8 << 20, ping_interval=None, open_timeout=120, close_timeout=1)
    except Exception as error:
        watcher.fail(f"connect: {type(error).__name__}: {error}")
        return
    finally:
        gate.attempted += 1
    names = {}
    try:
        await ws.send(json.dumps({"type": "watch", "job": job, "follow": True}))
        async for message in ws:
            now = time.time()
            if isinstance(message, str):
                control = json.loads(message)
                kind = control["type"]
                if kind == "stream":  # stdout carries the lines; stderr is announced too, and must stay empty
                    names[control["stream"]] = control["name"]
                    if control["offset"] != 0:
                        watcher.fail(f"a stream announced from offset {control['offset']:,}")
                elif kind == "finished":
                    watcher.wire = wire_bytes(ws.transport.get_extra_info("socket"))
                    break
                elif kind in ("error", "caught_up"):
                    watcher.fail(f"{kind}: {control}")
                continue
            for stream, offset, _, payload in decode_data(message):
                if names.get(stream) != "stdout" or offset != watcher.got:
                    watcher.fail(f"chunk of stream {stream} at {offset:,} where {watcher.got:,} was next")
                elif payload != watcher.expected[offset:offset + len(payload)]:
                    watcher.fail(f"bytes at {offset:,} differ from what was written")
                watcher.got += len(payload)
            watcher.saw(now)
        if watcher.got != len(watcher.expected):
            watcher.fail(f"finished after {watcher.got:,} of {len(watcher.expected):,} bytes")
        watcher.complete.set()
        await stop.wait()
    except Exception as error:  # one watcher's failure is a result, not the end of the measurement
        watcher.fail(f"{type(error).__name__}: {error}")
    finally:
        if not watcher.wire:
            try:
                watcher.wire = wire_bytes(ws.transport.get_extra_info("socket"))
            except OSError:
                pass
        await ws.close()


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


async def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("tailcast", "websocketd"))
    parser.add_argument("target", help="tailcast: ws://HOST:PORT URL; websocketd: the port")
    parser.add_argument("job", nargs="?")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--lines", type=int, required=True)
    parser.add_argument("--times", required=True)
    parser.add_argument("--deadline", type=float, required=True, help="seconds after ready")
    args = parser.parse_args()
    raise_open_files()
    expected, ends = Corpus().stream(args.lines)
    watchers = [Watcher(expected) for _ in range(args.count)]
    gate, stop = Gate(), asyncio.Event()
    if args.mode == "tailcast":
        tasks = [asyncio.create_task(tailcast_watcher(args.target, args.job, w, gate, stop)) for w in watchers]
    else:
        tasks = [asyncio.create_task(websocketd_watcher(int(args.target), w, gate, stop)) for w in watchers]
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
    print(json.dumps({"watchers": args.count, "complete": sum(1 for w in watchers if w.got == len(expected) and not w.error),
                      "lines": int(len(delays)), "of_lines": args.lines * args.count, **percentiles(delays),
                      "wire_per_watcher": sum(w.wire for w in watchers) / args.count, "raw": len(expected),
                      "seconds": seconds, "cpu": cpu, "errors": errors[:3], "error_count": len(errors)}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
