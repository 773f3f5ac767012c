"""kill -9 of a `tailcast run` agent: its job ends with it, what reached its spool is delivered by
`tailcast flush`, and the server shows the job as "agent lost", never as still running."""
import json
import os
import re
import signal
import time
from pathlib import Path

from conftest import fill, popen, py, tailcast, wait_until

WRITE_THEN_WAIT = ("import os,sys,time\n"
                   "open(sys.argv[1], 'w').write(str(os.getpid()))\n"
                   "for i in range({n}): sys.stdout.write('kept %05d\\n' % i)\n"
                   "sys.stdout.flush()\n"
                   "time.sleep(60)\n")


def spooled(env, job):
    """Bytes of `job` in spool records on disk (the agent writes records within 25 ms)."""
    root = env["TAILCAST_SPOOL"]
    for entry in os.listdir(root) if os.path.isdir(root) else []:
        if entry.startswith(job + "-") and os.path.exists(os.path.join(root, entry, "spool.bin")):
            return os.path.getsize(os.path.join(root, entry, "spool.bin"))
    return 0


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ")[1][0] != "Z"


def test_killed_agent_offline_spool_is_delivered_by_flush(make_server, env, tmp_path):
    server = make_server()  # not started yet: everything stays in the spool
    n = 20000
    pid_file = tmp_path / "job.pid"
    agent = popen("run", "--job", "orphaned", "--quiet", "--server", server.url, "--",
                  *py(WRITE_THEN_WAIT.format(n=n)), str(pid_file), env=env)
    expected = b"".join(b"kept %05d\r\n" % i for i in range(n))  # under a pty, \n becomes \r\n
    wait_until(lambda: pid_file.exists() and spooled(env, "orphaned") > len(expected), what="output in the spool")
    job_pid = int(pid_file.read_text())
    agent.send_signal(signal.SIGKILL)
    agent.wait()
    # The job loses its terminal with its agent: SIGHUP ends it, as when an ssh session drops.
    wait_until(lambda: not alive(job_pid), timeout=10, what="the job to end with its agent")

    server.start()
    hint = tailcast("run", "--job", "next", "--quiet", "--server", server.url, "--", "true", env=env, timeout=60)
    assert b"left undelivered output" in hint.stderr and b"tailcast flush" in hint.stderr

    flushed = tailcast("flush", "--server", server.url, env=env, timeout=90)
    assert flushed.returncode == 0, flushed.stderr
    assert b"delivered job orphaned (no exit status: the job shows as agent lost)" in flushed.stderr
    assert server.archived("orphaned") == expected
    assert server.jobs()["orphaned"]["state"] == "lost"
    listed = tailcast("ls", "--server", server.url, env=env, timeout=30)
    assert b"agent lost" in listed.stdout
    # The spool is gone once delivered; a second flush has nothing to do.
    assert spooled(env, "orphaned") == 0
    again = tailcast("flush", "--server", server.url, env=env, timeout=30)
    assert again.returncode == 0 and b"nothing to deliver" in again.stderr


def test_agent_killed_while_connected_shows_agent_lost_and_flush_finishes(server, env, tmp_path):
    pid_file = tmp_path / "job.pid"
    n = 5000
    agent = popen("run", "--job", "cut", "--no-pty", "--quiet", "--server", server.url, "--",
                  *py(WRITE_THEN_WAIT.format(n=n)), str(pid_file), env=env)
    expected = b"".join(b"kept %05d\n" % i for i in range(n))
    wait_until(lambda: server.jobs().get("cut", {}).get("state") == "running", what="job")
    # Output reaches the spool file within 25 ms of being read; what the agent holds for less is lost with it.
    wait_until(lambda: spooled(env, "cut") > len(expected) and pid_file.exists(), what="output in the spool")
    agent.send_signal(signal.SIGKILL)
    agent.wait()
    wait_until(lambda: server.jobs()["cut"]["state"] == "lost", timeout=30, what="the server to show the agent lost")
    flushed = tailcast("flush", "--server", server.url, env=env, timeout=90)
    assert flushed.returncode == 0, flushed.stderr
    assert server.archived("cut") == expected
    assert server.jobs()["cut"]["state"] == "lost"
    # With pipes the job dies at its next write (SIGPIPE); this one sleeps, so end it here.
    os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_flush_leaves_running_agents_alone_and_reports_an_unreachable_server(make_server, env, tmp_path):
    server = make_server()
    running = popen("run", "--job", "busy", "--no-pty", "--quiet", "--server", server.url, "--",
                    *py("import time; print('x', flush=True); time.sleep(30)"), env=env)
    try:
        wait_until(lambda: spooled(env, "busy") > 0, what="spool")
        skipped = tailcast("flush", "--server", server.url, env=env, timeout=30)
        assert skipped.returncode == 0 and b"nothing to deliver" in skipped.stderr
        running.send_signal(signal.SIGKILL)
        running.wait()
        down = tailcast("flush", "--wait", "2", "--server", server.url, env=env, timeout=30)
        assert down.returncode == 3 and b"kept in" in down.stderr
    finally:
        if running.poll() is None:
            running.kill()


