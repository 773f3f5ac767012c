"""What the peer comparison and the fan-out measurement share: the tools they install, the writer and
the bytes it writes, processes counted by tree, the tailcast server, and latency percentiles.

Only PROTOCOL.md and the command line are assumed of tailcast, so any binary can be measured.
"""
import array
import importlib.util
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench import CORPUS, HERE, free_port

READY = b"ready\n"  # the writer's first line: once a reader shows it, the clock may start
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def ensure_tools():
    """Debian's openssh-server and websocketd, and the Python packages, installed when missing."""
    missing = [package for package, binary in (("openssh-server", "/usr/sbin/sshd"), ("websocketd", "websocketd"))
               if not shutil.which(binary)]
    if missing:
        print(f"... installing {' '.join(missing)} with apt-get", file=sys.stderr, flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], check=True,
                       stdout=subprocess.DEVNULL, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    modules = [module for module in ("websockets", "numpy") if importlib.util.find_spec(module) is None]
    if modules:
        print(f"... installing {' '.join(modules)} with pip", file=sys.stderr, flush=True)
        install = [sys.executable, "-m", "pip", "install", "-q", *modules]
        if subprocess.run(install).returncode != 0:  # Debian's own Python refuses unless told
            subprocess.run(install + ["--break-system-packages"], check=True)


def raise_open_files():
    """Up to the hard limit, for this process and the children it starts: a thousand sockets."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


class Corpus:
    """The logs emit.py cycles through, and where each write ends in the stream a reader sees."""

    def __init__(self):
        self.files = sorted(str(p) for p in CORPUS.glob("*.log"))
        self.lines = [line for f in self.files for line in Path(f).read_bytes().splitlines(keepends=True)]

    def whole(self, count):
        """At most `count` writes, ending with a whole line: a line-based reader waits for its end."""
        while not self.lines[(count - 1) % len(self.lines)].endswith(b"\n"):
            count -= 1
        return count

    def stream(self, count):
        """(the bytes a reader sees, the end offset of each of the `count` writes in them)."""
        data = bytearray(READY)
        ends = array.array("q")
        for index in range(count):
            data += self.lines[index % len(self.lines)]
            ends.append(len(data))
        return bytes(data), ends

    def writer(self, rate, count, go, times):
        """The command that writes `count` lines at `rate`, after READY and once `go` exists."""
        return [sys.executable, str(HERE / "emit.py"), "--rate", str(rate), "--lines", str(count),
                "--announce", READY.decode().strip(), "--wait-for", str(go), "--times", str(times), *self.files]


def read_times(path):
    times = array.array("d")
    times.frombytes(Path(path).read_bytes())
    return times


def descendants(pid):
    """pid and every process below it, as long as they live."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                queue += [int(child) for child in Path(f"/proc/{current}/task/{task}/children").read_text().split()]
        except OSError:
            pass
    return found


def own_cpu(pid):
    """CPU seconds of this process alone (its threads, not its children); also of a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


def rss_mib(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class CpuMeter:
    """CPU seconds used between two readings by process trees (`trees`) and by single processes
    (`alone`: not their children). Each process is read while it lives (or as a zombie), so the
    measured processes must outlive the measurement."""

    def __init__(self, trees, alone):
        self.trees, self.alone = trees, alone
        self.start = self.read()

    def read(self):
        pids = [pid for root in self.trees for pid in descendants(root)] + list(self.alone)
        return {pid: own_cpu(pid) for pid in pids}

    def used(self):
        now = self.read()
        return sum(cpu - self.start.get(pid, 0.0) for pid, cpu in now.items())


def stop(process):
    """SIGTERM to the processes below it (tail -F under sshd or websocketd), then to it; SIGKILL after 10 s."""
    for pid in reversed(descendants(process.pid)[1:]):
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s")
        time.sleep(0.01)


def opened_by(root, path):
    """How many processes under root hold `path` open (tail -F, tailcast tail)."""
    target = os.path.realpath(path)
    count = 0
    for pid in descendants(root):
        try:
            if any(os.path.realpath(f"/proc/{pid}/fd/{fd}") == target for fd in os.listdir(f"/proc/{pid}/fd")):
                count += 1
        except OSError:
            pass
    return count


class TailcastServer:
    """`tailcast serve` on a free loopback port, with room for thousands of descriptors."""

    def __init__(self, binary, data):
        self.port = free_port()
        self.url = f"ws://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [binary, "serve", "--port", str(self.port), "--data", str(data), "--log-level", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=raise_open_files)
        wait_until(self.healthy, 20, "tailcast serve answering /healthz")

    def healthy(self):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
            return True
        except OSError:
            return False

    def has_job(self, job):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v1/jobs/{job}", timeout=1)
            return True
        except OSError:
            return False

    def close(self):
        stop(self.process)


def latencies_ms(write_times, write_ends, seen_times, seen_ends):
    """For each write, the time from the write to the first reading that reached its last byte, in ms;
    writes no reading reached are left out (count them with len)."""
    import numpy
    ends = numpy.frombuffer(write_ends, dtype=numpy.int64)
    reached = numpy.searchsorted(numpy.asarray(seen_ends, dtype=numpy.int64), ends, side="left")
    delivered = reached < len(seen_ends)
    seen = numpy.asarray(seen_times, dtype=numpy.float64)
    return (seen[reached[delivered]] - numpy.frombuffer(write_times, dtype=numpy.float64)[delivered]) * 1000


def percentiles(delays):
    """p50, p99 and max of an array of delays, or Nones when nothing arrived."""
    import numpy
    if len(delays) == 0:
        return {"p50": None, "p99": None, "max": None}
    p50, p99 = numpy.percentile(delays, [50, 99])
    return {"p50": float(p50), "p99": float(p99), "max": float(numpy.max(delays))}
