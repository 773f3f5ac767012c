"""kill -9 of a `tailcast run` agent: its job ends with it, what reached its spool is delivered by
`tailcast flush`, and the server shows the job as "agent lost", never as still running."""
import json
import os
import signal
import time

from conftest import popen, py, tailcast, wait_until

WRITE_THEN_WAIT = ("import os,sys,time\n"
                   "open(sys.argv[1], 'w').write(str(os.getpid()))\n"
                   "for i in range({n}): sys.stdout.write('kept %05d\\n' % i)\n"
                   "sys.stdout.flush()\n"
                   "time.sleep(60)\n")


def spooled(env, job):
    """Bytes of `job` in spool records on disk (the agent writes records within 20 ms)."""
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
    wait_until(lambda: spooled(env, "cut") > 0 and pid_file.exists(), what="output")
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
