"""Progress as data: real programs' progress output through the real agent, explicit progress, and how watch shows it."""
import base64
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BINARY, CORPUS, popen, tailcast, wait_until

SAMPLES = sorted(p.name for p in (CORPUS / "progress").iterdir()) if (CORPUS / "progress").exists() else []


def jobs(server, env):
    return {j["id"]: j for j in json.loads(tailcast("ls", "--json", "--server", server.url, env=env, timeout=30).stdout)["jobs"]}


# What the output of these runs cannot tell (so no parser can): curl -# and rich's default columns print a
# percentage only; pip prints sizes rounded to 0.1 MB; tqdm erases a leave=False bar before its last count.
PERCENT_ONLY = {"curl-bar", "rich-track", "rich-multi-task"}
ROUNDED = {"pip-download": 0.005}


def program(name):
    return name.rsplit("-", 1)[0]


def matches(bar, expected, name):
    """A bar equals what meta.json says is true of the run, as far as the output shows it."""
    if expected["final_percent"] is None:
        return bar["current"] == expected["final_current"] and bar.get("total") is None and bar.get("percent") is None
    if abs(bar.get("percent", -1) - expected["final_percent"]) > 0.01:
        return False
    if program(name) in PERCENT_ONLY:
        return bar["unit"] == "%"
    tolerance = ROUNDED.get(program(name), 0) * expected["final_total"]
    return abs(bar["current"] - expected["final_current"]) <= tolerance and abs(bar["total"] - expected["final_total"]) <= tolerance


@pytest.mark.parametrize("mode", ["pty", "pipe"])
def test_every_corpus_sample_yields_its_known_final_state(server, env, mode):
    assert len(SAMPLES) >= 34
    failures = []
    for name in SAMPLES:
        job = f"{name}-{mode}"
        run = tailcast("run", "--job", job, "--quiet", *(["--no-pty"] if mode == "pipe" else []), "--server", server.url,
                       "--", "cat", str(CORPUS / "progress" / name / "output.raw"), env=env, timeout=60)
        assert run.returncode == 0, run.stderr
    listed = jobs(server, env)
    for name in SAMPLES:
        expected = json.loads((CORPUS / "progress" / name / "meta.json").read_text())["expected"]
        bars = listed[f"{name}-{mode}"]["progress"]
        assert bars and all(b["done"] for b in bars), name
        if not any(matches(b, expected, name) for b in bars):
            failures.append(f"{name}: expected {expected}, got {bars}")
        if expected.get("unit") and program(name) not in PERCENT_ONLY and not any(b["unit"] == expected["unit"] for b in bars):
            failures.append(f"{name}: no bar in {expected['unit']}: {bars}")
        for wanted in expected.get("bars", []):
            bar = next((b for b in bars if b.get("label") == wanted["desc"]), None)
            if bar is None:
                failures.append(f"{name}: no bar named {wanted['desc']}: {bars}")
            elif program(name) in PERCENT_ONLY:
                if bar["percent"] != wanted["final_percent"]:
                    failures.append(f"{name}: {wanted['desc']} at {bar['percent']}%")
            elif wanted.get("leave") is False:
                if not (bar["total"] == wanted["final_total"] and 0.9 * wanted["final_total"] <= bar["current"] <= wanted["final_total"]):
                    failures.append(f"{name}: {wanted['desc']} last shown at {bar['current']}/{bar['total']}")
            elif (bar["current"], bar["total"]) != (wanted["final_current"], wanted["final_total"]):
                failures.append(f"{name}: {wanted['desc']} is {bar['current']}/{bar['total']}")
    assert not failures, "\n".join(failures)


