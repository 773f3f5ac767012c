"""Issue 13, point 3: a replay of several streams keeps the order their lines were read in, as the live
view does, and the merged view never splits a line with a `==> PATH <==` header or another file's output."""
import re
import signal
import subprocess
import time

from conftest import popen, tailcast, wait_until
from test_tail import stream

ROUNDS = 60
PER_ROUND = 500  # 60 rounds of 500 lines: 30,000 lines per file
LINE = re.compile(rb"^(a|b) r(\d{3}) (\d{6}) [a-z]{1,60}$")


def round_of(path, r):
    tag = path.name[0].encode()
    return b"".join(b"%s r%03d %06d %s\n" % (tag, r, r * PER_ROUND + i, b"abcdefghij"[i % 10:i % 10 + 1] * (1 + i % 60))
                    for i in range(PER_ROUND))


def check_merged(output, a, b):
    """Every line whole under its file's header, each file's lines complete and in order; returns the
    (file, round) of every line in the order printed."""
    current, seen, order = None, {str(a): [], str(b): []}, []
    for line in output.split(b"\n")[:-1]:
        if line.startswith(b"==> ") and line.endswith(b" <=="):
            current = line[4:-4].decode()
            continue
        if line == b"":
            continue  # the blank line before a header
        match = LINE.match(line)
        assert match, f"a line cut or joined: {line[:120]!r}"
        assert current is not None and current.endswith(f"/{match.group(1).decode()}.log"), (current, line[:60])
        seen[current].append(line + b"\n")
        order.append((match.group(1), int(match.group(2))))
    for path in (a, b):
        printed = b"".join(seen[str(path)])
        assert printed == path.read_bytes(), f"{path.name}: {len(printed)} of {len(path.read_bytes())} bytes printed"
    return order


def test_two_30000_line_files_replay_whole_lines_in_the_order_they_were_read(server, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    a, b = logs / "a.log", logs / "b.log"
    a.write_bytes(b"")
    b.write_bytes(b"")
    agent = popen("tail", "--from-start", "--job", "turns", "--server", server.url, "--state-dir", str(tmp_path / "state"),
                  f"{logs}/*.log", stdout=subprocess.DEVNULL, stderr=open(tmp_path / "tail.err", "ab"))
    try:
        time.sleep(1)
        live_file = open(tmp_path / "live.out", "wb")  # a pipe would fill while nobody reads it
        live = popen("watch", "turns", "--server", server.url, stdout=live_file)
        # Turn about, with pauses far above the agent's 20 ms time marks: every round is read after the
        # one before it, so the order across files is known.
        for r in range(ROUNDS):
            for path in (a, b):
                with open(path, "ab") as f:
                    f.write(round_of(path, r))
                time.sleep(0.06)
        wait_until(lambda: stream(server, "turns", str(a)) == a.read_bytes() and stream(server, "turns", str(b)) == b.read_bytes(),
                   timeout=60, what="both files archived")
        time.sleep(1.5)  # past the watcher's quiet-line wait
        live.send_signal(signal.SIGTERM)
        live.wait(30)
        live_file.close()
        live_output = (tmp_path / "live.out").read_bytes()
    finally:
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(30) == 0
    assert len(a.read_bytes().splitlines()) == ROUNDS * PER_ROUND == 30_000

    # A restart empties the server's cache of the batches the live watcher was sent, which a replay
    # right after it would share: this one is made from the archive alone.
    server.stop()
    server.start()
    started = time.monotonic()
    replay = tailcast("watch", "turns", "--no-follow", "--server", server.url, timeout=120)
    elapsed = time.monotonic() - started
    assert replay.returncode == 0, replay.stderr
    for name, output in (("live", live_output), ("replay", replay.stdout)):
        order = check_merged(output, a, b)
        # Round r of b was written after round r of a, and before round r + 1 of a. An agent held up for a
        # moment (two cores, shared) reads a few writes of one file together, at one time: allow two rounds.
        latest = 0
        for tag, r in order:
            position = 2 * r + (tag == b"b")
            assert position >= latest - 4, f"{tag.decode()} round {r} printed after position {latest}"
            latest = max(latest, position)
    print(f"replay of 2 x 30,000 lines in {elapsed:.2f}s")
