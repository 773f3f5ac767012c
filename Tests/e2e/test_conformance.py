"""PROTOCOL.md and the server agree (issue 16): each case is a third-party peer (Python `websockets`, or raw
frames) doing what the document says, or what it forbids, and checking the server's answer to the letter."""
import contextlib
import json
import re
import signal
import socket
import time
import urllib.error
import urllib.request

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

import peer
import rawws
from conftest import Server, free_port

PROTOCOL = (peer.REPO_ROOT / "PROTOCOL.md").read_text()


def hello(job, run_id="run-1", **extra):
    return {"type": "hello", "job": job, "run_id": run_id, "agent": "conformance/1",
            "meta": {"kind": "run", "command": ["peer"], "host": "h", "user": "u", "started_at_ms": int(time.time() * 1000)},
            **extra}


@contextlib.contextmanager
def publish(server, job, **kwargs):
    """An agent connection past its welcome."""
    with connect(server.url + "/v1/publish", subprotocols=[peer.SUBPROTOCOL], **kwargs) as ws:
        ws.send(json.dumps(hello(job)))
        welcome = json.loads(ws.recv())
        assert welcome["type"] == "welcome", welcome
        yield ws


def refusal(ws):
    """The `error` the server sends, and the close code after it."""
    error = json.loads(ws.recv(timeout=10))
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=10)
    assert error["type"] == "error", error
    return error, closed.value.rcvd.code


def raw(server, job, stream="stdout"):
    return urllib.request.urlopen(f"{server.http}/v1/jobs/{job}/raw?stream={stream}", timeout=10).read()


def end(sizes, **exit_status):
    return json.dumps({"type": "end", "exit": exit_status or {"code": 0}, "ended_at_ms": int(time.time() * 1000), "sizes": sizes})


def until_ended(ws):
    """Acks up to and including the one with `ended: true`."""
    acks = []
    while not (acks and acks[-1].get("ended")):
        acks.append(json.loads(ws.recv(timeout=10)))
        assert acks[-1]["type"] == "ack", acks[-1]
    return acks


def published(server, job, streams, exit_status=None):
    """Publishes `streams` ({id: (name, [(time_ms, bytes)])}) and ends the job."""
    with publish(server, job) as ws:
        sizes = {}
        for stream, (name, pieces) in streams.items():
            ws.send(json.dumps({"type": "open", "stream": stream, "name": name}))
        for stream, (name, pieces) in streams.items():
            offset, chunks = 0, []
            for time_ms, data in pieces:
                chunks.append((stream, offset, time_ms, data))
                offset += len(data)
            for first in range(0, len(chunks), 1000):
                ws.send(peer.encode_data(chunks[first:first + 1000]))
            sizes[str(stream)] = offset
        ws.send(end(sizes, **(exit_status or {"code": 0})))
        until_ended(ws)


def watch_messages(server, job, **request):
    """Every message a watcher gets, in order: control messages as dicts, data messages as raw bytes."""
    messages = []
    with connect(server.url + "/v1/watch", subprotocols=[peer.SUBPROTOCOL], compression=None, max_size=None) as ws:
        ws.send(json.dumps({"type": "watch", "job": job, "follow": True, **request}))
        while True:
            message = ws.recv(timeout=30)
            messages.append(message if isinstance(message, bytes) else json.loads(message))
            if isinstance(messages[-1], dict) and messages[-1]["type"] in ("finished", "caught_up", "error"):
                return messages


# --- 1, 5: close codes ---------------------------------------------------------------------------------

def test_sigterm_closes_agents_and_watchers_with_1001_going_away(tmp_path):
    server = Server(tmp_path / "data", free_port()).start()
    try:
        with publish(server, "leaving") as agent, connect(server.url + "/v1/watch", subprotocols=[peer.SUBPROTOCOL]) as watcher:
            shut_down_with_both_connected(server, agent, watcher)
    finally:
        server.stop()
    assert re.search(r"^\| 1001 \|.*going away.*reconnect", PROTOCOL, re.M | re.I)