def test_explicit_progress_from_a_wrapped_script_wins_over_parsed(server, env):
    script = (f'{BINARY} progress 0 --total 4 --unit epochs --label train\n'
              'for i in 1 2 3 4; do\n'
              '  echo "step $i/4 done 25%"\n'
              f'  {BINARY} progress $i --total 4 --unit epochs --label train --message "val loss 0.$((9 - i))"\n'
              'done\n')
    run = tailcast("run", "--job", "explicit", "--server", server.url, "--", "sh", "-c", script, env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    bars = jobs(server, env)["explicit"]["progress"]
    # The rate is measured once updates span a second, which five quick reports may or may not.
    measured = {k: bars[0].pop(k) for k in ("rate", "eta_seconds") if k in bars[0]}
    assert all(v >= 0 for v in measured.values())
    assert bars == [{"key": "explicit:train", "label": "train", "current": 4, "total": 4, "unit": "epochs", "percent": 100,
                     "message": "val loss 0.5", "source": "explicit", "updated_ms": bars[0]["updated_ms"], "done": True}]


def test_progress_command_outside_tailcast_and_with_bad_values(env):
    outside = tailcast("progress", "3", "--total", "10", env=env, timeout=30)
    assert outside.returncode == 0 and b"not inside `tailcast run`" in outside.stderr
    bad = tailcast("progress", "3", "--total", "-1", env=env, timeout=30)
    assert bad.returncode == 64 and b"--total" in bad.stderr


def test_pipe_watch_collapses_redrawn_lines_and_raw_keeps_bytes(server, env):
    code = "import sys\nfor p in range(0, 101, 10): sys.stdout.write('\\rcopying %3d%%' % p)\nprint()\nprint('done')"
    run = tailcast("run", "--job", "redraw", "--no-pty", "--server", server.url, "--", "python3", "-c", code, env=env, timeout=30)
    assert run.returncode == 0
    watch = tailcast("watch", "redraw", "--server", server.url, env=env, timeout=30)
    assert watch.stdout == b"copying 100%\ndone\n"
    assert b"progress" in watch.stderr and b"100%" in watch.stderr
    raw = tailcast("watch", "redraw", "--raw", "--server", server.url, env=env, timeout=30)
    assert raw.stdout == server.archived("redraw") and raw.stdout.count(b"\r") == 11


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (Packaging/install-deps --test installs it)")
def test_watch_on_a_terminal_pins_live_bars_below_the_scrolling_log(server, env, tmp_path):
    script = ("for i in $(seq 1 30); do\n"
              "  echo \"log line $i\"\n"
              f"  {BINARY} progress $i --total 40 --unit files --label copy\n"
              "  sleep 0.1\n"
              "done\n"
              "sleep 6\n"
              f"{BINARY} progress 40 --total 40 --unit files --label copy\n")
    job = popen("run", "--job", "pinned", "--quiet", "--server", server.url, "--", "sh", "-c", script, env=env)
    wait_until(lambda: "pinned" in server.jobs(), what="the job to start")
    # A tmux server of the test's own, so no other session (or a server shutting down) interferes.
    tmux = ["tmux", "-L", f"tailcast-test-{os.getpid()}"]
    session = "watch"
    subprocess.run([*tmux, "new-session", "-d", "-s", session, "-x", "100", "-y", "20",
                    f"{BINARY} watch pinned --server {server.url}; echo WATCH-EXIT=$?; sleep 30"], check=True, env=env)
    try:
        def screen():
            return subprocess.run([*tmux, "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout

        seen = {}

        def live_bar_shown():
            lines = seen["lines"] = [l for l in screen().splitlines() if l.strip()]
            return lines and lines[-1].startswith("copy") and "75%" in lines[-1] and "30/40 files" in lines[-1] and lines
        try:
            lines = wait_until(live_bar_shown, timeout=40, what="a pinned bar at 30/40 below the log")
        except AssertionError:
            raise AssertionError("screen was:\n" + "\n".join(seen.get("lines", [])))
        assert lines[-2] == "log line 30"
        assert sum("copy" in l for l in lines) == 1, "one bar, redrawn in place"
        assert job.wait(60) == 0
        final = wait_until(lambda: "WATCH-EXIT=0" in screen() and screen(), timeout=30, what="watch to exit")
        text = [l for l in final.splitlines() if l.strip()]
        end = text.index("WATCH-EXIT=0")
        assert text[end - 1] == "tailcast: job pinned exited 0"
        assert text[end - 3] == "log line 30"
        assert "100%" in text[end - 2] and "40/40 files  done" in text[end - 2]
        assert sum("copy" in l for l in text) == 1, "the final state is printed once"
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
        if job.poll() is None:
            job.kill()


def test_a_sidecar_reads_progress_from_a_file_the_job_rewrites(server, env, tmp_path):
    state_file = tmp_path / "progress.json"
    log = tmp_path / "job.log"
    log.write_bytes(b"")
    sidecar = popen("tail", "--job", "sidecar-progress", "--server", server.url, "--state-dir", str(tmp_path / "st"),
                    "--progress-file", str(state_file), str(log), env=env)
    try:
        def bar():
            bars = jobs(server, env).get("sidecar-progress", {}).get("progress", [])
            return bars[0] if bars else None
        state_file.write_text(json.dumps({"current": 2, "total": 8, "unit": "files", "label": "sync", "message": "a.bin"}))
        wait_until(lambda: bar() and bar()["current"] == 2 and bar()["message"] == "a.bin", what="JSON progress")
        time.sleep(0.1)
        state_file.write_text("6/8 files sync\n")  # the other format: a line N/M [unit] [label]
        wait_until(lambda: bar() and bar()["current"] == 6 and bar()["percent"] == 75 and bar()["unit"] == "files",
                   what="N/M progress")
        assert bar()["source"] == "explicit" and len(jobs(server, env)["sidecar-progress"]["progress"]) == 1
    finally:
        sidecar.send_signal(signal.SIGTERM)
        assert sidecar.wait(30) == 0


def test_explicit_progress_gets_a_measured_rate_and_time_left_in_ls(server, env):
    # Six reports 0.4 s apart (plus the time `tailcast progress` takes to start), then a pause to look at `ls`.
    script = ("for i in 1 2 3 4 5 6; do\n"
              f"  {BINARY} progress $i --total 10 --unit files --label sync\n"
              "  sleep 0.4\n"
              "done\n"
              "sleep 8\n")
    job = popen("run", "--job", "measured", "--quiet", "--server", server.url, "--", "sh", "-c", script, env=env)
    try:
        def at_six():
            bars = jobs(server, env).get("measured", {}).get("progress", [])
            return bars and bars[0]["current"] == 6 and bars[0]
        bar = wait_until(at_six, timeout=20, what="the sixth report")
        # One file per 0.4-0.5 s: between 2 and 2.5 files/s; what is left is 4 files at that rate.
        assert 1.5 <= bar["rate"] <= 2.6, bar
        assert abs(bar["eta_seconds"] - 4 / bar["rate"]) < 1e-6, bar
        def row(columns):
            listed = tailcast("ls", "--server", server.url, env=dict(env, COLUMNS=str(columns)), timeout=30).stdout.decode()
            return next(line for line in listed.splitlines() if line.startswith("measured"))
        rate, eta = f"{bar['rate']:.1f} files/s", f"ETA {round(bar['eta_seconds'])}s"
        assert f"60% {rate} {eta}" in row(1000)
        # The rate is shown only where the table still fits the terminal; on a narrow one it gives way.
        for columns in (90, 110, 130):
            line = row(columns)
            assert f"60% {rate} {eta}" in line and len(line) <= columns or f"60% {eta}" in line, (columns, line)
        assert f"60% {eta}" in row(40)
    finally:
        assert job.wait(30) == 0


# Keras' way: the epoch counter on a line of its own, then a bar without a caption for that epoch's steps.
# The job writes where it is to a file after each step, so the test knows the true position.
EPOCH_ON_ITS_OWN_LINE = r"""
import os, sys, time
epochs, steps, where = 4, 100, sys.argv[1]
for epoch in range(1, epochs + 1):
    print(f"Epoch {epoch}/{epochs}", flush=True)
    start = time.monotonic()
    for step in range(1, steps + 1):
        time.sleep(0.03)
        elapsed = time.monotonic() - start
        rate = step / elapsed
        left = (steps - step) / rate
        sys.stdout.write(f"\r{step:3d}%|{'#' * (step // 10):<10}| {step}/{steps} [00:{int(elapsed):02d}<00:{int(left):02d}, {rate:5.2f}it/s]")
        sys.stdout.flush()
        # Replaced whole, so the test never reads it half written.
        with open(where + ".tmp", "w") as f:
            f.write(f"{epoch} {step}")
        os.replace(where + ".tmp", where)
    print()
"""


def test_an_epoch_counter_on_its_own_line_folds_the_bar_below_it_into_the_whole_run(server, env, tmp_path):
    where = tmp_path / "where"
    job = popen("run", "--job", "keras-like", "--quiet", "--server", server.url, "--", "python3", "-c",
                EPOCH_ON_ITS_OWN_LINE, str(where), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples = []
    try:
        deadline = time.monotonic() + 60
        while job.poll() is None and time.monotonic() < deadline and len(samples) < 3:
            bars = jobs(server, env).get("keras-like", {}).get("progress") or []
            epoch, step = map(int, where.read_text().split()) if where.exists() else (0, 0)
            if bars and epoch >= 2 and 30 <= step <= 70:
                samples.append((bars, epoch, step))
            time.sleep(0.3)
        assert job.wait(60) == 0
    finally:
        if job.poll() is None:
            job.kill()
    assert len(samples) == 3, samples
    for bars, epoch, step in samples:
        assert [b["key"] for b in bars] == ["Epoch"], bars
        true_percent = 100 * (epoch - 1 + step / 100) / 4
        # The bar trails the job by the agent's progress interval (250 ms), about 8 steps, 2% of the run;
        # the epoch counter alone would say at least 7.5 points more.
        assert abs(bars[0]["percent"] - true_percent) <= 5, (bars, epoch, step)
        assert bars[0]["total"] == 400 and bars[0]["unit"] == "it", bars
    final = jobs(server, env)["keras-like"]["progress"]
    assert [(b["key"], b["current"], b["total"], b["done"]) for b in final] == [("Epoch", 400, 400, True)], final


@pytest.mark.skipif(shutil.which("xz") is None, reason="xz is not installed (Packaging/install-deps --test installs xz-utils)")
def test_real_xz_verbose_shows_a_bar_while_it_runs(server, env, tmp_path):
    data = tmp_path / "data.txt"
    data.write_bytes(base64.encodebytes(os.urandom(18 * 1024 * 1024)))  # about 24 MiB that compress slowly
    job = popen("run", "--job", "xz", "--quiet", "--server", server.url, "--", "sh", "-c",
                f"xz -v -T1 -9 -c {data} > /dev/null", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def running_bar():
            listed = jobs(server, env).get("xz", {})
            bars = [b for b in listed.get("progress") or [] if 0 < b.get("percent", 0) < 100]
            return listed.get("state") == "running" and bars
        bars = wait_until(running_bar, timeout=60, interval=0.5, what="a bar from xz -v while it runs")
        assert bars[0]["key"] == "xz" and bars[0]["unit"] == "B", bars
        assert job.wait(120) == 0
    finally:
        if job.poll() is None:
            job.kill()
    final = jobs(server, env)["xz"]["progress"]
    assert [(b["key"], b["percent"], b["done"]) for b in final] == [("xz", 100, True)], final
