"""Hostile input on raw sockets: malformed handshakes, frames RFC 6455 and RFC 7692 forbid, and a fuzz of mutated
tailcast frames. The server must answer or close every connection, with the close code the RFCs require, never
crash and never hang, and still deliver a real job byte-exact afterwards. All of it runs on the embedded archive and
on a store node (`hostile`), with the same expected answers; the last section sends values made to break SQL (quotes,
`$1`, `%`, `_`, U+0000) and reads them back from a second node that can only have them from the database.

Each test says what the RFC requires. The checks the WebSocket libraries leave out are tailcast's own
(`HandshakeCheck`, `FrameValidator` in Sources/TailcastServer/Server). Fuzz knobs: TAILCAST_FUZZ_SEED,
TAILCAST_FUZZ_FRAMES, TAILCAST_FUZZ_SECONDS.
"""
import collections
import concurrent.futures
import json
import os
import random
import re
import socket
import struct
import threading
import time
import urllib.parse

import pytest

import peer
from conftest import Server, free_port, http_request, py, tailcast, wait_until
from postgres import postgres  # noqa: F401 (fixture)
from rawws import (FIN, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, RSV1, RSV2, RSV3, Hung,
                   RawWebSocket, deflate, frame, handshake_request, inflate, parse_frames)

LIMIT = 512 << 10  # serve --max-message-bytes for this module: its lowest
DEFLATE = "permessage-deflate; client_max_window_bits"
TIMEOUT = 5.0  # a server that neither answers nor closes within this is hung


def hello(job, run_id="run-1", host="h"):
    return json.dumps({"type": "hello", "job": job, "run_id": run_id, "agent": "hostile/1",
                       "meta": {"kind": "run", "command": ["x"], "host": host, "user": "u",
                                "started_at_ms": 1700000000000}}).encode()


@pytest.fixture(scope="module", params=["embedded", "postgres"])
def hostile(request, tmp_path_factory):
    """One server for the module, with the lowest message limit (512 KiB) so over-limit messages stay cheap: the embedded
    archive, then a store node (`serve --store`, a real PostgreSQL, postgres.py), so that every test here
    shows the same answers on both. Everything runs twice, which costs about 27 s (15 s to 42 s on 2 cores):
    little enough not to pick, and a hello, an open, progress, an end or a reconnect of the same run, in a
    case about frames as in the fuzz, reaches the store's SQL (claim, lease, commit, record save), where the
    takeover test found a deadlock. `store` is the node's URL (None: embedded)."""
    extra, store = ["--max-message-bytes", str(LIMIT)], None
    if request.param == "postgres":
        store = request.getfixturevalue("postgres").fresh_database()
        extra += ["--store", store, "--node", "hostile"]
    s = Server(tmp_path_factory.mktemp("hostile") / "data", free_port(), extra).start()
    s.store = store
    yield s
    s.stop()


def log_tail(server, n=4000):
    try:
        return server.log.read_bytes()[-n:].decode(errors="replace")
    except OSError:
        return ""


def crash_report(server):
    """The runtime's crash line (assertion, trap) from the server's log, else its last lines."""
    text = log_tail(server, 1 << 20)
    found = re.findall(r".*(?:Fatal error|Assertion failed|Program crashed).*", text)
    return "\n".join(found[:3]) if found else text[-2000:]


def assert_serving(server):
    """Alive, answers HTTP, and a fresh WebSocket session still works end to end (watch → unknown_job, 4004)."""
    assert server.process.poll() is None, f"tailcast serve died (status {server.process.returncode}):\n{crash_report(server)}"
    assert server.healthy(), "tailcast serve no longer answers /healthz"
    with RawWebSocket(server.port, timeout=TIMEOUT) as ws:
        ws.upgrade("/v1/watch")
        ws.send(frame(OP_TEXT, b'{"type":"watch","job":"no-such-job","follow":false}'))
        error = ws.read_frame()
        assert error.opcode == OP_TEXT and json.loads(error.payload)["code"] == "unknown_job", error
        assert ws.read_close().close_code == 4004


# ---------------------------------------------------------------------------------------------------------------
# Handshakes
# ---------------------------------------------------------------------------------------------------------------


MALFORMED_REQUESTS = {
    # name: request bytes
    "random-bytes": random.Random(6455).randbytes(300) + b"\r\n\r\n",
    "text-not-http": b"HELLO THERE, tailcast\r\n\r\n",
    "header-without-colon": b"GET /v1/publish HTTP/1.1\r\nHost 127.0.0.1\r\nUpgrade: websocket\r\n\r\n",
    "nul-in-path": b"GET /v1/pub\x00lish HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    "http-9.9": b"GET /v1/publish HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n",
    "header-100k": handshake_request("/v1/publish", extra=["X-Big: " + "a" * 100_000]),
    "5000-headers": handshake_request("/v1/publish", extra=[f"X-H{i}: v" for i in range(5000)]),
    "missing-key": handshake_request("/v1/publish", key=False),
    "version-8": handshake_request("/v1/publish", version="8"),
    "version-missing": handshake_request("/v1/watch", version=None),
    "version-junk": handshake_request("/v1/watch", version="13, abc"),
    "post-upgrade": handshake_request("/v1/publish").replace(b"GET ", b"POST ", 1),
    "no-upgrade-header": b"GET /v1/watch HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
}


def attempt(port, request, timeout=TIMEOUT):
    """Sends a request; returns ("http", status, headers) or ("closed", None, {}); ("hung", ...) after the timeout."""
    with RawWebSocket(port, timeout=timeout) as ws:
        ws.send(request)
        try:
            status, headers, _ = ws.read_http_response()
        except Hung:
            return "hung", None, {}
        except EOFError:
            return "closed", None, {}
        return ("closed", None, {}) if status is None else ("http", status, headers)


