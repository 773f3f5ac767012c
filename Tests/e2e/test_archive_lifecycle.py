"""The archive's lifecycle (issue 13, point 6, and the /metrics part of point 7): one server per --data,
retention by age and by size, `tailcast rm`, and /metrics that says what each metric is. Real servers, real
agents and watchers, real files; job ages are set in job.json while the server is stopped."""
import json
import re
import signal
import subprocess
import time
import urllib.request

import pytest

from conftest import BINARY, Server, free_port, http_request, popen, py, stop_process, tailcast, wait_until
from test_archive_limits import publish

OWNER = "publish-owner-3f9a1c77e2b04d5e"
OTHER = "publish-other-77e2b04d5e3f9a1c"
WATCH = "watch-8c2d6b19aa4e4f03aa4e"
DAY_MS = 86_400_000


def run_job(server, job, size, env=None, token=None, text=True):
    """A finished job whose stdout is `size` bytes: x's and a newline, or random bytes (which compression
    cannot shrink, so the job takes about `size` bytes on disk once compressed, too)."""
    token_args = ["--token", token] if token else []
    code = (f"import sys; sys.stdout.write('x' * {size - 1} + '\\n')" if text
            else f"import os, sys; sys.stdout.buffer.write(os.urandom({size}))")
    done = tailcast("run", "--server", server.url, *token_args, "--no-pty", "--job", job, "--", *py(code), env=env, timeout=60)
    assert done.returncode == 0, done.stderr


def set_finished(server, job, ms_ago):
    """Makes `job` look finished `ms_ago` (the server must be stopped)."""
    path = server.data / "jobs" / job / "job.json"
    record = json.loads(path.read_text())
    record["info"]["last_seen_ms"] = int(time.time() * 1000) - ms_ago
    path.write_text(json.dumps(record))


def size(job):
    """Bytes a job's streams hold, as the API says."""
    return sum(stream["size"] for stream in job.get("streams", []))


def metrics(server):
    return subprocess.run(["curl", "-sf", server.http + "/metrics"], capture_output=True, check=True, text=True).stdout


def metric(text, name):
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(match.group(1)) if match else None


def test_a_second_server_on_the_same_data_refuses_and_names_the_first(tmp_path):
    first = Server(tmp_path / "data", free_port()).start()
    try:
        second = subprocess.run([BINARY, "serve", "--port", str(free_port()), "--data", str(first.data)],
                                capture_output=True, timeout=30)
        assert second.returncode == 6, second
        lines = second.stderr.decode().splitlines()
        assert len(lines) == 1, lines
        assert f"pid {first.process.pid}" in lines[0] and "--data" in lines[0], lines[0]
        assert first.healthy()
        # The lock goes with its process however it ends: after kill -9 the next server starts.
        first.kill9()
        first.start()
    finally:
        first.stop()


