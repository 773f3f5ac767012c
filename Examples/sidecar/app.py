#!/usr/bin/env python3
"""A stand-in for a service that writes its own log file (an HTTP API, a worker, a database): it
logs a request line a few times a second, and a stack trace now and then, to --log.

The file is rotated by logrotate (logrotate.conf here), which renames it and creates a new one; the
service reopens its file when that happens (Python's WatchedFileHandler checks before each write), as
services with a log file do (or after logrotate's postrotate sends them a signal). With --max-bytes
it rotates the file itself instead (app.log -> app.log.1 -> ...), as many services do where no
logrotate runs (in a container).

    python3 Examples/sidecar/app.py --log /tmp/myapp/app.log --rate 20 --count 1000
"""
import argparse
import logging
import logging.handlers
import os
import random
import signal
import sys
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log", required=True, help="the log file (its directory must exist)")
    parser.add_argument("--rate", type=float, default=5, help="lines per second")
    parser.add_argument("--count", type=int, default=0, help="stop after this many requests (0: run until stopped)")
    parser.add_argument("--max-bytes", type=int, default=0, help="rotate the file itself at this size (0: logrotate does)")
    parser.add_argument("--backups", type=int, default=3, help="rotated files kept with --max-bytes")
    args = parser.parse_args()

    if args.max_bytes:
        handler = logging.handlers.RotatingFileHandler(args.log, maxBytes=args.max_bytes, backupCount=args.backups)
    else:
        handler = logging.handlers.WatchedFileHandler(args.log)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-5s %(message)s"))
    log = logging.getLogger("myapp")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    rng = random.Random(7)
    paths = ["/api/items", "/api/items/42", "/api/search?q=lamp", "/healthz", "/api/orders"]
    log.info("myapp starting, pid %d", os.getpid())
    request = 0
    while not args.count or request < args.count:
        request += 1
        path = rng.choice(paths)
        if rng.random() < 0.02:
            try:
                raise TimeoutError(f"upstream timed out after 5000 ms for {path}")
            except TimeoutError:
                log.exception("request %06d GET %s failed", request, path)
        else:
            log.info("request %06d GET %s 200 %d ms", request, path, rng.randint(2, 180))
        time.sleep(1 / args.rate)
    log.info("myapp done after %d requests", request)


if __name__ == "__main__":
    main()
