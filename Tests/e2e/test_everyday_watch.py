"""Everyday habits of `watch` and `ls` (issue 13): pipes, --wait, time ranges, server spellings,
colour, one line per refusal, the `stopped` state of a cleanly ended sidecar, and `ls` filters and width."""
import datetime
import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time
import urllib.request

from conftest import BINARY, Server, free_port, http_request, popen, py, stop_process, tailcast, wait_until


def run_job(server, env, job, code, *extra, timeout=60):
    return tailcast("run", "--job", job, "--quiet", "--server", server.url, *extra, "--", *py(code), env=env, timeout=timeout)


def rfc3339(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# 1. watch in pipes


def test_watch_into_head_exits_zero_at_once_like_tail_f(server, env):
    # The job prints a line, then stays quiet for a minute: the reader going away alone must end watch.
    job = popen("run", "--job", "quiet", "--quiet", "--no-pty", "--server", server.url, "--",
                *py("import time; print('first', flush=True); time.sleep(60)"), env=env)
    watch = None
    try:
        wait_until(lambda: server.jobs().get("quiet", {}).get("streams"), what="the job's first line")
        watch = popen("watch", "quiet", "--server", server.url, env=env)
        assert watch.stdout.readline() == b"first\n"
        watch.stdout.close()  # what `head -1` does after its line
        assert watch.wait(5) == 0
        # The same through a real shell pipeline, with the status of watch itself.
        started = time.monotonic()
        shell = subprocess.run(["bash", "-c", 'set -o pipefail; "$0" watch quiet --server "$1" | head -1', BINARY, server.url],
                               env=env, capture_output=True, timeout=20)
        assert shell.returncode == 0, shell.stderr
        assert shell.stdout == b"first\n"
        assert time.monotonic() - started < 5
    finally:
        stop_process(watch)
        stop_process(job)


def test_pty_line_endings_become_newlines_into_a_pipe_and_raw_keeps_them(server, env):
    assert run_job(server, env, "crlf", "print('alpha'); print('beta')").returncode == 0
    assert server.archived("crlf") == b"alpha\r\nbeta\r\n"
    plain = tailcast("watch", "crlf", "--server", server.url, env=env, timeout=30)
    assert plain.returncode == 0 and plain.stdout == b"alpha\nbeta\n"
    assert re.findall(rb"(?m)^beta$", plain.stdout)  # what `grep 'beta$'` needs
    raw = tailcast("watch", "crlf", "--raw", "--server", server.url, env=env, timeout=30)
    assert raw.stdout == b"alpha\r\nbeta\r\n"
    # A --no-pty job's bytes pass unchanged, carriage returns included.
    assert run_job(server, env, "nopty", "import sys; sys.stdout.write('x\\r\\n')", "--no-pty").returncode == 0
    assert tailcast("watch", "nopty", "--server", server.url, env=env, timeout=30).stdout == b"x\r\n"


# 2. habits


def test_watch_wait_follows_a_job_started_later_and_gives_up_after_its_bound(server, env):
    watch = popen("watch", "later", "--wait", "--server", server.url, env=env)
    try:
        time.sleep(1.5)
        assert watch.poll() is None, watch.communicate()
        assert run_job(server, env, "later", "print('hello from later')").returncode == 0
        out, err = watch.communicate(timeout=20)
    finally:
        stop_process(watch)
    assert watch.returncode == 0, err
    assert out == b"hello from later\n"
    assert err.count(b"\n") == 1 and b"waiting" in err

    started = time.monotonic()
    never = tailcast("watch", "never", "--wait=1s", "--server", server.url, env=env, timeout=20)
    assert never.returncode == 2
    assert time.monotonic() - started < 6
    assert b'no job "never" started within 1s' in never.stderr
    # Without --wait an unknown job is refused at once, as before.
    assert tailcast("watch", "never", "--server", server.url, env=env, timeout=20).returncode == 2


def test_unknown_stream_is_an_error_that_lists_the_streams(server, env):
    assert run_job(server, env, "streams", "import sys; print('o'); print('e', file=sys.stderr)", "--no-pty").returncode == 0
    bad = tailcast("watch", "streams", "--stream", "stdot", "--server", server.url, env=env, timeout=30)
    assert bad.returncode == 2
    assert bad.stdout == b""
    lines = bad.stderr.decode().splitlines()
    assert len(lines) == 1 and '"stdot"' in lines[0] and '"stdout", "stderr"' in lines[0]
    good = tailcast("watch", "streams", "--stream", "stderr", "--server", server.url, env=env, timeout=30)
    assert good.returncode == 0 and good.stderr == b"e\n"


def test_short_options_follow_n_and_output_json(server, env):
    assert run_job(server, env, "short", "print('\\n'.join(str(i) for i in range(10)))").returncode == 0
    tail = tailcast("watch", "short", "-f", "-n", "3", "--server", server.url, env=env, timeout=30)
    assert tail.returncode == 0, tail.stderr
    assert tail.stdout == b"7\n8\n9\n"
    assert tailcast("watch", "short", "-f", "--no-follow", "--server", server.url, env=env, timeout=30).returncode == 64
    as_o = tailcast("ls", "-o", "json", "--server", server.url, env=env, timeout=30)
    as_flag = tailcast("ls", "--json", "--server", server.url, env=env, timeout=30)
    assert as_o.returncode == 0
    assert [j["id"] for j in json.loads(as_o.stdout)["jobs"]] == [j["id"] for j in json.loads(as_flag.stdout)["jobs"]] == ["short"]
    assert tailcast("ls", "-o", "yaml", "--server", server.url, env=env, timeout=30).returncode == 64


def test_since_and_until_take_rfc3339_times(server, env):
    code = "import time\nfor word in ('early', 'middle', 'late'):\n    print(word, flush=True); time.sleep(2)"
    before = time.time()
    assert run_job(server, env, "times", code).returncode == 0
    since, until = rfc3339(before + 1), rfc3339(before + 3)
    middle = tailcast("watch", "times", "--since", since, "--until", until, "--server", server.url, env=env, timeout=30)
    assert middle.returncode == 0, middle.stderr
    assert middle.stdout == b"middle\n"
    # A space for the T, an offset instead of Z, and durations still work.
    offset = datetime.datetime.fromtimestamp(before + 3, datetime.timezone(datetime.timedelta(hours=2))).strftime("%Y-%m-%d %H:%M:%S.%f%z")
    offset = offset[:-2] + ":" + offset[-2:]
    assert tailcast("watch", "times", "--since", offset, "--server", server.url, env=env, timeout=30).stdout == b"late\n"
    assert tailcast("watch", "times", "--since", "1h", "--server", server.url, env=env, timeout=30).stdout == b"early\nmiddle\nlate\n"
    bad = tailcast("watch", "times", "--until", "yesterday", "--server", server.url, env=env, timeout=30)
    assert bad.returncode == 64 and b"RFC 3339" in bad.stderr
    # A follower with --until in the near future stops once it has passed.
    follower = popen("run", "--job", "endless", "--quiet", "--server", server.url, "--",
                     *py("import time\nwhile True: print('tick', flush=True); time.sleep(0.2)"), env=env)
    try:
        wait_until(lambda: server.jobs().get("endless", {}).get("streams"), what="the endless job's output")
        started = time.monotonic()
        bounded = tailcast("watch", "endless", "--until", rfc3339(time.time() + 2), "--server", server.url, env=env, timeout=30)
        assert bounded.returncode == 0
        assert 1.5 < time.monotonic() - started < 6
        assert bounded.stdout.startswith(b"tick\n")
    finally:
        stop_process(follower)


def test_until_passing_during_a_long_replay_still_prints_everything_read_before_it(server, env):
    code = "import sys, time\nfor i in range(100000): sys.stdout.write('%06d\\n' % i)\nsys.stdout.flush(); time.sleep(60)"
    job = popen("run", "--job", "bulk", "--quiet", "--no-pty", "--server", server.url, "--", *py(code), env=env)
    try:
        wait_until(lambda: server.jobs().get("bulk", {}).get("streams") and server.jobs()["bulk"]["streams"][0]["size"] == 700000,
                   what="the bulk output archived")
        watch = popen("watch", "bulk", "--until", rfc3339(time.time() + 1), "--server", server.url, env=env)
        time.sleep(3)  # a slow reader: the end time passes while the replay waits on the pipe
        out, err = watch.communicate(timeout=30)
        assert watch.returncode == 0, err
        assert out == b"".join(b"%06d\n" % i for i in range(100000))
    finally:
        stop_process(job)


def test_server_as_host_port_and_http_urls(server, env):
    assert run_job(server, env, "spelled", "print('ok')").returncode == 0
    for spelling in (f"127.0.0.1:{server.port}", server.http, server.http + "/"):
        watch = tailcast("watch", "spelled", "--server", spelling, env=env, timeout=30)
        assert watch.returncode == 0 and watch.stdout == b"ok\n", (spelling, watch.stderr)
        listed = tailcast("ls", "--json", "--server", spelling, env=env, timeout=30)
        assert listed.returncode == 0, (spelling, listed.stderr)
    environment = dict(env, TAILCAST_SERVER=f"localhost:{server.port}")
    assert tailcast("watch", "spelled", env=environment, timeout=30).stdout == b"ok\n"
    assert tailcast("ls", "--server", "ftp://x:1", env=env, timeout=30).returncode == 64
    # A bare host name means the default port.
    unreachable = tailcast("ls", "--server", "nope.invalid", env=env, timeout=60)
    assert unreachable.returncode == 3 and b"ws://nope.invalid:7070" in unreachable.stderr, unreachable.stderr


def on_terminal(*args, env, columns=80):
    """Runs tailcast with a pseudo-terminal of `columns` as stdout; returns what it printed."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    process = popen(*args, env={k: v for k, v in env.items() if k != "COLUMNS"}, stdout=follower, stderr=subprocess.PIPE)
    os.close(follower)
    out = b""
    while select.select([leader], [], [], 20)[0]:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO once the last writer has gone
            break
        if not data:
            break
        out += data
    process.wait(20)
    os.close(leader)
    return out


def test_color_option_and_no_color(server, env):
    assert run_job(server, env, "failed", "raise SystemExit(3)").returncode == 3
    red = b"\x1b[31m"
    assert red in on_terminal("ls", "--server", server.url, env=env)
    assert red not in on_terminal("ls", "--server", server.url, env=dict(env, NO_COLOR="1"))
    assert red not in on_terminal("ls", "--color=never", "--server", server.url, env=env)
    assert red in tailcast("ls", "--color=always", "--server", server.url, env=env, timeout=30).stdout
    assert red not in tailcast("ls", "--server", server.url, env=env, timeout=30).stdout
    assert tailcast("ls", "--color=sometimes", "--server", server.url, env=env, timeout=30).returncode == 64
    assert tailcast("watch", "failed", "--color=never", "--server", server.url, env=env, timeout=30).returncode == 3


def test_each_refusal_is_one_line_for_the_client_and_one_in_the_server_log(tmp_path, env):
    tokens = tmp_path / "tokens"
    tokens.write_text("watch " + "w" * 32 + "\npublish " + "p" * 32 + "\n")
    tokens.chmod(0o600)
    server = Server(tmp_path / "data", free_port(), ["--tokens-file", str(tokens)]).start()
    try:
        for args in (["watch", "x"], ["ls"]):
            refused = tailcast(*args, "--server", server.url, "--token", "u" * 32, env=env, timeout=30)
            assert refused.returncode == 4
            assert refused.stderr == b"tailcast: the server does not know this token\n"
        unknown = tailcast("watch", "x", "--server", server.url, "--token", "w" * 32, env=env, timeout=30)
        assert unknown.returncode == 2 and unknown.stderr == b'tailcast: no job "x" on this server\n'
        time.sleep(0.5)
        log = server.log.read_text()
        assert log.count("refused a connection") == 2, log
        assert "Error handling upgrade result" not in log and "error.type" not in log, log
    finally:
        server.stop()


# 3. the stopped state


def start_sidecar(server, tmp_path, job, log):
    return popen("tail", "--job", job, "--server", server.url, "--state-dir", str(tmp_path / f"state-{job}"), "--from-start", str(log),
                 stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"tail-{job}.err", "ab"))


def test_a_cleanly_stopped_sidecar_shows_stopped_and_a_crashed_one_lost(server, env, tmp_path):
    log = tmp_path / "app.log"
    log.write_text("one\n")
    sidecar = start_sidecar(server, tmp_path, "side", log)
    wait_until(lambda: server.jobs().get("side", {}).get("streams") and server.jobs()["side"]["streams"][0]["size"] == 4, what="line one")
    follower = popen("watch", "side", "--stream", str(log), "--server", server.url, env=env)
    leaver = popen("watch", "side", "--stream", str(log), "--exit-on-stop", "--server", server.url, env=env)
    try:
        time.sleep(1)
        sidecar.send_signal(signal.SIGTERM)
        assert sidecar.wait(20) == 0
        wait_until(lambda: server.jobs()["side"]["state"] == "stopped", what="stopped")
        listed = tailcast("ls", "--server", server.url, env=env, timeout=30).stdout.decode()
        assert re.search(r"^side .* stopped ", listed, re.M), listed
        # --exit-on-stop prints what is archived and exits 0; a plain follower says it waits.
        out, err = leaver.communicate(timeout=15)
        assert leaver.returncode == 0 and out == b"one\n", err
        assert follower.poll() is None
        # The same sidecar started again continues the job; the waiting follower gets the new line.
        with open(log, "a") as f:
            f.write("two\n")
        sidecar = start_sidecar(server, tmp_path, "side", log)
        wait_until(lambda: server.jobs()["side"]["state"] == "running", what="running again")
        wait_until(lambda: server.jobs()["side"]["streams"][0]["size"] == 8, what="line two")
        time.sleep(0.5)
        assert follower.poll() is None
        follower.send_signal(signal.SIGINT)
        out, err = follower.communicate(timeout=15)
        assert out == b"one\ntwo\n"
        assert b"stopped" in err and b"waiting for it to come back" in err
        # kill -9 is a crash: agent lost, not stopped.
        sidecar.kill()
        sidecar.wait()
        wait_until(lambda: server.jobs()["side"]["state"] == "lost", what="lost")
        assert re.search(r"^side .* agent lost ", tailcast("ls", "--server", server.url, env=env, timeout=30).stdout.decode(), re.M)
        # The state survives a server restart.
        sidecar = start_sidecar(server, tmp_path, "side", log)
        wait_until(lambda: server.jobs()["side"]["state"] == "running", what="running once more")
        sidecar.send_signal(signal.SIGTERM)
        assert sidecar.wait(20) == 0
        wait_until(lambda: server.jobs()["side"]["state"] == "stopped", what="stopped again")
        server.stop()
        server.start()
        assert server.jobs()["side"]["state"] == "stopped"
    finally:
        for process in (follower, leaver, sidecar):
            stop_process(process)


# 4. ls


def test_ls_pattern_state_since_limit_and_the_same_filters_over_http(server, env):
    assert run_job(server, env, "alpha-1", "print(1)").returncode == 0
    assert run_job(server, env, "beta", "raise SystemExit(1)").returncode == 1
    running = popen("run", "--job", "alpha-2", "--quiet", "--server", server.url, "--", *py("import time; time.sleep(60)"), env=env)
    try:
        wait_until(lambda: server.jobs().get("alpha-2", {}).get("state") == "running", what="alpha-2 running")

        def ids(*args):
            listed = tailcast("ls", "--json", *args, "--server", server.url, env=env, timeout=30)
            assert listed.returncode == 0, listed.stderr
            return [j["id"] for j in json.loads(listed.stdout)["jobs"]]

        assert ids() == ["alpha-1", "beta", "alpha-2"]
        assert ids("alpha-*") == ["alpha-1", "alpha-2"]
        assert ids("--state", "running") == ["alpha-2"]
        assert ids("--state", "exited", "alpha-?") == ["alpha-1"]
        assert ids("--limit", "2") == ["beta", "alpha-2"]
        assert ids("--since", "1h") == ["alpha-1", "beta", "alpha-2"]
        assert ids("--since", "2000-01-01T00:00:00Z", "--state", "stopped") == []
        assert ids("--since", rfc3339(time.time() + 3600)) == []
        for bad in (["--state", "sleeping"], ["--since", "soon"], ["--limit", "0"]):
            assert tailcast("ls", *bad, "--server", server.url, env=env, timeout=30).returncode == 64, bad

        def api(query):
            status, body = http_request(server.http + "/v1/jobs?" + query)
            assert status == 200, body
            return [j["id"] for j in json.loads(body)["jobs"]]

        assert api("state=running") == ["alpha-2"]
        assert api("pattern=alpha-*") == ["alpha-1", "alpha-2"]
        assert api("q=beta") == ["beta"]
        assert api("since=1h&state=exited") == ["alpha-1", "beta"]
        page = json.loads(http_request(server.http + "/v1/jobs?limit=1&pattern=alpha-*")[1])
        assert [j["id"] for j in page["jobs"]] == ["alpha-1"] and page["next"]
        assert api("pattern=alpha-*&after=" + urllib.request.quote(page["next"])) == ["alpha-2"]
        for query, words in (("state=sleeping", b"state must be"), ("since=soon", b"since must be"), ("limit=0", b"limit must be"),
                             ("limit=x", b"limit must be"), ("pattern=", b"pattern must be")):
            status, body = http_request(server.http + "/v1/jobs?" + query)
            assert status == 400 and words in body, (query, body)
    finally:
        stop_process(running)


def test_ls_table_fits_the_terminal_and_keeps_quoting(server, env):
    long_code = "print('a b'); " + "x = 1; " * 30
    assert run_job(server, env, "long", long_code).returncode == 0
    words = tailcast("run", "--job", "words", "--quiet", "--server", server.url, "--", "sh", "-c", 'echo "$@"', "--", "two words",
                     "first", "second", "third", "fourth", "fifth", "sixth", env=env, timeout=30)
    assert words.returncode == 0
    wide = tailcast("ls", "--server", server.url, env=dict(env, COLUMNS="1000"), timeout=30).stdout.decode()
    assert "'print('\\''a b'\\''); x = 1; x = 1;" in wide, wide
    assert "sh -c 'echo \"$@\"' -- 'two words' first second third fourth fifth sixth" in wide, wide
    # The other columns take about 70 characters besides the host name; the command gets the rest.
    host = len(json.loads(tailcast("ls", "--json", "--server", server.url, env=env, timeout=30).stdout)["jobs"][0]["meta"]["host"])
    for columns in (100 + host, 110 + host):
        table = tailcast("ls", "--server", server.url, env=dict(env, COLUMNS=str(columns)), timeout=30).stdout.decode()
        lines = table.splitlines()
        assert len(lines) == 3
        assert all(len(line) <= columns for line in lines), table
        words_line = next(line for line in lines if line.startswith("words "))
        # Cut between arguments, with an ellipsis; a quoted argument is shown whole or not at all.
        assert "sh -c 'echo \"$@\"' -- " in words_line and " … " in words_line, words_line
        assert "'two words'" in words_line or "'two" not in words_line, words_line
        assert "…" in next(line for line in lines if line.startswith("long "))
    # On a real terminal, its width.
    out = on_terminal("ls", "--server", server.url, env=env, columns=95 + host)
    lines = re.sub(rb"\x1b\[[0-9;]*m", b"", out).decode().splitlines()
    assert len(lines) == 3 and all(len(line) <= 95 + host for line in lines), out
    assert any(len(line) > 80 for line in lines), out
    # --json has the command whole.
    full = json.loads(tailcast("ls", "--json", "long", "--server", server.url, env=env, timeout=30).stdout)["jobs"][0]["meta"]["command"]
    assert full[-1] == long_code
