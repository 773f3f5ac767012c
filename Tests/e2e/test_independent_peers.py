"""Python's `websockets` as an independent peer: a watcher and an agent written from PROTOCOL.md, and hostile input."""
import json
import os
import time
import urllib.error
import urllib.request
import zlib

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

import peer
from conftest import py, tailcast


def test_python_watcher_negotiates_deflate_and_gets_the_same_bytes(server, env):
    run = tailcast("run", "--job", "pyw", "--no-pty", "--quiet", "--server", server.url, "--",
                   *py("import sys\nfor i in range(20000): print('entry', i)\nsys.stderr.write('warn\\n')\nsys.exit(2)"),
                   env=env, timeout=60)
    assert run.returncode == 2
    streams, final, extensions = peer.watch(server.url, "pyw")
    assert "permessage-deflate" in extensions
    assert streams["stdout"] == server.archived("pyw", "stdout")
    assert streams["stdout"] == b"".join(b"entry %d\n" % i for i in range(20000))
    assert streams["stderr"] == b"warn\n"
    assert final["type"] == "finished" and final["exit"] == {"code": 2}


def test_acks_name_only_the_streams_that_moved_and_the_end_ack_names_all(server):
    """PROTOCOL.md 3.1: a paced ack names the streams whose durable offset moved; the `ended` ack all."""
    hello = {"type": "hello", "job": "acks", "run_id": "run-1", "agent": "peer.py/1",
             "meta": {"kind": "tail", "command": ["peer"], "host": "h", "user": "u", "started_at_ms": int(time.time() * 1000)}}
    with connect(server.url + "/v1/publish", subprotocols=[peer.SUBPROTOCOL]) as ws:
        ws.send(json.dumps(hello))
        assert json.loads(ws.recv())["type"] == "welcome"
        for stream in (1, 2, 3):
            ws.send(json.dumps({"type": "open", "stream": stream, "name": f"file-{stream}"}))
        ws.send(peer.encode_data([(1, 0, 1000, b"one\n"), (2, 0, 1000, b"two\n")]))
        assert json.loads(ws.recv()) == {"type": "ack", "offsets": {"1": 4, "2": 4}, "ended": False}
        ws.send(peer.encode_data([(2, 4, 1000, b"again\n")]))
        assert json.loads(ws.recv()) == {"type": "ack", "offsets": {"2": 10}, "ended": False}
        ws.send(json.dumps({"type": "end", "exit": {"code": 0}, "ended_at_ms": 2000, "sizes": {"1": 4, "2": 10, "3": 0}}))
        assert json.loads(ws.recv()) == {"type": "ack", "offsets": {"1": 4, "2": 10, "3": 0}, "ended": True}


def test_python_agent_publishes_exactly_once_across_resends_and_tailcast_watches_it(server, env):
    hello = {"type": "hello", "job": "pyagent", "run_id": "run-1", "agent": "peer.py/1",
             "meta": {"kind": "run", "command": ["peer"], "host": "h", "user": "u", "started_at_ms": int(time.time() * 1000)}}
    lines = [b"alpha\n", b"beta\n", b"gamma\n"]
    with connect(server.url + "/v1/publish", subprotocols=[peer.SUBPROTOCOL], compression="deflate") as ws:
        ws.send(json.dumps(hello))
        welcome = json.loads(ws.recv())
        assert welcome == {"type": "welcome", "job": "pyagent", "streams": [], "ended": False}
        ws.send(json.dumps({"type": "open", "stream": 5, "name": "stdout"}))
        ws.send(peer.encode_data([(5, 0, 1000, lines[0] + lines[1])]))
        # a resend overlapping what the server has: only the new part is archived
        ws.send(peer.encode_data([(5, 0, 1000, lines[0] + lines[1] + lines[2])]))
        ack = json.loads(ws.recv())
        assert ack["type"] == "ack"
        ws.send(json.dumps({"type": "end", "exit": {"code": 0}, "ended_at_ms": 2000, "sizes": {"5": 17}}))
        while True:
            ack = json.loads(ws.recv())
            if ack.get("ended"):
                break
        assert ack["offsets"] == {"5": 17}
    # the same run reconnecting is told what the server holds
    with connect(server.url + "/v1/publish", subprotocols=[peer.SUBPROTOCOL]) as ws:
        ws.send(json.dumps(hello))
        assert json.loads(ws.recv()) == {"type": "welcome", "job": "pyagent",
                                         "streams": [{"name": "stdout", "size": 17}], "ended": True}
    # another run may not take the id
    with connect(server.url + "/v1/publish", subprotocols=[peer.SUBPROTOCOL]) as ws:
        ws.send(json.dumps({**hello, "run_id": "run-2"}))
        error = json.loads(ws.recv())
        assert error["type"] == "error" and error["code"] == "job_conflict"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv()
        assert closed.value.rcvd.code == 4009
    watch = tailcast("watch", "pyagent", "--server", server.url, env=env, timeout=30)
    assert watch.returncode == 0 and watch.stdout == b"alpha\nbeta\ngamma\n"


