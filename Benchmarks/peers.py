#!/usr/bin/env python3
"""tailcast beside the tools users pick today, in one run: `ssh -C host tail -F`, websocketd serving
`tail -F`, and tailcast (`tail` on the file and `run` wrapping the writer), by default and with its
low-latency setting. Prints one Markdown table.

Every row reads the same bytes, written by emit.py from ../shared/corpus/logs, and checks them: in
order, each once. Each peer's one connection to its reader (tailcast: the agent's uplink) crosses
a counting relay, so every row pays the same hop; the throughput runs go without it.
"""
import argparse
import getpass
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import fanout
from bench import REPO, free_port, gzip6
from harness import (READY, Corpus, CpuMeter, TailcastServer, ensure_tools, latencies_ms, opened_by, percentiles,
                     read_times, stop, wait_until)
from lineframes import FrameParser, handshake
from relay import Relay


class ByteReader:
    """Reads a pipe on a thread: when (time.time()) each byte arrived, checked against the expected bytes."""

    def __init__(self, source, expected):
        self.expected = expected
        self.got = 0
        self.times, self.ends = [], []
        self.error = None
        self.done = threading.Event()
        threading.Thread(target=self.read, args=(source,), daemon=True).start()

    def read(self, pipe):
        while self.got < len(self.expected):
            data = os.read(pipe.fileno(), 1 << 20)
            now = time.time()
            if not data:
                self.error = f"the reader's output ended after {self.got:,} of {len(self.expected):,} bytes"
                break
            if data != self.expected[self.got:self.got + len(data)]:
                self.error = f"bytes at {self.got:,} differ from what was written"
                break
            self.got += len(data)
            self.times.append(now)
            self.ends.append(self.got)
        self.done.set()


class WebSocketLineReader(ByteReader):
    """websocketd's reader: each message is one line, its end of line taken off."""

    def read(self, port):
        try:
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.sendall(handshake("127.0.0.1", port))
                parser = FrameParser()
                while self.got < len(self.expected) and not parser.closed:
                    data = sock.recv(1 << 20)
                    now = time.time()
                    if not data:
                        break
                    for message in parser.feed(data):
                        end = self.expected.index(b"\n", self.got) + 1
                        if message != self.expected[self.got:end].removesuffix(b"\n").removesuffix(b"\r"):
                            raise ValueError(f"line at {self.got:,} differs from what was written")
                        self.got = end
                    if parser.replies:
                        sock.sendall(parser.replies)
                        parser.replies.clear()
                    self.times.append(now)
                    self.ends.append(self.got)
            if self.got < len(self.expected):
                self.error = f"the connection ended after {self.got:,} of {len(self.expected):,} bytes"
        except (OSError, ValueError, ConnectionError) as error:
            self.error = str(error)
        self.done.set()


class Session:
    """One measured stream: the serving processes, the reader, the writer and the relay, if any."""

    def __init__(self):
        self.processes = []  # stopped in reverse order
        self.relay = None
        self.reader = None
        self.serving, self.serving_alone, self.reading = [], [], []

    def spawn(self, command, **options):
        process = subprocess.Popen(command, **options)
        self.processes.append(process)
        return process

    def stop(self):
        for process in reversed(self.processes):
            stop(process)
        if self.relay:
            self.relay.close()


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


