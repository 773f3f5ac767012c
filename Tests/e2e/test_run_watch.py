"""`run` → `serve` → `watch`: byte-exact delivery, exit statuses, replay then follow, pty behaviour."""
import json
import os
import pty
import select
import signal
import subprocess
import termios
import time

from conftest import BINARY, py, popen, tailcast, wait_until

NUMBERED = """
import sys
for i in range({n}):
    sys.stdout.write("line %07d the quick brown fox jumps over the lazy dog\\n" % i)
    if i % 1000 == 0:
        sys.stderr.write("progress %d\\n" % i)
sys.exit({code})
"""


def expected_numbered(n):
    out = b"".join(b"line %07d the quick brown fox jumps over the lazy dog\n" % i for i in range(n))
    err = b"".join(b"progress %d\n" % i for i in range(0, n, 1000))
    return out, err


def test_200k_lines_and_stderr_arrive_byte_exact_with_exit_status(server, env):
    run = tailcast("run", "--job", "exact", "--no-pty", "--server", server.url, "--",
                   *py(NUMBERED.format(n=200_000, code=7)), env=env, timeout=120)
    out, err = expected_numbered(200_000)
    assert run.returncode == 7, run.stderr
    # mirrored locally, streams kept apart
    assert run.stdout == out
    assert run.stderr == err
    # archived exactly once, in order, readable with cat
    assert server.archived("exact", "stdout") == out
    assert server.archived("exact", "stderr") == err
    # a late watcher replays both streams to the matching fds and exits with the job's status
    watch = tailcast("watch", "exact", "--server", server.url, env=env, timeout=60)
    assert watch.returncode == 7
    assert watch.stdout == out
    assert watch.stderr == err
    job = server.jobs()["exact"]
    assert job["state"] == "exited" and job["exit"] == {"code": 7}
    assert {s["name"]: s["size"] for s in job["streams"]} == {"stdout": len(out), "stderr": len(err)}
    # nothing left behind in the spool once delivered
    assert not any((os.scandir(env["TAILCAST_SPOOL"])))


def test_pty_gives_the_job_a_terminal_and_keeps_colours(server, env):
    code = "import os,sys; print(sys.stdout.isatty(), os.get_terminal_size()); print('\\x1b[31mred\\x1b[0m')"
    run = tailcast("run", "--job", "tty", "--server", server.url, "--", *py(code), env=env, timeout=30)
    assert run.returncode == 0, run.stderr
    archived = server.archived("tty")
    assert archived.startswith(b"True os.terminal_size(columns=80, lines=24)\r\n")
    assert b"\x1b[31mred\x1b[0m\r\n" in archived
    assert run.stdout == archived


def test_late_watcher_gets_replay_then_live_without_gap_or_duplicate(server, env):
    code = "import sys,time\nfor i in range(3000):\n    print('n', i, flush=True)\n    time.sleep(0.001)\nsys.exit(3)"
    job = popen("run", "--job", "live", "--no-pty", "--quiet", "--server", server.url, "--", *py(code), env=env)
    wait_until(lambda: server.jobs().get("live", {}).get("streams") and server.jobs()["live"]["streams"][0]["size"] > 2000,
               what="some output archived")
    watch = tailcast("watch", "live", "--server", server.url, env=env, timeout=60)
    assert job.wait(60) == 3
    expected = b"".join(b"n %d\n" % i for i in range(3000))
    assert watch.stdout == expected
    assert watch.returncode == 3


def test_watch_tail_since_and_no_follow(server, env):
    run = tailcast("run", "--job", "tl", "--no-pty", "--server", server.url, "--",
                   *py("for i in range(100): print('row', i)"), env=env, timeout=30)
    assert run.returncode == 0
    tail = tailcast("watch", "tl", "--tail", "3", "--server", server.url, env=env, timeout=30)
    assert tail.stdout == b"row 97\nrow 98\nrow 99\n"
    since = tailcast("watch", "tl", "--since", "1h", "--no-follow", "--server", server.url, env=env, timeout=30)
    assert since.stdout.count(b"\n") == 100
    stamped = tailcast("watch", "tl", "--tail", "1", "--timestamps", "--server", server.url, env=env, timeout=30)
    assert stamped.stdout.decode().endswith("Z row 99\n") and stamped.stdout[:2] == b"20"


