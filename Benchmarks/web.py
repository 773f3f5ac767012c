#!/usr/bin/env python3
"""The browser viewer and Server-Sent Events (issue 14's "How fast"), against a release binary, in
Debian's headless Chromium (Selenium) on this machine. Prints one Markdown table.

- A 1,000,000-line job (about 100 MB: `tailcast run -- cat` of a generated file of numbered corpus
  lines) opened in the page: the time from the navigation's start to the first drawn row of its last
  line (the page opens a big log at its end), of its first line (`#L1`: the page opens at the start
  with a range request) and of line 900,000 (`#L900000`: the page asks `/lines` where it begins, then
  reads a window there by range), and the page's JS heap then (CDP `Runtime.getHeapUsage` after a collection).
- A live job at 2,000 lines/s (emit.py --stamp: each line carries the time it was written): the
  delay from the write to the line's row entering the page's DOM, noted by a MutationObserver with
  `Date.now()` (the same clock on the same machine). The page draws only the rows on screen, so a line
  is counted once its row is drawn; lines never drawn (scrolled past between two frames) are counted
  apart.
- 200 SSE readers (sse.py) and 200 WebSocket watchers (watchers.py) of one job at 2,000 lines/s, each
  alone and both at once, every byte checked at every reader: the server's CPU (cores busy while the
  stream runs) and the latency from write to reader.
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

from bench import CORPUS, HERE
from fanout import expect_line, load_generator
from harness import Corpus, CpuMeter, READY, TailcastServer, ensure_tools, percentiles, raise_open_files, stop, wait_until

sys.path.insert(0, str(HERE.parent / "Tests" / "e2e"))
import chromium  # noqa: E402  the browser tests' way of starting Chromium

BIG_LINES = 1_000_000
# A line a link goes to, far past what the page opens at either end.
DEEP_LINE = 900_000

# Runs in the page before its own scripts: when the row of a wanted text is first drawn (ms since the
# navigation began), and when each stamped line's row is first drawn (wall-clock ms).
OBSERVER = """(function () {
window.benchmark = { drawn: {}, stamped: {} };
const wanted = new Set(WANTED);
new MutationObserver(function (records) {
  const at = performance.now(), wall = Date.now();
  for (const record of records) for (const node of record.addedNodes) {
    if (node.nodeType !== 1 || !node.classList.contains('line')) continue;
    const text = node.querySelector('.tx').textContent;
    if (wanted.has(text) && !(text in window.benchmark.drawn)) window.benchmark.drawn[text] = at;
    const stamp = /^T(\\d+\\.\\d+) /.exec(text);
    if (stamp && !(stamp[1] in window.benchmark.stamped)) window.benchmark.stamped[stamp[1]] = wall;
  }
}).observe(document, { childList: true, subtree: true });
})();"""


def browser():
    return chromium.start("1280,1000", script_timeout=30)


def open_page(driver, url, wanted):
    """Loads url with the observer watching for the rows of `wanted` texts."""
    driver.get("about:blank")
    script = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": OBSERVER.replace("WANTED", json.dumps(wanted))})
    driver.get(url)
    driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", script)


def heap_mib(driver):
    driver.execute_cdp_cmd("HeapProfiler.collectGarbage", {})
    return driver.execute_cdp_cmd("Runtime.getHeapUsage", {})["usedSize"] / 2**20


def big_log(path):
    """1,000,000 numbered corpus lines of at most 100 bytes; (its first line, line DEEP_LINE, its last line) as drawn."""
    corpus = [line.rstrip(b"\r\n")[:92] for line in Corpus().lines]
    with open(path, "wb") as out:
        out.writelines(b"%07d %s\n" % (number, corpus[number % len(corpus)]) for number in range(1, BIG_LINES + 1))
    return tuple((b"%07d %s" % (n, corpus[n % len(corpus)])).decode("utf-8", "replace") for n in (1, DEEP_LINE, BIG_LINES))


def first_render(driver, url, wanted, timeout=60):
    """Seconds from navigation to the first row showing `wanted`, and the page's heap then."""
    open_page(driver, url, [wanted])
    wait_until(lambda: driver.execute_script("return arguments[0] in window.benchmark.drawn", wanted), timeout, f"{url} drawn")
    return driver.execute_script("return window.benchmark.drawn[arguments[0]]", wanted) / 1000, heap_mib(driver)


