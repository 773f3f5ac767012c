#!/usr/bin/env python3
"""tailcast benchmark: wire ratio, latency, throughput, CPU and memory, side by side in one run.

Everything runs on this machine over 127.0.0.1 with the release binary: a real `serve`, a real
`run` wrapping an emitter, a real `watch`. Prints a table; --json FILE also writes the numbers.
"""
import argparse
import bisect
import gzip
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib
from pathlib import Path

from relay import Relay

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CORPUS = REPO.parent / "shared" / "corpus" / "logs"


STAMP = re.compile(rb"T(1[0-9]{9}\.[0-9]{6}) ")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TimingRelay:
    """A TCP relay in this process that notes when the agent's bytes arrive: where a line's time goes, the
    agent's share or the server's. (Wire bytes are counted by `relay.Relay`, out of process.)"""

    def __init__(self, target_port):
        self.target = target_port
        self.port = free_port()
        self.up = 0
        self.down = 0
        # When bytes from the agent came in: where a line's time goes, the agent's share or the server's.
        self.arrivals = []
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self.pump, args=(client, server, "up"), daemon=True).start()
            threading.Thread(target=self.pump, args=(server, client, "down"), daemon=True).start()

    def pump(self, source, sink, direction):
        try:
            while True:
                data = source.recv(1 << 16)
                if not data:
                    break
                with self.lock:
                    setattr(self, direction, getattr(self, direction) + len(data))
                    if direction == "up":
                        self.arrivals.append(time.time())
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def proc_stat(pid):
    """(CPU seconds, peak RSS MiB) of a live process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = 0.0
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            rss = int(line.split()[1]) / 1024
    return cpu, rss


def wait4(process):
    """Waits for a child; returns (exit status, CPU seconds, max RSS MiB)."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


