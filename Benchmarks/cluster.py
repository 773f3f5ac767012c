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

PostgreSQL is a throwaway server on this machine (Tests/e2e/postgres.py, Debian's PostgreSQL 15 with
its default durability: fsync and synchronous commit on), sharing the cores with the nodes.
"""
import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from bench import HERE, REPO, Bench

sys.path.insert(0, str(HERE.parent / "Tests" / "e2e"))
from postgres import PostgresCluster  # noqa: E402  the tests' throwaway PostgreSQL

LATENCY_RATE, LATENCY_SECONDS = 2000, 5


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=str(REPO / ".build" / "release" / "tailcast"))
    parser.add_argument("--throughput-mib", type=int, default=100)
    parser.add_argument("--json")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="tailcast-cluster-bench-"))
    database = PostgresCluster()
    store = database.fresh_database()
    for name in ("embedded", "a", "b"):
        (workdir / name).mkdir()
    embedded = Bench(args.binary, workdir / "embedded")
    node_a = Bench(args.binary, workdir / "a", ["--store", store, "--node", "a"])
    node_b = Bench(args.binary, workdir / "b", ["--store", store, "--node", "b"])
    results = {}

    def step(name):
        print(f"... {name}", file=sys.stderr, flush=True)

    try:
        step(f"throughput, {args.throughput_mib} MiB, embedded store")
        results["throughput_embedded"] = embedded.throughput(args.throughput_mib)
        step(f"throughput, {args.throughput_mib} MiB, node A → PostgreSQL → watcher on node B")
        node_a.watch_port = node_b.port
        results["throughput_cluster"] = node_a.throughput(args.throughput_mib)
        step(f"latency at {LATENCY_RATE:,} lines/s, embedded store")
        results["latency_embedded"] = embedded.latency(LATENCY_RATE, LATENCY_SECONDS)
        step(f"latency at {LATENCY_RATE:,} lines/s, agent on node A, watcher on node B")
        results["latency_cross_node"] = node_a.latency(LATENCY_RATE, LATENCY_SECONDS, tag="-cross")
        step(f"latency at {LATENCY_RATE:,} lines/s, agent and watcher on node A")
        node_a.watch_port = node_a.port
        results["latency_same_node"] = node_a.latency(LATENCY_RATE, LATENCY_SECONDS, tag="-same")
    finally:
        for bench in (embedded, node_a, node_b):
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
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