def big_job(binary, driver, server, folder):
    log = folder / "big.log"
    first, deep, last = big_log(log)
    subprocess.run([binary, "run", "--job", "big", "--no-pty", "--quiet", "--server", server.url, "--", "cat", str(log)],
                   check=True, env=dict(os.environ, TAILCAST_SPOOL=str(folder / "spool")), timeout=300)
    page = f"http://127.0.0.1:{server.port}/jobs/big"
    end = first_render(driver, page, last)
    start = first_render(driver, page + "#L1", first)
    linked = first_render(driver, page + f"#L{DEEP_LINE}", deep)
    return {"bytes": log.stat().st_size, "end": end, "start": start, "linked": linked}


def live(binary, driver, server, folder, lines):
    """Line written → row drawn, at 2,000 lines/s."""
    go = folder / "go-live"
    files = sorted(str(p) for p in CORPUS.glob("*.log"))
    agent = subprocess.Popen([binary, "run", "--job", "live", "--no-pty", "--quiet", "--server", server.url, "--",
                              sys.executable, str(HERE / "emit.py"), "--rate", "2000", "--lines", str(lines), "--stamp",
                              "--announce", READY.decode().strip(), "--wait-for", str(go), *files],
                             env=dict(os.environ, TAILCAST_SPOOL=str(folder / "spool-live")))
    try:
        wait_until(lambda: server.has_job("live"), 20, "the live job")
        open_page(driver, f"http://127.0.0.1:{server.port}/jobs/live", [READY.decode().strip()])
        wait_until(lambda: driver.execute_script("return Object.keys(window.benchmark.drawn).length"), 20, "the page showing ready")
        go.write_bytes(b"")
        agent.wait(lines / 2000 + 60)
        wait_until(lambda: "exit" in driver.execute_script("return document.getElementById('end').textContent"), 30, "the end")
        stamped = driver.execute_script("return window.benchmark.stamped")
    finally:
        stop(agent)
    import numpy
    delays = numpy.array([wall - float(stamp) * 1000 for stamp, wall in stamped.items()])
    return {"lines": lines, "drawn": len(delays), **percentiles(delays)}


