"""What the browser viewer and read-only clients use over plain HTTP: `Range` and gzip on `raw`,
Server-Sent Events on `events` (curl -N and a small http.client SSE client, with a byte-exact
`Last-Event-ID` resume), and the watch-token cookie of `POST /v1/session`."""
import base64
import gzip
import http.client
import json
import os
import subprocess
import sys
import urllib.parse

import pytest
from websockets.sync.client import connect

from conftest import REPO, Server, free_port, http_request, paced_job, paced_lines, popen, py, tailcast, wait_until
from peer import SUBPROTOCOL

PUBLISH = "publish-7a1c3e5b9d0f2468"
WATCH = "watch-2b4d6f8a0c1e3579"

# Colours, a redrawn progress line, stderr, a character cut across two writes and bytes that are not UTF-8.
MIXED = r"""
import sys, time
o, e = sys.stdout.buffer, sys.stderr.buffer
for i in range(300):
    o.write(b"\x1b[32mline %03d\x1b[0m ok\n" % i)
    if i % 50 == 0:
        e.write(b"warning %d\n" % i); e.flush()
o.write(b"0%\r50%\r100%\n"); o.flush(); time.sleep(0.05)
o.write("caf\u00e9 ".encode()[:-2]); o.flush(); time.sleep(0.05)
o.write("caf\u00e9 ".encode()[-2:] + b"\xff\xfe raw\n"); o.flush()
"""


