#!/usr/bin/env python3
"""Fan-out: N watchers of one job at 2,000 lines/s, all held by one asyncio process (watchers.py),
against tailcast (one `tailcast run` wrapping emit.py) and websocketd (a `tail -F` per client).
Every line is checked at every watcher. Prints one Markdown table.

Per row: latency from write to each watcher (every line at every watcher), the server's CPU (cores
busy over the stream, and CPU seconds per added watcher against N = 1), its memory before the
watchers, with them connected and idle, and at its peak while streaming, the bytes on the wire per
watcher, and the load generator's own CPU, since it shares the machine's cores.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench import HERE, free_port
from harness import (Corpus, CpuMeter, TailcastServer, descendants, ensure_tools, opened_by, raise_open_files, rss_mib,
                     stop, wait_until)


class Sampler:
    """The peak resident memory of a process tree, read every 100 ms on a thread."""

    def __init__(self, root):
        self.root, self.peak = root, 0.0
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running:
            self.peak = max(self.peak, tree_rss(self.root))
            time.sleep(0.1)

    def stop(self):
        self.running = False
        self.thread.join()
        return self.peak


def tree_rss(root):
    return sum(rss_mib(pid) for pid in descendants(root))


def expect_line(process, line, timeout):
    """The load generator's next line; it says where it is."""
    result = {}

    def read():
        result["line"] = process.stdout.readline().strip()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    if result.get("line") != line:
        raise RuntimeError(f"load generator: expected {line!r}, got {result.get('line')!r}")


def measure(server_pid, load, go, deadline, rss_before):
    """From ready to the load generator's report: what the server and the load generator used."""
    expect_line(load, "ready", 150)
    idle = tree_rss(server_pid)
    meter = CpuMeter([server_pid], [])
    sampler = Sampler(server_pid)
    start = time.monotonic()
    go.write_bytes(b"")
    expect_line(load, "done", deadline + 30)
    seconds = time.monotonic() - start
    server_cpu = meter.used()
    peak = sampler.stop()
    report = load.stdout.readline()  # the load generator's analysis takes a while; the server is not measured during it
    if not report:
        raise RuntimeError("the load generator gave no report")
    result = json.loads(report)
    result.update(server_cpu=server_cpu, server_seconds=seconds, rss_before=rss_before, rss_idle=idle, rss_peak=peak)
    return result


def load_generator(program, target, job, count, lines, times, deadline):
    """program: the load generator and its leading arguments, as ["watchers.py", "tailcast"] or ["sse.py"]."""
    return subprocess.Popen([sys.executable, str(HERE / program[0]), *program[1:], str(target), *([job] if job else []),
                             "--count", str(count), "--lines", str(lines), "--times", str(times), "--deadline", str(deadline)],
                            stdout=subprocess.PIPE, text=True, preexec_fn=raise_open_files)


