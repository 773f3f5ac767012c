#!/usr/bin/env python3
"""FIELD-NOTES section 1 tailing scenarios at full size, against the release binary.

The test suite runs these scaled down (Tests/e2e/test_tail.py); here they run at the size the field
judges tailers by. Every scenario checks that each line arrived exactly once, in order, by comparing
the archive with the file byte for byte, and prints time, agent CPU and peak memory. Takes about
five minutes and needs about 5 GB of free disk.
"""
import argparse
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench import free_port, proc_stat  # noqa: E402

REPO = HERE.parent


def step(text):
    print(f"... {text}", file=sys.stderr, flush=True)


def digest(paths):
    """sha256 and size of the concatenation of files."""
    h, size = hashlib.sha256(), 0
    for path in paths:
        with open(path, "rb") as f:
            while block := f.read(1 << 22):
                h.update(block)
                size += len(block)
    return h.hexdigest(), size


class Rig:
    def __init__(self, binary, workdir):
        self.binary = binary
        self.workdir = Path(workdir)
        self.port = free_port()
        self.url = f"ws://127.0.0.1:{self.port}"
        self.server = None

    def start_server(self):
        self.server = subprocess.Popen(
            [self.binary, "serve", "--port", str(self.port), "--data", str(self.workdir / "data"), "--log-level", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def stop_server(self):
        self.server.terminate()
        self.server.wait()

    def tail(self, job, *patterns, extra=()):
        return subprocess.Popen(
            [self.binary, "tail", "--job", job, "--server", self.url, "--state-dir", str(self.workdir / f"{job}.state"),
             *extra, *patterns], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def follow_new_file(self, job):
        """An empty log file and a `tail` of it, once the agent has had time to open it."""
        log = self.workdir / f"{job}.log"
        log.write_bytes(b"")
        agent = self.tail(job, str(log))
        time.sleep(1.5)
        return log, agent

    def streams(self, job):
        return sorted((self.workdir / "data" / "jobs" / job / "streams").glob("*.log"))

    def archived_size(self, job):
        return sum(p.stat().st_size for p in self.streams(job))

    def wait_archived(self, job, size, timeout):
        deadline = time.monotonic() + timeout
        while self.archived_size(job) < size:
            if time.monotonic() > deadline:
                raise AssertionError(f"{job}: {self.archived_size(job):,} of {size:,} bytes archived after {timeout} s")
            time.sleep(0.05)

    def deliver_and_stop(self, job, agent, sources, since, timeout):
        """Waits until the sources are archived, stops the agent cleanly and checks the archive.
        Returns (bytes, seconds since `since`, agent CPU seconds, agent peak MiB)."""
        size = sum(Path(p).stat().st_size for p in sources)
        self.wait_archived(job, size, timeout)
        elapsed = time.monotonic() - since
        cpu, rss = proc_stat(agent.pid)
        agent.terminate()
        assert agent.wait() == 0, f"{job}: tail exited {agent.returncode} on SIGTERM"
        self.check_exact(job, *sources)
        return size, elapsed, cpu, rss

    def check_exact(self, job, *sources):
        """The job's only stream is byte-identical to the sources, concatenated."""
        streams = self.streams(job)
        assert len(streams) == 1, f"{job}: streams {streams}"
        got, want = digest(streams), digest(sources)
        assert got == want, f"{job}: archived {got[1]:,} bytes, wrote {want[1]:,} (or different bytes)"
        return want[1]


def random_lines(count, seed):
    """`count` lines of 1 to 4,096 random bytes (no newline inside), newline-terminated, in blocks."""
    rng = random.Random(seed)
    no_newline = bytes.maketrans(b"\n", b" ")
    block, written = [], 0
    for _ in range(count):
        block.append(rng.randbytes(rng.randint(1, 4096)).translate(no_newline) + b"\n")
        if len(block) == 2000:
            yield b"".join(block)
            block = []
    if block:
        yield b"".join(block)


def scenario_1_million_random_lines(rig):
    """1,000,000 lines of 1 to 4,096 random bytes, written as fast as possible while followed."""
    log, agent = rig.follow_new_file("s1")
    start = time.monotonic()
    with open(log, "ab") as f:
        for block in random_lines(1_000_000, seed=1):
            f.write(block)
    size, elapsed, cpu, rss = rig.deliver_and_stop("s1", agent, [log], since=start, timeout=600)
    return {"what": "1: 1,000,000 lines of 1–4,096 random bytes, written while followed", "lines": 1_000_000, "bytes": size,
            "seconds": elapsed, "cpu": cpu, "rss": rss, "note": "byte-identical"}


def scenario_2_rename_with_writes_through_the_old_descriptor(rig):
    """100k lines, mv app.log app.log.1, 500 more through the old descriptor, a new app.log, 100k more."""
    folder = rig.workdir / "s2"
    folder.mkdir()
    log = folder / "app.log"
    log.write_bytes(b"")
    agent = rig.tail("s2", str(log))
    time.sleep(1.5)
    start = time.monotonic()
    old = open(log, "ab")
    old.write(b"".join(b"first %06d\n" % i for i in range(100_000)))
    old.flush()
    os.rename(log, folder / "app.log.1")
    for i in range(500):
        old.write(b"old descriptor %03d\n" % i)
        old.flush()
    with open(log, "ab") as new:
        new.write(b"".join(b"second %06d\n" % i for i in range(100_000)))
    old.close()
    size, elapsed, cpu, rss = rig.deliver_and_stop("s2", agent, [folder / "app.log.1", log], since=start, timeout=120)
    return {"what": "2: 100k lines, rename, 500 through the old descriptor, new file, 100k", "lines": 200_500, "bytes": size,
            "seconds": elapsed, "cpu": cpu, "rss": rss, "note": "in order, once"}


def scenario_5_kill_9_fifty_times(rig):
    """kill -9 of the agent 50 times while 1,000,000 lines are written; then a clean stop and a restart."""
    log, agent = rig.follow_new_file("s5")

    def write():
        with open(log, "ab") as f:
            for i in range(0, 1_000_000, 1000):
                f.write(b"".join(b"%07d a line written while the agent is killed now and then\n" % j for j in range(i, i + 1000)))
                f.flush()
                time.sleep(0.025)  # ~40,000 lines/s: the stream lasts about as long as the kills

    writer = threading.Thread(target=write)
    start = time.monotonic()
    writer.start()
    cpu = rss = 0.0
    for _ in range(50):
        time.sleep(random.uniform(0.2, 0.8))
        used, peak = proc_stat(agent.pid)
        cpu, rss = cpu + used, max(rss, peak)
        agent.kill()
        agent.wait()
        agent = rig.tail("s5", str(log))
    writer.join()
    time.sleep(2)  # the last agent is up (a SIGTERM in its first milliseconds would find no handler yet)
    size, elapsed, used, peak = rig.deliver_and_stop("s5", agent, [log], since=start, timeout=300)
    # after a clean stop, a restart sends nothing again
    agent = rig.tail("s5", str(log))
    time.sleep(3)
    agent.terminate()
    agent.wait()
    rig.check_exact("s5", log)
    return {"what": "5: kill -9 of the agent 50 times during 1,000,000 lines; clean stop; restart", "lines": 1_000_000,
            "bytes": size, "seconds": elapsed, "cpu": cpu + used, "rss": max(rss, peak), "note": "50 kills, once each"}


def scenario_8_server_down_while_a_gigabyte_is_written(rig, gigabytes):
    """The server is down for a minute while 1 GiB is written; then it comes back."""
    rig.stop_server()
    log, agent = rig.follow_new_file("s8")
    line = b"%010d the server is down while this is written; the file itself is the buffer\n"
    per_block = 10_000
    target = int(gigabytes * (1 << 30))
    down_for = 60.0
    start = time.monotonic()
    with open(log, "ab") as f:
        number = 0
        while f.tell() < target:
            f.write(b"".join(line % n for n in range(number, number + per_block)))
            number += per_block
            # spread over most of the outage, as a service would write it
            ahead = (f.tell() / target) * (down_for - 10) - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
    time.sleep(max(0.0, down_for - (time.monotonic() - start)))
    _, rss_down = proc_stat(agent.pid)
    rig.start_server()
    size, caught_up, cpu, rss = rig.deliver_and_stop("s8", agent, [log], since=time.monotonic(), timeout=900)
    return {"what": f"8: server down {down_for:.0f} s while {size / 2**30:.2f} GiB is written; catch-up after",
            "lines": number, "bytes": size, "seconds": caught_up, "cpu": cpu, "rss": rss,
            "note": f"peak {rss_down:.0f} MiB while down"}


def scenario_9_new_and_excluded_files(rig):
    """1,000 new files that match, 1,000 excluded ones: all of the first delivered, none of the others opened."""
    folder = rig.workdir / "s9"
    folder.mkdir()
    agent = rig.tail("s9", str(folder / "*.log"), extra=("--exclude", "*.skip.log"))
    time.sleep(1.5)
    opened_excluded = []
    stop = threading.Event()

    def watch_descriptors():
        fds = Path(f"/proc/{agent.pid}/fd")
        while not stop.is_set():
            for fd in fds.iterdir():
                try:
                    if os.readlink(fd).endswith(".skip.log"):
                        opened_excluded.append(os.readlink(fd))
                except OSError:
                    pass
            time.sleep(0.02)

    watcher = threading.Thread(target=watch_descriptors)
    watcher.start()
    start = time.monotonic()
    expected = 0
    for index in range(1000):
        content = b"".join(b"file %04d line %d\n" % (index, n) for n in range(10))
        (folder / f"f{index:04d}.log").write_bytes(content)
        (folder / f"f{index:04d}.skip.log").write_bytes(content)
        expected += len(content)
    rig.wait_archived("s9", expected, timeout=60)
    elapsed = time.monotonic() - start
    stop.set()
    watcher.join()
    cpu, rss = proc_stat(agent.pid)
    agent.terminate()
    agent.wait()
    streams = rig.streams("s9")
    assert len(streams) == 1000, len(streams)
    assert not opened_excluded, opened_excluded[:3]
    return {"what": "9: 1,000 new files that match, 1,000 excluded", "lines": 10_000, "bytes": expected, "seconds": elapsed,
            "cpu": cpu, "rss": rss, "note": "1,000 streams; 0 excluded opened"}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", default=str(REPO / ".build" / "release" / "tailcast"))
    parser.add_argument("--gigabytes", type=float, default=1.0, help="written while the server is down (scenario 8)")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="tailcast-scenarios-")
    rig = Rig(args.binary, workdir)
    rig.start_server()
    rows = []
    try:
        for name, run in (("1", scenario_1_million_random_lines), ("2", scenario_2_rename_with_writes_through_the_old_descriptor),
                          ("5", scenario_5_kill_9_fifty_times), ("9", scenario_9_new_and_excluded_files),
                          ("8", lambda r: scenario_8_server_down_while_a_gigabyte_is_written(r, args.gigabytes))):
            step(f"scenario {name}")
            rows.append(run(rig))
    finally:
        if rig.server.poll() is None:
            rig.stop_server()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\nFIELD-NOTES section 1 scenarios at full size ({os.cpu_count()} cores, release build); every line checked exactly once, in order\n")
    print("| scenario | lines | MB | seconds | MB/s | agent CPU s | agent peak MiB | checked |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['what']} | {r['lines']:,} | {r['bytes'] / 1e6:,.0f} | {r['seconds']:.1f} | {r['bytes'] / 1e6 / r['seconds']:.1f} "
              f"| {r['cpu']:.1f} | {r['rss']:.0f} | {r['note']} |")


if __name__ == "__main__":
    main()