def test_no_follow_on_a_running_job_prints_what_is_archived_and_exits_zero(server, env):
    job = popen("run", "--job", "slow", "--quiet", "--no-pty", "--server", server.url, "--",
                *py("import time\nprint('first', flush=True)\ntime.sleep(30)"), env=env)
    try:
        wait_until(lambda: server.jobs().get("slow", {}).get("streams"), what="stream")
        wait_until(lambda: server.jobs()["slow"]["streams"][0]["size"] == 6, what="first line")
        watch = tailcast("watch", "slow", "--no-follow", "--server", server.url, env=env, timeout=30)
        assert watch.returncode == 0 and watch.stdout == b"first\n"
        assert server.jobs()["slow"]["state"] == "running"
    finally:
        job.send_signal(signal.SIGTERM)
        assert job.wait(30) == 128 + signal.SIGTERM


def test_signals_reach_the_job_and_run_reports_them(server, env):
    code = ("import signal,sys,time\n"
            "def bye(n, f):\n    print('got', n, flush=True); sys.exit(42)\n"
            "signal.signal(signal.SIGINT, bye)\nprint('ready', flush=True)\ntime.sleep(30)")
    job = popen("run", "--job", "sig", "--no-pty", "--server", server.url, "--", *py(code), env=env)
    wait_until(lambda: server.jobs().get("sig", {}).get("streams") and server.jobs()["sig"]["streams"][0]["size"] > 0,
               what="ready")
    job.send_signal(signal.SIGINT)
    assert job.wait(30) == 42
    assert server.archived("sig") == b"ready\ngot 2\n"


def test_ls_lists_jobs_as_table_and_json(server, env):
    tailcast("run", "--job", "a1", "--server", server.url, "--", "true", env=env, timeout=30)
    tailcast("run", "--job", "a2", "--server", server.url, "--", "false", env=env, timeout=30)
    table = tailcast("ls", "--server", server.url, env=env, timeout=30)
    assert table.returncode == 0
    lines = table.stdout.decode().splitlines()
    assert lines[0].split()[:4] == ["JOB", "HOST", "COMMAND", "STATE"]
    assert any(l.startswith("a1 ") and "exited 0" in l for l in lines)
    assert any(l.startswith("a2 ") and "exited 1" in l for l in lines)
    assert "\x1b[" not in table.stdout.decode()  # no colour into a pipe
    data = json.loads(tailcast("ls", "--json", "--server", server.url, env=env, timeout=30).stdout)
    jobs = {j["id"]: j for j in data["jobs"]}
    assert jobs["a2"]["exit"] == {"code": 1} and jobs["a2"]["meta"]["command"] == ["false"]
    for key in ("host", "user", "started_at_ms"):
        assert key in jobs["a1"]["meta"]


def test_run_without_job_id_picks_a_readable_one(server, env):
    run = tailcast("run", "--server", server.url, "--", "echo", "hi", env=env, timeout=30)
    assert run.returncode == 0
    line = run.stderr.decode().strip().splitlines()[0]
    assert line.startswith("tailcast: job echo-")
    job_id = line.split()[-1]
    assert server.archived(job_id) == b"hi\r\n"


