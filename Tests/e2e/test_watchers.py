"""Slow and dead watchers: the server lets go of a watcher that stops answering, the agent and the
other watchers never wait for it, and it resumes where it stopped when it wakes up."""
import signal
import time
import urllib.request
import re

from conftest import popen, py, wait_until

JOB = ("import sys,time\n"
       "for i in range(60000):\n"
       "    sys.stdout.write('%06d the quick brown fox jumps over the lazy dog\\n' % i)\n"
       "    if i % 2000 == 0: sys.stdout.flush(); time.sleep(0.2)\n")
EXPECTED = b"".join(b"%06d the quick brown fox jumps over the lazy dog\n" % i for i in range(60000))


def watchers_connected(server):
    with urllib.request.urlopen(server.http + "/metrics", timeout=5) as r:
        found = re.search(r"^tailcast_watchers_connected(?:\{[^}]*\})? (\S+)$", r.read().decode(), re.M)
    return float(found.group(1)) if found else 0


def test_stopped_watchers_are_let_go_and_resume_when_they_wake(make_server, env):
    server = make_server(["--ping-interval", "1"]).start()
    job = popen("run", "--job", "wide", "--no-pty", "--quiet", "--server", server.url, "--",
                *py("import time; time.sleep(1)\n" + JOB), env=env)
    wait_until(lambda: "wide" in server.jobs(), what="job")
    asleep = [popen("watch", "wide", "--server", server.url, env=env) for _ in range(4)]
    healthy = popen("watch", "wide", "--server", server.url, env=env)
    wait_until(lambda: watchers_connected(server) == 5, what="five watchers")
    for watcher in asleep:
        watcher.send_signal(signal.SIGSTOP)
    started = time.monotonic()
    try:
        # No pong from a stopped watcher: the server closes it within about two ping intervals.
        wait_until(lambda: watchers_connected(server) == 1, timeout=15, what="the stopped watchers to be let go")
        let_go_after = time.monotonic() - started
        assert job.wait(60) == 0
        out, _ = healthy.communicate(timeout=60)
        assert out == EXPECTED
        assert server.archived("wide") == EXPECTED
    finally:
        for watcher in asleep:
            watcher.send_signal(signal.SIGCONT)
    for watcher in asleep:
        out, err = watcher.communicate(timeout=60)
        assert out == EXPECTED and watcher.returncode == 0, err
        assert b"reconnecting" in err
    print(f"4 stopped watchers let go after {let_go_after:.1f} s (ping interval 1 s); each resumed to "
          f"{len(EXPECTED)} bytes exactly once")