def shut_down_with_both_connected(server, agent, watcher):
    """Both get close 1001 with a reason saying what to do, and nothing that says the session is over."""
    agent.send(json.dumps({"type": "open", "stream": 1, "name": "stdout"}))
    agent.send(peer.encode_data([(1, 0, 1000, b"before the restart\n")]))
    assert json.loads(agent.recv(timeout=10))["type"] == "ack"
    watcher.send(json.dumps({"type": "watch", "job": "leaving", "follow": True}))
    assert json.loads(watcher.recv(timeout=10))["type"] == "job"
    server.process.send_signal(signal.SIGTERM)
    for ws in (agent, watcher):
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                message = ws.recv(timeout=10)
                assert isinstance(message, bytes) or json.loads(message)["type"] in ("stream", "progress"), message
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001, closed.value
        assert "reconnect" in closed.value.rcvd.reason
    assert server.process.wait(15) == 0


def test_an_unanswered_ping_closes_with_1001_ping_timeout_as_documented(make_server):
    server = make_server(["--ping-interval", "0.5"]).start()
    with rawws.RawWebSocket(server.port, timeout=10) as ws:
        ws.upgrade("/v1/watch")
        close = ws.read_close(timeout=10)  # read_close never answers the pings
        assert close is not None and close.close_code == 1001 and close.close_reason == "Ping timeout"
    assert re.search(r"^\| 1001 \|.*`Ping timeout`", PROTOCOL, re.M)


# --- 2: acks ---------------------------------------------------------------------------------------------

def test_nothing_follows_the_ended_ack_and_no_ack_is_empty(server):
    with publish(server, "acks-end") as ws:
        ws.send(json.dumps({"type": "open", "stream": 1, "name": "stdout"}))
        for i in range(50):
            ws.send(peer.encode_data([(1, i * 6, 1000 + i * 30, b"line%d\n" % (i % 10))]))
        ws.send(end({"1": 300}))
        acks = until_ended(ws)
        assert all(ack["offsets"] for ack in acks), acks
        assert acks[-1] == {"type": "ack", "offsets": {"1": 300}, "ended": True}
        with pytest.raises(TimeoutError):
            ws.recv(timeout=1.0)  # more than the 200 ms ack pacing
    # A reconnect that resends what the server holds gets no empty ack, nor any ack: nothing moved.
    with connect(server.url + "/v1/publish", subprotocols=[peer.SUBPROTOCOL]) as ws:
        ws.send(json.dumps(hello("acks-again")))
        ws.recv()
        ws.send(json.dumps({"type": "open", "stream": 1, "name": "stdout"}))
        ws.send(peer.encode_data([(1, 0, 1000, b"once\n")]))
        assert json.loads(ws.recv(timeout=10))["offsets"] == {"1": 5}
    with connect(server.url + "/v1/publish", subprotocols=[peer.SUBPROTOCOL]) as ws:
        ws.send(json.dumps(hello("acks-again")))
        assert json.loads(ws.recv())["streams"] == [{"name": "stdout", "size": 5}]
        ws.send(json.dumps({"type": "open", "stream": 1, "name": "stdout"}))
        ws.send(peer.encode_data([(1, 0, 1000, b"once\n")]))
        with pytest.raises(TimeoutError):
            print(ws.recv(timeout=1.0))


# --- 3, 6: replay order and the largest message ---------------------------------------------------------

def test_replay_interleaves_streams_by_read_time_in_bounded_messages(server):
    """Two streams written turn about, 2 KiB every 40 ms each, 600 KiB each: a replay sends them in the
    order they were read (never 256 KiB of one first); no message is over 262,144 bytes, even one whose
    chunks are many small pieces with a header each."""
    turns = 300
    out = [(1_000_000 + 80 * i, b"o%05d " % i + b"x" * 2040 + b"\n") for i in range(turns)]
    err = [(1_000_040 + 80 * i, b"e%05d " % i + b"y" * 2040 + b"\n") for i in range(turns)]
    published(server, "turns", {1: ("stdout", out), 2: ("stderr", err)})
    messages = watch_messages(server, "turns")
    assert messages[-1]["type"] == "finished"
    names = {m["stream"]: m["name"] for m in messages if isinstance(m, dict) and m["type"] == "stream"}
    chunks = [chunk for m in messages if isinstance(m, bytes) for chunk in peer.decode_data(m)]
    times = [time_ms for _, _, time_ms, _ in chunks]
    assert times == sorted(times), "replay is in the order the bytes were read"
    for stream, name in names.items():
        expected = b"".join(data for _, data in (out if name == "stdout" else err))
        assert b"".join(data for s, _, _, data in chunks if s == stream) == expected
    # A stream read a line at a time, 30 ms apart: a chunk (and a header) per line.
    published(server, "marks", {1: ("stdout", [(1_000_000 + 30 * i, b"%06d\n" % i) for i in range(30_000)])})
    sizes = [len(m) for m in watch_messages(server, "marks") if isinstance(m, bytes)]
    assert max(sizes) <= 262_144, max(sizes)
    assert "262,144" in PROTOCOL