def test_retention_removes_the_oldest_finished_jobs_by_age_then_size_never_a_running_one(tmp_path, env):
    server = Server(tmp_path / "data", free_port(), ["--ack-interval-ms", "5"]).start()
    for job in ("ancient", "old", "recent", "fresh"):
        run_job(server, job, 100_000, env=env, text=False)
    publish(server.url, "lost-long-ago", {"stdout": b"no exit status\n"}, end=False)
    server.stop()
    set_finished(server, "ancient", 40 * DAY_MS)
    set_finished(server, "lost-long-ago", 50 * DAY_MS)
    set_finished(server, "old", 10 * DAY_MS)
    set_finished(server, "recent", 5 * DAY_MS)

    # Age first: the two finished more than 30 days ago. Then size: about 300,000 bytes left over a
    # 250 KiB cap, so the oldest of the rest goes.
    server.extra += ["--retain", "30d", "--max-archive-bytes", "250K"]
    server.start()
    assert set(server.jobs()) == {"recent", "fresh"}
    for job in ("ancient", "lost-long-ago", "old"):
        assert not (server.data / "jobs" / job).exists()
    log = server.log.read_text()
    assert re.search(r"removed job ancient \(1000\d\d bytes\): finished more than --retain 30d ago", log), log
    assert re.search(r"removed job lost-long-ago \(15 bytes\): finished more than --retain 30d ago", log), log
    assert re.search(r"removed job old \(1000\d\d bytes\): the archive held more than --max-archive-bytes 256000", log), log
    text = metrics(server)
    assert metric(text, 'tailcast_jobs_removed_total{reason="age"}') == 2
    assert metric(text, 'tailcast_jobs_removed_total{reason="size"}') == 1
    assert 200_015 <= metric(text, "tailcast_removed_bytes_total") < 200_400
    assert 200_000 <= metric(text, "tailcast_archive_bytes") < 200_400

    # A running job takes the archive past the cap, alone: every finished job goes, oldest first,
    # within moments; the running one stays.
    running = popen("run", "--server", server.url, "--no-pty", "--job", "growing", "--",
                    *py("import sys,time; sys.stdout.write('y' * 299999 + '\\n'); sys.stdout.flush(); time.sleep(60)"),
                    env=env, stdout=subprocess.DEVNULL)
    try:
        wait_until(lambda: set(server.jobs()) == {"growing"}, timeout=10, what="the finished jobs to be removed")
        time.sleep(1.5)
        assert server.jobs()["growing"]["state"] == "running"
        assert size(server.jobs()["growing"]) == 300_000
        log = server.log.read_text()
        assert log.index("removed job recent") < log.index("removed job fresh")
        assert "more than --max-archive-bytes 256000 in running jobs alone" in log
        assert metric(metrics(server), 'tailcast_jobs_removed_total{reason="size"}') == 3
    finally:
        running.kill()
        running.wait()
        server.stop()


def test_retention_by_age_acts_while_the_server_runs(tmp_path, env):
    server = Server(tmp_path / "data", free_port(), ["--retain", "3s"]).start()
    try:
        run_job(server, "short-lived", 1000, env=env)
        assert "short-lived" in server.jobs()
        wait_until(lambda: "short-lived" not in server.jobs(), timeout=10, what="the job to expire")
        assert re.search(r"removed job short-lived \(\d+ bytes\): finished more than --retain 3s ago", server.log.read_text())
    finally:
        server.stop()


