"""The server in a bad hour: its disk fills, it is killed again and again under load."""
import os
import re
import subprocess
import time
import urllib.request

import pytest

from conftest import Server, fill, free_port, paced_job, paced_lines, popen, py, tailcast, wait_until


def metric(server, name):
    with urllib.request.urlopen(server.http + "/metrics", timeout=5) as r:
        text = r.read().decode()
    found = re.search(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M)
    return float(found.group(1)) if found else None


def test_disk_full_stops_acknowledgements_keeps_watchers_and_resumes(small_disk, tmp_path, env):
    server = Server(small_disk / "data", free_port())
    server.log = tmp_path / "serve.log"  # off the small disk, which fills up
    server.start()
    try:
        before = tailcast("run", "--job", "before", "--no-pty", "--quiet", "--server", server.url, "--",
                          *py("print('archived before the disk filled')"), env=env, timeout=60)
        assert before.returncode == 0
        ballast = small_disk / "ballast"
        assert fill(ballast) > 1 << 20

        n = 15000
        job = popen("run", "--job", "full", "--no-pty", "--quiet", "--wait", "60", "--server", server.url, "--",
                    *py(paced_job(n, pause=0.05, code=5, every=500)), env=env)
        wait_until(lambda: "the disk is full" in server.log.read_text(), timeout=30, what="the server to say the disk is full")
        assert metric(server, "tailcast_storage_failing") == 1
        assert metric(server, "tailcast_storage_errors_total") >= 1
        # Watchers go on being served while nothing can be written.
        watch = tailcast("watch", "before", "--server", server.url, env=env, timeout=30)
        assert watch.returncode == 0 and watch.stdout == b"archived before the disk filled\n"
        assert server.healthy()
        time.sleep(2)  # the job keeps writing into its spool meanwhile

        ballast.unlink()
        assert job.wait(120) == 5
        stderr = job.stderr.read().decode()
        assert "disk is full" in stderr
        assert server.archived("full") == paced_lines(n)
        assert server.jobs()["full"]["state"] == "exited"
        wait_until(lambda: metric(server, "tailcast_storage_failing") == 0, timeout=10, what="the gauge to clear")
    finally:
        server.stop()


def test_server_killed_repeatedly_under_load_loses_nothing_acknowledged(make_server, env):
    server = make_server().start()
    n = 60000
    jobs = [popen("run", "--job", f"load-{k}", "--no-pty", "--quiet", "--wait", "90", "--server", server.url, "--",
                  *py(paced_job(n, pause=0.05, code=k, every=400)), env=env) for k in range(3)]
    kills = 0
    deadline = time.monotonic() + 60
    while any(j.poll() is None for j in jobs) and kills < 10 and time.monotonic() < deadline:
        time.sleep(0.4 + 0.2 * (kills % 3))
        server.kill9()
        kills += 1
        # Every archive file must stay readable between kills: job records parse, logs open.
        for record in (server.data / "jobs").glob("*/job.json"):
            assert record.read_text().strip().startswith("{")
        time.sleep(0.3)
        server.start()
    assert kills >= 6
    for k, job in enumerate(jobs):
        assert job.wait(120) == k, job.stderr.read()
    for k in range(3):
        assert server.archived(f"load-{k}") == paced_lines(n)
        assert server.jobs()[f"load-{k}"]["state"] == "exited"
    print(f"server kill -9 x{kills} under 3 jobs; {3 * len(paced_lines(n))} bytes checked, nothing lost or doubled")
