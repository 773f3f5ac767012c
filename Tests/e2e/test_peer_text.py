"""Issue 11, item 7: text that other people wrote (job metadata, stream names, progress labels, error
texts) reaches a terminal or a log line only with its control characters escaped, so it cannot clear
the screen, write the clipboard (OSC 52) or forge a log line. The job's output bytes pass unchanged."""
import fcntl
import json
import os
import select
import struct
import subprocess
import termios
import threading
import time

from websockets.sync.client import connect

import peer
from conftest import BINARY, popen, tailcast, wait_until

CLEAR = "\x1b[2J"
CLIPBOARD = "\x1b]52;c;ZXZpbA==\x07"
FORGED = "\n2030-01-01T00:00:00+0000 critical tailcast.server : FORGED"
HOSTILE = CLEAR + CLIPBOARD + FORGED
# What must never reach the terminal or the log from the text above; tailcast's own drawing uses
# other sequences (SGR, erase line, cursor up).
RAW = [CLEAR.encode(), b"\x1b]", b"\x07", b"\xc2\x9b", b"\nFORGED", b"\r\nFORGED", b"\n2030-01-01"]


def assert_no_raw_controls(output, what):
    for sequence in RAW:
        assert sequence not in output, f"{what} holds {sequence!r}: {output[:600]!r}"


def on_a_terminal(args, env, timeout=30):
    """Runs tailcast on a pseudo-terminal (so `watch` pins its progress bars); returns (status, output)."""
    master, slave = os.openpty()
    # Wide, so a bar's whole message fits on its line.
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 300, 0, 0))
    process = subprocess.Popen([BINARY, *args], stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    output = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the last writer closed the terminal
                break
            if not chunk:
                break
            output += chunk
    process.wait(10)
    os.close(master)
    return process.returncode, output


def test_metadata_names_and_progress_are_escaped_everywhere_they_are_shown(server, env, tmp_path):
    # A real job whose command line carries the sequences and a line break.
    run = tailcast("run", "--job", "esc-run", "--no-pty", "--quiet", "--server", server.url, "--", "true", HOSTILE,
                   env=env, timeout=60)
    assert run.returncode == 0, run.stderr

    # A real sidecar following a file whose name carries them.
    logs = tmp_path / "logs"
    logs.mkdir()
    hostile_file = logs / f"app{HOSTILE}.log"
    hostile_file.write_bytes(b"from the hostile file\n")
    sidecar = popen("tail", "--job", "esc-tail", "--from-start", "--server", server.url, "--state-dir", str(tmp_path / "state"),
                    f"{logs}/*.log", env=env)
    try:
        wait_until(lambda: [s["size"] for s in server.jobs().get("esc-tail", {}).get("streams", [])] == [22], what="the hostile file archived")
    finally:
        sidecar.terminate()
        assert sidecar.wait(30) == 0
    assert [s["name"] for s in server.jobs()["esc-tail"]["streams"]] == [str(hostile_file)]
    watched = tailcast("watch", "esc-tail", "--no-follow", "--server", server.url, env=env, timeout=30)
    assert watched.returncode == 0
    assert_no_raw_controls(watched.stdout, "the ==> PATH <== header")
    escaped_name = str(hostile_file).replace("\x1b", "\\x1b").replace("\x07", "\\x07").replace("\n", "\\n")
    assert watched.stdout == f"==> {escaped_name} <==\n".encode() + b"from the hostile file\n"

    # A third-party agent, which can say anything about its host, user, directory, agent, streams and progress.
    hello = {"type": "hello", "job": "esc-peer", "run_id": "r", "agent": "agent" + HOSTILE,
             "meta": {"kind": "run", "command": ["cmd" + HOSTILE], "host": "host" + HOSTILE, "user": "user\u009b2J",
                      "cwd": "/" + CLIPBOARD, "started_at_ms": int(time.time() * 1000)}}
    bar = {"key": "k", "label": "label" + CLIPBOARD, "current": 1, "total": 4, "unit": CLEAR + "u", "message": "msg" + FORGED,
           "source": "explicit", "updated_ms": int(time.time() * 1000), "done": False}
    output = b"the job's own bytes pass: \x1b[1mbold\x1b[0m\n"
    with connect(server.url + "/v1/publish", subprotocols=[peer.SUBPROTOCOL]) as ws:
        ws.send(json.dumps(hello))
        assert json.loads(ws.recv())["type"] == "welcome"
        ws.send(json.dumps({"type": "open", "stream": 1, "name": "stdout"}))
        ws.send(json.dumps({"type": "open", "stream": 2, "name": "name" + HOSTILE}))
        ws.send(peer.encode_data([(1, 0, 1000, output), (2, 0, 1000, b"second stream\n")]))
        assert json.loads(ws.recv())["type"] == "ack"
        ws.send(json.dumps({"type": "progress", "bars": [bar]}))
        wait_until(lambda: server.jobs()["esc-peer"]["progress"], what="the progress bar stored")

        listed = tailcast("ls", "--server", server.url, env=env, timeout=30)
        assert listed.returncode == 0
        assert_no_raw_controls(listed.stdout, "ls")
        assert len(listed.stdout.splitlines()) == 1 + 3  # a header and one line per job: no forged line
        # Arguments are shell-quoted: the escaped argument stands in its quotes.
        assert b"true '\\x1b[2J" in listed.stdout and b"host\\x1b[2J" in listed.stdout

        # A watcher on a terminal pins the bar below the log while the job runs; the job then ends.
        watcher = {}
        ender = threading.Timer(2.0, lambda: ws.send(json.dumps(
            {"type": "end", "exit": {"code": 0}, "ended_at_ms": int(time.time() * 1000), "sizes": {"1": len(output), "2": 14}})))
        ender.start()
        watcher["status"], watcher["output"] = on_a_terminal(["watch", "esc-peer", "--server", server.url], env)
        ender.join()
    assert watcher["status"] == 0, watcher["output"]
    screen = watcher["output"]
    assert b"label\\x1b]52;c;ZXZpbA==\\x07" in screen and b"msg\\n2030-01-01" in screen
    assert b"\x1b[1mbold\x1b[0m" in screen  # output bytes unchanged
    assert_no_raw_controls(screen.replace(b"\x1b[1mbold\x1b[0m", b""), "watch on a terminal")

    # Hostile first messages: a job id and a message type with a line break, refused and logged.
    for first in [{**hello, "job": "bad" + FORGED}, {"type": "hello" + FORGED}]:
        with connect(server.url + "/v1/publish", subprotocols=[peer.SUBPROTOCOL]) as ws:
            ws.send(json.dumps(first))
            assert json.loads(ws.recv())["code"] == "bad_message"
    wait_until(lambda: server.log.read_bytes().count(b"refused a connection") >= 2, what="the refusals logged")
    log = server.log.read_bytes()
    assert b"host\\x1b[2J\\x1b]52;c;ZXZpbA==\\x07\\n2030-01-01" in log, log[-2000:]
    assert_no_raw_controls(log, "the server's log")
    assert not [line for line in log.splitlines() if b"FORGED" in line and not b"\\nFORGED" in line and not b"\\n2030" in line]
