#!/usr/bin/env python3
"""Writes lines to stdout at a fixed rate, one write per line, as a logging program would.

    emit.py --rate 2000 --lines 20000 [--stamp] [--announce LINE --wait-for PATH] [--times PATH] FILE...

Lines come from FILEs, cycled. With --stamp each line starts with "T<unix seconds> " so a reader can
measure the delay from write to display. Without stamps the bytes stay those of the logs: --times
writes, at the end, the Unix time just before each write (one float64 each, native order), and a
reader that knows the lines finds when it saw the end of each. --announce writes LINE first and
--wait-for then waits until PATH exists, so the benchmark starts the clock once the reader is there.
"""
import argparse
import array
import os
import sys
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, required=True, help="lines per second (0: as fast as possible)")
    parser.add_argument("--lines", type=int, required=True)
    parser.add_argument("--stamp", action="store_true")
    parser.add_argument("--announce")
    parser.add_argument("--wait-for")
    parser.add_argument("--times")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    lines = [l for f in args.files for l in open(f, "rb").read().splitlines(keepends=True)]
    out = sys.stdout.fileno()
    if args.announce:
        os.write(out, args.announce.encode() + b"\n")
    while args.wait_for and not os.path.exists(args.wait_for):
        time.sleep(0.002)
    times = array.array("d")
    start = time.monotonic()
    for i in range(args.lines):
        if args.rate:
            due = start + i / args.rate
            delay = due - time.monotonic()
            if delay > 0.0005:
                time.sleep(delay)
        line = lines[i % len(lines)]
        if args.stamp:
            line = b"T%.6f " % time.time() + line
        times.append(time.time())
        os.write(out, line)
    if args.times:
        # Whole or not at all: the reader may see the last line and stop this process before it is written.
        with open(args.times + ".part", "wb") as f:
            times.tofile(f)
        os.rename(args.times + ".part", args.times)


if __name__ == "__main__":
    main()