class Ssh:
    """A test-only sshd on a free loopback port, its own host key and user key, started per session."""

    name = "`ssh -C host tail -F`"

    def __init__(self, workdir):
        self.dir = Path(workdir) / "ssh"
        self.dir.mkdir()
        for key in ("host", "user"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.dir / key)], check=True)
        shutil.copy(self.dir / "user.pub", self.dir / "authorized_keys")
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory

    def open(self, session, log, writer, expected, relay):
        port = free_port()
        config = self.dir / f"sshd_config.{port}"
        config.write_text(f"ListenAddress 127.0.0.1\nPort {port}\nHostKey {self.dir / 'host'}\n"
                          f"AuthorizedKeysFile {self.dir / 'authorized_keys'}\nPidFile none\nUsePAM no\nStrictModes no\n"
                          "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
                          "Compression yes\n")
        sshd = session.spawn(["/usr/sbin/sshd", "-D", "-f", str(config)], stderr=subprocess.DEVNULL)
        wait_until(lambda: listening(port), 10, "test sshd listening")
        if relay:
            session.relay = Relay(port)
            port = session.relay.port
        client = session.spawn(["ssh", "-C", "-o", "Compression=yes", "-i", str(self.dir / "user"), "-o", "BatchMode=yes",
                                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                                "-p", str(port), f"{getpass.getuser()}@127.0.0.1", "tail", "-F", "-n", "0", str(log)],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        wait_until(lambda: opened_by(sshd.pid, log), 20, "tail -F under sshd opening the file")
        session.spawn(writer, stdout=open(log, "ab"))
        session.reader = ByteReader(client.stdout, expected)
        session.serving, session.reading = [sshd.pid], [client.pid]


class Websocketd:
    name = "websocketd + `tail -F`"

    def open(self, session, log, writer, expected, relay):
        port = free_port()
        server = session.spawn(["websocketd", "--port", str(port), "--address", "127.0.0.1", "--loglevel", "error",
                                "tail", "-F", "-n", "0", str(log)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: listening(port), 10, "websocketd listening")
        if relay:
            session.relay = Relay(port)
            port = session.relay.port
        session.reader = WebSocketLineReader(port, expected)
        wait_until(lambda: opened_by(server.pid, log), 20, "tail -F under websocketd opening the file")
        session.spawn(writer, stdout=open(log, "ab"))
        session.serving = [server.pid]


class Tailcast:
    """`tailcast tail` following the file, or `tailcast run` wrapping the writer; `tailcast watch --raw` reads."""

    def __init__(self, binary, server, workdir, command, low_latency):
        self.binary, self.server, self.workdir = binary, server, Path(workdir)
        self.command, self.low_latency = command, low_latency
        self.name = f"tailcast {'low-latency' if low_latency else 'default'}, `{command}`" + (
            " `--flush-window-ms 0`" if low_latency else "")
        self.jobs = 0

    def open(self, session, log, writer, expected, relay):
        self.jobs += 1
        job = f"peers-{self.command}-{'low' if self.low_latency else 'default'}-{self.jobs}"
        url = self.server.url
        if relay:
            session.relay = Relay(self.server.port)
            url = f"ws://127.0.0.1:{session.relay.port}"
        flush = ["--flush-window-ms", "0"] if self.low_latency else []
        env = dict(os.environ, TAILCAST_SPOOL=str(self.workdir / "spool"))
        if self.command == "run":
            agent = session.spawn([self.binary, "run", "--job", job, "--no-pty", "--quiet", "--server", url, *flush, "--", *writer],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            agent = session.spawn([self.binary, "tail", "--job", job, "--server", url, *flush,
                                   "--state-dir", str(log) + ".state", str(log)],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: self.server.has_job(job), 20, f"job {job} at the server")
        watcher = session.spawn([self.binary, "watch", job, "--raw", "--server", self.server.url],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        if self.command == "tail":
            wait_until(lambda: opened_by(agent.pid, log), 20, "tailcast tail opening the file")
            session.spawn(writer, stdout=open(log, "ab"))
        session.reader = ByteReader(watcher.stdout, expected)
        # run's children are the job: only the agent itself counts.
        session.serving, session.serving_alone, session.reading = [self.server.process.pid], [agent.pid], [watcher.pid]


def measure(peer, workdir, writer, expected, relay, timeout):
    """Runs one session; returns what it measured, or {"error": ...}."""
    folder = Path(tempfile.mkdtemp(dir=workdir))
    log, go = folder / "log", folder / "go"
    log.write_bytes(b"")
    session = Session()
    try:
        command = writer(go)
        peer.open(session, log, command, expected, relay)
        wait_until(lambda: session.reader.got >= len(READY) or session.reader.done.is_set(), 30, "the reader showing the first line")
        serving = CpuMeter(session.serving, session.serving_alone)
        reading = CpuMeter(session.reading, [])
        start = time.time()
        go.write_bytes(b"")
        finished = session.reader.done.wait(timeout)
        elapsed = time.time() - start
        if finished and "--times" in command:
            # The writer saves its write times after its last line, which the reader may have seen already.
            times = Path(command[command.index("--times") + 1])
            wait_until(times.exists, 10, "the writer saving its write times")
        result = {"seconds": elapsed, "serving_cpu": serving.used(), "reading_cpu": reading.used(),
                  "bytes": session.reader.got, "expected": len(expected), "times": session.reader.times,
                  "ends": session.reader.ends, "folder": folder}
        if relay:
            up, down = session.relay.counts()
            result["up"], result["down"] = up, down
        if session.reader.error or not finished:
            result["error"] = session.reader.error or f"{session.reader.got:,} of {len(expected):,} bytes within {timeout} s"
        return result
    except (TimeoutError, OSError) as error:
        return {"error": str(error)}
    finally:
        session.stop()


def rate_run(peer, corpus, workdir, rate, count):
    count = corpus.whole(count)
    expected, ends = corpus.stream(count)
    result = measure(peer, workdir, lambda go: corpus.writer(rate, count, go, Path(go).with_name("times")),
                     expected, relay=True, timeout=count / rate + 60)
    if "times" in result:
        write_times = read_times(result["folder"] / "times")
        delays = latencies_ms(write_times, ends, result["times"], result["ends"])
        result.update(percentiles(delays), lines=len(delays), of_lines=count)
        result["raw"] = len(expected)
        result["gzip6"] = gzip6(expected)
        del result["times"], result["ends"]
    return result


def throughput_run(peer, workdir, big):
    expected = READY + big.read_bytes()
    writer = lambda go: ["sh", "-c", f"echo ready; while [ ! -e {go} ]; do sleep 0.002; done; exec cat {big}"]
    result = measure(peer, workdir, writer, expected, relay=False, timeout=120)
    result.pop("times", None), result.pop("ends", None)
    return result


def run_peers(binary, quick):
    ensure_tools()
    corpus = Corpus()
    workdir = tempfile.mkdtemp(prefix="tailcast-peers-")
    server = TailcastServer(binary, Path(workdir) / "data")
    tail_low = "--flush-window-ms" in subprocess.run([binary, "tail", "--help"], capture_output=True, text=True).stdout
    peers = [Ssh(workdir), Websocketd(),
             Tailcast(binary, server, workdir, "tail", False), Tailcast(binary, server, workdir, "run", False),
             Tailcast(binary, server, workdir, "tail", True) if tail_low else None,
             Tailcast(binary, server, workdir, "run", True)]
    rates = ((2000, 6000), (20000, 20000)) if quick else ((2000, len(corpus.lines)), (20000, 60000))
    big = Path(workdir) / "big.log"
    with open(big, "wb") as f:
        while f.tell() < (20 if quick else 100) << 20:
            f.write(b"".join(corpus.lines))
        f.write(b"\n")
    rows = []
    try:
        for peer in peers:
            if peer is None:
                rows.append({"name": "tailcast low-latency, `tail` `--flush-window-ms 0`", "na": True})
                continue
            row = {"name": peer.name}
            for rate, count in rates:
                print(f"... {peer.name}: {rate:,} lines/s", file=sys.stderr, flush=True)
                row[rate] = rate_run(peer, corpus, workdir, rate, count)
            print(f"... {peer.name}: throughput", file=sys.stderr, flush=True)
            row["throughput"] = throughput_run(peer, workdir, big)
            rows.append(row)
    finally:
        server.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return rows, rates


def table(rows, rates):
    def ratio(r):
        if "up" not in r:
            return "–"
        value = r["raw"] / (r["up"] + r["down"])
        return f"{value:.2f}x ({value / (r['raw'] / r['gzip6']):.2f})"

    def latency(r):
        if r.get("p50") is None:
            return "–"
        return f"{r['p50']:.2f} / {r['p99']:.2f} / {r['max']:.1f}"

    def lines(r):
        if "error" in r and "lines" not in r:
            return r["error"]
        text = f"{r['lines']:,}/{r['of_lines']:,}"
        return text + (f" ({r['error']})" if "error" in r else "")

    def cpu(r):
        if "serving_cpu" not in r:
            return "–"
        megabytes = r["bytes"] / 1e6
        return f"{r['serving_cpu'] / megabytes:.2f} / {r['reading_cpu'] / megabytes:.2f}"

    slow, fast = (rate for rate, _ in rates)
    out = [f"| peer | wire ratio at {slow:,} lines/s (of gzip -6) | at {fast:,} | latency ms p50 / p99 / max at {slow:,} lines/s "
           f"| at {fast:,} | lines checked at {slow:,} / {fast:,} | throughput MB/s | CPU s/MB at {slow:,} lines/s: serving / reader "
           "| CPU s/MB at full speed: serving / reader |",
           "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        if row.get("na"):
            out.append(f"| {row['name']} | n/a (`tail` takes no `--flush-window-ms`) | | | | | | | |")
            continue
        t = row["throughput"]
        speed = f"{t['bytes'] / t['seconds'] / 1e6:.1f}" if "error" not in t else f"– ({t['error']})"
        out.append(f"| {row['name']} | {ratio(row[slow])} | {ratio(row[fast])} | {latency(row[slow])} | {latency(row[fast])} "
                   f"| {lines(row[slow])} / {lines(row[fast])} | {speed} | {cpu(row[slow])} | {cpu(t)} |")
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", default=str(REPO / ".build" / "release" / "tailcast"))
    parser.add_argument("--quick", action="store_true", help="shorter runs; fan-out to 100 watchers at most")
    parser.add_argument("--part", choices=("peers", "fanout", "both"), default="both")
    parser.add_argument("--json")
    args = parser.parse_args()
    results = {}
    print(f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start, "
          f"{subprocess.run([args.binary, '--version'], capture_output=True, text=True).stdout.strip()}\n")
    if args.part != "fanout":
        rows, rates = run_peers(args.binary, args.quick)
        results["peers"] = rows
        print(table(rows, rates) + "\n", flush=True)
    if args.part != "peers":
        rows, lines = fanout.run_fanout(args.binary, args.quick)
        results["fanout"] = rows
        print(fanout.table(rows, lines), flush=True)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
