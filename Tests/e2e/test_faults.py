"""Nothing lost: server restarts mid-job, agents that start before their server, watchers that lose it."""
import os
import signal
import subprocess
import time

from conftest import paced_job, paced_lines, py, popen, tailcast, wait_until


def test_server_killed_and_restarted_mid_job_loses_nothing(make_server, env):
    server = make_server().start()
    job = popen("run", "--job", "restart", "--no-pty", "--quiet", "--server", server.url, "--",
                *py(paced_job(4000, pause=0.001, code=0)), env=env)
    wait_until(lambda: server.jobs().get("restart", {}).get("streams") and
               server.jobs()["restart"]["streams"][0]["size"] > 20_000, what="first output")
    server.kill9()
    time.sleep(1.0)
    server.start()
    assert job.wait(90) == 0, job.stderr.read()
    assert server.archived("restart") == paced_lines(4000)
    assert server.jobs()["restart"]["state"] == "exited"


def test_agent_started_before_its_server_delivers_everything(make_server, env):
    server = make_server()
    job = popen("run", "--job", "early", "--no-pty", "--quiet", "--server", server.url, "--",
                *py(paced_job(500, pause=0.002, code=4)), env=env)
    time.sleep(1.5)
    server.start()
    assert job.wait(60) == 4
    stderr = job.stderr.read().decode()
    assert "unreachable" in stderr and "output is kept" in stderr
    assert server.archived("early") == paced_lines(500)


def test_undeliverable_output_is_kept_and_run_still_exits_with_the_job_status(make_server, env):
    server = make_server()  # never started
    run = tailcast("run", "--job", "orphan", "--wait", "1", "--no-pty", "--server", server.url, "--",
                   *py("print('kept'); raise SystemExit(9)"), env=env, timeout=60)
    assert run.returncode == 9
    assert run.stdout == b"kept\n"
    assert b"has not acknowledged" in run.stderr and b"output kept in" in run.stderr
    spools = os.listdir(env["TAILCAST_SPOOL"])
    assert len(spools) == 1 and spools[0].startswith("orphan-")
    assert b"kept\n" in open(os.path.join(env["TAILCAST_SPOOL"], spools[0], "spool.bin"), "rb").read()


def test_following_watcher_resumes_after_server_restart_without_gap_or_duplicate(make_server, env):
    server = make_server().start()
    job = popen("run", "--job", "follow", "--no-pty", "--quiet", "--server", server.url, "--",
                *py(paced_job(3000, pause=0.001, code=6)), env=env)
    wait_until(lambda: "follow" in server.jobs(), what="job")
    watch = popen("watch", "follow", "--server", server.url, env=env)
    time.sleep(1.0)
    server.kill9()
    time.sleep(0.5)
    server.start()
    assert job.wait(90) == 6
    out, err = watch.communicate(timeout=60)
    assert watch.returncode == 6, err
    assert out == paced_lines(3000)
    assert b"reconnecting" in err


def test_stopped_watcher_does_not_slow_the_job_or_other_watchers(server, env):
    code = "import sys\nfor i in range(300000): sys.stdout.write('%08d abcdefghijklmnopqrstuvwxyz\\n' % i)"
    expected = b"".join(b"%08d abcdefghijklmnopqrstuvwxyz\n" % i for i in range(300000))
    job = popen("run", "--job", "fan", "--no-pty", "--quiet", "--server", server.url, "--",
                *py("import time; time.sleep(1)\n" + code), env=env)
    wait_until(lambda: "fan" in server.jobs(), what="job")
    stuck = popen("watch", "fan", "--server", server.url, env=env)
    healthy = popen("watch", "fan", "--server", server.url, env=env)
    stuck.send_signal(signal.SIGSTOP)
    try:
        assert job.wait(60) == 0
        out, _ = healthy.communicate(timeout=60)
        assert out == expected
        assert server.archived("fan") == expected
    finally:
        stuck.send_signal(signal.SIGCONT)
    out, _ = stuck.communicate(timeout=60)
    assert out == expected and stuck.returncode == 0
