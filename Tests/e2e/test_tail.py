"""tailcast tail: real files, real rotation (Debian's logrotate), real kill -9; every line counted at the server."""
import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import pytest

from conftest import BINARY, fill, popen, tailcast, wait_until


def stream(server, job, name):
    url = f"{server.http}/v1/jobs/{job}/raw?stream={urllib.parse.quote(name)}"
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.read()
    except urllib.error.HTTPError:
        return b""


def lines(prefix, start, end):
    return b"".join(b"%s %06d\n" % (prefix, i) for i in range(start, end))


def start_tail(server, job, tmp_path, *patterns, extra=()):
    return popen("tail", "--job", job, "--server", server.url, "--state-dir", str(tmp_path / f"state-{job}"),
                 *extra, *patterns, stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"tail-{job}.err", "ab"))


@contextlib.contextmanager
def tailing(server, job, tmp_path, *patterns, extra=()):
    """A sidecar for the block; stopped with SIGTERM after it, which must exit 0."""
    agent = start_tail(server, job, tmp_path, *patterns, extra=extra)
    try:
        yield agent
    finally:
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(30) == 0


def append(path, data):
    with open(path, "ab") as f:
        f.write(data)


def test_globs_exclusions_and_files_that_appear_later(server, tmp_path):
    logs = tmp_path / "logs"
    (logs / "a" / "b").mkdir(parents=True)
    append(logs / "app.log", b"before start\n")
    with tailing(server, "globs", tmp_path, f"{logs}/*.log", f"{logs}/**/*.txt", extra=["--exclude", "*.gz"]):
        time.sleep(1)
        append(logs / "app.log", b"after start\n")
        append(logs / "a" / "b" / "deep.txt", b"deep line\n")
        append(logs / "old.log.gz", b"never\n")
        (logs / "skip.gz").write_bytes(b"never\n")
        wait_until(lambda: stream(server, "globs", str(logs / "a" / "b" / "deep.txt")) == b"deep line\n", what="the deep file")
        wait_until(lambda: stream(server, "globs", str(logs / "app.log")) == b"after start\n", what="app.log from its end")
        names = {s["name"] for s in server.jobs()["globs"]["streams"]}
        assert names == {str(logs / "app.log"), str(logs / "a" / "b" / "deep.txt")}
        assert server.jobs()["globs"]["meta"]["kind"] == "tail"