def test_bad_flags_and_unknown_jobs_get_clear_errors(server, env):
    bad = tailcast("run", "--job", "../etc", "--", "true", env=env, timeout=30)
    assert bad.returncode == 64 and b"job id" in bad.stderr
    nocmd = tailcast("run", "--job", "x", env=env, timeout=30)
    assert nocmd.returncode == 64 and b"no command" in nocmd.stderr
    url = tailcast("watch", "x", "--server", "ftp://nope", env=env, timeout=30)
    assert url.returncode == 64 and b"ws://" in url.stderr
    unknown = tailcast("watch", "no-such-job", "--server", server.url, env=env, timeout=30)
    assert unknown.returncode == 2 and b'no job "no-such-job"' in unknown.stderr
    for command in (["serve", "--help"], ["run", "--help"], ["watch", "--help"], ["ls", "--help"]):
        h = tailcast(*command, env=env, timeout=30)
        assert h.returncode == 0 and b"USAGE" in h.stdout.upper()
    busy = tailcast("serve", "--port", str(server.port), "--data", str(server.data.parent / "other"), env=env, timeout=30)
    assert busy.returncode == 1 and b"address is in use" in busy.stderr
    port = tailcast("serve", "--port", "70000", env=env, timeout=30)
    assert port.returncode == 64 and b"--port" in port.stderr
    # Below an agent's largest data message, a server would refuse an agent with a backlog at every reconnect.
    small = tailcast("serve", "--max-message-bytes", "65536", "--data", str(server.data.parent / "small"), env=env, timeout=30)
    assert small.returncode == 64 and b"--max-message-bytes must be at least 524288" in small.stderr, small.stderr
    missing = tailcast("run", "--job", "nocmd", "--server", server.url, "--", "/no/such/program", env=env, timeout=30)
    assert missing.returncode == 127 and b"cannot run /no/such/program" in missing.stderr


def test_piped_input_reaches_a_pty_job_and_is_not_echoed_into_its_output(server, env):
    job = "import sys\ndata = sys.stdin.read()\nprint(len(data), data.upper(), end='|')"
    piped = subprocess.run([BINARY, "run", "--job", "piped", "--server", server.url, "--", *py(job)],
                           input=b"alpha\nbeta", env=env, capture_output=True, timeout=60)
    assert piped.returncode == 0, piped.stderr
    # an unfinished last line still arrives whole, then the end of input
    assert server.archived("piped") == b"10 ALPHA\r\nBETA|"
    empty = subprocess.run([BINARY, "run", "--job", "no-input", "--server", server.url, "--", *py(job)],
                           stdin=subprocess.DEVNULL, env=env, capture_output=True, timeout=60)
    assert empty.returncode == 0 and server.archived("no-input") == b"0 |"


def read_until(fd, pattern, timeout=30):
    """Reads a pty master until `pattern` appears (or the other side closes); returns all read."""
    seen = b""
    deadline = time.monotonic() + timeout
    while pattern not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the other side is gone
                break
            if not chunk:
                break
            seen += chunk
    return seen


def test_a_prompt_is_answered_from_the_terminal_and_the_terminal_is_restored(server, env):
    """`tailcast run` in a terminal (its foreground job): keys reach the job one by one, the job's
    terminal echoes them once, and ours gets its settings back when the job ends."""
    pid, terminal = pty.fork()
    if pid == 0:
        os.execve(BINARY, [BINARY, "run", "--job", "prompt", "--server", server.url, "--",
                           *py("name = input('name? ')\nprint('hello', name)")], env)
    before = termios.tcgetattr(terminal)
    try:
        assert b"name? " in read_until(terminal, b"name? ")
        during = termios.tcgetattr(terminal)
        assert not during[3] & (termios.ECHO | termios.ICANON)  # the job's terminal echoes, not ours
        assert during[3] & termios.ISIG  # Ctrl-C still signals us, and we pass it on
        os.write(terminal, b"bob\r")
        shown = read_until(terminal, b"hello bob")
        assert shown.count(b"bob") == 2, shown  # echoed once, then in the answer
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        after = termios.tcgetattr(terminal)
        assert after[3] == before[3]
    finally:
        os.close(terminal)
    assert server.archived("prompt") == b"name? bob\r\nhello bob\r\n"