# --- 4: plain HTTP -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/v1/publish", "/v1/watch"])
def test_plain_http_to_a_websocket_path_gets_one_line_of_text(server, path):
    with pytest.raises(urllib.error.HTTPError) as plain:
        urllib.request.urlopen(server.http + path, timeout=10)
    body = plain.value.read()
    assert plain.value.code == 400
    assert plain.value.headers["Content-Type"].startswith("text/plain"), plain.value.headers
    assert body.endswith(b"\n") and body.count(b"\n") == 1 and b"WebSocket endpoint" in body, body


# --- 6: what an agent may send ------------------------------------------------------------------------------

def test_data_after_end_is_refused_with_job_ended(server):
    with publish(server, "after-end") as ws:
        ws.send(json.dumps({"type": "open", "stream": 1, "name": "stdout"}))
        ws.send(peer.encode_data([(1, 0, 1000, b"a\n")]))
        ws.send(end({"1": 2}))
        until_ended(ws)
        ws.send(peer.encode_data([(1, 2, 1000, b"late\n")]))
        error, code = refusal(ws)
    assert (error["code"], code) == ("job_ended", 4011)
    assert server.archived("after-end") == b"a\n"


@pytest.mark.parametrize("exit_status", [{}, {"code": 0, "signal": 9}, {"signal": 0}, {"signal": 128}])
def test_an_exit_status_needs_exactly_one_of_code_and_signal(server, exit_status):
    with publish(server, "exits") as ws:
        ws.send(json.dumps({"type": "end", "exit": exit_status, "ended_at_ms": 1, "sizes": {}}))
        error, code = refusal(ws)
    assert (error["code"], code) == ("bad_message", 4000) and '"exit"' in error["message"]


def test_end_sizes_name_every_stream_opened_and_a_smaller_size_keeps_what_is_held(server):
    with publish(server, "sizes") as ws:
        ws.send(json.dumps({"type": "open", "stream": 1, "name": "stdout"}))
        ws.send(json.dumps({"type": "open", "stream": 2, "name": "stderr"}))
        ws.send(peer.encode_data([(1, 0, 1000, b"out\n")]))
        ws.send(end({"1": 4}))
        error, code = refusal(ws)
    assert (error["code"], code) == ("bad_message", 4000) and '"sizes"' in error["message"] and "2" in error["message"]
    with publish(server, "sizes") as ws:
        ws.send(json.dumps({"type": "open", "stream": 1, "name": "stdout"}))
        ws.send(end({"1": 1}))
        assert until_ended(ws)[-1]["offsets"] == {"1": 4}
    assert server.archived("sizes") == b"out\n"
    assert "`sizes` MUST name every stream opened on this connection" in PROTOCOL


def test_reopening_an_id_under_another_name_is_refused(server):
    with publish(server, "reopen") as ws:
        ws.send(json.dumps({"type": "open", "stream": 1, "name": "stdout"}))
        ws.send(json.dumps({"type": "open", "stream": 1, "name": "stderr"}))
        error, code = refusal(ws)
    assert (error["code"], code) == ("bad_message", 4000) and "stream id 1" in error["message"]


@pytest.mark.parametrize("message, field", [
    ({"type": "end", "exit": {"code": 0}, "sizes": {}}, '"ended_at_ms"'),
    ({"type": "progress", "bars": [{"key": "k", "unit": "", "source": "explicit", "updated_ms": 1, "done": False}]},
     '"bars[0].current"'),
    ({"type": "open", "stream": 2**32, "name": "x"}, '"stream"'),
    ({"type": "open", "stream": "1", "name": "x"}, '"stream" must be a whole number'),
])
def test_error_texts_name_the_wire_member(server, message, field):
    with publish(server, "fields") as ws:
        ws.send(json.dumps(message))
        error, code = refusal(ws)
    assert (error["code"], code) == ("bad_message", 4000)
    assert field in error["message"], error["message"]
    assert "Index" not in error["message"] and "endedAtMs" not in error["message"]
    assert "not valid JSON" not in error["message"], error["message"]


# --- 6: what a watcher may ask ---------------------------------------------------------------------------------