BIG = ("import sys\n"
       "for i in range(100000): sys.stdout.write('out %06d ' % i + 'q' * (i % 40) + '\\n')\n")
BIG_EXPECTED = b"".join(b"out %06d " % i + b"q" * (i % 40) + b"\n" for i in range(100000))


def check_newest_kept(archived):
    """The stream: a marker where the oldest output was given up, then the newest output unchanged."""
    assert b"bytes of output lost here: the agent's spool was full" in archived
    head, _, newest = archived.rpartition(b"]\n")
    assert len(newest) > 700_000 and BIG_EXPECTED.endswith(newest)
    assert len(archived) < 1_200_000  # a 1 MiB spool, plus markers
    lost = sum(int(part.split(b" bytes")[0]) for part in archived.split(b"[tailcast: ")[1:])
    assert lost + len(newest) <= len(BIG_EXPECTED) and lost > 0
    return lost


def test_full_offline_spool_keeps_the_newest_output_and_marks_the_loss(make_server, env, tmp_path):
    server = make_server()  # down while the job writes 3.2 MB into a 1 MiB spool
    done = tmp_path / "done"
    job = popen("run", "--job", "flood", "--no-pty", "--quiet", "--spool-max-mib", "1", "--wait", "60",
                "--server", server.url, "--", *py(BIG + "sys.stdout.flush(); open(sys.argv[1], 'w').write('done')\nimport time; time.sleep(1)\n"),
                str(done), env=env)
    wait_until(done.exists, timeout=60, what="the job to write everything")
    server.start()
    assert job.wait(90) == 0, job.stderr.read()
    lost = check_newest_kept(server.archived("flood"))
    watch = tailcast("watch", "flood", "--server", server.url, env=env, timeout=30)
    assert b"bytes of output lost here" in watch.stdout
    print(f"1 MiB spool, {len(BIG_EXPECTED)} bytes written offline: {lost} given up (marked), newest kept")


def test_evicted_spool_survives_a_killed_agent(make_server, env, tmp_path):
    server = make_server()
    done = tmp_path / "done"
    agent = popen("run", "--job", "flood2", "--no-pty", "--quiet", "--spool-max-mib", "1", "--server", server.url, "--",
                  *py(BIG + "sys.stdout.flush(); open(sys.argv[1], 'w').write('done')\nimport time; time.sleep(60)\n"), str(done), env=env)
    wait_until(done.exists, timeout=60, what="the job to write everything")
    # The agent still reads what the pipe holds: wait until the last line is in the spool file.
    def last_line_spooled():
        root = env["TAILCAST_SPOOL"]
        return any(b"out 099999 " in (Path(root) / entry / "spool.bin").read_bytes()
                   for entry in os.listdir(root) if entry.startswith("flood2-"))
    wait_until(last_line_spooled, timeout=30, interval=0.2, what="the last line in the spool")
    agent.send_signal(signal.SIGKILL)
    agent.wait()
    server.start()
    flushed = tailcast("flush", "--server", server.url, env=env, timeout=90)
    assert flushed.returncode == 0, flushed.stderr
    check_newest_kept(server.archived("flood2"))


def test_a_full_agent_disk_drops_new_output_and_says_how_much(server, env, small_disk):
    """`run` on a full disk (its spool on a 4 MiB tmpfs filled with ballast): the job never waits;
    output that cannot be spooled is dropped, and the stream says how many bytes where they were.
    Everything else arrives once, in order, and the exit status too."""
    job = ("import sys,time\n"
           "for i in range(3000):\n"
           "    sys.stdout.write('line %06d\\n' % i); sys.stdout.flush(); time.sleep(0.001)\n"
           "sys.exit(7)")
    running = popen("run", "--job", "agent-disk", "--no-pty", "--quiet", "--spool-dir", str(small_disk / "spool"),
                    "--server", server.url, "--", *py(job), env=env)
    def archived_size():
        streams = server.jobs().get("agent-disk", {}).get("streams") or []
        return streams[0]["size"] if streams else 0
    wait_until(lambda: archived_size() > 2_000, what="first lines archived")
    ballast = small_disk / "ballast"
    assert fill(ballast) > 1 << 20
    time.sleep(1.5)
    ballast.unlink()
    assert running.wait(60) == 7
    archived = server.archived("agent-disk")
    markers = re.findall(rb"\n\[tailcast: (\d+) bytes of output were dropped here: the agent's spool was full\]\n", archived)
    assert markers, archived[-300:]
    kept = re.sub(rb"\n\[tailcast: \d+ bytes of output were dropped here: [^\]]*\]\n", b"", archived)
    numbers = [int(line.split()[1]) for line in kept.splitlines()]
    assert numbers == sorted(set(numbers)) and numbers[0] == 0 and numbers[-1] == 2999  # in order, once, to the end
    written = b"".join(b"line %06d\n" % i for i in range(3000))
    assert len(written) - len(kept) == sum(int(n) for n in markers)  # the markers account for every byte missing