def tailcast_row(binary, corpus, workdir, count, lines, deadline):
    folder = Path(tempfile.mkdtemp(dir=workdir))
    go, times = folder / "go", folder / "times"
    server = TailcastServer(binary, folder / "data")
    processes = []
    try:
        job = f"fanout-{count}"
        agent = subprocess.Popen([binary, "run", "--job", job, "--no-pty", "--quiet", "--server", server.url, "--",
                                  *corpus.writer(2000, lines, go, times)],
                                 env=dict(os.environ, TAILCAST_SPOOL=str(folder / "spool")),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(agent)
        wait_until(lambda: server.has_job(job), 20, f"job {job} at the server")
        time.sleep(0.3)  # the agent's first line is in
        rss_before = tree_rss(server.process.pid)
        load = load_generator(["watchers.py", "tailcast"], server.url, job, count, lines, times, deadline)
        processes.insert(0, load)
        expect_line(load, "connected", 200)
        return measure(server.process.pid, load, go, deadline, rss_before)
    finally:
        for process in processes:
            stop(process)
        server.close()


def websocketd_row(corpus, workdir, count, lines, deadline):
    folder = Path(tempfile.mkdtemp(dir=workdir))
    go, times, log = folder / "go", folder / "times", folder / "log"
    log.write_bytes(b"")
    port = free_port()
    server = subprocess.Popen(["websocketd", "--port", str(port), "--address", "127.0.0.1", "--loglevel", "error",
                               "tail", "-F", "-n", "0", str(log)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              preexec_fn=raise_open_files)
    processes = [server]
    try:
        time.sleep(0.5)
        rss_before = tree_rss(server.pid)
        load = load_generator(["watchers.py", "websocketd"], port, None, count, lines, times, deadline)
        processes.insert(0, load)
        expect_line(load, "connected", 200)
        wait_until(lambda: opened_by(server.pid, log) >= count, 60, f"{count} tail -F under websocketd opening the file")
        processes.insert(0, subprocess.Popen(corpus.writer(2000, lines, go, times), stdout=open(log, "ab")))
        return measure(server.pid, load, go, deadline, rss_before)
    finally:
        for process in processes:
            stop(process)


def run_fanout(binary, quick, counts=None, websocketd_counts=(10, 100)):
    ensure_tools()
    raise_open_files()
    corpus = Corpus()
    lines = corpus.whole(6000 if quick else len(corpus.lines))
    deadline = lines / 2000 + (30 if quick else 60)
    workdir = tempfile.mkdtemp(prefix="tailcast-fanout-")
    rows = []
    try:
        for count in counts or ((1, 10, 100) if quick else (1, 10, 100, 1000)):
            print(f"... fan-out: tailcast, {count:,} watchers", file=sys.stderr, flush=True)
            rows.append(("tailcast", count, tailcast_row(binary, corpus, workdir, count, lines, deadline)))
        for count in websocketd_counts:
            print(f"... fan-out: websocketd, {count:,} watchers", file=sys.stderr, flush=True)
            rows.append(("websocketd", count, websocketd_row(corpus, workdir, count, lines, deadline)))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return rows, lines


def table(rows, lines):
    alone = {peer: r for peer, count, r in rows if count == 1}
    out = [f"| {lines:,} lines at 2,000 lines/s | watchers complete | lines checked | latency ms p50 / p99 / max "
           "| until every line was at every watcher, s | server CPU, cores busy | server CPU s | server CPU ms per added watcher per MB | server RSS MiB: before / idle / peak "
           "| RSS per watcher KiB: idle / peak | wire per watcher kB (ratio) | load generator CPU, cores busy |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for peer, count, r in rows:
        latency = "–" if r["p50"] is None else f"{r['p50']:.1f} / {r['p99']:.1f} / {r['max']:.1f}"
        base = alone.get(peer)
        # CPU per added watcher, per MB of log it was sent: comparable between runs of any length.
        added = (f"{(r['server_cpu'] - base['server_cpu']) / (count - 1) / (r['raw'] / 1e6) * 1000:.1f}"
                 if base and count > 1 else "")
        per_idle = (r["rss_idle"] - r["rss_before"]) / count * 1024
        per_peak = (r["rss_peak"] - r["rss_before"]) / count * 1024
        wire = r["wire_per_watcher"]
        # No bytes counted means no watcher got through: say so rather than divide by zero.
        wire_column = f"{wire / 1000:.0f} ({r['raw'] / wire:.2f}x)" if wire else "–"
        errors = f" ({r['errors'][0]})" if r["errors"] else ""
        out.append(f"| {peer}, N = {count:,} | {r['complete']:,}/{count:,}{errors} | {r['lines']:,}/{r['of_lines']:,} | {latency} "
                   f"| {r['server_seconds']:.1f} | {r['server_cpu'] / r['server_seconds']:.2f} | {r['server_cpu']:.2f} | {added} "
                   f"| {r['rss_before']:.0f} / {r['rss_idle']:.0f} / {r['rss_peak']:.0f} | {per_idle:.0f} / {per_peak:.0f} "
                   f"| {wire_column} | {r['cpu'] / r['seconds']:.2f} |")
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    counts = lambda text: tuple(int(n) for n in text.split(",") if n)  # noqa: E731
    parser.add_argument("--counts", type=counts, help="tailcast watcher counts, e.g. 1,1000 (N = 1 is the base of CPU per added watcher)")
    parser.add_argument("--websocketd-counts", type=counts, default=(10, 100), help="websocketd watcher counts; empty for none")
    args = parser.parse_args()
    rows, lines = run_fanout(args.binary, args.quick, args.counts, args.websocketd_counts)
    print(table(rows, lines))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