def test_unknown_stream_names_are_refused_when_they_can_never_appear(server):
    published(server, "named", {1: ("stdout", [(1000, b"out\n")]), 2: ("stderr", [(1000, b"err\n")])})
    messages = watch_messages(server, "named", streams=["stdout", "nope"])
    assert messages[-1]["type"] == "error" and messages[-1]["code"] == "unknown_stream"
    assert '"nope"' in messages[-1]["message"] and '"stdout", "stderr"' in messages[-1]["message"]
    messages = watch_messages(server, "named", follow=False, offsets=[{"name": "gone", "offset": 0}])
    assert messages[-1]["type"] == "error" and '"gone"' in messages[-1]["message"]
    # A running job may still open it: a follower waits for it.
    with publish(server, "later") as agent:
        agent.send(json.dumps({"type": "open", "stream": 1, "name": "stdout"}))
        with connect(server.url + "/v1/watch", subprotocols=[peer.SUBPROTOCOL]) as ws:
            ws.send(json.dumps({"type": "watch", "job": "later", "follow": True, "streams": ["late.log"]}))
            assert json.loads(ws.recv(timeout=10))["type"] == "job"
            agent.send(json.dumps({"type": "open", "stream": 2, "name": "late.log"}))
            agent.send(peer.encode_data([(2, 0, 1000, b"here\n")]))
            assert json.loads(ws.recv(timeout=10)) == {"type": "stream", "stream": 2, "name": "late.log", "offset": 0}


def test_an_offset_past_the_end_is_kept_not_clamped(server):
    published(server, "short", {1: ("stdout", [(1000, b"0123456789")])})
    messages = watch_messages(server, "short", offsets=[{"name": "stdout", "offset": 25}])
    assert {"type": "stream", "stream": 1, "name": "stdout", "offset": 25} in messages
    assert not [m for m in messages if isinstance(m, bytes)] and messages[-1]["type"] == "finished"


# --- 6: progress -----------------------------------------------------------------------------------------------

def bar(key, current, source="explicit", done=False, updated_ms=1000):
    return {"key": key, "current": current, "total": 10, "unit": "it", "source": source, "updated_ms": updated_ms, "done": done}


def test_done_is_the_agents_to_set_and_explicit_bars_win(server):
    with publish(server, "bars") as ws:
        ws.send(json.dumps({"type": "progress", "bars": [bar("parsed", 1, source="parsed")]}))
        ws.send(json.dumps({"type": "progress", "bars": [bar("crashed", 4), bar("finished", 10, done=True)]}))
        ws.send(json.dumps({"type": "progress", "bars": [bar("parsed", 2, source="parsed")]}))
        ws.send(end({}, signal=9))
        until_ended(ws)
    info = json.load(urllib.request.urlopen(server.http + "/v1/jobs/bars", timeout=10))
    assert {b["key"]: b["done"] for b in info["progress"]} == {"crashed": False, "finished": True}


def test_unchanged_progress_is_not_sent_again(server):
    with publish(server, "same") as agent:
        agent.send(json.dumps({"type": "open", "stream": 1, "name": "stdout"}))
        agent.send(peer.encode_data([(1, 0, 1000, b"x\n")]))
        with connect(server.url + "/v1/watch", subprotocols=[peer.SUBPROTOCOL]) as ws:
            ws.send(json.dumps({"type": "watch", "job": "same", "follow": True}))
            assert [json.loads(ws.recv(timeout=10))["type"], json.loads(ws.recv(timeout=10))["type"]] == ["job", "stream"]
            assert isinstance(ws.recv(timeout=10), bytes)
            agent.send(json.dumps({"type": "progress", "bars": [bar("k", 3)]}))
            assert json.loads(ws.recv(timeout=10))["bars"][0]["current"] == 3
            agent.send(json.dumps({"type": "progress", "bars": [bar("k", 3)]}))
            with pytest.raises(TimeoutError):
                print(ws.recv(timeout=1.0))
            agent.send(json.dumps({"type": "progress", "bars": [bar("k", 4, updated_ms=2000)]}))
            assert json.loads(ws.recv(timeout=10))["bars"][0]["current"] == 4


# --- 3: the document's tables -----------------------------------------------------------------------------------

def test_the_document_has_limits_and_states_tables_and_names_every_error_code():
    assert re.search(r"^## \d+\. Limits", PROTOCOL, re.M) and re.search(r"^## \d+\. States", PROTOCOL, re.M)
    codes = set(re.findall(r'case \.(\w+): "(\w+)"', (peer.REPO_ROOT / "Sources/TailcastProtocol/ErrorCode.swift").read_text()))
    for _, wire in codes:
        assert f"`{wire}`" in PROTOCOL, wire