@pytest.fixture(scope="module")
def handshake_outcomes(hostile):
    """All malformed requests at once, on parallel connections: a hung case costs the timeout once, not each."""
    with concurrent.futures.ThreadPoolExecutor(len(MALFORMED_REQUESTS)) as pool:
        futures = {name: pool.submit(attempt, hostile.port, request) for name, request in MALFORMED_REQUESTS.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("name", list(MALFORMED_REQUESTS))
def test_malformed_handshake_is_answered_or_closed_and_the_server_keeps_serving(hostile, handshake_outcomes, name):
    outcome, status, headers = handshake_outcomes[name]
    assert_serving(hostile)
    assert outcome != "hung", f"{name}: no answer and no close within {TIMEOUT}s"
    if outcome == "http":
        assert 400 <= status < 500, f"{name}: answered {status} {headers}"


@pytest.mark.parametrize("name,request_bytes,rfc", [
    pytest.param("missing-key", handshake_request("/v1/publish", key=False),
                 "RFC 6455 4.2.1/4.2.2: a handshake without Sec-WebSocket-Key MUST get an HTTP error such as 400",
                 id="missing-key"),
    pytest.param("key-not-16-bytes", handshake_request("/v1/publish", key="c2hvcnQ="),
                 "RFC 6455 4.2.1 item 5: Sec-WebSocket-Key must decode to 16 bytes, else 400", id="key-not-16-bytes"),
    pytest.param("version-8", handshake_request("/v1/publish", version="8"),
                 "RFC 6455 4.2.2 / 4.4: an unsupported version MUST get an HTTP error (such as 426) with "
                 "Sec-WebSocket-Version: 13", id="version-8"),
])
def test_rfc6455_handshake_errors_get_an_http_error_status(hostile, name, request_bytes, rfc):
    outcome, status, headers = attempt(hostile.port, request_bytes)
    assert outcome == "http" and 400 <= status < 500, f"{rfc}; got {outcome} {status}"
    if name.startswith("version"):
        assert "13" in headers.get("sec-websocket-version", ""), f"{rfc}; headers {headers}"


# RFC 7692 7.1.2: window bits are 8..15; an offer with another value MUST be declined (or the handshake failed).


@pytest.mark.parametrize("offer", [
    # Each of these crashed the server before BoundedDeflateBuilder declined offers zlib cannot take.
    pytest.param("permessage-deflate; server_max_window_bits=8", id="server-bits-8-valid-per-rfc"),
    pytest.param("permessage-deflate; server_max_window_bits=99", id="server-bits-99"),
    pytest.param("permessage-deflate; client_max_window_bits=7", id="client-bits-7"),
    pytest.param("permessage-deflate; server_max_window_bits=4294967296", id="server-bits-2^32"),
    pytest.param("permessage-deflate; client_max_window_bits=4294967296", id="client-bits-2^32"),
    pytest.param("permessage-deflate; server_max_window_bits=abc; client_max_window_bits=; x-unknown=1", id="junk-params"),
])
def test_deflate_offers_with_invalid_window_bits_are_declined_not_fatal(make_server, monkeypatch, offer):
    monkeypatch.setenv("SWIFT_BACKTRACE", "enable=no")  # a crash shows at once instead of after a 4 s backtrace
    server = make_server().start()
    outcome, status, headers = attempt(server.port, handshake_request("/v1/publish", extensions=offer))
    time.sleep(0.2)
    assert server.process.poll() is None, f"the offer {offer!r} killed the server:\n{crash_report(server)}"
    assert outcome != "hung"
    if outcome == "http" and status == 101:
        accepted = headers.get("sec-websocket-extensions", "")
        assert not re.search(r"window_bits=(\d{3,}|[0-7]\b|-)", accepted), accepted
    assert_serving(server)


# ---------------------------------------------------------------------------------------------------------------
# Frames after a correct handshake
# ---------------------------------------------------------------------------------------------------------------

class Ctx:
    """What a valid next message looks like on the connection under test."""

    def __init__(self, endpoint, n):
        self.endpoint = endpoint
        if endpoint == "watch":
            self.message = b'{"type":"watch","job":"no-such-job","follow":true}'
            self.bad_utf8 = b'{"type":"watch","job":"no-such-job","follow":true,"note":"\xc3\x28\xff"}'
        elif endpoint == "watch-after-watch":  # a watcher sends nothing after `watch`; the server reads on anyway
            self.message = b'{"type":"watch","job":"watched","follow":true}'
            self.bad_utf8 = b'{"note":"\xff"}'
        elif endpoint == "publish":
            self.message = hello(f"frames-{n}")
            self.bad_utf8 = hello(f"frames-{n}", host="HOST").replace(b'"HOST"', b'"\xff\xfe"')
        else:  # publish, after hello/welcome
            self.message = b'{"type":"open","stream":1,"name":"stdout"}'
            self.bad_utf8 = b'{"type":"open","stream":2,"name":"out-\xed\xa0\x80-\xff"}'


def split_deflated(ctx):
    message = ctx.message
    z = deflate(message)
    return [frame(OP_TEXT, z[:len(z) // 2], rsv=RSV1, fin=False), frame(OP_CONT, z[len(z) // 2:], rsv=RSV1)]


def close_payload(code, reason=b""):
    return struct.pack("!H", code) + reason


# id: (frames(ctx), expected close code (or codes), negotiate deflate)
FRAME_CASES = {
    "rsv2-text": (lambda c: [frame(OP_TEXT, c.message, rsv=RSV2)], 1002, False),
    "rsv3-binary": (lambda c: [frame(OP_BINARY, peer.encode_data([(1, 0, 1, b"x")]), rsv=RSV3)], 1002, False),
    "rsv2-rsv3-ping": (lambda c: [frame(OP_PING, b"x", rsv=RSV2 | RSV3)], 1002, False),
    "rsv1-text-without-deflate": (lambda c: [frame(OP_TEXT, deflate(c.message), rsv=RSV1)], 1002, False),
    "rsv1-ping-without-deflate": (lambda c: [frame(OP_PING, b"x", rsv=RSV1)], 1002, False),
    "rsv1-continuation-with-deflate": (split_deflated, 1002, True),
    # RFC 7692 6.1: RSV1 on a control frame MUST fail the connection, deflate or not
    "rsv1-ping-with-deflate": (lambda c: [frame(OP_PING, b"x", rsv=RSV1)], 1002, True),
    "corrupt-deflate-data": (lambda c: [frame(OP_TEXT, b"\xff\xff\xff\xff", rsv=RSV1)], (1007, 1002), True),
    # RFC 6455 5.1: the server MUST close the connection; it MAY send 1002 first
    "unmasked-text": (lambda c: [frame(OP_TEXT, c.message, mask=False)], (1002, None), False),
    "invalid-utf8-text": (lambda c: [frame(OP_TEXT, c.bad_utf8)], 1007, False),
    "ping-126-bytes": (lambda c: [frame(OP_PING, b"p" * 126)], 1002, False),
    "close-126-bytes": (lambda c: [frame(OP_CLOSE, close_payload(1000, b"r" * 124))], 1002, False),
    "fragmented-ping": (lambda c: [frame(OP_PING, b"x", fin=False), frame(OP_CONT, b"y")], 1002, False),
    "opcode-0x3": (lambda c: [frame(0x3, c.message)], 1002, False),
    "opcode-0x7": (lambda c: [frame(0x7, b"")], 1002, False),
    "opcode-0xb": (lambda c: [frame(0xB, b"x")], 1002, False),
    "opcode-0xf": (lambda c: [frame(0xF, b"x" * 10)], 1002, False),
    "continuation-without-start": (lambda c: [frame(OP_CONT, c.message)], 1002, False),
    "new-message-inside-a-fragmented-one": (
        lambda c: [frame(OP_TEXT, c.message[:5], fin=False), frame(OP_TEXT, c.message[5:])], 1002, False),
    "binary-over-limit": (lambda c: [frame(OP_BINARY, peer.encode_data([(1, 0, 1, b"z" * (LIMIT + 1000))]))],
                          1009, False),
    "fragments-summing-over-limit": (
        lambda c: [frame(OP_BINARY, b"\x01" + b"y" * (LIMIT // 2 + 1000), fin=False), frame(OP_CONT, b"y" * (LIMIT // 2 + 1000))],
        1009, False),
    # RFC 6455 5.2: the most significant bit of a 64-bit length MUST be 0 (a protocol error, and far over the limit)
    "length-2^63-and-more": (lambda c: [b"\x82\xff" + b"\x80" + bytes(7) + os.urandom(4)], (1002, 1009), False),
    "decompression-bomb": (lambda c: [frame(OP_BINARY, BOMB, rsv=RSV1)], 1009, True),
    "close-1-byte": (lambda c: [frame(OP_CLOSE, b"\x03")], 1002, False),
    "close-code-999": (lambda c: [frame(OP_CLOSE, close_payload(999))], 1002, False),
    "close-code-1005": (lambda c: [frame(OP_CLOSE, close_payload(1005))], 1002, False),
    "close-code-5000": (lambda c: [frame(OP_CLOSE, close_payload(5000))], 1002, False),
    "close-reason-invalid-utf8": (lambda c: [frame(OP_CLOSE, close_payload(1000, b"bye\xff"))], 1007, False),
}

# 16 MiB of zeros (a data message) deflate to about 16 KiB: small on the wire, 32 times the limit inflated.
BOMB = deflate(b"\x01" + bytes(16 << 20))
assert len(BOMB) < LIMIT // 2

_jobs = iter(range(10 ** 6))


@pytest.fixture(scope="module")
def watched(hostile):
    """A job without streams: a following watcher gets its `job` message, then nothing until it ends."""
    with RawWebSocket(hostile.port, timeout=TIMEOUT) as ws:
        ws.upgrade("/v1/publish")
        ws.send(frame(OP_TEXT, hello("watched")))
        assert json.loads(ws.read_frame().payload)["type"] == "welcome"
    return "watched"


@pytest.mark.parametrize("endpoint", ["publish", "publish-after-hello", "watch", "watch-after-watch"])
@pytest.mark.parametrize("case", list(FRAME_CASES))
def test_bad_frames_close_with_the_rfc_code(hostile, watched, endpoint, case):
    build, code, use_deflate = FRAME_CASES[case]
    ctx = Ctx(endpoint, next(_jobs))
    with RawWebSocket(hostile.port, timeout=TIMEOUT) as ws:
        ws.upgrade("/v1/" + endpoint.split("-")[0], extensions=DEFLATE if use_deflate else None)
        assert ws.deflate == use_deflate, ws.headers
        if endpoint.endswith("-after-hello") or endpoint.endswith("-after-watch"):
            opening, answer = ((hello(f"after-hello-{next(_jobs)}"), "welcome") if endpoint.startswith("publish")
                               else (b'{"type":"watch","job":"%s","follow":true}' % watched.encode(), "job"))
            ws.send(frame(OP_TEXT, opening))
            reply = ws.read_frame()
            text = inflate(reply.payload) if reply.rsv & RSV1 else reply.payload
            assert reply.opcode == OP_TEXT and json.loads(text)["type"] == answer, reply
        for f in build(ctx):
            ws.send(f)
        # A server that let the bad frame through answers this ping; one that failed the connection does not.
        ws.send(frame(OP_PING, b"are you still there"))
        first = ws.read_frame_or_none()
        codes = code if isinstance(code, tuple) else (code,)
        if first is not None or None not in codes:  # (None: closing without a close frame is allowed)
            assert first is not None, f"{case}: TCP closed without a close frame (expected {code})"
            assert first.opcode == OP_CLOSE, f"{case}: expected close {code}, the server answered {first!r}"
            assert first.close_code in codes, f"{case}: expected close {code}, got {first.close_code} {first.close_reason!r}"
            assert first.fin and first.rsv == 0 and not first.masked
            ws.read_until_eof()  # then the server closes the TCP connection (raises Hung if it does not)
    assert_serving(hostile)


# ---------------------------------------------------------------------------------------------------------------
# Log lines for refused connections
# ---------------------------------------------------------------------------------------------------------------

def refuse_with(port, path, frames, *, protocol="tailcast.v1", raw=None):
    with RawWebSocket(port, timeout=TIMEOUT) as ws:
        if raw is not None:
            ws.send(raw)
            try:
                ws.read_until_eof()
            except Hung:
                pass
            return
        ws.send(handshake_request(path, protocol=protocol))
        status, _, _ = ws.read_http_response()
        assert status == 101
        for f in frames:
            ws.send(f)
        assert ws.read_close() is not None


LOG_CASES = {
    # name: (path, frames, kwargs, regex a new log line must match)
    "bad-data-after-hello": ("/v1/publish", [frame(OP_TEXT, hello("log-a")), frame(OP_BINARY, b"\x07kind 7")], {},
                             r"unknown binary message kind 7"),
    "bad-first-message": ("/v1/publish", [frame(OP_TEXT, b'{"type":"launch","token":"log-b"}')], {},
                          r"launch|bad_message|\bhello\b"),
    "job-conflict": ("/v1/publish", [frame(OP_TEXT, hello("log-a", run_id="other-run"))], {},
                     r"job_conflict|another run|conflict"),
    "protocol-error-1002": ("/v1/publish", [frame(OP_TEXT, hello("log-c"), rsv=RSV2)], {},
                            r"\b1002\b|protocol ?error|reserved"),
    "too-big-1009": ("/v1/watch", [frame(OP_BINARY, b"\x01" + b"x" * (LIMIT + 10))], {},
                     r"\b1009\b|too (big|large)|frame length|message size"),
    "no-subprotocol-4002": ("/v1/watch", [], {"protocol": "chat"}, r"subprotocol|\b4002\b"),
    "handshake-without-key": (None, [], {"raw": handshake_request("/v1/publish", key=False)},
                              r"Sec-WebSocket-Key|upgrade|handshake|\b400\b"),
}


@pytest.mark.parametrize("name", list(LOG_CASES))
def test_refused_connections_leave_a_log_line(hostile, name):
    path, frames, kwargs, pattern = LOG_CASES[name]
    if name == "job-conflict":  # the job must exist, owned by another run
        refuse_with(hostile.port, "/v1/publish", [frame(OP_TEXT, hello("log-a")), frame(OP_BINARY, b"\x07")])
    before = hostile.log.stat().st_size
    refuse_with(hostile.port, path, frames, **kwargs)

    def new_log():
        with open(hostile.log, "rb") as f:
            f.seek(before)
            return f.read().decode(errors="replace")
    try:
        wait_until(lambda: re.search(pattern, new_log(), re.I), timeout=1.5, what="log line")
    except AssertionError:
        raise AssertionError(f"no new log line matches {pattern!r}; new log:\n{new_log()}") from None


# ---------------------------------------------------------------------------------------------------------------
# Concurrent connections of one run (found by the fuzz: a `storage` refusal with a healthy disk)
# ---------------------------------------------------------------------------------------------------------------



def test_concurrent_takeovers_by_one_run_never_get_a_storage_error(hostile):
    codes, lock = collections.Counter(), threading.Lock()
    log_start = hostile.log.stat().st_size

    def connect(job, i):
        with RawWebSocket(hostile.port, timeout=TIMEOUT) as ws:
            ws.upgrade("/v1/publish")
            ws.send(frame(OP_TEXT, hello(job, run_id="one-run")))
            ws.read_frame()
            ws.send(frame(OP_TEXT, json.dumps({"type": "open", "stream": 1, "name": f"s-{i}"}).encode()))
            ws.send(frame(OP_CLOSE, close_payload(1000)))
            closed = ws.read_close()
            with lock:
                codes[closed.close_code if closed else None] += 1

    for round_ in range(100):
        job = f"takeover-{round_}"
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for future in [pool.submit(connect, job, i) for i in range(8)]:
                future.result()
        json.loads((hostile.data / "jobs" / job / "job.json").read_bytes())  # never torn
        if codes[4503]:
            break
    # the same run taking over from itself is refused only as `replaced` (4010), never as a storage failure
    with open(hostile.log, "rb") as f:
        f.seek(log_start)
        log = f.read().decode(errors="replace")
    storage = re.findall(r".*(?:storage failed|the store cannot be reached|the store still fails).*", log)
    assert set(codes) <= {1000, 4010}, f"close codes {dict(codes)}; log: {storage[:2]}"
    # in store mode, with no failure of the store on the way (a deadlock, a lease lost and taken for an outage)
    assert not storage, storage[:3]


# ---------------------------------------------------------------------------------------------------------------
# Fuzz
# ---------------------------------------------------------------------------------------------------------------

SEED = int(os.environ.get("TAILCAST_FUZZ_SEED", "7692"))
FUZZ_FRAMES = int(os.environ.get("TAILCAST_FUZZ_FRAMES", "10000"))
FUZZ_SECONDS = float(os.environ.get("TAILCAST_FUZZ_SECONDS", "30"))
WORKERS = 6


def valid_messages(rng):
    """Valid tailcast messages as (opcode, payload): the corpus the fuzz mutates."""
    job = f"fz-{rng.randrange(6)}"
    now = 1700000000000 + rng.randrange(10 ** 6)
    chunks = [(rng.choice([1, 2, 7]), rng.randrange(0, 64), now, rng.randbytes(rng.randrange(0, 40)))
              for _ in range(rng.randrange(1, 4))]
    bar = {"key": "k", "label": "fuzz", "current": rng.randrange(100), "total": 100, "unit": "B",
           "source": "explicit", "updated_ms": now, "done": False}
    open_ = {"type": "open", "stream": rng.choice([1, 2, 7]), "name": rng.choice(["stdout", "stderr", "/var/log/x.log"])}
    end = {"type": "end", "exit": {"code": rng.randrange(3)}, "ended_at_ms": now, "sizes": {"1": rng.randrange(50)}}
    watch = {"type": "watch", "job": job, "follow": rng.random() < 0.5, "tail_lines": rng.randrange(5),
             "offsets": [{"name": "stdout", "offset": rng.randrange(100)}]}
    return [
        (OP_TEXT, hello(job, run_id=f"run-{rng.randrange(3)}")),
        (OP_TEXT, json.dumps(open_).encode()),
        (OP_BINARY, peer.encode_data(chunks)),
        (OP_BINARY, peer.encode_data([(1, 300, 1700000000000, b"hi\n")])),
        (OP_TEXT, json.dumps({"type": "progress", "bars": [bar]}).encode()),
        (OP_TEXT, json.dumps(end).encode()),
        (OP_TEXT, json.dumps(watch).encode()),
        (OP_PING, rng.randbytes(rng.randrange(0, 20))),
        (OP_PONG, b""),
    ]


def mutate_payload(rng, payload):
    data = bytearray(payload)
    for _ in range(rng.randrange(1, 4)):
        kind = rng.randrange(8)
        if kind == 0 and data:
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        elif kind == 1 and data:
            del data[rng.randrange(len(data)):]
        elif kind == 2:
            i = rng.randrange(len(data) + 1)
            data[i:i] = rng.randbytes(rng.randrange(1, 16))
        elif kind == 3:
            i = rng.randrange(len(data) + 1)
            data[i:i] = rng.choice([b"\xff" * 10 + b"\x01", b"\x80" * 11, b"\xff\xfe", b"\xc0\x80", b"\xed\xa0\x80",
                                    b'"', b"\\u0000", b"[" * 200, b"1e999999", b"-1", b"18446744073709551616", b"NaN"])
        elif kind == 4 and data:
            i = rng.randrange(len(data))
            data[i] = rng.choice([0x00, 0x7F, 0x80, 0xFF, ord("{"), ord("}"), ord(":")])
        elif kind == 5:
            data = bytearray(rng.randbytes(rng.randrange(0, 64)))
        elif kind == 6 and len(data) > 2:
            i, j = sorted(rng.sample(range(len(data)), 2))
            data[i:j] = data[i:j] * rng.randrange(2, 5)
        else:
            data = bytearray(re.sub(rb"\d+", lambda m: rng.choice([b"0", b"4294967296", b"18446744073709551615", b"-7", b"1.5"]),
                                    bytes(data), count=1))
    return bytes(data)


def mutate_frame(rng, raw):
    data = bytearray(raw)
    kind = rng.randrange(9)
    if kind == 0:  # flip bits, mostly in the header
        for _ in range(rng.randrange(1, 4)):
            i = rng.randrange(min(len(data), 14)) if rng.random() < 0.7 else rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
    elif kind == 1:  # another opcode
        data[0] = (data[0] & 0xF0) | rng.randrange(16)
    elif kind == 2:  # FIN / RSV bits
        data[0] ^= rng.choice([FIN, RSV1, RSV2, RSV3, FIN | RSV1])
    elif kind == 3:  # the MASK bit
        data[1] ^= 0x80
    elif kind == 4:  # another 7-bit length
        data[1] = (data[1] & 0x80) | rng.randrange(128)
    elif kind == 5:  # an extended length that lies
        n = rng.choice([0, 1, 125, 126, 65535, 65536, LIMIT + 1, 1 << 31, 1 << 62, (1 << 64) - 1, rng.randrange(1 << 20)])
        ext = struct.pack("!H", n) if n < 1 << 16 and rng.random() < 0.5 else struct.pack("!Q", n)
        data = bytearray([data[0], (data[1] & 0x80) | (126 if len(ext) == 2 else 127)]) + ext + data[2:]
    elif kind == 6:  # truncated
        data = data[:rng.randrange(len(data))]
    elif kind == 7:  # trailing garbage
        data += rng.randbytes(rng.randrange(1, 32))
    else:  # random bytes instead of a frame
        data = bytearray(rng.randbytes(rng.randrange(1, 48)))
    return bytes(data)


def plan_connection(rng):
    """One connection: endpoint, deflate offer, and the frames to send on it (each a bytes object)."""
    endpoint = rng.choice(["/v1/publish", "/v1/publish", "/v1/watch"])
    use_deflate = rng.random() < 0.4
    corpus = valid_messages(rng)
    frames = []
    if rng.random() < 0.7:  # start like a real peer, so later frames reach the session, not only the opening check
        first = corpus[0] if endpoint == "/v1/publish" else corpus[6]
        frames.append(frame(first[0], first[1]))
        if endpoint == "/v1/publish" and rng.random() < 0.6:
            frames.append(frame(*corpus[1]))
    for _ in range(rng.randrange(1, 7)):
        opcode, payload = rng.choice(corpus)
        roll = rng.random()
        if roll < 0.3:
            payload = mutate_payload(rng, payload)
        rsv = 0
        if use_deflate and opcode in (OP_TEXT, OP_BINARY) and rng.random() < 0.5:
            payload, rsv = deflate(payload), RSV1
            if rng.random() < 0.3:
                payload = mutate_payload(rng, payload)
        fragments = rng.random() < 0.15 and opcode in (OP_TEXT, OP_BINARY) and len(payload) > 2
        if fragments:
            cut = rng.randrange(1, len(payload))
            raws = [frame(opcode, payload[:cut], rsv=rsv, fin=False), frame(OP_CONT, payload[cut:])]
        else:
            raws = [frame(opcode, payload, rsv=rsv)]
        if roll >= 0.3 or rng.random() < 0.5:
            i = rng.randrange(len(raws))
            raws[i] = mutate_frame(rng, raws[i])
        frames.extend(raws)
    return endpoint, use_deflate, frames


class FuzzStats:
    def __init__(self):
        self.lock = threading.Lock()
        self.frames = self.connections = self.bytes = 0
        self.outcomes = collections.Counter()
        self.examples = {}
        self.skipped = 0
        self.needed_eof = 0
        self.hung = []
        self.slowest = 0.0

    def add(self, frames, sent, outcome, needed_eof, elapsed, plan_index):
        with self.lock:
            self.frames += frames
            self.bytes += sent
            self.connections += 1
            self.outcomes[outcome] += 1
            self.examples.setdefault(outcome, plan_index)
            self.needed_eof += needed_eof
            self.slowest = max(self.slowest, elapsed)
            if outcome == "HUNG":
                self.hung.append(plan_index)


def run_connection(port, plan, index, stats, hang_timeout):
    endpoint, use_deflate, frames = plan
    started = time.monotonic()
    with RawWebSocket(port, timeout=hang_timeout) as ws:
        ws.send(handshake_request(endpoint, extensions=DEFLATE if use_deflate else None))
        status, _, _ = ws.read_http_response()
        assert status == 101, f"plan {index}: upgrade answered {status}"
        sent = 0
        for f in frames:
            if not ws.send(f):
                break
            sent += len(f)
        ws.send(frame(OP_CLOSE, close_payload(1000)))
        # Phase 1: our close (or the server's own verdict) should end the connection quickly. Phase 2: a server
        # still waiting for the rest of a frame is told there is no more (half-close) and MUST then close.
        received, needed_eof = b"", 0
        try:
            received = ws.read_until_eof(timeout=0.25)
        except Hung:
            needed_eof = 1
            try:
                ws.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            try:
                received = ws.read_until_eof(timeout=hang_timeout)
            except Hung:
                stats.add(len(frames), sent, "HUNG", needed_eof, time.monotonic() - started, index)
                return
    frames_back = parse_frames(received)
    closes = [f for f in frames_back if f.opcode == OP_CLOSE]
    outcome = str(closes[0].close_code) if closes and closes[0].close_code else ("close-no-code" if closes else "eof-no-close")
    stats.add(len(frames), sent, outcome, needed_eof, time.monotonic() - started, index)


def socket_count(pid):
    """Open sockets of the server (its stream files stay open by design, so only sockets are counted)."""
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            count += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return count


def test_fuzz_thousands_of_mutated_frames_never_crash_or_hang_and_a_real_job_still_works(hostile, tmp_path):
    rng = random.Random(SEED)
    plans = []
    while sum(len(p[2]) for p in plans) < FUZZ_FRAMES:
        plans.append(plan_connection(rng))
    pid = hostile.process.pid
    sockets_before = socket_count(pid)
    stats = FuzzStats()
    deadline = time.monotonic() + FUZZ_SECONDS
    started = time.monotonic()

    def work(index):
        if time.monotonic() > deadline:
            with stats.lock:
                stats.skipped += 1
            return
        run_connection(hostile.port, plans[index], index, stats, hang_timeout=10.0)

    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        for future in [pool.submit(work, i) for i in range(len(plans))]:
            future.result()
    elapsed = time.monotonic() - started
    print(f"\nfuzz: seed {SEED} (TAILCAST_FUZZ_SEED), {stats.frames} frames on {stats.connections} connections "
          f"({stats.bytes} bytes) in {elapsed:.1f}s with {WORKERS} workers; {stats.skipped} planned connections not run "
          f"(time bound {FUZZ_SECONDS:.0f}s)")
    print(f"fuzz: server verdicts {dict(sorted(stats.outcomes.items()))}")
    print(f"fuzz: {stats.needed_eof} connections were still open 0.25s after our close and closed on EOF; "
          f"slowest connection {stats.slowest:.2f}s; server sockets {sockets_before} before, {socket_count(pid)} after")
    print(f"fuzz: first plan index per verdict {dict(sorted(stats.examples.items()))}")

    assert hostile.process.poll() is None, f"tailcast serve died during the fuzz (seed {SEED}):\n{crash_report(hostile)}"
    assert not stats.hung, f"seed {SEED}: connections of plans {stats.hung[:20]} were neither answered nor closed"
    assert stats.frames >= 3000, f"only {stats.frames} frames within {FUZZ_SECONDS}s"
    # every fuzz connection is gone on the server too: no leaked sockets
    wait_until(lambda: socket_count(pid) <= sockets_before, timeout=15,
               what=f"the server's sockets back to {sockets_before} (now {socket_count(pid)})")
    assert not re.search(r"Fatal error|Assertion failed|Program crashed", log_tail(hostile, 1 << 20))

    # and a real job still goes through end to end, byte-exact
    env = dict(os.environ, TAILCAST_SPOOL=str(tmp_path / "spool"))
    env.pop("TAILCAST_SERVER", None)
    code = "import sys\nfor i in range(5000): sys.stdout.buffer.write(b'after fuzz %05d \\xff\\x00\\xc3\\xa9\\n' % i)\nsys.exit(3)"
    expected = b"".join(b"after fuzz %05d \xff\x00\xc3\xa9\n" % i for i in range(5000))
    run = tailcast("run", "--job", "after-fuzz", "--no-pty", "--quiet", "--server", hostile.url, "--", *py(code),
                   env=env, timeout=60)
    assert run.returncode == 3, run.stderr
    # run exits with the job's status whether or not delivery finished; it says on stderr when it did not
    assert b"not archived" not in run.stderr and b"has not acknowledged" not in run.stderr, \
        f"{run.stderr.decode(errors='replace')}\nserver log:\n{log_tail(hostile)}"
    assert hostile.archived("after-fuzz") == expected
    watch = tailcast("watch", "after-fuzz", "--server", hostile.url, env=env, timeout=60)
    assert watch.returncode == 3 and watch.stdout == expected
    streams, final, _ = peer.watch(hostile.url, "after-fuzz")
    assert streams["stdout"] == expected and final["exit"] == {"code": 3}


# ---------------------------------------------------------------------------------------------------------------
# Values that reach the store's SQL: ids, names, metadata, progress, patterns (issue 15)
# ---------------------------------------------------------------------------------------------------------------

MARKER = "\ufdd0"  # what the store writes U+0000 as (StoreText): a client's own must survive too
SQLISH = ["'; DROP TABLE jobs; --", "$1", "%", "_", "%_%", "a'b''c", 'back\\slash "quoted"', "\\u0000 as text"]
STREAM_NAMES = SQLISH + ["ünïcode ☃ 😀 \u202e", "../../../../escaped", "\x01\x1b[31mred", MARKER + "0 " + MARKER,
                         "n" * 1024]


@pytest.fixture
def readers(hostile, tmp_path):
    """readers(*jobs): where jobs published to `hostile` are read back: the node itself and, in store mode, a node
    started now with an empty cache, which can only have them from the database (once it has caught up: a node
    answers while it copies the store's jobs in)."""
    started = []

    def nodes(*jobs):
        if hostile.store is None:
            return [hostile]
        (tmp_path / "reader").mkdir()
        started.append(Server(tmp_path / "reader" / "data", free_port(), ["--store", hostile.store, "--node", "reader"]))
        reader = started[-1].start()
        wait_until(lambda: set(jobs) <= set(reader.jobs()), what=f"the new node to copy {jobs} from the store")
        return [hostile, reader]

    yield nodes
    for node in started:
        node.stop()


def publish_raw(server, messages, run_id="run-1", job=None):
    """Sends `messages` on /v1/publish, after a hello for `job` when one is given; returns the server's answers
    (decoded) up to its close or an ack that ends, and the close code (None if none came)."""
    answers = []
    with RawWebSocket(server.port, timeout=TIMEOUT) as ws:
        ws.upgrade("/v1/publish")
        for message in ([hello(job, run_id=run_id)] if job else []) + messages:
            ws.send(frame(OP_BINARY if message[:1] == b"\x01" else OP_TEXT, message))
        while True:
            reply = ws.read_frame_or_none()
            if reply is None or reply.opcode == OP_CLOSE:
                return answers, reply.close_code if reply else None
            answers.append(json.loads(reply.payload))
            if answers[-1].get("ended"):
                return answers, None


def job_info(server, job):
    status, body = http_request(f"{server.http}/v1/jobs/{job}")
    assert status == 200, body
    return json.loads(body)


def test_hostile_values_come_back_byte_exact_from_every_node(hostile, readers, env):
    """Names, metadata, a run id and progress with SQL metacharacters, quotes, backslashes, `%`, `_`, unicode and
    U+0000: archived as sent, and `ls`, `watch`, the HTTP API and a reconnect of the same run find them exactly.
    On a store node U+0000 made PostgreSQL refuse the record (jsonb has no U+0000): the hello got `storage` (4503)
    and a progress update kept the job from ever ending."""
    job = "q_1.x-y"
    run_id = "run '; DROP TABLE leases; -- \x00 " + MARKER
    meta = {"kind": "run", "command": ["a\x00b", *SQLISH, "ü☃😀", MARKER], "host": "h'\x00", "user": "$1%_",
            "cwd": "/tmp/a'b\\c", "started_at_ms": 1700000000000}
    bar = {"key": "k'%_\x00", "label": "l\x00" + MARKER + "'", "current": 7, "total": 10, "unit": "it$1",
           "message": "m\\\x00", "source": "explicit", "updated_ms": 1700000000500, "done": False}
    streams = {name: name.encode() + b"\n\x00\xff bytes of %d\n" % i for i, name in enumerate(STREAM_NAMES)}
    sizes = {str(i): len(d) for i, d in enumerate(streams.values(), start=1)}
    first = json.dumps({"type": "hello", "job": job, "run_id": run_id, "agent": "hostile/1\x00'", "meta": meta})
    messages = [first.encode()]
    for i, name in enumerate(streams, start=1):
        messages.append(json.dumps({"type": "open", "stream": i, "name": name}).encode())
    messages.append(peer.encode_data([(i, 0, 1700000000100, data) for i, data in enumerate(streams.values(), start=1)]))
    messages.append(json.dumps({"type": "progress", "bars": [bar]}).encode())
    messages.append(json.dumps({"type": "end", "exit": {"code": 3}, "ended_at_ms": 1700000001000,
                                "sizes": sizes}).encode())
    answers, code = publish_raw(hostile, messages)
    assert answers[0]["type"] == "welcome", (answers, code)
    assert answers[-1] == {"type": "ack", "ended": True, "offsets": sizes}

    for node in readers(job):
        info = job_info(node, job)
        assert info["meta"] == meta, node.url
        assert sorted(s["name"] for s in info["streams"]) == sorted(streams)
        assert info["exit"] == {"code": 3}
        assert {k: info["progress"][0][k] for k in bar} == bar
        for name, data in streams.items():
            status, body = http_request(f"{node.http}/v1/jobs/{job}/raw?stream={urllib.parse.quote(name, safe='')}")
            assert (status, body) == (200, data), name
        watched_streams, final, _ = peer.watch(node.url, job)
        assert watched_streams == streams and final["exit"] == {"code": 3}
        listed = tailcast("ls", "--json", "--server", node.url, "q_1.*", env=env, timeout=30)
        assert listed.returncode == 0, listed.stderr
        assert [(j["id"], j["meta"]) for j in json.loads(listed.stdout)["jobs"]] == [(job, meta)]
        # The same run is still known by its run id (the lease and the record compare it): told it has ended.
        again, _ = publish_raw(node, [first.encode()])
        assert again[0]["type"] == "welcome" and again[0]["ended"] is True, again
        other, code = publish_raw(node, [], run_id="run '; DROP TABLE leases; -- \x00 other", job=job)
        assert other[0]["code"] == "job_conflict" and code == 4009, other


@pytest.mark.parametrize("job,message", [
    ("'; DROP TABLE jobs; --", "job id \"'; DROP TABLE jobs; --\" may only use letters, digits, '.', '_' and '-'"),
    ("$1", "job id \"$1\" may only use letters, digits, '.', '_' and '-'"),
    ("%", "job id \"%\" may only use letters, digits, '.', '_' and '-'"),
    ("a\x00b", "job id \"a\x00b\" may only use letters, digits, '.', '_' and '-'"),
    ("jöb", "job id \"jöb\" may only use letters, digits, '.', '_' and '-'"),
    ("../escape", "job id \"../escape\" may only use letters, digits, '.', '_' and '-'"),
    ("x" * 129, "job id is longer than 128 bytes"),
    ("", "job id is empty"),
    ("-x", "job id must start with a letter, digit or '_'"),
], ids=["sql", "dollar", "percent", "nul", "unicode", "traversal", "129-bytes", "empty", "dash"])
def test_hostile_job_ids_get_the_same_refusal_on_every_node(hostile, job, message):
    watch = json.dumps({"type": "watch", "job": job, "follow": True}).encode()
    for path, opening in (("publish", hello(job)), ("watch", watch)):
        with RawWebSocket(hostile.port, timeout=TIMEOUT) as ws:
            ws.upgrade("/v1/" + path)
            ws.send(frame(OP_TEXT, opening))
            error = ws.read_frame()
            assert json.loads(error.payload) == {"type": "error", "code": "bad_message", "message": message}, path
            assert ws.read_close().close_code == 4000


@pytest.mark.parametrize("messages,code,error", [
    ([b'{"type":"open","stream":1,"name":"%s"}' % (b"n" * 1025)], 4000, "stream name is longer than 1024 bytes"),
    ([b'{"type":"open","stream":1,"name":"a\\u0000b"}'], 4000, "stream name contains a NUL byte"),
    ([json.dumps({"type": "progress", "bars": [{"key": str(i), "current": 1, "unit": "it", "source": "explicit",
                                                "updated_ms": 1, "done": False} for i in range(33)]}).encode()],
     4000, '"bars": at most 32 bars in one "progress"'),
    ([json.dumps({"type": "progress", "bars": [{"key": "k" * 257, "current": 1, "unit": "it", "source": "explicit",
                                                "updated_ms": 1, "done": False}]}).encode()],
     4000, 'bars[0]: "key" is 257 bytes; at most 256 are accepted'),
], ids=["stream-name-1025", "stream-name-nul", "33-bars", "bar-key-257"])
def test_over_limit_names_and_progress_get_the_same_close_on_every_node(hostile, messages, code, error):
    answers, closed = publish_raw(hostile, messages, job=f"over-{next(_jobs)}")
    assert answers[0]["type"] == "welcome"
    assert answers[-1] == {"type": "error", "code": "bad_message", "message": error} and closed == code


def test_over_limit_metadata_gets_the_same_close_on_every_node(hostile):
    opening = hello("over-meta", host="h" * 8193)
    answers, closed = publish_raw(hostile, [opening])
    message = '"meta.host" is 8193 bytes; at most 8192 are accepted'
    assert answers == [{"type": "error", "code": "limit", "message": message}]
    assert closed == 4029


def test_ls_patterns_match_job_ids_as_globs_on_every_node(hostile, readers, env):
    """`ls PATTERN` and `?pattern=` are globs (fnmatch) on the node's cache, never SQL LIKE: `_` and `%` are
    themselves, and SQL in a pattern is a pattern that matches nothing."""
    for job in ("lit_1", "litx1", "lit.1"):
        answers, _ = publish_raw(hostile, [b'{"type":"end","exit":{"code":0},"ended_at_ms":2,"sizes":{}}'], job=job)
        assert answers[-1]["type"] == "ack" and answers[-1]["ended"], answers
    cases = {"lit_1": ["lit_1"], "lit%": [], "lit%1": [], "lit?1": ["lit.1", "lit_1", "litx1"],
             "lit*": ["lit.1", "lit_1", "litx1"], "lit\\_1": ["lit_1"], "lit[_x]1": ["lit_1", "litx1"],
             "'; DROP TABLE jobs; --": [], "lit_1' OR '1'='1": [], "$1": []}
    for node in readers("lit_1", "litx1", "lit.1"):
        for pattern, expected in cases.items():
            status, body = http_request(f"{node.http}/v1/jobs?pattern={urllib.parse.quote(pattern, safe='')}")
            assert status == 200 and sorted(j["id"] for j in json.loads(body)["jobs"]) == expected, pattern
            listed = tailcast("ls", "--json", "--server", node.url, pattern, env=env, timeout=30)
            assert sorted(j["id"] for j in json.loads(listed.stdout)["jobs"]) == expected, (pattern, listed.stderr)


def test_rm_of_hostile_ids_is_refused_and_deletes_nothing(hostile, readers, env):
    answers, _ = publish_raw(hostile, [b'{"type":"end","exit":{"code":0},"ended_at_ms":2,"sizes":{}}'], job="kept_1")
    assert answers[-1]["ended"]
    for job in ("'; DROP TABLE jobs; --", "kept_%", "kept_1' OR '1'='1"):
        removed = tailcast("rm", "--server", hostile.url, job, env=env, timeout=30)
        assert removed.returncode == 64 and b"may only use letters, digits" in removed.stderr, removed.stderr
        quoted = urllib.parse.quote(job, safe="")
        status, body = http_request(f"{hostile.http}/v1/jobs/{quoted}", method="DELETE")
        assert status == 404 and b"no job" in body, (status, body)
    nodes = readers("kept_1")
    for node in nodes:
        assert job_info(node, "kept_1")["state"] == "exited"
    # The job's own id deletes it, from every node (in store mode, from the database, which tells the others).
    removed = tailcast("rm", "--server", hostile.url, "kept_1", env=env, timeout=30)
    assert removed.returncode == 0, removed.stderr
    for node in nodes:
        wait_until(lambda: "kept_1" not in node.jobs(), timeout=10, what=f"kept_1 gone from {node.url}")
