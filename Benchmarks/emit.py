#!/usr/bin/env python3
"""Writes lines to stdout at a fixed rate, one write per line, as a logging program would.

    emit.py --rate 2000 --lines 20000 [--stamp] FILE...

Lines come from FILEs, cycled. With --stamp each line starts with "T<unix seconds> " so a reader can
measure the delay from write to display.
"""
import argparse
import os
import sys
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, required=True, help="lines per second (0: as fast as possible)")
    parser.add_argument("--lines", type=int, required=True)
    parser.add_argument("--stamp", action="store_true")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    lines = [l for f in args.files for l in open(f, "rb").read().splitlines(keepends=True)]
    out = sys.stdout.fileno()
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
        os.write(out, line)


if __name__ == "__main__":
    main()