def test_a_chunk_past_the_end_is_refused_as_a_gap(server):
    with connect(server.url + "/v1/publish", subprotocols=[peer.SUBPROTOCOL]) as ws:
        ws.send(json.dumps({"type": "hello", "job": "gappy", "run_id": "r", "agent": "a",
                            "meta": {"kind": "run", "command": [], "host": "h", "user": "u", "started_at_ms": 1}}))
        ws.recv()
        ws.send(json.dumps({"type": "open", "stream": 1, "name": "stdout"}))
        ws.send(peer.encode_data([(1, 10, 1, b"late")]))
        error = json.loads(ws.recv())
        assert error["code"] == "gap"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv()
        assert closed.value.rcvd.code == 4001


def test_a_chunk_ending_past_2_64_is_a_bad_message_not_a_crash(server, env):
    with connect(server.url + "/v1/publish", subprotocols=[peer.SUBPROTOCOL]) as ws:
        ws.send(json.dumps({"type": "hello", "job": "huge", "run_id": "r", "agent": "a",
                            "meta": {"kind": "run", "command": [], "host": "h", "user": "u", "started_at_ms": 1}}))
        ws.recv()
        ws.send(json.dumps({"type": "open", "stream": 1, "name": "stdout"}))
        ws.send(peer.encode_data([(1, 2**64 - 1, 2**64 - 1, b"x")]))
        error = json.loads(ws.recv())
        assert error["code"] == "bad_message" and "2^64" in error["message"]
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv()
        assert closed.value.rcvd.code == 4000
    run = tailcast("run", "--job", "alive", "--server", server.url, "--", "echo", "ok", env=env, timeout=30)
    assert run.returncode == 0 and server.archived("alive") == b"ok\r\n"


def test_clients_without_the_subprotocol_are_told_what_to_offer(server):
    with connect(server.url + "/v1/watch", subprotocols=["chat"]) as ws:
        assert ws.subprotocol is None
        error = json.loads(ws.recv())
        assert error["code"] == "subprotocol" and "tailcast.v1" in error["message"]
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv()
        assert closed.value.rcvd.code == 4002 and "tailcast.v1" in closed.value.rcvd.reason
    with pytest.raises(urllib.error.HTTPError) as plain:
        urllib.request.urlopen(server.http + "/v1/publish")
    assert plain.value.code == 400 and b"WebSocket endpoint" in plain.value.read()
    with pytest.raises(urllib.error.HTTPError) as plain:
        urllib.request.urlopen(server.http + "/v1/jobs/nope")
    assert plain.value.code == 404


@pytest.mark.parametrize("first", ["not json", '{"type":"launch"}', '{"type":"hello","job":"../x"}',
                                   '{"type":"hello","job":"../etc","run_id":"r","agent":"a","meta":{"kind":"run","command":[],"host":"h","user":"u","started_at_ms":1}}'])
def test_malformed_first_messages_close_with_4000_and_a_reason(server, first):
    with connect(server.url + "/v1/publish", subprotocols=[peer.SUBPROTOCOL]) as ws:
        ws.send(first)
        error = json.loads(ws.recv())
        assert error["type"] == "error" and error["code"] == "bad_message" and error["message"]
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv()
        assert closed.value.rcvd.code == 4000
    assert not os.path.exists(server.data / "etc") and not os.path.exists(server.data.parent / "etc")


def test_decompression_bomb_and_oversized_messages_close_1009_and_the_server_keeps_serving(server, env):
    with connect(server.url + "/v1/publish", subprotocols=[peer.SUBPROTOCOL], compression="deflate",
                 max_size=None) as ws:
        # 64 MiB of zeros deflate to about 64 KiB: the server must stop inflating at its limit.
        ws.send(json.dumps({"type": "hello", "job": "bomb", "run_id": "r", "agent": "a",
                            "meta": {"kind": "run", "command": [], "host": "h", "user": "u", "started_at_ms": 1}}))
        ws.recv()
        with pytest.raises(ConnectionClosed) as closed:
            ws.send(b"\x01" + bytes(64 << 20))
            ws.recv()
        assert closed.value.rcvd is None or closed.value.rcvd.code == 1009
    with connect(server.url + "/v1/watch", subprotocols=[peer.SUBPROTOCOL], compression=None, max_size=None) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.send(b"x" * (5 << 20))
            ws.recv()
        assert closed.value.rcvd is None or closed.value.rcvd.code == 1009
    run = tailcast("run", "--job", "after", "--server", server.url, "--", "echo", "still fine", env=env, timeout=30)
    assert run.returncode == 0 and server.archived("after") == b"still fine\r\n"


def test_the_protocol_documents_example_bytes_match_the_encoder():
    text = (peer.REPO_ROOT / "PROTOCOL.md").read_text()
    assert "`01 01 ac 02 80 d0 95 ff bc 31 03 68 69 0a`" in text
    assert peer.encode_data([(1, 300, 1700000000000, b"hi\n")]).hex(" ") == "01 01 ac 02 80 d0 95 ff bc 31 03 68 69 0a"