def test_rename_then_create_keeps_lines_written_through_the_old_descriptor(server, tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    with tailing(server, "rename", tmp_path, str(log)):
        time.sleep(1)
        old = open(log, "ab", buffering=0)
        old.write(lines(b"first", 0, 20000))
        os.rename(log, tmp_path / "app.log.1")
        old.write(lines(b"late", 0, 500))  # the classic loss: written after the rename
        append(log, lines(b"second", 0, 20000))
        old.close()
        expected = lines(b"first", 0, 20000) + lines(b"late", 0, 500) + lines(b"second", 0, 20000)
        wait_until(lambda: stream(server, "rename", str(log)) == expected, timeout=60, what="every line once, in order")


@pytest.mark.skipif(shutil.which("logrotate") is None, reason="logrotate is not installed")
@pytest.mark.parametrize("mode", ["create", "copytruncate", "create-delaycompress"])
def test_real_logrotate(server, tmp_path, mode):
    log = tmp_path / "svc.log"
    log.write_bytes(b"")
    config = tmp_path / "logrotate.conf"
    options = {"create": "create", "copytruncate": "copytruncate", "create-delaycompress": "create\n    compress\n    delaycompress"}[mode]
    config.write_text(f"{log} {{\n    rotate 5\n    {options}\n    missingok\n}}\n")
    job = f"rotate-{mode}"
    with tailing(server, job, tmp_path, str(log), str(tmp_path / "svc.log.*"), extra=["--exclude", "*.gz"]):
        time.sleep(1)
        expected = b""
        for round_ in range(3):
            batch = lines(b"round%d" % round_, 0, 3000)
            append(log, batch)
            expected += batch
            # copytruncate can lose what is written during the copy: rotate between writes, as the docs advise
            wait_until(lambda: stream(server, job, str(log)) == expected, timeout=60, what=f"round {round_} delivered")
            subprocess.run(["logrotate", "--force", "--state", str(tmp_path / "lr.state"), str(config)], check=True)
        final = lines(b"final", 0, 3000)
        append(log, final)
        expected += final
        wait_until(lambda: stream(server, job, str(log)) == expected, timeout=60, what="every line exactly once after rotations")
        rotated = [s["name"] for s in server.jobs()[job]["streams"] if s["name"] != str(log)]
        assert all(stream(server, job, name) == b"" for name in rotated), "a rotated file was read again under its new name"
        if mode == "copytruncate":
            assert b"copytruncate" in (tmp_path / f"tail-{job}.err").read_bytes()


def test_kill_9_of_the_agent_repeatedly_loses_and_duplicates_nothing(server, tmp_path):
    log = tmp_path / "busy.log"
    log.write_bytes(b"")
    writer = subprocess.Popen(["python3", "-c", f"""
import time
with open({str(log)!r}, 'ab', buffering=0) as f:
    for i in range(30000):
        f.write(b'line %06d of the busy log\\n' % i)
        if i % 300 == 0: time.sleep(0.02)
"""])
    agent = start_tail(server, "kill9", tmp_path, str(log), extra=["--from-start"])
    for _ in range(4):
        time.sleep(0.6)
        agent.send_signal(signal.SIGKILL)
        agent.wait()
        agent = start_tail(server, "kill9", tmp_path, str(log))
    assert writer.wait(60) == 0
    time.sleep(1)  # the last agent is up before it is asked to stop
    expected = b"".join(b"line %06d of the busy log\n" % i for i in range(30000))
    try:
        wait_until(lambda: stream(server, "kill9", str(log)) == expected, timeout=60, what="every line exactly once")
    finally:
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(30) == 0


def test_clean_stop_and_restart_and_a_partial_line(server, tmp_path):
    log = tmp_path / "p.log"
    log.write_bytes(b"")
    with tailing(server, "partial", tmp_path, str(log)):
        time.sleep(1)
        append(log, b"one\ntw")
        wait_until(lambda: stream(server, "partial", str(log)) == b"one\n", what="the whole line")
        time.sleep(1)
        assert stream(server, "partial", str(log)) == b"one\n", "a partial line waits for its newline"
    append(log, b"o\nthree\n")  # written while the sidecar is stopped
    with tailing(server, "partial", tmp_path, str(log)):
        wait_until(lambda: stream(server, "partial", str(log)) == b"one\ntwo\nthree\n", what="no line lost or doubled")


def test_a_damaged_checkpoint_is_set_aside_with_a_warning(server, tmp_path):
    log = tmp_path / "c.log"
    log.write_bytes(b"")
    state = tmp_path / "state-damaged"
    state.mkdir()
    (state / "checkpoints.json").write_text("{ torn")
    with tailing(server, "damaged", tmp_path, str(log)):
        time.sleep(1)
        append(log, b"still works\n")
        wait_until(lambda: stream(server, "damaged", str(log)) == b"still works\n", what="tailing despite the damage")
        assert (state / "checkpoints.json.damaged").read_text() == "{ torn"
        assert b"damaged" in (tmp_path / "tail-damaged.err").read_bytes()


def test_server_down_pauses_reading_and_everything_arrives_later(make_server, tmp_path):
    server = make_server()
    log = tmp_path / "s.log"
    log.write_bytes(b"")
    with tailing(server, "later", tmp_path, str(log)):
        time.sleep(1)
        append(log, lines(b"offline", 0, 5000))
        time.sleep(1)
        server.start()
        append(log, lines(b"online", 0, 100))
        wait_until(lambda: stream(server, "later", str(log)) == lines(b"offline", 0, 5000) + lines(b"online", 0, 100),
                   timeout=60, what="catching up")


def test_bad_tail_arguments(tmp_path):
    assert tailcast("tail", "--job", "x", timeout=30).returncode == 64
    assert tailcast("tail", "--job", "../x", "f.log", timeout=30).returncode == 64


def test_a_10_mib_line_is_cut_and_counted_and_odd_bytes_pass_unchanged(server, tmp_path):
    log = tmp_path / "odd.log"
    log.write_bytes(b"")
    with tailing(server, "odd", tmp_path, str(log), extra=["--max-line-bytes", "65536"]):
        time.sleep(1)
        odd = b"\xef\xbb\xbfbom line\r\n" + b"bad utf8 \xff\xfe\x00nul\n" + "multi-byte \u00e9\u4e2d\n".encode()
        # a line of 3-byte characters cut at 65,536 bytes is cut before the character the cap splits
        wide = "\u4e2d".encode() * 30000
        append(log, b"before\n" + b"x" * (10 << 20) + b"\n" + wide + b"\n" + odd + b"after\n")
        expected = b"before\n" + b"x" * 65536 + b"\n" + "\u4e2d".encode() * 21845 + b"\n" + odd + b"after\n"
        wait_until(lambda: stream(server, "odd", str(log)) == expected, timeout=60, what="cut line and the rest")
        assert b"was cut" in (tmp_path / "tail-odd.err").read_bytes()


def test_a_deleted_file_is_read_to_its_end_then_closed(server, tmp_path):
    log = tmp_path / "gone.log"
    log.write_bytes(b"")
    with tailing(server, "gone", tmp_path, str(log)) as agent:
        time.sleep(1)
        writer = open(log, "ab", buffering=0)
        writer.write(b"one\n")
        os.unlink(log)
        writer.write(b"two, after the delete\n")
        writer.close()
        wait_until(lambda: stream(server, "gone", str(log)) == b"one\ntwo, after the delete\n", what="the rest of the file")

        def released():
            return not any("gone.log" in os.readlink(f"/proc/{agent.pid}/fd/{fd}")
                           for fd in os.listdir(f"/proc/{agent.pid}/fd") if os.path.exists(f"/proc/{agent.pid}/fd/{fd}"))
        wait_until(released, what="the deleted file to be closed (its space freed)")


def test_rotation_while_the_sidecar_is_down_loses_nothing(server, tmp_path):
    log = tmp_path / "r.log"
    log.write_bytes(b"")
    with tailing(server, "downrot", tmp_path, str(log)):
        time.sleep(1)
        append(log, b"a1\na2\n")
        wait_until(lambda: stream(server, "downrot", str(log)) == b"a1\na2\n", what="before the stop")
    append(log, b"a3\n")  # written while the sidecar is down, then rotated away
    os.rename(log, tmp_path / "r.log.1")
    append(log, b"b1\nb2\n")
    with tailing(server, "downrot", tmp_path, str(log)):
        wait_until(lambda: stream(server, "downrot", str(log)) == b"a1\na2\na3\nb1\nb2\n", what="the renamed file's end, then the new file")


def test_a_sidecar_refused_by_the_server_exits_with_failure(server, tmp_path):
    log = tmp_path / "x.log"
    log.write_bytes(b"")
    first = start_tail(server, "owned", tmp_path, str(log))
    try:
        wait_until(lambda: "owned" in server.jobs(), what="the first sidecar's job")
        second = popen("tail", "--job", "owned", "--server", server.url, "--state-dir", str(tmp_path / "other-state"), str(log))
        assert second.wait(30) == 5  # the job id is taken (tailcast --help)
        assert b"belongs to another run" in second.stderr.read()
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 0


def test_rotations_faster_than_a_file_drains_lose_nothing(server, tmp_path):
    """Rename + create every 0.6 s while each old file is still being written through its descriptor:
    a file is let go only after a quiet second, so new files wait their turn behind it. Before they
    were opened only after it, and a file rotated away in the meantime was never read (the pattern
    names app.log only)."""
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    expected = b""
    with tailing(server, "quick", tmp_path, str(log)):
        time.sleep(1)
        writers = []
        for generation in range(8):
            writer = open(log, "ab", buffering=0)
            writer.write(lines(b"gen%d" % generation, 0, 300))
            expected += lines(b"gen%d" % generation, 0, 300)
            time.sleep(0.6)  # it lives at app.log long enough to be found (polling: 250 ms)
            os.rename(log, tmp_path / f"app.log.{generation}")
            writer.write(lines(b"late%d" % generation, 0, 50))  # through the old descriptor, after the rename
            expected += lines(b"late%d" % generation, 0, 50)
            writers.append(writer)
        for writer in writers:
            writer.close()
        wait_until(lambda: stream(server, "quick", str(log)) == expected, timeout=60, what="all eight generations, in order")


# --- FIELD-NOTES section 1 scenarios, scaled to the test suite (full sizes are in Benchmarks/) ---

def test_lines_of_1_to_4096_bytes_arrive_byte_identical(server, tmp_path):
    """Scenario 1, scaled: 20,000 lines of random length (1-4,096 bytes, random bytes but newline)."""
    import random
    rng = random.Random(1)
    data = b"".join(rng.randbytes(rng.randint(0, 4095)).replace(b"\n", b"x") + b"\n" for _ in range(20000))
    log = tmp_path / "sizes.log"
    log.write_bytes(b"")
    with tailing(server, "sizes", tmp_path, str(log)):
        time.sleep(1)
        with open(log, "ab") as f:
            for start in range(0, len(data), 1 << 20):
                f.write(data[start:start + (1 << 20)])
        wait_until(lambda: len(stream(server, "sizes", str(log))) >= len(data), timeout=120, what="all of it")
        assert stream(server, "sizes", str(log)) == data


def test_server_stalled_while_the_file_is_rotated_twice(server, tmp_path):
    """Scenario 3: the server stops answering (SIGSTOP) while app.log is rotated twice."""
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    with tailing(server, "stalled", tmp_path, str(log)):
        time.sleep(1)
        append(log, lines(b"before", 0, 1000))
        wait_until(lambda: stream(server, "stalled", str(log)) == lines(b"before", 0, 1000), what="first lines")
        server.process.send_signal(signal.SIGSTOP)
        try:
            expected = lines(b"before", 0, 1000)
            for rotation in range(2):
                append(log, lines(b"gen%d" % rotation, 0, 2000))
                expected += lines(b"gen%d" % rotation, 0, 2000)
                time.sleep(0.5)
                os.rename(log, tmp_path / f"app.log.{rotation + 1}")
                log.write_bytes(b"")
                time.sleep(0.5)
            append(log, lines(b"after", 0, 1000))
            expected += lines(b"after", 0, 1000)
            time.sleep(1)
        finally:
            server.process.send_signal(signal.SIGCONT)
        wait_until(lambda: stream(server, "stalled", str(log)) == expected, timeout=60, what="every line once, in order")


def test_partial_line_then_kill_9_then_the_line_completed(server, tmp_path):
    """Scenario 6: exactly one whole line."""
    log = tmp_path / "partial.log"
    log.write_bytes(b"")
    agent = start_tail(server, "partial9", tmp_path, str(log))
    time.sleep(1)
    append(log, b"complete line\nhalf a li")
    wait_until(lambda: stream(server, "partial9", str(log)) == b"complete line\n", what="the whole line")
    time.sleep(0.5)
    agent.send_signal(signal.SIGKILL)
    agent.wait()
    append(log, b"ne, finished\n")
    with tailing(server, "partial9", tmp_path, str(log)):
        wait_until(lambda: stream(server, "partial9", str(log)) == b"complete line\nhalf a line, finished\n", what="one whole line")
        time.sleep(1)
        assert stream(server, "partial9", str(log)) == b"complete line\nhalf a line, finished\n"


def test_hundreds_of_new_files_are_followed_and_excluded_ones_never_opened(server, tmp_path):
    """Scenario 9, scaled: 300 new files matching the glob and 300 excluded ones."""
    logs = tmp_path / "many"
    logs.mkdir()
    with tailing(server, "many", tmp_path, f"{logs}/*.log", extra=["--exclude", "*-skip.log"]) as agent:
        time.sleep(1)
        for index in range(300):
            (logs / f"f{index:03d}.log").write_bytes(b"file %03d\n" % index)
            (logs / f"f{index:03d}-skip.log").write_bytes(b"never\n")
        wait_until(lambda: len(server.jobs().get("many", {}).get("streams", [])) == 300, timeout=30, what="300 streams")
        names = {s["name"] for s in server.jobs()["many"]["streams"]}
        assert names == {str(logs / f"f{index:03d}.log") for index in range(300)}
        for index in (0, 150, 299):
            wait_until(lambda: stream(server, "many", str(logs / f"f{index:03d}.log")) == b"file %03d\n" % index, what="content")
        open_files = {os.readlink(f"/proc/{agent.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{agent.pid}/fd")}
        assert not any(name.endswith("-skip.log") for name in open_files)
        assert sum(name.startswith(str(logs)) for name in open_files) == 300


def test_watch_shows_all_files_under_headers_or_one_file_exactly(server, tmp_path):
    """Issue 3, item 8: `watch` follows all files, each run of lines under `==> PATH <==` as tail -F
    prints it, or one file (`--stream PATH`) byte for byte; `--raw` adds nothing."""
    logs = tmp_path / "logs"
    logs.mkdir()
    a, b = logs / "a.log", logs / "b.log"
    a.write_bytes(b"")
    b.write_bytes(b"")
    with tailing(server, "both", tmp_path, f"{logs}/*.log"):
        time.sleep(1)
        watcher = popen("watch", "both", "--server", server.url)
        for turn in range(3):
            append(a, lines(b"a", turn * 10, turn * 10 + 10))
            time.sleep(0.4)  # more than a pass: each turn is its own chunk
            append(b, lines(b"b", turn * 10, turn * 10 + 10))
            time.sleep(0.4)
        wait_until(lambda: stream(server, "both", str(a)) == a.read_bytes() and stream(server, "both", str(b)) == b.read_bytes(),
                   timeout=20, what="both files archived")
        time.sleep(0.5)
        watcher.terminate()
        live = watcher.stdout.read()
    replayed = tailcast("watch", "both", "--no-follow", "--server", server.url, timeout=30)
    assert replayed.returncode == 0, replayed.stderr

    def blocks(output):
        """(path, lines) per header; headers after the first are preceded by a blank line."""
        parts = output.split(b"==> ")
        assert parts[0] == b"", output[:200]
        found = []
        for index, part in enumerate(parts[1:]):
            path, _, body = part.partition(b" <==\n")
            if index < len(parts) - 2:
                assert body.endswith(b"\n\n")
                body = body[:-1]
            found.append((path.decode(), body))
        return found

    for output in (live, replayed.stdout):
        found = blocks(output)
        assert {path for path, _ in found} == {str(a), str(b)}
        assert b"".join(body for path, body in found if path == str(a)) == a.read_bytes()
        assert b"".join(body for path, body in found if path == str(b)) == b.read_bytes()
        assert all(found[i][0] != found[i + 1][0] for i in range(len(found) - 1))  # a header per switch, no more
    assert len(blocks(live)) == 6  # followed live, the turns alternate
    one = tailcast("watch", "both", "--no-follow", "--stream", str(b), "--server", server.url, timeout=30)
    assert one.returncode == 0 and one.stdout == b.read_bytes()
    raw = tailcast("watch", "both", "--no-follow", "--raw", "--server", server.url, timeout=30)
    assert raw.returncode == 0 and b"==>" not in raw.stdout
    assert sorted(raw.stdout.splitlines()) == sorted(a.read_bytes().splitlines() + b.read_bytes().splitlines())


def test_a_full_state_disk_pauses_reading_and_loses_nothing(server, small_disk, tmp_path):
    """The sidecar's own disk fills (--state-dir on a 4 MiB tmpfs): its spool refuses what it cannot
    write, reading pauses (the file keeps the lines), and once there is room every line arrives once.
    (A wrapped job's spool drops and marks instead: its pipe cannot wait.)"""
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    errors = tmp_path / "tail.err"
    agent = popen("tail", "--job", "full-disk", "--server", server.url, "--state-dir", str(small_disk / "state"), str(log),
                  stdout=subprocess.DEVNULL, stderr=open(errors, "ab"))
    try:
        time.sleep(1)
        append(log, lines(b"before", 0, 1000))
        wait_until(lambda: stream(server, "full-disk", str(log)) == log.read_bytes(), timeout=20, what="lines before the disk filled")
        ballast = small_disk / "ballast"
        assert fill(ballast) > 1 << 20
        for turn in range(20):
            append(log, lines(b"while full", turn * 1000, turn * 1000 + 1000))
            time.sleep(0.05)
        wait_until(lambda: b"reading paused" in errors.read_bytes(), timeout=20, what="the pause")
        time.sleep(1)
        paused_at = len(stream(server, "full-disk", str(log)))
        assert paused_at < log.stat().st_size
        time.sleep(1)
        assert len(stream(server, "full-disk", str(log))) == paused_at  # paused, not dropping
        ballast.unlink()
        wait_until(lambda: stream(server, "full-disk", str(log)) == log.read_bytes(), timeout=30, what="every line once room returned")
        assert b"has room again" in errors.read_bytes()
    finally:
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(30) == 0
    assert stream(server, "full-disk", str(log)) == log.read_bytes()
    assert b"dropped" not in stream(server, "full-disk", str(log))


def test_a_quiet_partial_line_goes_without_the_half_of_a_character(server, tmp_path):
    """A partial line is sent after 5 quiet seconds, but a character the writer has not finished waits
    for its end: no message holds half of it."""
    log = tmp_path / "half.log"
    log.write_bytes(b"")
    with tailing(server, "half", tmp_path, str(log)):
        time.sleep(1)
        append(log, b"whole line\nprice: 5 " + "\u20ac".encode()[:2])  # the euro sign's first two bytes
        wait_until(lambda: stream(server, "half", str(log)) == b"whole line\nprice: 5 ", timeout=20, what="the quiet partial line")
        time.sleep(1)
        assert stream(server, "half", str(log)) == b"whole line\nprice: 5 "
        append(log, "\u20ac".encode()[2:] + b" each\n")
        wait_until(lambda: stream(server, "half", str(log)) == "whole line\nprice: 5 \u20ac each\n".encode(), what="the rest")


def test_symlinks_in_a_followed_directory_are_never_read(server, tmp_path):
    """Issue 11, item 6: whoever can write into a followed directory plants `x.log -> a root-only file`
    (there at start, planted later, put where a followed file was rotated away, or a directory link a
    wildcard matches). None is read: not in the archive, not in `watch`; each is reported once. A
    normal file beside them arrives byte-exact."""
    secret = b"SECRET-4b1f0e-root-only"
    outside = tmp_path / "outside"
    outside.mkdir()
    shadow = outside / "shadow.log"
    shadow.write_bytes(secret + b"\n")
    os.chmod(shadow, 0o600)
    logs = tmp_path / "logs"
    (logs / "real").mkdir(parents=True)
    (logs / "planted.log").symlink_to(shadow)
    (logs / "out").symlink_to(outside, target_is_directory=True)
    app = logs / "app.log"
    app.write_bytes(b"")
    payload = bytes(range(256)) + b"\n" + b"plain line\n"
    with tailing(server, "links", tmp_path, f"{logs}/*.log", f"{logs}/*/shadow.log", extra=["--from-start"]):
        time.sleep(1)
        (logs / "later.log").symlink_to(shadow)
        append(app, payload)
        wait_until(lambda: stream(server, "links", str(app)) == payload, what="the normal file")
        # A rotation that leaves a link where the followed file was: the old file drains, the link is not read.
        os.rename(app, logs / "app.log.1")
        app.symlink_to(shadow)
        time.sleep(3)  # three scans at least: reported once, not on every pass
        append(shadow, secret + b" appended\n")
        time.sleep(1.5)
    names = {s["name"] for s in server.jobs()["links"]["streams"]}
    assert names == {str(app)}
    assert stream(server, "links", str(app)) == payload
    archived = [p for p in server.data.rglob("*") if p.is_file()]
    assert archived and not [p for p in archived if secret in p.read_bytes()]
    watched = tailcast("watch", "links", "--no-follow", "--raw", "--server", server.url, timeout=30)
    assert watched.returncode == 0 and watched.stdout == payload
    err = (tmp_path / "tail-links.err").read_text()
    for link in ("planted.log", "later.log", "out", "app.log"):
        assert err.count(f"{logs}/{link} is a symbolic link") == 1, err


def test_a_busy_file_reaches_a_watcher_within_the_flush_window(server, tmp_path):
    """Lines written every 10 ms: each is read on its inotify event (at most 2 ms later while the file
    keeps changing), not on a fixed pass, so it reaches a watcher within the 20 ms flush window plus
    the server's share. A pass every 100 ms made the median 56 ms."""
    log = tmp_path / "busy.log"
    log.write_bytes(b"")
    with tailing(server, "busy", tmp_path, str(log)):
        wait_until(lambda: "busy" in server.jobs(), what="the job")
        time.sleep(0.5)
        watcher = popen("watch", "busy", "--server", server.url, "--stream", str(log), stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        delays = []

        def read():
            for line in watcher.stdout:
                delays.append(time.time() - float(line.split()[0]))
                if len(delays) == 300:
                    return
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        with open(log, "ab", buffering=0) as out:
            for i in range(300):
                out.write(b"%.6f line %03d\n" % (time.time(), i))
                time.sleep(0.01)
        reader.join(10)
        watcher.kill()
        watcher.wait()
    assert len(delays) == 300
    delays.sort()
    assert delays[150] < 0.03, f"median {delays[150] * 1000:.1f} ms, p90 {delays[270] * 1000:.1f} ms"


def test_flush_window_is_checked(server, tmp_path):
    result = subprocess.run([BINARY, "tail", "--job", "w", "--server", server.url, "--flush-window-ms", "1001", str(tmp_path / "x.log")],
                            capture_output=True, timeout=10)
    assert result.returncode == 64
    assert b"--flush-window-ms must be between 0 and 1000" in result.stderr


def test_a_line_cut_by_another_files_output_is_marked_where_it_stops_and_goes_on(server, tmp_path):
    """Issue 13: a line shown unfinished after a quiet spell, then another file's line, then its rest: the
    shown part ends with ` […]` and the rest starts with `[…] `, under the headers, in the live merged view."""
    logs = tmp_path / "logs"
    logs.mkdir()
    a, b = logs / "a.log", logs / "b.log"
    a.write_bytes(b"a1\n")
    b.write_bytes(b"b1\n")
    with tailing(server, "cut", tmp_path, f"{logs}/*.log", extra=["--from-start"]):
        wait_until(lambda: stream(server, "cut", str(a)) == b"a1\n" and stream(server, "cut", str(b)) == b"b1\n",
                   what="both files")
        watcher = popen("watch", "cut", "--server", server.url)
        time.sleep(1)
        append(a, b"a-slow ")
        # The sidecar sends an unfinished line after 5 quiet seconds, watch shows it after one more.
        wait_until(lambda: stream(server, "cut", str(a)) == b"a1\na-slow ", timeout=15, what="the unfinished line sent")
        time.sleep(1.5)
        append(b, b"b3\n")
        wait_until(lambda: stream(server, "cut", str(b)).endswith(b"b3\n"), what="b3")
        time.sleep(0.5)
        append(a, b"a-slowrest\n")
        wait_until(lambda: stream(server, "cut", str(a)).endswith(b"a-slowrest\n"), what="the rest")
        time.sleep(1)
        watcher.terminate()
        live = watcher.stdout.read()
    assert live.endswith(f"a-slow  […]\n\n==> {b} <==\nb3\n\n==> {a} <==\n[…] a-slowrest\n".encode()), live