class Bench:
    def __init__(self, binary, workdir, serve_args=()):
        self.binary = binary
        self.workdir = Path(workdir)
        self.port = free_port()
        self.url = f"ws://127.0.0.1:{self.port}"
        # Where watchers connect: this server, or another node of a cluster (Benchmarks/cluster.py).
        self.watch_port = self.port
        self.files = sorted(str(p) for p in CORPUS.glob("*.log"))
        self.corpus = b"".join(Path(f).read_bytes() for f in self.files)
        self.corpus_lines = sum(len(Path(f).read_bytes().splitlines()) for f in self.files)
        self.env = dict(os.environ, TAILCAST_SPOOL=str(self.workdir / "spool"))
        self.server = subprocess.Popen(
            [binary, "serve", "--port", str(self.port), "--data", str(self.workdir / "data"), "--log-level", "warning",
             *serve_args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.05)

    def close(self):
        self.server.terminate()
        self.server.wait()

    def server_cpu(self):
        return proc_stat(self.server.pid)[0]

    def server_rss_mib(self):
        return proc_stat(self.server.pid)[1]

    def wait_for_job(self, job):
        """Until the agent has said hello (and the watchers' node knows it): a watcher started earlier
        would find no job."""
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.watch_port}/v1/jobs/{job}", timeout=1)
                return
            except OSError:
                time.sleep(0.005)

    def emitter(self, rate, lines, stamp=False):
        return [sys.executable, str(HERE / "emit.py"), "--rate", str(rate), "--lines", str(lines),
                *(["--stamp"] if stamp else []), *self.files]

    def run_job(self, job, command, server_url=None, window=None):
        return subprocess.Popen([self.binary, "run", "--job", job, "--no-pty", "--quiet", "--server", server_url or self.url,
                                 *([] if window is None else ["--flush-window-ms", str(window)]), "--", *command],
                                env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    # --- wire ratio ---------------------------------------------------------------------------
    def wire_ratio(self, rate, agent="run", window=None):
        """Raw bytes over the bytes between agent and server, with `run` wrapping the emitter or `tail`
        following the file it writes; `window` is --flush-window-ms (None: the default)."""
        relay = Relay(self.port)
        job = f"ratio-{agent}-{rate}-{window}"
        server_url = f"ws://127.0.0.1:{relay.port}"
        if agent == "run":
            process = self.run_job(job, self.emitter(rate, self.corpus_lines), server_url=server_url, window=window)
            status, cpu, rss = wait4(process)
            assert status == 0, process.stderr.read()
            time.sleep(0.3)
            archived = self.archived_stdout(job)
        else:
            log, process = self.tail_job(job, server_url=server_url, window=window)
            with open(log, "ab", buffering=0) as out:
                subprocess.run(self.emitter(rate, self.corpus_lines), stdout=out, check=True)
            archived = self.tail_archived(job, len(self.corpus))
            cpu, rss = proc_stat(process.pid)
            process.terminate()
            process.wait()
        up, down = relay.counts()
        relay.close()
        assert archived == self.corpus, "archive differs from what was written"
        return {"raw": len(self.corpus), "up": up, "down": down, "agent_cpu": cpu, "agent_rss": rss}

    def archived_stdout(self, job):
        """An ended `run` job's stdout as archived: stdout.log, or stdout.log.gz once the server compressed it."""
        log = self.workdir / "data" / "jobs" / job / "streams" / "stdout.log"
        try:
            return log.read_bytes()
        except FileNotFoundError:
            return gzip.decompress(Path(f"{log}.gz").read_bytes())

    def tail_job(self, job, server_url=None, window=None):
        """`tailcast tail` following one empty file; returns the file and the agent once it reads it."""
        folder = self.workdir / job
        folder.mkdir()
        log = folder / "job.log"
        log.write_bytes(b"")
        process = subprocess.Popen([self.binary, "tail", "--job", job, "--server", server_url or self.url, "--state-dir", str(folder / "state"),
                                    *([] if window is None else ["--flush-window-ms", str(window)]), str(log)],
                                   env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.wait_for_job(job)
        time.sleep(0.5)  # the file is opened (at its end) before the first line is written
        return log, process

    def tail_archived(self, job, size, timeout=30):
        """The archive of a one-file tail job once it holds `size` bytes."""
        deadline = time.monotonic() + timeout
        while True:
            streams = list((self.workdir / "data" / "jobs" / job / "streams").glob("*.log"))
            if streams and streams[0].stat().st_size >= size or time.monotonic() > deadline:
                return streams[0].read_bytes() if streams else b""
            time.sleep(0.05)

    # --- latency ------------------------------------------------------------------------------
    def latency(self, rate, seconds, terminal=False, agent="run", window=None, tag=""):
        """Percentiles of (printed by the watcher − written), and of (reached the server − written): the
        agent talks through a relay that notes when its bytes arrive (a line's are the first after it).
        `tag` tells apart rows that share a store, where a job id can be used once."""
        job = f"latency{tag}-{agent}-{window}-{rate}-{'tty' if terminal else 'pipe'}"
        lines = int(rate * seconds)
        watch = [self.binary, "watch", job, "--server", f"ws://127.0.0.1:{self.watch_port}"]
        relay = TimingRelay(self.port)
        via = f"ws://127.0.0.1:{relay.port}"
        if agent == "run":
            process = self.run_job(job, self.emitter(rate, lines, stamp=True), server_url=via, window=window)
            self.wait_for_job(job)
        else:
            log, process = self.tail_job(job, server_url=via, window=window)
            watch += ["--stream", str(log)]
        delays = []
        written = []
        if terminal:
            master, slave = pty.openpty()
            watcher = subprocess.Popen(watch, stdout=slave, stderr=subprocess.DEVNULL)
            os.close(slave)
            reader = os.fdopen(master, "rb", buffering=0)
        else:
            watcher = subprocess.Popen(watch, stdout=subprocess.PIPE)
            reader = watcher.stdout
        if agent == "tail":
            time.sleep(0.5)  # the watcher is attached before the first line
            out = open(log, "ab", buffering=0)
            emitter = subprocess.Popen(self.emitter(rate, lines, stamp=True), stdout=out)
        pending = b""
        # The corpus ends without a newline. That last line is counted as arrived but its delay is not
        # taken: the watcher holds a partial line up to 1 s, and `tail` up to 5 s, by design (it used to
        # be dropped from the tail rows: 9,999 of 10,000).
        unterminated = 0
        while len(delays) + unterminated < lines:
            # A tail job never ends: its watcher is stopped once every line came (or a last line without
            # newline waited and the next look came to nothing).
            if agent == "tail" and not select.select([reader], [], [], 8)[0]:
                data = b""
            else:
                try:
                    data = os.read(reader.fileno(), 1 << 16)  # returns what is there, like a terminal would show it
                except OSError:  # pty closed
                    data = b""
            now = time.time()
            if not data:
                unterminated = len(STAMP.findall(pending))
                break
            pending += data
            *complete, pending = pending.split(b"\n")
            # Corpus files that end without a newline join two emitted lines: read every stamp.
            for match in STAMP.finditer(b"\n".join(complete)):
                written.append(float(match.group(1)))
                delays.append((now - written[-1]) * 1000)
        if agent == "tail":
            emitter.wait()
            out.close()
            watcher.terminate()
            process.terminate()
        watcher.wait()
        process.wait()
        arrivals = sorted(relay.arrivals)
        upstream = sorted((arrivals[i] - w) * 1000 for w in written if (i := bisect.bisect_left(arrivals, w)) < len(arrivals))
        delays.sort()
        def pct(values, p):
            return values[min(len(values) - 1, int(len(values) * p / 100))]
        return {"lines": len(delays) + unterminated, "expected": lines, "p50": pct(delays, 50), "p90": pct(delays, 90), "p99": pct(delays, 99),
                "max": delays[-1], "up_p50": pct(upstream, 50), "up_p99": pct(upstream, 99)}

    # --- throughput ---------------------------------------------------------------------------
    def throughput(self, megabytes):
        source = self.workdir / "big.log"
        with open(source, "wb") as f:
            while f.tell() < megabytes << 20:
                f.write(self.corpus)
        size = source.stat().st_size
        cpu0 = self.server_cpu()
        start = time.monotonic()
        agent = self.run_job("throughput", ["cat", str(source)])
        self.wait_for_job("throughput")
        watcher = subprocess.Popen([self.binary, "watch", "throughput", "--server", f"ws://127.0.0.1:{self.watch_port}"],
                                   stdout=subprocess.PIPE)
        received = 0
        while True:
            data = os.read(watcher.stdout.fileno(), 1 << 20)
            if not data:
                break
            received += len(data)
        _, watch_cpu, watch_rss = wait4(watcher)
        _, agent_cpu, agent_rss = wait4(agent)
        elapsed = time.monotonic() - start
        assert received == size, f"watcher got {received} of {size} bytes"
        archived = len(self.archived_stdout("throughput"))
        assert archived == size
        result = {"bytes": size, "seconds": elapsed, "mbps": size / elapsed / 1e6, "agent_cpu": agent_cpu, "agent_rss": agent_rss,
                  "watch_cpu": watch_cpu, "watch_rss": watch_rss, "server_cpu": self.server_cpu() - cpu0}
        self.settle()
        return result

    def settle(self, quiet=0.02, timeout=60):
        """Waits until the server is idle: once a job ends, the server compresses its streams at rest
        (about a second of CPU per 100 MiB), which would slow whatever is measured next on these cores."""
        deadline = time.monotonic() + timeout
        last = self.server_cpu()
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now = self.server_cpu()
            if now - last < quiet:
                return
            last = now


    # --- stalled watchers ----------------------------------------------------------------------
    def fanout(self, megabytes, stopped):
        """The job's delivery speed (agent → archive, acknowledged) and a live watcher's, with
        `stopped` more watchers that read nothing (SIGSTOP, as a sleeping laptop)."""
        source = self.workdir / "fanout.log"
        if not source.exists():
            with open(source, "wb") as f:
                while f.tell() < megabytes << 20:
                    f.write(self.corpus)
        size = source.stat().st_size
        job = f"fanout-{stopped}"
        # Half a second before the first byte, so the watchers are attached when the data flows.
        agent = self.run_job(job, ["sh", "-c", f"sleep 0.5; exec cat {source}"])
        start = time.monotonic()
        self.wait_for_job(job)
        watchers = [subprocess.Popen([self.binary, "watch", job, "--server", self.url], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL) for _ in range(stopped + 1)]
        live = {}

        def read_live():
            received = 0
            while data := os.read(watchers[0].stdout.fileno(), 1 << 20):
                received += len(data)
            live["seconds"] = time.monotonic() - start - 0.5
            live["bytes"] = received
        reader = threading.Thread(target=read_live)
        reader.start()
        time.sleep(0.2)
        for watcher in watchers[1:]:
            watcher.send_signal(signal.SIGSTOP)
        assert wait4(agent)[0] == 0, agent.stderr.read()
        elapsed = time.monotonic() - start - 0.5
        reader.join()
        assert live["bytes"] == size, f"the live watcher got {live['bytes']} of {size} bytes"
        for watcher in watchers[1:]:
            watcher.send_signal(signal.SIGCONT)
            watcher.kill()
        for watcher in watchers:
            watcher.wait()
        return {"bytes": size, "mbps": size / elapsed / 1e6, "watcher_mbps": size / live["seconds"] / 1e6}

    # --- tail ------------------------------------------------------------------------------------
    def tail_many(self, files, active, rate, seconds, poll):
        """`tailcast tail` over `files` files, `active` of them written at `rate` lines/s each: the
        agent's CPU (% of one core) and peak memory, and every line delivered. inotify, or polling."""
        folder = self.workdir / f"many-{'poll' if poll else 'events'}"
        folder.mkdir()
        for index in range(files):
            (folder / f"f{index:04d}.log").write_bytes(b"")
        job = f"many-{'poll' if poll else 'events'}"
        env = {**self.env, "TAILCAST_TAIL_POLL": "1" if poll else "0"}
        agent = subprocess.Popen([self.binary, "tail", "--job", job, "--server", self.url, "--state-dir", str(folder) + ".state",
                                  str(folder / "*.log")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(3)  # opened every file
        before, start = proc_stat(agent.pid)[0], time.monotonic()
        handles = [open(folder / f"f{index:04d}.log", "ab", buffering=0) for index in range(active)]
        line = 0
        while time.monotonic() - start < seconds:
            for handle in handles:
                handle.write(b"%08d a line of an active log file, written at a steady rate\n" % line)
            line += 1
            time.sleep(max(0, start + line / rate - time.monotonic()))
        used = proc_stat(agent.pid)[0] - before
        elapsed = time.monotonic() - start
        for handle in handles:
            handle.close()
        expected = line * 64
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if sum(p.stat().st_size for p in (self.workdir / "data" / "jobs" / job / "streams").glob("*.log")) >= expected * active:
                break
            time.sleep(0.2)
        delivered = sum(p.stat().st_size for p in (self.workdir / "data" / "jobs" / job / "streams").glob("*.log"))
        rss = proc_stat(agent.pid)[1]
        agent.terminate()
        agent.wait()
        assert delivered == expected * active, f"delivered {delivered} of {expected * active} bytes"
        return {"cpu_percent": 100 * used / elapsed, "rss_mib": rss, "lines": line * active}

    def tail_read(self, megabytes):
        """What the tailer alone does: read a file, cut it into lines, frame them into the spool (the
        uplink's input). The server is unreachable, so nothing is compressed or sent; the clock stops
        when the spool holds the whole file."""
        folder = self.workdir / "read"
        folder.mkdir()
        log = folder / "read.log"
        with open(log, "wb") as f:
            while f.tell() < megabytes << 20:
                f.write(self.corpus)
            f.write(b"\n")  # the last line is complete, so it goes at once (a partial one waits 5 s)
        size = log.stat().st_size
        start = time.monotonic()
        agent = subprocess.Popen([self.binary, "tail", "--job", "read", "--from-start", "--server", f"ws://127.0.0.1:{free_port()}",
                                  "--state-dir", str(folder / "state"), str(log)],
                                 env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        spool = folder / "state" / "spool" / "spool.bin"
        while not spool.exists() or spool.stat().st_size < size:
            time.sleep(0.002)
        elapsed = time.monotonic() - start
        agent.terminate()
        agent.wait()
        return {"bytes": size, "mbps": size / elapsed / 1e6}

    def tail_one_fast(self, megabytes):
        """One file written as fast as the disk allows while `tail` follows it: MB/s until the server
        holds it all (reading, framing, compression, archive)."""
        folder = self.workdir / "fast"
        folder.mkdir()
        log = folder / "fast.log"
        log.write_bytes(b"")
        agent = subprocess.Popen([self.binary, "tail", "--job", "fast", "--server", self.url, "--state-dir", str(folder / "state"),
                                  str(log)], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2)
        start = time.monotonic()
        with open(log, "ab") as f:
            while f.tell() < megabytes << 20:
                f.write(self.corpus)
            f.write(b"\n")
        size = log.stat().st_size
        written = time.monotonic() - start
        archived = self.workdir / "data" / "jobs" / "fast" / "streams"
        while sum(p.stat().st_size for p in archived.glob("*.log")) < size:
            time.sleep(0.01)
        elapsed = time.monotonic() - start
        agent.terminate()
        agent.wait()
        return {"bytes": size, "mbps": size / elapsed / 1e6, "write_mbps": size / written / 1e6}

    # --- progress parsing cost -----------------------------------------------------------------
    def parsing(self, megabytes):
        """100 MB of tqdm-heavy output (real captures, bars and logs) through the agent, parsing on and off."""
        progress = REPO.parent / "shared" / "corpus" / "progress"
        sample = b"".join((progress / name / "output.raw").read_bytes() for name in sorted(p.name for p in progress.iterdir())
                          if name.startswith(("tqdm", "rich")))
        source = self.workdir / "progress.log"
        with open(source, "wb") as f:
            while f.tell() < megabytes << 20:
                f.write(sample)
                f.write(self.corpus[:len(sample) // 4])
        size = source.stat().st_size
        best = {True: 0.0, False: 0.0}
        for attempt in range(3):
            for parse in (False, True):
                job = f"parse-{parse}-{attempt}"
                start = time.monotonic()
                agent = subprocess.Popen([self.binary, "run", "--job", job, "--no-pty", "--quiet", "--server", self.url,
                                          *([] if parse else ["--no-progress"]), "--", "cat", str(source)],
                                         env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                assert wait4(agent)[0] == 0, agent.stderr.read()
                best[parse] = max(best[parse], size / (time.monotonic() - start) / 1e6)
        return {"bytes": size, "off": best[False], "on": best[True]}


def gzip6(data):
    return len(subprocess.run(["gzip", "-6", "-c"], input=data, capture_output=True, check=True).stdout)


def per_line_deflate(data):
    """What `ssh -C` does: one zlib sync flush per line (one SSH packet per write)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    total = 0
    for line in data.splitlines(keepends=True):
        total += len(compressor.compress(line) + compressor.flush(zlib.Z_SYNC_FLUSH))
    return total


# (agent, --flush-window-ms or None for the default, lines/s): the settings compared on the wire and in time.
WIRE_ROWS = [("run", None, 2000), ("run", None, 20000), ("tail", None, 2000), ("run", 0, 2000), ("tail", 0, 2000)]
# (agent, window, lines/s, seconds, watcher into a terminal)
LATENCY_ROWS = [("run", None, 2000, 5, False), ("run", None, 2000, 5, True), ("run", None, 20000, 3, False), ("run", None, 20000, 3, True),
                ("tail", None, 2000, 5, False), ("tail", None, 20000, 3, False),
                ("run", 0, 2000, 5, False), ("run", 0, 20000, 3, False), ("tail", 0, 2000, 5, False), ("tail", 0, 20000, 3, False)]


def setting_name(window):
    return "default" if window is None else f"--flush-window-ms {window}"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", default=str(REPO / ".build" / "release" / "tailcast"))
    parser.add_argument("--throughput-mib", type=int, default=200)
    parser.add_argument("--json")
    parser.add_argument("--only", help="comma-separated sections: wire,latency,throughput,fanout,tail,parsing (default: all)")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="tailcast-bench-")
    bench = Bench(args.binary, workdir)
    results = {}
    try:
        def step(name):
            print(f"... {name}", file=sys.stderr, flush=True)
        raw = len(bench.corpus)
        sections = set((args.only or "wire,latency,throughput,fanout,tail,parsing").split(","))
        results["gzip6_ratio"] = raw / gzip6(bench.corpus)
        results["per_line_ratio"] = raw / per_line_deflate(bench.corpus)
        if "wire" in sections:
            for agent, window, rate in WIRE_ROWS:
                step(f"wire ratio, {agent} {setting_name(window)}, {rate:,} lines/s")
                results[f"wire_{agent}_{window}_{rate}"] = bench.wire_ratio(rate, agent, window)
        if "latency" in sections:
            for agent, window, rate, seconds, terminal in LATENCY_ROWS:
                step(f"latency, {agent} {setting_name(window)}, {rate:,} lines/s, watcher into a {'terminal' if terminal else 'pipe'}")
                results[f"latency_{agent}_{window}_{rate}_{'tty' if terminal else 'pipe'}"] = bench.latency(rate, seconds, terminal, agent, window)
        if "throughput" in sections:
            step(f"throughput, {args.throughput_mib} MiB")
            results["throughput"] = bench.throughput(args.throughput_mib)
        if "fanout" in sections:
            step("delivery and a live watcher, alone and beside 4 stopped watchers (100 MiB each)")
            results["fanout_none"] = bench.fanout(100, 0)
            results["fanout_stopped"] = bench.fanout(100, 4)
        if "tail" in sections:
            step("tail: 1,000 files, 10 written at 100 lines/s for 20 s, with inotify and with polling")
            results["tail_events"] = bench.tail_many(1000, 10, 100, 20, poll=False)
            results["tail_poll"] = bench.tail_many(1000, 10, 100, 20, poll=True)
            step("tail: one file written as fast as possible, 200 MiB; and read into the spool alone, 60 MiB")
            results["tail_fast"] = bench.tail_one_fast(200)
            results["tail_read"] = bench.tail_read(60)
        if "parsing" in sections:
            step("progress parsing on and off, 100 MiB of tqdm-heavy output")
            results["parsing"] = bench.parsing(100)
        results["server_rss_mib"] = bench.server_rss_mib()
    finally:
        bench.close()
        shutil.rmtree(workdir, ignore_errors=True)

    g = results["gzip6_ratio"]
    print(f"\ntailcast benchmark — corpus: {len(bench.files)} real logs, {raw:,} bytes, {bench.corpus_lines:,} lines, {os.cpu_count()} cores\n")
    print("| wire (raw log bytes / bytes on the TCP connection, both directions) | ratio | vs gzip -6 |")
    print("|---|---|---|")
    print(f"| gzip -6 of the whole corpus as one file (reference) | {g:.2f}x | 1.00 |")
    print(f"| one deflate sync flush per line, as `ssh -C` sends (same bytes) | {results['per_line_ratio']:.2f}x | {results['per_line_ratio'] / g:.2f} |")
    for agent, window, rate in WIRE_ROWS:
        if (w := results.get(f"wire_{agent}_{window}_{rate}")):
            ratio = w["raw"] / (w["up"] + w["down"])
            print(f"| {agent} {setting_name(window)} at {rate:,} lines/s (up {w['up']:,} B, acks {w['down']:,} B) | {ratio:.2f}x | {ratio / g:.2f} |")
    if "latency" in sections:
        print("\n| latency, line written → watcher printed it | lines | p50 ms | p90 ms | p99 ms | max ms | reached the server p50 / p99 ms |")
        print("|---|---|---|---|---|---|---|")
    for agent, window, rate, _, terminal in LATENCY_ROWS:
        if (l := results.get(f"latency_{agent}_{window}_{rate}_{'tty' if terminal else 'pipe'}")):
            print(f"| {agent} {setting_name(window)}, {rate:,} lines/s, watcher into a {'terminal' if terminal else 'pipe'} | {l['lines']:,}/{l['expected']:,} | {l['p50']:.1f} | {l['p90']:.1f} | {l['p99']:.1f} | {l['max']:.1f} | {l['up_p50']:.1f} / {l['up_p99']:.1f} |")
    if (t := results.get("throughput")):
        print_throughput(results, t)
    if "fanout_none" in results:
        print_fanout(results)
    if "tail_events" in results:
        print_tail(results)
    if "parsing" in results:
        print_parsing(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


def print_throughput(results, t):
    print("\n| throughput: job → agent → server (archive) → one watcher | value |")
    print("|---|---|")
    print(f"| {t['bytes'] / 2**20:.0f} MiB of log, end to end | {t['mbps']:.1f} MB/s ({t['seconds']:.2f} s) |")
    print(f"| CPU seconds: agent / server / watcher | {t['agent_cpu']:.2f} / {t['server_cpu']:.2f} / {t['watch_cpu']:.2f} |")
    print(f"| peak memory MiB: agent / server / watcher | {t['agent_rss']:.0f} / {results['server_rss_mib']:.0f} / {t['watch_rss']:.0f} |")
    if (w := results.get("wire_run_None_2000")):
        print(f"| agent CPU per MB of log at 2,000 lines/s | {w['agent_cpu'] / (w['raw'] / 1e6):.2f} s |")


def print_fanout(results):
    f0, f4 = results["fanout_none"], results["fanout_stopped"]
    print(f"\n| {f0['bytes'] / 2**20:.0f} MiB job with one live watcher | job delivered (acknowledged) MB/s | live watcher MB/s |")
    print("|---|---|---|")
    print(f"| alone | {f0['mbps']:.1f} | {f0['watcher_mbps']:.1f} |")
    print(f"| beside 4 stopped (SIGSTOP) watchers | {f4['mbps']:.1f} ({f4['mbps'] / f0['mbps']:.2f}) | {f4['watcher_mbps']:.1f} ({f4['watcher_mbps'] / f0['watcher_mbps']:.2f}) |")


def print_tail(results):
    te, tp, tf = results["tail_events"], results["tail_poll"], results["tail_fast"]
    print("\n| `tailcast tail`: 1,000 files, 10 written at 100 lines/s each for 20 s | agent CPU (% of a core) | peak memory MiB |")
    print("|---|---|---|")
    print(f"| inotify (the default), {te['lines']:,} lines delivered | {te['cpu_percent']:.1f} | {te['rss_mib']:.0f} |")
    print(f"| polling every 250 ms (`TAILCAST_TAIL_POLL=1`), {tp['lines']:,} lines | {tp['cpu_percent']:.1f} | {tp['rss_mib']:.0f} |")
    tr = results["tail_read"]
    print(f"| one file written as fast as possible ({tf['bytes'] / 2**20:.0f} MiB, written at {tf['write_mbps']:.0f} MB/s), until archived (compression included) | {tf['mbps']:.1f} MB/s | |")
    print(f"| the tailer alone: {tr['bytes'] / 2**20:.0f} MiB read, cut into lines and framed into the spool (server unreachable) | {tr['mbps']:.1f} MB/s | |")


def print_parsing(results):
    p = results["parsing"]
    print(f"\n| progress parsing, {p['bytes'] / 2**20:.0f} MiB of tqdm/rich output through agent and server (best of 3) | MB/s |")
    print("|---|---|")
    print(f"| parsing off (`run --no-progress`) | {p['off']:.1f} |")
    print(f"| parsing on | {p['on']:.1f} ({p['on'] / p['off']:.2f} of off) |")


if __name__ == "__main__":
    main()
