#!/usr/bin/env python3
"""Scale out (issue 15's "How fast"): the PostgreSQL store across two nodes beside the embedded store,
side by side in one run, against a release binary. Prints one Markdown table.

- Throughput: a job `cat`s N MiB of the corpus to node A, which commits every batch to PostgreSQL
  before acknowledging it; a watcher on node B prints it (B learns of each commit by NOTIFY and pulls
  the bytes into its cache). The clock stops when the watcher printed the last byte and both `run`
  and `watch` exited. Beside it: the same job and watcher on one embedded-store server.
- Live latency at 2,000 lines/s (emit.py --stamp): from a line written to the watcher printing it,
  agent on A and watcher on B, beside agent and watcher on one embedded-store server, and beside
  both on node A (what the commit costs without the hop between nodes).
- Watchers spread over three nodes: a job at 2,000 lines/s on node A, and every line checked at every
  watcher (watchers.py, the fan-out load generator): N watchers on one node (embedded store, and the
  PostgreSQL store), then 3N through haproxy (round robin, Tests/e2e/postgres.py's Balancer with
  Packaging/scale-out/haproxy.cfg) in front of three nodes. Beside the latency: the CPU the nodes,
  PostgreSQL and haproxy used while the job ran, to say what limits it.

PostgreSQL is a throwaway server on this machine (Tests/e2e/postgres.py, Debian's PostgreSQL 15 with
its default durability: fsync and synchronous commit on), sharing the cores with the nodes.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import HERE, REPO, Bench
from fanout import expect_line, load_generator
from harness import Corpus, CpuMeter, raise_open_files, stop

sys.path.insert(0, str(HERE.parent / "Tests" / "e2e"))
from postgres import Balancer, PostgresCluster  # noqa: E402  the tests' throwaway PostgreSQL and haproxy

LATENCY_RATE, LATENCY_SECONDS = 2000, 5
SPREAD_LINES, SPREAD_DEADLINE = 10_000, 60


def spread(agent_node, nodes, watch_url, job, count, extra_pids=()):
    """A job at 2,000 lines/s published to `agent_node`, `count` watchers at `watch_url` checking every
    line (watchers.py); latency over every line at every watcher, and the CPU seconds the nodes and
    `extra_pids` (PostgreSQL's server tree, haproxy) used from the first line to the last."""
    folder = Path(tempfile.mkdtemp(dir=agent_node.workdir))
    go, times = folder / "go", folder / "times"
    agent = subprocess.Popen([agent_node.binary, "run", "--job", job, "--no-pty", "--quiet", "--server", agent_node.url, "--",
                              *Corpus().writer(LATENCY_RATE, SPREAD_LINES, go, times)],
                             env=dict(os.environ, TAILCAST_SPOOL=str(folder / "spool")),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    load = None
    try:
        for node in nodes:
            node.watch_port = node.port
            node.wait_for_job(job)
        time.sleep(0.3)  # the agent's first line is in
        load = load_generator(["watchers.py", "tailcast"], watch_url, job, count, SPREAD_LINES, times, SPREAD_DEADLINE)
        expect_line(load, "connected", 200)
        expect_line(load, "ready", 150)
        nodes_cpu = CpuMeter([], [n.server.pid for n in nodes])
        others_cpu = CpuMeter(list(extra_pids), [])
        go.write_bytes(b"")
        expect_line(load, "done", SPREAD_DEADLINE + 30)
        result = {"nodes_cpu": nodes_cpu.used(), "others_cpu": others_cpu.used()}
        result.update(json.loads(load.stdout.readline()))
        return result
    finally:
        for process in (load, agent):
            if process:
                stop(process)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=str(REPO / ".build" / "release" / "tailcast"))
    parser.add_argument("--throughput-mib", type=int, default=100)
    parser.add_argument("--watchers", type=int, default=10, help="watchers on one node; three nodes get three times as many")
    parser.add_argument("--json")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="tailcast-cluster-bench-"))
    database = PostgresCluster()
    store = database.fresh_database()
    raise_open_files()
    for name in ("embedded", "a", "b", "c"):
        (workdir / name).mkdir()
    embedded = Bench(args.binary, workdir / "embedded")
    node_a = Bench(args.binary, workdir / "a", ["--store", store, "--node", "a"])
    node_b = Bench(args.binary, workdir / "b", ["--store", store, "--node", "b"])
    node_c = Bench(args.binary, workdir / "c", ["--store", store, "--node", "c"])
    balancer = Balancer(workdir / "haproxy", (n.port for n in (node_a, node_b, node_c)))
    postmaster = int((database.data / "postmaster.pid").read_text().split()[0])
    results = {}

    def step(name):
        print(f"... {name}", file=sys.stderr, flush=True)

    try:
        step(f"throughput, {args.throughput_mib} MiB, embedded store")
        results["throughput_embedded"] = embedded.throughput(args.throughput_mib)
        step(f"throughput, {args.throughput_mib} MiB, node A → PostgreSQL → watcher on node B")
        node_a.watch_port = node_b.port
        results["throughput_cluster"] = node_a.throughput(args.throughput_mib)
        node_b.settle()
        step(f"latency at {LATENCY_RATE:,} lines/s, embedded store")
        results["latency_embedded"] = embedded.latency(LATENCY_RATE, LATENCY_SECONDS)
        step(f"latency at {LATENCY_RATE:,} lines/s, agent on node A, watcher on node B")
        results["latency_cross_node"] = node_a.latency(LATENCY_RATE, LATENCY_SECONDS, tag="-cross")
        step(f"latency at {LATENCY_RATE:,} lines/s, agent and watcher on node A")
        node_a.watch_port = node_a.port
        results["latency_same_node"] = node_a.latency(LATENCY_RATE, LATENCY_SECONDS, tag="-same")
        n = args.watchers
        step(f"{n} watchers on one embedded-store node")
        results["spread_embedded"] = spread(embedded, [embedded], embedded.url, "spread-embedded", n)
        step(f"{n} watchers on node A (PostgreSQL store)")
        results["spread_one_node"] = spread(node_a, [node_a], node_a.url, "spread-one", n, [postmaster])
        step(f"{3 * n} watchers through haproxy over three nodes, agent on node A")
        balancer.start()
        results["spread_three_nodes"] = spread(node_a, [node_a, node_b, node_c], f"ws://127.0.0.1:{balancer.port}",
                                               "spread-three", 3 * n, [postmaster, balancer.process.pid])
    finally:
        balancer.stop()
        for bench in (embedded, node_a, node_b, node_c):
            bench.close()
        database.destroy()
        shutil.rmtree(workdir, ignore_errors=True)

    te, tc = results["throughput_embedded"], results["throughput_cluster"]
    print(f"\n| scale out, {te['bytes'] / 2**20:.0f} MiB job and 2,000 lines/s | embedded store | PostgreSQL store | ratio or difference |")
    print("|---|---|---|---|")
    print(f"| throughput, job → node → watcher (PostgreSQL: node A → PostgreSQL → watcher on node B) | {te['mbps']:.1f} MB/s | "
          f"{tc['mbps']:.1f} MB/s | {tc['mbps'] / te['mbps']:.2f} |")
    print(f"| CPU seconds, agent / publishing node / watcher | {te['agent_cpu']:.2f} / {te['server_cpu']:.2f} / {te['watch_cpu']:.2f} | "
          f"{tc['agent_cpu']:.2f} / {tc['server_cpu']:.2f} / {tc['watch_cpu']:.2f} | |")
    le = results["latency_embedded"]
    for key, name in (("latency_cross_node", "agent on A, watcher on B"), ("latency_same_node", "agent and watcher on A")):
        lc = results[key]
        print(f"| live latency p50 / p99 ms ({name}; {lc['lines']:,}/{lc['expected']:,} lines) | "
              f"{le['p50']:.1f} / {le['p99']:.1f} | {lc['p50']:.1f} / {lc['p99']:.1f} | p99 {lc['p99'] - le['p99']:+.1f} ms |")
    print(f"\n| {SPREAD_LINES:,} lines at 2,000 lines/s, agent on node A | watchers complete | lines checked | p50 / p99 / max ms |"
          " CPU s: nodes / PostgreSQL + haproxy |")
    print("|---|---|---|---|---|")
    for key, name in (("spread_embedded", f"{args.watchers} watchers, one embedded-store server"),
                      ("spread_one_node", f"{args.watchers} watchers on node A, PostgreSQL store"),
                      ("spread_three_nodes", f"{3 * args.watchers} watchers through haproxy over nodes A, B, C")):
        r = results[key]
        p = [f"{r[k]:.1f}" if r[k] is not None else "-" for k in ("p50", "p99", "max")]
        print(f"| {name} | {r['complete']}/{r['watchers']} | {r['lines']:,}/{r['of_lines']:,} | {' / '.join(p)} | "
              f"{r['nodes_cpu']:.2f} / {r['others_cpu']:.2f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
