"""The README's quick start, as a new user runs it: the pretend training job, watched on a terminal (tmux)."""
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import BINARY, REPO, popen, wait_until

EPOCHS, STEPS, SPEED = 6, 300, 15  # 1800 steps of 1/150 s: about 12 s, the README's job run faster
JOB_BAR = re.compile(r"epoch (\d+)/(\d+):\s+\d+%\|.*?\| (\d+)/(\d+) \[\d\d:\d\d<[^,]*, *([\d.]+)it/s")
PINNED = re.compile(r"^epoch\s+\[[█░]+\] (\d+)%\s+(\d+)/(\d+) it\s+([\d.]+) it/s\s+ETA (?:(\d+)m)?(\d+)s")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (Packaging/install-deps --test installs it)")
def test_quick_start_pinned_bar_shows_the_runs_true_position_and_time_left(server, env):
    job = popen("run", "--job", "train-42", "--quiet", "--server", server.url, "--", "python3",
                str(REPO / "Examples" / "train.py"), "--speed", str(SPEED), "--epochs", str(EPOCHS), "--steps", str(STEPS),
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tmux = ["tmux", "-L", f"tailcast-quickstart-{os.getpid()}"]
    try:
        wait_until(lambda: "train-42" in server.jobs(), what="the job to start")
        subprocess.run([*tmux, "new-session", "-d", "-s", "watch", "-x", "120", "-y", "24",
                        f"{BINARY} watch train-42 --server {server.url}; sleep 30"], check=True, env=env)

        def screen():
            return subprocess.run([*tmux, "capture-pane", "-p", "-t", "watch"], capture_output=True, text=True).stdout

        seen = {}

        def mid_run():
            """The pinned bar right below the job's own bar, a third of the way in or later."""
            text = seen["screen"] = screen()
            lines = text.splitlines()
            at = [i for i, line in enumerate(lines) if PINNED.match(line)]
            # The line above must be the one the job is drawing: a finished epoch's line further up, or the
            # moment the job clears its bar to print a log line, would say where the job was, not where it is.
            own = JOB_BAR.search(lines[at[0] - 1]) if len(at) == 1 and at[0] > 0 else None
            pinned = PINNED.match(lines[at[0]]) if own else None
            if pinned and int(pinned[1]) >= 33:
                return pinned, own.groups(), time.monotonic()
            return None
        try:
            pinned, own, seen_at = wait_until(mid_run, timeout=15, interval=0.1, what="the pinned bar a third of the way in")
        except AssertionError:
            raise AssertionError("screen was:\n" + seen.get("screen", ""))

        # Where the run is, by its own bar on the same screen: epochs before this one, and this one's steps.
        epoch, epochs, step, steps, rate = int(own[0]), int(own[1]), int(own[2]), int(own[3]), float(own[4])
        assert (epochs, steps) == (EPOCHS, STEPS)
        true_percent = 100 * ((epoch - 1) * steps + step) / (epochs * steps)
        percent, current, total = int(pinned[1]), int(pinned[2]), int(pinned[3])
        assert total == EPOCHS * STEPS
        # The pinned bar trails the job's own line by the agent's progress interval (250 ms) and the redraw
        # throttle (100 ms): at 150 steps/s that is about 50 steps, 3% of the run; 5 points leave room for a slow
        # machine, and are still far from the 66% the epoch counter alone would say at epoch 4.
        assert abs(percent - true_percent) <= 5, (pinned[0], own)
        assert abs(float(pinned[4]) - rate) <= 0.25 * rate, (pinned[0], own)

        eta = int(pinned[5] or 0) * 60 + int(pinned[6])
        # What is left of the run at the pace the job itself shows. The ETA is whole seconds (±0.5 s), built on
        # tqdm's remaining time, itself whole seconds (up to 1 s short), and trails the job's line like the
        # percent: 2 s, plus 15% for the difference between this epoch's pace and the moment's.
        projected = (EPOCHS * STEPS - ((epoch - 1) * steps + step)) / rate
        assert abs(eta - projected) <= 2 + 0.15 * projected, f"ETA {eta}s, {projected:.1f}s left at {rate}/s: {pinned[0]}"
        assert job.wait(90) == 0
        actual = time.monotonic() - seen_at
        # And the job really ends about then, unless the machine slows it down after the look: a looser bound.
        assert abs(eta - actual) <= 3 + 0.5 * actual, f"ETA {eta}s, the job ended {actual:.1f}s later: {pinned[0]}"
        print(f"pinned {percent}% at {true_percent:.1f}% of the run; ETA {eta}s, {projected:.1f}s left at the job's pace,"
              f" the job ended {actual:.1f}s later")
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
        if job.poll() is None:
            job.kill()