def run_job(server, env, job, code, *flags):
    done = tailcast("run", "--job", job, "--no-pty", "--quiet", *flags, "--server", server.url, "--", *py(code), env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return server.archived(job, "stdout")


def curl(*args):
    return subprocess.run(["curl", "-s", "--max-time", "20", *args], capture_output=True, timeout=30)


def head_and_body(*args):
    """Status line, headers (lower-case names) and body of `curl -i`."""
    out = curl("-i", *args).stdout
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict((k.lower(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:]))
    return int(lines[0].split()[1]), headers, body


def test_raw_answers_ranges_and_gzip(server, env):
    out = run_job(server, env, "ranged", MIXED)
    raw = f"{server.http}/v1/jobs/ranged/raw?stream=stdout"
    status, headers, body = head_and_body(raw)
    assert (status, headers["accept-ranges"], body) == (200, "bytes", out)
    status, headers, body = head_and_body("-r", "10-19", raw)
    assert (status, headers["content-range"], body) == (206, f"bytes 10-19/{len(out)}", out[10:20])
    status, headers, body = head_and_body("-r", "100-", raw)
    assert (status, headers["content-range"], body) == (206, f"bytes 100-{len(out) - 1}/{len(out)}", out[100:])
    status, headers, body = head_and_body("-r", "-50", raw)
    assert (status, body) == (206, out[-50:])
    # past the end: 416 with the size; several ranges: the whole stream
    status, headers, _ = head_and_body("-r", f"{len(out)}-", raw)
    assert (status, headers["content-range"]) == (416, f"bytes */{len(out)}")
    status, _, body = head_and_body("-r", "0-1,5-6", raw)
    assert (status, body) == (200, out)
    # gzip for a whole stream, as curl --compressed asks for it; never for a range
    status, headers, body = head_and_body("-H", "Accept-Encoding: gzip", raw)
    assert (status, headers["content-encoding"]) == (200, "gzip") and gzip.decompress(body) == out
    assert curl("--compressed", raw).stdout == out
    status, headers, body = head_and_body("-H", "Accept-Encoding: gzip", "-r", "5-9", raw)
    assert (status, "content-encoding" in headers, body) == (206, False, out[5:10])
    status, headers, _ = head_and_body("-H", "Accept-Encoding: gzip;q=0", raw)
    assert "content-encoding" not in headers
    # downloads: a file, plain or gzip
    status, headers, body = head_and_body(raw + "&download=gzip")
    assert headers["content-type"] == "application/gzip" and gzip.decompress(body) == out
    assert headers["content-disposition"] == 'attachment; filename="ranged-stdout.log.gz"'
    status, _, _ = head_and_body(raw + "&download=zip")
    assert status == 400


def test_gzip_of_a_stream_read_in_many_pieces_is_one_whole_member(server, env):
    out = run_job(server, env, "big", "import sys\nfor i in range(40000): sys.stdout.write('%08d ' % i + 'x' * 90 + '\\n')")
    assert len(out) > 3 << 20
    status, headers, body = head_and_body("-H", "Accept-Encoding: gzip", f"{server.http}/v1/jobs/big/raw")
    assert (status, headers["content-encoding"]) == (200, "gzip") and gzip.decompress(body) == out
    # An empty stream is an empty gzip member.
    status, headers, body = head_and_body("-H", "Accept-Encoding: gzip", f"{server.http}/v1/jobs/big/raw?stream=stderr")
    assert (status, headers["content-encoding"], gzip.decompress(body)) == (200, "gzip", b"")


def test_lines_says_where_any_line_of_a_big_stream_begins(server, env):
    # Lines of uneven lengths over several 1 MiB blocks of the server's line index, the last one unfinished.
    out = run_job(server, env, "lines", "import sys\nfor i in range(60000): sys.stdout.write('%06d ' % i + 'y' * (i % 150) + '\\n')\n"
                  "sys.stdout.write('unfinished')")
    assert len(out) > 4 << 20
    starts = [0] + [i + 1 for i, byte in enumerate(out) if byte == 0x0A]
    base = f"{server.http}/v1/jobs/lines/lines"

    def line(number, stream="stdout"):
        status, body = http_request(f"{base}?stream={stream}&line={number}")
        return status, json.loads(body) if status == 200 else body
    # Asked out of order, so the index is both extended and searched; lines at and around block edges.
    edges = [next(n for n, at in enumerate(starts) if at >= block << 20) + 1 for block in (1, 2, 3)]
    for number in [59_000, 1, 2, 12_345, *edges, *(n - 1 for n in edges), 60_000, 60_001, 30_000]:
        status, answer = line(number)
        assert status == 200, (number, answer)
        assert answer == {"stream": "stdout", "line": number, "offset": starts[number - 1], "size": len(out)}, number
        assert out[answer["offset"]:].startswith(b"unfinished" if number == 60_001 else b"%06d " % (number - 1))
    # No such line, no such stream, not a line number.
    assert line(60_002)[0] == 404 and b"fewer than 60002 lines" in line(60_002)[1]
    assert line(1, "stderr")[0] == 404
    assert line(1, "nope")[0] == 404
    for bad in ("0", "-1", "x", ""):
        assert line(bad)[0] == 400, bad


def test_event_streams_take_places_under_max_connections(make_server, env):
    # Keep-alives every 0.3 s: a reader gone is noticed at the next write.
    server = make_server(["--max-connections", "2", "--ping-interval", "0.3"]).start()
    job = popen("run", "--job", "held", "--no-pty", "--quiet", "--server", server.url, "--",
                *py("import time; print('hi', flush=True); time.sleep(30)"), env=env)
    try:
        wait_until(lambda: server.jobs().get("held", {}).get("streams"), what="the job's output")
        # The agent holds one place, the first reader the other.
        first = EventStream(server.port, "/v1/jobs/held/events")
        assert first.response.status == 200 and next(iter(first))[0] == "job"
        refused = EventStream(server.port, "/v1/jobs/held/events")
        assert (refused.response.status, refused.response.getheader("Retry-After")) == (503, "5")
        assert b"--max-connections" in refused.response.read()
        refused.close()
        # Counted with WebSocket sessions: a watcher is busy too.
        with connect(server.url + "/v1/watch", subprotocols=[SUBPROTOCOL]) as watcher:
            busy = json.loads(watcher.recv())
            with pytest.raises(Exception):
                watcher.recv()
        assert (busy["code"], watcher.close_code) == ("busy", 4429)
        # The place comes back when the response ends: the write after the reader went away fails.
        first.close()
        second = None

        def admitted():
            nonlocal second
            second = EventStream(server.port, "/v1/jobs/held/events")
            return second.response.status == 200 or second.close()
        wait_until(admitted, timeout=10, what="the place given back")
        assert next(iter(second))[0] == "job"
        second.close()
    finally:
        job.kill()


class EventStream:
    """A Server-Sent Events client over http.client: what EventSource does, minus the reconnecting."""

    def __init__(self, port, path, last_event_id=None):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        self.connection.request("GET", path, headers=headers)
        self.response = self.connection.getresponse()
        self.last_id = last_event_id

    def __iter__(self):
        event = {}
        for raw in self.response:
            line = raw.decode().rstrip("\n")
            if not line:
                if "data" in event:
                    if "id" in event:
                        self.last_id = event["id"]
                    yield event.get("event", "message"), json.loads(event["data"]), event.get("id")
                event = {}
            elif line.startswith(":"):
                yield "comment", line, None
            else:
                field, _, value = line.partition(":")
                event[field] = value[1:] if value.startswith(" ") else value

    def close(self):
        self.connection.close()


def output_bytes(data):
    return data["text"].encode() if "text" in data else base64.b64decode(data["base64"])


def collect(events, streams, until=None):
    """Appends each output event's bytes to its stream, checking offsets run on with no gap; returns the
    event that ended the loop."""
    starts = {}
    for kind, data, _ in events:
        if kind == "stream" and data["name"] not in streams:
            starts[data["name"]] = data["offset"]
        if kind == "output":
            got = streams.setdefault(data["stream"], bytearray())
            start = starts.get(data["stream"], 0)
            assert data["offset"] == start + len(got), f"{data['stream']}: offset {data['offset']} after {start} + {len(got)} bytes"
            got += output_bytes(data)
        if kind in ("end", "caught_up", "error") or (until and until(kind, data)):
            return kind, data
    return None, None


def test_events_replay_a_finished_job_byte_exact_and_readable_with_curl(server, env):
    out = run_job(server, env, "sse-done", MIXED)
    err = server.archived("sse-done", "stderr")
    events = EventStream(server.port, "/v1/jobs/sse-done/events")
    assert events.response.getheader("Content-Type").startswith("text/event-stream")
    streams = {}
    kinds = []
    for kind, data, event_id in events:
        kinds.append(kind)
        if kind == "output":
            # The id is every stream's offset: this one's is just past these bytes.
            offsets = dict(item.rsplit(":", 1) for item in event_id.split(","))
            assert int(offsets[data["stream"]]) == data["offset"] + len(output_bytes(data))
        if kind in ("output", "end"):
            collect([(kind, data, event_id)], streams)
        if kind == "end":
            assert data["exit"] == {"code": 0}
            break
    events.close()
    assert kinds[0] == "job" and "stream" in kinds and kinds[-1] == "end"
    assert (bytes(streams["stdout"]), bytes(streams["stderr"])) == (out, err)
    # curl -N shows the same events as readable lines: text as JSON strings, bytes that are not UTF-8 as base64.
    shown = curl("-N", f"{server.http}/v1/jobs/sse-done/events").stdout.decode()
    assert "event: output\nid: stdout:" in shown and '"text":"\\u001b[32mline 000\\u001b[0m ok\\n' in shown
    assert "café" in shown and '"base64":' in shown and shown.rstrip().split("\n\n")[-1].startswith("event: end\n")


def test_last_event_id_resumes_a_live_job_with_no_gap_and_no_duplicate(server, env):
    job = popen("run", "--job", "sse-live", "--no-pty", "--quiet", "--server", server.url, "--",
                *py(paced_job(3000, 0.002, 0, every=20)), env=env)
    wait_until(lambda: "sse-live" in server.jobs(), what="the job")
    streams = {}
    first = EventStream(server.port, "/v1/jobs/sse-live/events")
    collect(first, streams, until=lambda kind, data: kind == "output" and len(streams.get("stdout", b"")) > 20_000)
    first.close()
    resume_id = first.last_id
    assert resume_id.startswith("stdout:")
    # Resumed by the header, then (as an EventSource whose URL carries it) by the query parameter.
    second = EventStream(server.port, "/v1/jobs/sse-live/events", last_event_id=resume_id)
    collect(second, streams, until=lambda kind, data: kind == "output" and len(streams["stdout"]) > 60_000)
    second.close()
    third = EventStream(server.port, "/v1/jobs/sse-live/events?last_event_id=" + urllib.parse.quote(second.last_id))
    kind, data = collect(third, streams)
    third.close()
    assert job.wait(60) == 0
    assert (kind, data["exit"]) == ("end", {"code": 0})
    assert bytes(streams["stdout"]) == paced_lines(3000)


def test_events_refuse_a_foreign_id_keep_a_quiet_stream_alive_and_end_at_shutdown(make_server, env):
    server = make_server(["--ping-interval", "0.3"]).start()
    job = popen("run", "--job", "quiet", "--no-pty", "--quiet", "--server", server.url, "--",
                *py("import time; print('before'); print('hi', flush=True); time.sleep(30)"), env=env)
    try:
        wait_until(lambda: server.jobs().get("quiet", {}).get("streams"), what="the job's output")
        bad = EventStream(server.port, "/v1/jobs/quiet/events", last_event_id="not an id")
        assert bad.response.status == 400 and b"Last-Event-ID" in bad.response.read()
        seen = []
        for kind, _, _ in EventStream(server.port, "/v1/jobs/quiet/events"):
            seen.append(kind)
            if kind == "comment":
                break
        assert seen[0] == "job" and "output" in seen and seen[-1] == "comment"
        # follow=0 stops once what is archived is sent; stream= picks streams; tail= starts N lines before the end.
        streams = {}
        kind, data = collect(EventStream(server.port, "/v1/jobs/quiet/events?follow=0&stream=stdout&tail=1"), streams)
        assert (kind, data["state"], streams) == ("caught_up", "running", {"stdout": bytearray(b"hi\n")})
        announced = [data["name"] for kind, data, _ in EventStream(server.port, "/v1/jobs/quiet/events?follow=0&stream=stderr")
                     if kind == "stream"]
        assert announced == ["stderr"]
        assert EventStream(server.port, "/v1/jobs/quiet/events?tail=x").response.status == 400
        missing = EventStream(server.port, "/v1/jobs/nope/events")
        assert missing.response.status == 404
        # An open stream does not hold the server up when it stops (SIGTERM): the response ends.
        events = EventStream(server.port, "/v1/jobs/quiet/events")
        next(iter(events))
        server.process.terminate()
        assert server.process.wait(5) == 0
        assert events.response.read() is not None
    finally:
        job.kill()


def test_a_watch_token_in_the_session_cookie_reads_jobs(tmp_path, env):
    tokens = tmp_path / "tokens"
    tokens.write_text(f"publish {PUBLISH}\nwatch {WATCH}\n")
    os.chmod(tokens, 0o600)
    server = Server(tmp_path / "data", free_port(), ["--tokens-file", str(tokens)]).start()
    try:
        run_job(server, {**env, "TAILCAST_TOKEN": PUBLISH}, "secret", "print('secret line')")
        events = f"{server.http}/v1/jobs/secret/events"
        assert head_and_body(events)[0] == 401
        # A publish token does not become a cookie; a watch token does, HttpOnly and SameSite=Strict.
        assert head_and_body("--data-binary", PUBLISH, f"{server.http}/v1/session")[0] == 403
        status, headers, _ = head_and_body("--data-binary", WATCH, f"{server.http}/v1/session")
        assert status == 204
        cookie = headers["set-cookie"]
        assert cookie.startswith(f"tailcast_watch={WATCH.replace('-', '%2D')};") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        jar = cookie.split(";")[0]
        status, _, body = head_and_body("-N", "-H", f"Cookie: {jar}", events)
        assert status == 200 and b'"text":"secret line\\n"' in body
        # ... but never from another origin, and never for publishing.
        assert head_and_body("-H", f"Cookie: {jar}", "-H", "Origin: http://evil.example", events)[0] == 403
        assert head_and_body("-H", f"Cookie: {jar}", "-H", "Origin: http://evil.example", "--data-binary", WATCH,
                             f"{server.http}/v1/session")[0] == 403
        assert WATCH not in server.log.read_text()
    finally:
        server.stop()


def test_the_embedded_pages_are_the_files_of_web():
    """WebAssets.swift is generated from Web/: a page changed without running Web/embed.py would not ship."""
    check = subprocess.run([sys.executable, str(REPO / "Web" / "embed.py"), "--check"], capture_output=True)
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("query, message", [
    ("state=bogus", 'state must be running, exited, lost or stopped (got "bogus")'),
    ("limit=0", "limit must be a whole number from 1 (at most 500 jobs per page)"),
    ("pattern=a&q=b", "give pattern or q, not both"),
])
def test_a_bad_query_is_answered_with_the_message_alone(server, query, message):
    status, body = http_request(server.http + "/v1/jobs?" + query)
    assert status == 400
    assert json.loads(body) == {"error": {"message": message}}