def jobs(server, token):
    request = urllib.request.Request(server.http + "/v1/jobs", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return {j["id"]: j for j in json.load(response)["jobs"]}


def delete(server, job, token=None):
    return http_request(f"{server.http}/v1/jobs/{job}", method="DELETE", token=token, timeout=10)


def test_rm_deletes_finished_jobs_for_the_token_that_made_them_and_lets_watchers_go(tmp_path, env):
    tokens = tmp_path / "tokens"
    tokens.write_text(f"publish {OWNER}\npublish {OTHER}\nwatch {WATCH}\n")
    tokens.chmod(0o600)
    server = Server(tmp_path / "data", free_port(), ["--tokens-file", str(tokens)]).start()
    running = None
    try:
        run_job(server, "done", 5000, env=env, token=OWNER)
        running = popen("run", "--server", server.url, "--token", OWNER, "--no-pty", "--job", "busy", "--",
                        *py("import time; print('up', flush=True); time.sleep(60)"), env=env, stdout=subprocess.DEVNULL)
        wait_until(lambda: jobs(server, WATCH).get("busy", {}).get("state") == "running", what="busy to run")

        def rm(*args, token=OWNER):
            return tailcast("rm", "--server", server.url, "--token", token, *args, env=env, timeout=60)

        # A watch token reads jobs and may not destroy them; another publish token may not either.
        refused = rm("done", token=WATCH)
        assert refused.returncode == 4 and b"may not publish" in refused.stderr, refused
        refused = rm("done", token=OTHER)
        assert refused.returncode == 4 and b"created with another token" in refused.stderr, refused
        assert delete(server, "done", WATCH)[0] == 403
        refused = rm("busy")
        assert refused.returncode == 5 and b"is running" in refused.stderr, refused
        refused = rm("nothing-here")
        assert refused.returncode == 2 and b"no job" in refused.stderr, refused
        refused = rm("--proxy", "none", "done")
        assert refused.returncode == 64 and b"not supported by rm" in refused.stderr, refused
        assert (server.data / "jobs" / "done").is_dir()

        # Several at once: each is tried, the exit code is the first failure's.
        deleted = rm("done", "nothing-here")
        assert deleted.returncode == 2, deleted
        assert not (server.data / "jobs" / "done").exists()
        assert "done" not in jobs(server, WATCH)

        # A lost job may still get its spool delivered: only --force deletes it. Its watcher is let go.
        publish_lost(server)
        watcher = popen("watch", "--server", server.url, "--token", WATCH, "lost", env=env)
        time.sleep(1)
        refused = rm("lost")
        assert refused.returncode == 5 and b"--force" in refused.stderr, refused
        deleted = rm("--force", "lost")
        assert deleted.returncode == 0, deleted
        out, err = watcher.communicate(timeout=10)
        assert watcher.returncode == 2, (watcher.returncode, err)
        assert b"was deleted" in err and b"tailcast rm" in err, err
        assert out == b"partial\n"
        text = metrics(server)
        assert metric(text, 'tailcast_jobs_removed_total{reason="rm"}') == 2
    finally:
        if running:
            running.kill()
            running.wait()
        server.stop()


def publish_lost(server):
    """A job with output and no exit status, its agent gone (lost), created with OWNER."""
    from websockets.sync.client import connect
    import peer
    from test_archive_limits import hello
    with connect(server.url + "/v1/publish", subprotocols=[peer.SUBPROTOCOL],
                 additional_headers={"Authorization": f"Bearer {OWNER}"}) as ws:
        ws.send(json.dumps(hello("lost")))
        assert json.loads(ws.recv())["type"] == "welcome"
        ws.send(json.dumps({"type": "open", "stream": 1, "name": "stdout"}))
        ws.send(peer.encode_data([(1, 0, int(time.time() * 1000), b"partial\n")]))
        assert json.loads(ws.recv())["type"] == "ack"


def test_metrics_say_what_each_metric_is_and_count_jobs_watchers_and_bytes(tmp_path, env):
    server = Server(tmp_path / "data", free_port()).start()
    running = watcher = None
    try:
        run_job(server, "finished", 3000, env=env)
        running = popen("run", "--server", server.url, "--no-pty", "--job", "live", "--",
                        *py("import time; print('a' * 99, flush=True); time.sleep(60)"), env=env, stdout=subprocess.DEVNULL)
        wait_until(lambda: size(server.jobs().get("live", {})) == 100, what="live to run")
        watcher = popen("watch", "--server", server.url, "live", env=env)
        wait_until(lambda: metric(metrics(server), "tailcast_watchers_connected") == 1, what="the watcher")
        text = metrics(server)
        lines = text.splitlines()
        types = [i for i, line in enumerate(lines) if line.startswith("# TYPE ")]
        assert len(types) >= 10, text
        for i in types:
            name = lines[i].split()[2]
            assert lines[i - 1].startswith(f"# HELP {name} ") and len(lines[i - 1]) > len(f"# HELP {name} ") + 10, lines[i - 1:i + 1]
        assert metric(text, "tailcast_jobs") == 2
        assert metric(text, "tailcast_jobs_running") == 1
        # On disk: the live job's plain file, the finished one's once compressed.
        wait_until(lambda: "stdout.log.gz" in stream_files(server, "finished"), timeout=15, what="compression")
        on_disk = sum(p.stat().st_size for job in ("finished", "live")
                      for p in (server.data / "jobs" / job / "streams").glob("*.log*") if not p.name.endswith(".members"))
        assert metric(metrics(server), "tailcast_archive_bytes") == on_disk < 3100
        for reason in ("age", "size", "rm"):
            assert metric(text, f'tailcast_jobs_removed_total{{reason="{reason}"}}') == 0
    finally:
        for process in (watcher, running):
            if process:
                stop_process(process)
        server.stop()


def stream_files(server, job):
    return sorted(p.name for p in (server.data / "jobs" / job / "streams").iterdir())


def test_ended_streams_are_compressed_at_rest_and_read_back_byte_for_byte(tmp_path, env):
    import gzip
    import peer
    server = Server(tmp_path / "data", free_port(), ["--ack-interval-ms", "5"]).start()
    first = b"".join(b"early %07d %s\n" % (i, b"z" * (i % 50)) for i in range(60_000))  # 2.4 MB: three members
    second = b"".join(b"late %03d\n" % i for i in range(200))
    job = popen("run", "--server", server.url, "--no-pty", "--job", "big", "--", *py(r"""
import sys, time
sys.stdout.buffer.write(b"".join(b"early %07d %s\n" % (i, b"z" * (i % 50)) for i in range(60_000)))
sys.stdout.flush()
time.sleep(2)
sys.stdout.buffer.write(b"".join(b"late %03d\n" % i for i in range(200)))
"""), env=env, stdout=subprocess.DEVNULL)
    try:
        wait_until(lambda: size(server.jobs().get("big", {})) == len(first), what="the first part")
        between = int(time.time() * 1000)
        assert job.wait(30) == 0
        wait_until(lambda: "stdout.log" not in stream_files(server, "big"), timeout=15, what="compression")
        assert stream_files(server, "big") == ["stdout.idx", "stdout.log.gz", "stdout.log.members"]
        whole = first + second
        gz = server.data / "jobs" / "big" / "streams" / "stdout.log.gz"
        assert gzip.decompress(gz.read_bytes()) == whole
        assert subprocess.run(["zcat", str(gz)], capture_output=True, check=True).stdout == whole
        print(f"compressed {len(whole)} bytes to {gz.stat().st_size}")
        assert gz.stat().st_size < len(whole) / 4

        for restart in (False, True):
            if restart:
                server.stop()
                server.start()
            with urllib.request.urlopen(f"{server.http}/v1/jobs/big/raw", timeout=10) as r:
                assert r.read() == whole
            streams, end, _ = peer.watch(server.url, "big")
            assert streams["stdout"] == whole and end["type"] == "finished"
            streams, _, _ = peer.watch(server.url, "big", since_ms=between)
            assert streams["stdout"] == second
            tail = tailcast("watch", "--server", server.url, "--tail", "3", "big", env=env, timeout=30)
            assert tail.returncode == 0 and tail.stdout == b"late 197\nlate 198\nlate 199\n", tail
            assert size(server.jobs()["big"]) == len(whole)
            text = metrics(server)
            assert metric(text, "tailcast_archive_bytes") == gz.stat().st_size
    finally:
        stop_process(job)
        server.stop()


def test_a_compression_cut_short_by_a_crash_is_discarded_or_finished_at_start(tmp_path, env):
    import gzip
    server = Server(tmp_path / "data", free_port()).start()
    for name in ("torn", "committed"):
        run_job(server, name, 5000, env=env)
    wait_until(lambda: all("stdout.log" not in stream_files(server, j) for j in ("torn", "committed")),
               timeout=15, what="compression")
    server.kill9()
    # "torn": killed while writing its temporaries (the plain file is the stream);
    # "committed": killed after the .gz was renamed into place, before the plain file was unlinked.
    for name in ("torn", "committed"):
        streams = server.data / "jobs" / name / "streams"
        (streams / "stdout.log").write_bytes(gzip.decompress((streams / "stdout.log.gz").read_bytes()))
    torn = server.data / "jobs" / "torn" / "streams"
    (torn / "stdout.log.gz").rename(torn / "stdout.log.gz.tmp")
    (torn / "stdout.log.members.tmp").write_bytes(b"\x01" * 7)
    (torn / "stdout.log.members").unlink()
    server.start()
    try:
        for name in ("torn", "committed"):
            with urllib.request.urlopen(f"{server.http}/v1/jobs/{name}/raw", timeout=10) as r:
                assert r.read() == b"x" * 4999 + b"\n"
        assert stream_files(server, "committed") == ["stdout.idx", "stdout.log.gz", "stdout.log.members"]
        # The discarded one is plain again, and compressed anew.
        wait_until(lambda: stream_files(server, "torn") == ["stdout.idx", "stdout.log.gz", "stdout.log.members"],
                   timeout=15, what="torn to be compressed again")
    finally:
        server.stop()


def test_a_full_disk_during_compression_keeps_the_plain_stream(small_disk, env):
    """RELIABILITY row 9f: compression needs room for the compressed copy beside the plain file; without
    it the stream stays plain and whole, and no temporary file is left taking the space."""
    import os
    from conftest import fill
    server = Server(small_disk / "data", free_port(), ["--ack-interval-ms", "5"]).start()
    job = popen("run", "--server", server.url, "--no-pty", "--job", "noisy", "--",
                *py("import os, sys, time; sys.stdout.buffer.write(os.urandom(1_500_000)); sys.stdout.flush(); "
                    "sys.stdin.read()"), env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        wait_until(lambda: size(server.jobs().get("noisy", {})) == 1_500_000, what="the output")
        ballast = small_disk / "ballast"
        written = fill(ballast)
        os.truncate(ballast, written - (256 << 10))  # room for job.json, not for a compressed copy
        job.stdin.close()
        assert job.wait(30) == 0
        wait_until(lambda: "could not compress stream \"stdout\" of job noisy" in server.log.read_text(), timeout=15,
                   what="the compression to fail")
        files = stream_files(server, "noisy")
        assert "stdout.log" in files and "stdout.log.gz" not in files, files
        assert not [name for name in files if name.endswith(".tmp")], files
        plain = (server.data / "jobs" / "noisy" / "streams" / "stdout.log").read_bytes()
        with urllib.request.urlopen(f"{server.http}/v1/jobs/noisy/raw", timeout=10) as r:
            assert r.read() == plain and len(plain) == 1_500_000
        # With room again it is compressed (at the latest a minute later; at once after a restart).
        ballast.unlink()
        server.stop()
        server.start()
        wait_until(lambda: "stdout.log.gz" in stream_files(server, "noisy"), timeout=15, what="compression")
        with urllib.request.urlopen(f"{server.http}/v1/jobs/noisy/raw", timeout=10) as r:
            assert r.read() == plain
    finally:
        stop_process(job)
        server.stop()


def stopped_sidecar(server, job, tmp_path, env):
    """A `tailcast tail` job whose sidecar was stopped with SIGTERM: no exit status, state `stopped`."""
    log = tmp_path / f"{job}.log"
    log.write_text("one line\n")
    agent = popen("tail", "--job", job, "--server", server.url, "--state-dir", str(tmp_path / f"state-{job}"), str(log),
                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: server.jobs().get(job, {}).get("state") == "running", what=f"{job} to run")
    agent.send_signal(signal.SIGTERM)
    assert agent.wait(30) == 0
    wait_until(lambda: server.jobs().get(job, {}).get("state") == "stopped", what=f"{job} to show stopped")


def test_rm_refuses_a_stopped_sidecars_job_for_what_it_is_unless_forced(server, tmp_path, env):
    stopped_sidecar(server, "sidecar", tmp_path, env)
    refused = tailcast("rm", "--server", server.url, "sidecar", env=env, timeout=60)
    assert refused.returncode == 5, refused
    message = refused.stderr.decode()
    assert "is stopped" in message and "may start again" in message and "--force" in message, message
    assert "lost its agent" not in message, message
    assert "sidecar" in server.jobs()
    deleted = tailcast("rm", "--force", "--server", server.url, "sidecar", env=env, timeout=60)
    assert deleted.returncode == 0, deleted
    assert "sidecar" not in server.jobs()


def test_retention_counts_a_stopped_sidecar_as_finished_as_serve_help_says(tmp_path, env):
    help_text = subprocess.run([BINARY, "serve", "--help"], capture_output=True, text=True, timeout=30).stdout
    retention = " ".join(help_text.split()).split("Archive lifecycle:")[1].split(".")[0]
    assert "stopped" in retention and "agent lost" in retention, retention
    server = Server(tmp_path / "data", free_port(), ["--retain", "3s"]).start()
    try:
        stopped_sidecar(server, "sidecar", tmp_path, env)
        wait_until(lambda: "sidecar" not in server.jobs(), timeout=10, what="the stopped job to expire")
        assert re.search(r"removed job sidecar \(\d+ bytes\): finished more than --retain 3s ago", server.log.read_text())
    finally:
        server.stop()
