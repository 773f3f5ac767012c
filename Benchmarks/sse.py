#!/usr/bin/env python3
"""The Server-Sent Events load generator: N readers of one job's `GET /v1/jobs/JOB/events` (PROTOCOL.md
6.1), all held by this one asyncio process; the same interface and output as watchers.py.

    sse.py http://HOST:PORT JOB --count N --lines L --times FILE --deadline S

Every `output` event is checked against the bytes emit.py writes: stream stdout, offset contiguous from 0
(in order, exactly once), content equal. The response is read off the socket and de-chunked here rather
than by an HTTP library, whose per-event cost times hundreds of readers would measure this process. An
event's JSON is parsed and checked once per distinct `data:` line (every reader gets the same events at
the same offsets), as watchers.py does with deflated messages; each reader still checks that each event
continues exactly where its last one ended.
"""
import argparse
import asyncio
import base64
import json
import time

from harness import Corpus, raise_open_files
from watchers import Gate, Watcher, add_load_arguments, drive, hold, wire_bytes


class Checked:
    """What each distinct `output` data line holds: (stream, offset, length, equal to what was written)."""

    def __init__(self, expected):
        self.expected, self.known = expected, {}

    def output(self, data):
        known = self.known.get(data)
        if known is None:
            event = json.loads(data)
            payload = event["text"].encode() if "text" in event else base64.b64decode(event["base64"])
            offset = event["offset"]
            known = (event["stream"], offset, len(payload), payload == self.expected[offset:offset + len(payload)])
            if len(self.known) > 50_000:
                self.known.clear()
            self.known[data] = known
        return known


class EventProtocol(asyncio.Protocol):
    """One reader: the HTTP response head, then chunked transfer coding, then events split at blank lines."""

    def __init__(self, watcher, checked, request):
        self.watcher, self.checked, self.request = watcher, checked, request
        self.raw, self.body, self.head = bytearray(), bytearray(), True
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data):
        now = time.time()
        self.raw += data
        try:
            if self.head:
                end = self.raw.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(self.raw[:end]).lower()
                if not head.startswith(b"http/1.1 200") or b"transfer-encoding: chunked" not in head:
                    raise ValueError(f"unexpected response head {head[:200]!r}")
                del self.raw[:end + 4]
                self.head = False
            self.dechunk()
            before = self.watcher.got
            self.events()
            if self.watcher.got != before:
                self.watcher.saw(now)
        except (ValueError, KeyError) as error:
            self.watcher.fail(f"{type(error).__name__}: {error}")
            self.transport.close()

    def dechunk(self):
        raw = self.raw
        while True:
            line_end = raw.find(b"\r\n")
            if line_end < 0:
                return
            size = int(bytes(raw[:line_end]).split(b";")[0], 16)
            if len(raw) < line_end + 2 + size + 2:
                return
            self.body += raw[line_end + 2:line_end + 2 + size]
            del raw[:line_end + 2 + size + 2]

    def events(self):
        watcher, body = self.watcher, self.body
        while (end := body.find(b"\n\n")) >= 0:
            event = bytes(body[:end])
            del body[:end + 2]
            kind, data = None, None
            for line in event.split(b"\n"):
                if line.startswith(b"event: "):
                    kind = line[7:]
                elif line.startswith(b"data: "):
                    data = line[6:]
            if kind == b"output":
                stream, offset, length, same = self.checked.output(data)
                if stream != "stdout" or offset != watcher.got:
                    watcher.fail(f"output of {stream} at {offset:,} where {watcher.got:,} was next")
                elif not same:
                    watcher.fail(f"bytes at {offset:,} differ from what was written")
                watcher.got += length
            elif kind == b"end":
                watcher.wire = wire_bytes(self.transport.get_extra_info("socket"))
                if watcher.got != len(watcher.expected):
                    watcher.fail(f"end after {watcher.got:,} of {len(watcher.expected):,} bytes")
                watcher.complete.set()
            elif kind == b"stream":
                if json.loads(data)["offset"] != 0:
                    watcher.fail("a stream announced past offset 0")
            elif kind in (b"error", b"caught_up"):
                watcher.fail(f"{kind.decode()}: {data!r}")

    def connection_lost(self, _):
        if self.watcher.got < len(self.watcher.expected):
            self.watcher.fail(f"connection closed after {self.watcher.got:,} bytes")


async def reader(host, port, job, watcher, checked, gate, stop):
    request = f"GET /v1/jobs/{job}/events HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode()

    async def connect():
        transport, _ = await asyncio.get_running_loop().create_connection(
            lambda: EventProtocol(watcher, checked, request), host, port)
        return transport
    await hold(watcher, gate, stop, connect)


async def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="http://HOST:PORT")
    parser.add_argument("job")
    add_load_arguments(parser)
    args = parser.parse_args()
    raise_open_files()
    host, port = args.url.removeprefix("http://").rsplit(":", 1)
    expected, ends = Corpus().stream(args.lines)
    checked, gate, stop = Checked(expected), Gate(), asyncio.Event()
    watchers = [Watcher(expected) for _ in range(args.count)]
    tasks = [asyncio.create_task(reader(host, int(port), args.job, w, checked, gate, stop)) for w in watchers]
    await drive(args, watchers, tasks, gate, stop, ends)


if __name__ == "__main__":
    asyncio.run(main())
