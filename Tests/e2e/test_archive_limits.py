"""The archive's resources are bounded by settings, not by its size: descriptors, modes, symlinks."""
import json
import os
import resource
import stat
import time
import urllib.parse
import urllib.request

from websockets.sync.client import connect

import peer
from conftest import Server, free_port, wait_until

NOFILE = 256
MAX_OPEN = 64
# The server's own descriptors (stdio, event loops, the listener, a log) and the few connections
# open at once in these tests.
SLACK = 40


def limited_descriptors():
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


def hello(job, run="run-1"):
    return {"type": "hello", "job": job, "run_id": run, "agent": "peer.py/1",
            "meta": {"kind": "run", "command": ["peer"], "host": "h", "user": "u",
                     "started_at_ms": int(time.time() * 1000)}}


def content(job, stream):
    """What stream `stream` of job `job` holds: lines, then bytes that are not text."""
    lines = b"".join(b"%s %s line %04d\n" % (job.encode(), stream.encode(), i) for i in range(40))
    return lines + bytes((i * 7 + len(job)) % 256 for i in range(300))


def publish(url, job, streams, run="run-1", end=True):
    """Publishes `streams` ({name: bytes}) in three timed parts each, ends the job (unless not `end`: it is then
    left `lost`, open to more data from its run), and waits for the ack of everything."""
    with connect(url + "/v1/publish", subprotocols=[peer.SUBPROTOCOL], max_size=8 << 20) as ws:
        ws.send(json.dumps(hello(job, run)))
        assert json.loads(ws.recv())["type"] == "welcome"
        ids = {name: index + 1 for index, name in enumerate(streams)}
        for name, index in ids.items():
            ws.send(json.dumps({"type": "open", "stream": index, "name": name}))
        for part in range(3):
            chunks = []
            for name, data in streams.items():
                start, stop = len(data) * part // 3, len(data) * (part + 1) // 3
                chunks.append((ids[name], start, 1_000_000 + part * 1000, data[start:stop]))
            ws.send(peer.encode_data(chunks))
        sizes = {str(i): len(streams[n]) for n, i in ids.items()}
        if end:
            ws.send(json.dumps({"type": "end", "exit": {"code": 0}, "ended_at_ms": 2_000_000, "sizes": sizes}))
        acknowledged = {}
        while True:
            message = json.loads(ws.recv())
            assert message["type"] == "ack", message
            acknowledged.update(message["offsets"])
            if message["ended"] or (not end and acknowledged == sizes):
                return


def raw(server, job, stream):
    query = urllib.parse.urlencode({"stream": stream})
    with urllib.request.urlopen(f"{server.http}/v1/jobs/{job}/raw?{query}", timeout=10) as r:
        return r.read()


def descriptors(server):
    return len(os.listdir(f"/proc/{server.process.pid}/fd"))


def test_more_streams_than_descriptors_are_served_byte_exact_and_survive_a_restart(tmp_path):
    server = Server(tmp_path / "data", free_port(), ["--max-open-files", str(MAX_OPEN), "--ack-interval-ms", "5"],
                    preexec_fn=limited_descriptors)
    server.start()
    try:
        bound = descriptors(server) + MAX_OPEN + SLACK
        jobs = {f"job-{i:03d}": {s: content(f"job-{i:03d}", s) for s in ("stdout", "stderr")} for i in range(150)}
        # 150 jobs of 2 streams: 600 files, more than the process may have open at once.
        peak = 0
        for job, streams in jobs.items():
            publish(server.url, job, streams)
            peak = max(peak, descriptors(server))
        print(f"600 stream files: peak {peak} descriptors (bound {bound}) under ulimit -n {NOFILE}")
        assert peak <= bound, f"{peak} descriptors open, more than {bound}"

        def check_everything():
            listed = server.jobs()
            for job, streams in jobs.items():
                assert listed[job]["state"] == "exited"
                for name, data in streams.items():
                    assert raw(server, job, name) == data, f"{job}/{name} differs"
            for job in list(jobs)[::10]:
                watched, final, _ = peer.watch(server.url, job)
                assert final["type"] == "finished" and watched == jobs[job]
            # Interleaving by time reads the marks of streams that were closed long ago.
            watched, final, _ = peer.watch(server.url, "job-000", since_ms=1_001_000)
            third = len(jobs["job-000"]["stdout"]) // 3
            assert watched["stdout"] == jobs["job-000"]["stdout"][third:]
            assert descriptors(server) <= bound

        check_everything()
        server.stop()
        server.start()
        bound = descriptors(server) + MAX_OPEN + SLACK
        check_everything()
        jobs["after-restart"] = {"stdout": content("after-restart", "stdout")}
        publish(server.url, "after-restart", jobs["after-restart"])
        assert raw(server, "after-restart", "stdout") == jobs["after-restart"]["stdout"]
        assert descriptors(server) <= bound
    finally:
        server.stop()


