"""Limits and names: job ids and stream names cannot leave the data directory, and each configured
limit (jobs, bytes per job, connections) gives the client a clear answer while the server goes on."""
import json
import os

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from conftest import popen, py, tailcast, wait_until
from peer import SUBPROTOCOL, encode_data

META = {"kind": "run", "command": ["x"], "host": "h", "user": "u", "started_at_ms": 1}


def hello(url, job, streams=()):
    """Says hello as an agent, opens `streams`; returns (first answer, close code)."""
    with connect(url + "/v1/publish", subprotocols=[SUBPROTOCOL]) as ws:
        ws.send(json.dumps({"type": "hello", "job": job, "run_id": "r1", "agent": "test", "meta": META}))
        answer = json.loads(ws.recv())
        try:
            for index, name in enumerate(streams, start=1):
                ws.send(json.dumps({"type": "open", "stream": index, "name": name}))
                ws.send(encode_data([(index, 0, 1, b"x\n")]))
            if streams:
                ws.send(json.dumps({"type": "end", "exit": {"code": 0}, "ended_at_ms": 2,
                                    "sizes": {str(i): 2 for i in range(1, len(streams) + 1)}}))
        except ConnectionClosed:
            pass  # a refused name closes the connection before the rest is sent; its error is read below
        try:
            while True:
                last = json.loads(ws.recv(timeout=10))
                if last.get("ended") or last["type"] == "error":
                    answer = last if last["type"] == "error" else answer
                    break
        except Exception:
            pass
        ws.close()
        return answer, ws.close_code


@pytest.mark.parametrize("job", ["../escape", "/etc", "a\x00b", "x" * 129, ".hidden", "-flag", "a/b", ""])
def test_job_ids_that_could_leave_the_archive_are_refused(server, job):
    answer, code = hello(server.url, job)
    assert answer["type"] == "error" and answer["code"] == "bad_message" and code == 4000
    assert server.healthy()


def test_stream_names_are_kept_inside_the_job_folder(server, tmp_path):
    names = ["../../../../escaped", "/etc/passwd", "..", "a" * 1024, "C:\\windows\\x", "ünïcode/päth.log"]
    answer, _ = hello(server.url, "names", names)
    assert answer["type"] == "welcome"
    info = json.loads((server.data / "jobs" / "names" / "job.json").read_text())
    assert sorted(s["name"] for s in info["streams"]) == sorted(names)
    streams = server.data / "jobs" / "names" / "streams"
    for s in info["streams"]:
        assert "/" not in s["file"] and not s["file"].startswith(".")
        assert (streams / f"{s['file']}.log").read_bytes() == b"x\n"
    assert not (tmp_path / "escaped").exists() and not (server.data / "escaped").exists()
    for bad in ("a\x00b", "b" * 1025, ""):
        answer, code = hello(server.url, "names-bad-" + str(len(bad)), [bad])
        assert answer["type"] == "error" and code == 4000


def test_job_limit_refuses_new_jobs_only(make_server, env):
    server = make_server(["--max-jobs", "2"]).start()
    for job in ("one", "two"):
        assert tailcast("run", "--job", job, "--quiet", "--server", server.url, "--", "true", env=env, timeout=60).returncode == 0
    third = tailcast("run", "--job", "three", "--quiet", "--wait", "5", "--server", server.url, "--", "true", env=env, timeout=60)
    # run asks before it starts the job: refused, the job never runs, and run says so with exit 1.
    assert third.returncode == 1 and b"limit of 2 jobs" in third.stderr, third.stderr
    assert sorted(server.jobs()) == ["one", "two"]


def test_bytes_per_job_limit(make_server, env):
    server = make_server(["--max-job-bytes", "100000"]).start()
    big = tailcast("run", "--job", "big", "--no-pty", "--quiet", "--wait", "5", "--server", server.url, "--",
                   *py("import sys\nfor i in range(20000): print('%09d' % i)"), env=env, timeout=60)
    assert big.returncode == 1 and b"limit of 100000 bytes" in big.stderr and b"not archived" in big.stderr
    assert len(server.archived("big")) <= 100000
    assert b"".join(b"%09d\n" % i for i in range(20000)).startswith(server.archived("big"))
    small = tailcast("run", "--job", "small", "--quiet", "--server", server.url, "--", "echo", "fits", env=env, timeout=60)
    assert small.returncode == 0 and server.archived("small") == b"fits\r\n"


def test_connection_limit_says_busy_and_a_watcher_gets_in_when_a_place_frees(make_server, env):
    server = make_server(["--max-connections", "2"]).start()
    job = popen("run", "--job", "slow", "--no-pty", "--quiet", "--server", server.url, "--",
                *py("import time\nfor i in range(40): print(i, flush=True); time.sleep(0.1)"), env=env)
    wait_until(lambda: "slow" in server.jobs(), what="job")
    first = popen("watch", "slow", "--server", server.url, env=env)
    wait_until(lambda: "watcher connected" in server.log.read_text(), what="first watcher")
    with connect(server.url + "/v1/watch", subprotocols=[SUBPROTOCOL]) as ws:
        error = json.loads(ws.recv())
        with pytest.raises(Exception):
            ws.recv()
    assert error["code"] == "busy" and ws.close_code == 4429
    # A watcher that finds the server full waits and gets in once the agent's place frees.
    second = popen("watch", "slow", "--server", server.url, env=env)
    assert job.wait(60) == 0
    expected = b"".join(b"%d\n" % i for i in range(40))
    assert first.communicate(timeout=60)[0] == expected
    out, err = second.communicate(timeout=60)
    assert out == expected, err
    assert b"connections open" in err


def test_progress_text_past_the_protocols_bounds_is_cut_by_the_agent_not_refused(server, env):
    """A label of 120 emoji (480 bytes) made tailcast's own agent send a bar key past 256 bytes: the server
    refused the whole connection (4000) and the job's output stopped reaching it. The agent now cuts a bar's
    text to PROTOCOL.md's bounds, on whole characters."""
    from conftest import BINARY
    label, message = "🙂" * 120, "m" * 5000
    script = f"{BINARY} progress 3 --total 10 --unit it --label '{label}' --message '{message}'; echo after-progress; sleep 1"
    job = popen("run", "--job", "long-label", "--quiet", "--server", server.url, "--", "sh", "-c", script, env=env)
    assert job.wait(30) == 0, job.stderr.read() if job.stderr else ""
    listed = json.loads(tailcast("ls", "--json", "--server", server.url, env=env, timeout=30).stdout)
    info = next(j for j in (listed if isinstance(listed, list) else listed["jobs"]) if j["id"] == "long-label")
    assert info["state"] == "exited", info["state"]
    [bar] = info["progress"]
    assert bar["current"] == 3 and bar["label"].startswith("🙂" * 60) and bar["label"].endswith("…"), bar["label"]
    assert len(bar["key"].encode()) <= 256 and len(bar["label"].encode()) <= 256 and len(bar["message"].encode()) <= 1024
    watched = tailcast("watch", "long-label", "--no-follow", "--server", server.url, env=env, timeout=30).stdout
    assert b"after-progress" in watched