# --- A second pass: what an audit of the document against the server found ----------------------------------

@pytest.mark.parametrize("bar, member", [
    ({"label": "l" * 257}, '"label" is 257 bytes'),
    ({"unit": "u" * 65}, '"unit" is 65 bytes'),
    ({"message": "m" * 1025}, '"message" is 1025 bytes'),
])
def test_a_bars_text_is_bounded_so_server_messages_stay_under_4_mib(server, bar, member):
    """A bar's message was unbounded: two progress messages made a `job` of 8 MB, which tailcast's own
    watcher could not read (it accepts the documented 4 MiB)."""
    with publish(server, "long-bar") as ws:
        ws.send(json.dumps({"type": "progress", "bars": [
            {"key": "ok", "current": 1, "unit": "it", "source": "explicit", "updated_ms": 1, "done": False},
            {"key": "k", "current": 1, "unit": "it", "source": "explicit", "updated_ms": 1, "done": False, **bar}]}))
        error, code = refusal(ws)
    assert (error["code"], code) == ("bad_message", 4000)
    assert error["message"].startswith("bars[1]: ") and member in error["message"], error["message"]
    assert re.search(r"`label`.*256.*`unit` 64.*`message` 1,024", PROTOCOL)


def test_a_jobs_stream_names_together_are_bounded(server):
    """2,048 names of 1,024 bytes made a `job` message over 2 MiB, and with JSON's escapes over 4 MiB."""
    with publish(server, "many-names") as ws:
        for stream in range(1, 257):
            ws.send(json.dumps({"type": "open", "stream": stream, "name": f"{stream:04d}" + "n" * 1020}))
        ws.send(json.dumps({"type": "open", "stream": 257, "name": "the one too many"}))
        error, code = refusal(ws)
    assert (error["code"], code) == ("limit", 4029)
    assert "stream names together would pass 262144 bytes" in error["message"], error["message"]
    info = json.loads(urllib.request.urlopen(server.http + "/v1/jobs/many-names", timeout=10).read())
    assert len(info["streams"]) == 256


def test_a_name_open_under_two_ids_is_refused(server):
    """Both ids were accepted and their bytes merged into one stream, each id's offsets counting alone."""
    with publish(server, "one-name-two-ids") as ws:
        ws.send(json.dumps({"type": "open", "stream": 1, "name": "stdout"}))
        ws.send(json.dumps({"type": "open", "stream": 2, "name": "stdout"}))
        error, code = refusal(ws)
    assert (error["code"], code) == ("bad_message", 4000) and "stream id 1" in error["message"], error


@pytest.mark.parametrize("after_stop", [
    "data", {"type": "stop"}, {"type": "progress", "bars": []}, {"type": "open", "stream": 2, "name": "x"}, "end"])
def test_nothing_follows_stop(server, after_stop):
    """`stop` is sent instead of `end`, just before closing; data after it used to be accepted and acked."""
    with publish(server, "stopping") as ws:
        ws.send(json.dumps({"type": "open", "stream": 1, "name": "stdout"}))
        ws.send(peer.encode_data([(1, 0, 1000, b"before\n")]))
        ws.send(json.dumps({"type": "stop"}))
        if after_stop == "data":
            ws.send(peer.encode_data([(1, 7, 1000, b"after\n")]))
        elif after_stop == "end":
            ws.send(end({"1": 7}))
        else:
            ws.send(json.dumps(after_stop))
        message = json.loads(ws.recv(timeout=10))
        if message["type"] == "ack":  # the bytes before `stop` are still acknowledged
            assert message["offsets"] == {"1": 7}, message
            message = json.loads(ws.recv(timeout=10))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert (message["type"], message["code"], closed.value.rcvd.code) == ("error", "bad_message", 4000), message
    assert 'nothing may follow "stop"' in message["message"]
    assert raw(server, "stopping") == b"before\n"


def test_stop_and_hello_after_the_end_are_bad_messages_as_documented(server):
    for late in ({"type": "stop"}, hello("ended-then")):
        with publish(server, "ended-then") as ws:
            if late["type"] == "stop":
                ws.send(json.dumps({"type": "open", "stream": 1, "name": "stdout"}))
                ws.send(end({"1": 0}))
                until_ended(ws)
            ws.send(json.dumps(late))
            error, code = refusal(ws)
        assert (error["code"], code) == ("bad_message", 4000), (late, error)
    assert "`bad_message` (`hello`, `stop`)" in PROTOCOL