def test_the_default_leaves_room_for_connections_under_a_small_limit(tmp_path):
    """Without --max-open-files the archive takes half of ulimit -n, not all of it."""
    server = Server(tmp_path / "data", free_port(), ["--ack-interval-ms", "5"], preexec_fn=limited_descriptors)
    server.start()
    try:
        for i in range(100):
            publish(server.url, f"d-{i:03d}", {"stdout": content(f"d-{i:03d}", "stdout"), "stderr": b"e"})
        assert descriptors(server) <= NOFILE // 2 + SLACK
        assert all(raw(server, f"d-{i:03d}", "stdout") == content(f"d-{i:03d}", "stdout") for i in range(100))
    finally:
        server.stop()


def test_a_max_open_files_the_limit_cannot_hold_is_refused_at_start(tmp_path):
    import subprocess
    from conftest import BINARY
    result = subprocess.run([BINARY, "serve", "--port", str(free_port()), "--data", str(tmp_path / "data"),
                             "--max-open-files", str(NOFILE)], preexec_fn=limited_descriptors,
                            capture_output=True, timeout=20)
    assert result.returncode == 64
    assert b"ulimit -n" in result.stderr


def test_the_archive_is_private_whatever_the_umask(tmp_path):
    def open_umask():
        os.umask(0)
    server = Server(tmp_path / "data", free_port(), ["--ack-interval-ms", "5"], preexec_fn=open_umask)
    server.start()
    try:
        publish(server.url, "modes", {"stdout": b"out\n", "stderr": b"err\n"})
    finally:
        server.stop()
    data = tmp_path / "data"
    modes = {}
    for root, dirs, files in os.walk(data):
        for name in dirs + files:
            path = os.path.join(root, name)
            modes[os.path.relpath(path, data)] = stat.S_IMODE(os.lstat(path).st_mode)
    modes["."] = stat.S_IMODE(os.lstat(data).st_mode)
    assert len(modes) >= 9, modes  # ., jobs, the job, streams, job.json, two .log, two .idx
    for path, mode in modes.items():
        expected = 0o750 if os.path.isdir(data / path) else 0o640
        assert mode == expected, f"{path} is {oct(mode)}, not {oct(expected)}"


def test_symlinks_planted_in_the_archive_are_refused_never_followed(tmp_path):
    data = tmp_path / "data"
    server = Server(data, free_port(), ["--ack-interval-ms", "5"])
    server.start()
    publish(server.url, "good", {"stdout": b"good\n"})
    publish(server.url, "victim", {"stdout": b"mine\n"}, end=False)
    server.stop()

    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret"
    secret.write_bytes(b"SECRET\n")
    # A stream file replaced by a link to a file outside the archive.
    log = data / "jobs" / "victim" / "streams" / "stdout.log"
    log.unlink()
    log.symlink_to(secret)
    # A whole job that is a link to a directory outside, holding a valid job.
    planted = outside / "planted"
    (planted / "streams").mkdir(parents=True)
    record = json.loads((data / "jobs" / "good" / "job.json").read_text())
    record["info"]["id"] = "planted"
    (planted / "job.json").write_text(json.dumps(record))
    (planted / "streams" / "stdout.log").write_bytes(b"SECRET\n")
    (data / "jobs" / "planted").symlink_to(planted)

    server.start()
    try:
        jobs = server.jobs()
        assert "planted" not in jobs and "good" in jobs and "victim" in jobs
        assert raw(server, "good", "stdout") == b"good\n"
        assert b"SECRET" not in raw(server, "victim", "stdout")
        log_text = server.log.read_text()
        assert f"not loading job planted: refusing to follow a symbolic link at {data}/jobs/planted" in log_text
        assert f"refusing to follow a symbolic link at {log}" in log_text
        # Writing to the linked stream is refused as a storage error, and the file outside is untouched.
        with connect(server.url + "/v1/publish", subprotocols=[peer.SUBPROTOCOL]) as ws:
            ws.send(json.dumps(hello("victim")))
            assert json.loads(ws.recv())["type"] == "welcome"
            ws.send(json.dumps({"type": "open", "stream": 1, "name": "stdout"}))
            ws.send(peer.encode_data([(1, 0, 1000, b"overwrite\n")]))
            error = json.loads(ws.recv())
            assert error["type"] == "error" and error["code"] == "storage", error
            # The agent learns the cause, not the server's paths (those are in its log).
            assert str(data) not in error["message"] and "symbolic links" in error["message"], error
        assert secret.read_bytes() == b"SECRET\n"
        assert (planted / "streams" / "stdout.log").read_bytes() == b"SECRET\n"
        publish(server.url, "after", {"stdout": b"still works\n"})
        assert raw(server, "after", "stdout") == b"still works\n"
    finally:
        server.stop()