def fanout(binary, corpus, folder, loads, lines):
    """One job at 2,000 lines/s and the load generators `loads` ([(program, count)]) on it; each reports."""
    folder = Path(tempfile.mkdtemp(dir=folder))
    go, times = folder / "go", folder / "times"
    server = TailcastServer(binary, folder / "data")
    processes = []
    try:
        agent = subprocess.Popen([binary, "run", "--job", "fanout", "--no-pty", "--quiet", "--server", server.url, "--",
                                  *corpus.writer(2000, lines, go, times)],
                                 env=dict(os.environ, TAILCAST_SPOOL=str(folder / "spool")),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(agent)
        wait_until(lambda: server.has_job("fanout"), 20, "the job at the server")
        deadline = lines / 2000 + 60
        generators = []
        for program, count in loads:
            target = f"http://127.0.0.1:{server.port}" if program == ["sse.py"] else server.url
            generators.append(load_generator(program, target, "fanout", count, lines, times, deadline))
        processes[:0] = generators
        for generator in generators:
            expect_line(generator, "connected", 200)
        for generator in generators:
            expect_line(generator, "ready", 150)
        meter = CpuMeter([server.process.pid], [])
        start = time.monotonic()
        go.write_bytes(b"")
        for generator in generators:
            expect_line(generator, "done", deadline + 30)
        seconds, server_cpu = time.monotonic() - start, meter.used()
        reports = [json.loads(generator.stdout.readline()) for generator in generators]
        return {"cores": server_cpu / seconds, "reports": reports}
    finally:
        for process in processes:
            stop(process)
        server.close()


def run(binary, quick):
    ensure_tools()
    raise_open_files()
    if not chromium.installed():
        raise SystemExit("needs Debian's chromium and chromium-driver")
    corpus = Corpus()
    lines = corpus.whole(6000 if quick else 20000)
    folder = Path(tempfile.mkdtemp(prefix="tailcast-web-"))
    driver = browser()
    result = {"load": os.getloadavg()}
    try:
        server = TailcastServer(binary, folder / "data")
        try:
            print("... a 1,000,000-line job in the page", file=sys.stderr, flush=True)
            result["big"] = big_job(binary, driver, server, folder)
            print("... a live job in the page", file=sys.stderr, flush=True)
            result["live"] = live(binary, driver, server, folder, lines)
        finally:
            server.close()
        driver.quit()
        driver = None
        sse, ws = ["sse.py"], ["watchers.py", "tailcast"]
        result["fanout"] = []
        for name, loads in (("200 SSE readers", [(sse, 200)]), ("200 WebSocket watchers", [(ws, 200)]),
                            ("200 SSE readers + 200 WebSocket watchers at once", [(sse, 200), (ws, 200)])):
            print(f"... {name}", file=sys.stderr, flush=True)
            result["fanout"].append((name, loads, fanout(binary, corpus, folder, loads, lines)))
        result["fanout_lines"] = lines
    finally:
        if driver:
            driver.quit()
        shutil.rmtree(folder, ignore_errors=True)
    return result


def ms(value):
    return "–" if value is None else f"{value:.1f}"


def table(result):
    big, live_ = result["big"], result["live"]
    out = ["| browser viewer and SSE | result | target |", "|---|---|---|",
           f"| {BIG_LINES:,}-line job ({big['bytes'] / 1e6:.0f} MB): first render of its end, JS heap then "
           f"| {big['end'][0]:.2f} s, {big['end'][1]:.1f} MiB | < 1 s |",
           f"| the same job opened at its start (`#L1`): first render, JS heap then "
           f"| {big['start'][0]:.2f} s, {big['start'][1]:.1f} MiB | < 1 s |",
           f"| the same job opened by a link to line {DEEP_LINE:,} (`#L{DEEP_LINE}`): first render of that line, JS heap then "
           f"| {big['linked'][0]:.2f} s, {big['linked'][1]:.1f} MiB | |",
           f"| live line written → row drawn in the page, 2,000 lines/s ({live_['drawn']:,} of {live_['lines']:,} lines drawn) "
           f"| p50 {ms(live_['p50'])} ms, p99 {ms(live_['p99'])} ms, max {ms(live_['max'])} ms | p99 < 50 ms |"]
    for name, loads, row in result["fanout"]:
        parts = []
        for (program, _), report in zip(loads, row["reports"]):
            kind = "SSE" if program == ["sse.py"] else "WebSocket"
            errors = f", {report['error_count']} failed: {report['errors'][:1]}" if report["error_count"] else ""
            parts.append(f"{kind}: {report['complete']}/{report['watchers']} complete, p50 {ms(report['p50'])} / p99 {ms(report['p99'])} "
                         f"/ max {ms(report['max'])} ms, reader CPU {report['cpu'] / report['seconds']:.2f} cores{errors}")
        out.append(f"| {name}, {result['fanout_lines']:,} lines at 2,000 lines/s | server {row['cores']:.2f} cores busy; "
                   + "; ".join(parts) + " | |")
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=str(HERE.parent / ".build/release/tailcast"))
    parser.add_argument("--quick", action="store_true", help="6,000 live lines instead of 20,000")
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args()
    result = run(args.binary, args.quick)
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average before: "
          + " / ".join(f"{x:.2f}" for x in result["load"]), file=sys.stderr)
    print(table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