@pytest.mark.parametrize("meta, exit_status, member", [
    ({"kind": "tale"}, None, '"meta.kind" must be "run" or "tail"'),
    ({"pid": -5}, None, '"meta.pid" must be a process id'),
    ({}, {"code": 300}, '"code" must be between 0 and 255'),
    ({}, {"code": -1}, '"code" must be between 0 and 255'),
])
def test_meta_and_exit_values_outside_the_documented_ranges_are_refused(server, meta, exit_status, member):
    """`kind: "tale"`, `pid: -5` and exit codes -1 and 300 were accepted."""
    message = hello("ranges")
    message["meta"].update(meta)
    with connect(server.url + "/v1/publish", subprotocols=[peer.SUBPROTOCOL]) as ws:
        ws.send(json.dumps(message))
        if exit_status:
            assert json.loads(ws.recv(timeout=10))["type"] == "welcome"
            ws.send(end({}, **exit_status))
        error, code = refusal(ws)
    assert (error["code"], code) == ("bad_message", 4000) and member in error["message"], error


def test_valid_json_with_a_number_out_of_range_is_never_called_invalid_json(server):
    """With a real `ended_at_ms` and sixteen large sizes, the probe gave up after 16 tries and the agent was
    told its (valid) JSON was not valid JSON."""
    sizes = {str(i): 3_000_000_000 for i in range(1, 16)}
    sizes["99"] = -1
    with publish(server, "probe") as ws:
        ws.send(json.dumps({"type": "end", "exit": {"code": 0}, "ended_at_ms": int(time.time() * 1000), "sizes": sizes}))
        error, code = refusal(ws)
    assert (error["code"], code) == ("bad_message", 4000)
    assert "not valid JSON" not in error["message"] and "sizes.99" in error["message"], error["message"]


@pytest.mark.parametrize("request_", [
    {"type": "list", "limit": 0},
    {"type": "watch", "job": "twice", "follow": False, "offsets": [{"name": "stdout", "offset": 0}, {"name": "stdout", "offset": 5}]},
])
def test_a_watchers_out_of_range_requests_are_refused_not_bent(server, request_):
    """`list` with `limit` 0 was clamped to 1 (the HTTP API answers 400); a name twice in `offsets` took the larger."""
    published(server, "twice", {1: ("stdout", [(1000, b"0123456789\n")])})
    with connect(server.url + "/v1/watch", subprotocols=[peer.SUBPROTOCOL]) as ws:
        ws.send(json.dumps(request_))
        error, code = refusal(ws)
    assert (error["code"], code) == ("bad_message", 4000), error


def test_a_watcher_that_ends_its_side_gets_1000_not_an_internal_error(server):
    """A watcher that half-closed its TCP connection got 1011 ("unexpected server error")."""
    published(server, "half", {1: ("stdout", [(1000, b"x\n")])})
    with publish(server, "live") as agent:
        agent.send(json.dumps({"type": "open", "stream": 1, "name": "stdout"}))
        ws = rawws.RawWebSocket(server.port)
        ws.upgrade("/v1/watch")
        ws.send(rawws.frame(rawws.OP_TEXT, json.dumps({"type": "watch", "job": "live", "follow": True}).encode()))
        assert json.loads(ws.read_frame().payload)["type"] == "job"
        ws.sock.shutdown(socket.SHUT_WR)
        close = ws.read_close(timeout=10)
        assert close is not None and int.from_bytes(close.payload[:2], "big") == 1000, close and close.payload
        ws.close()
    assert re.search(r"^\| 1011 \| internal error", PROTOCOL, re.M)


@pytest.mark.parametrize("method", ["POST", "HEAD", "PUT", "DELETE"])
def test_any_method_but_get_on_a_websocket_path_gets_the_one_line_400(server, method):
    """POST and HEAD got a 404 with an empty body; section 2 promises a 400 with one line of text."""
    answer = urllib.request.Request(server.http + "/v1/publish", method=method)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(answer, timeout=10)
    assert refused.value.code == 400 and refused.value.headers["Content-Type"].startswith("text/plain")
    if method != "HEAD":
        body = refused.value.read().decode()
        assert body.count("\n") == 1 and "is a WebSocket endpoint" in body, body
