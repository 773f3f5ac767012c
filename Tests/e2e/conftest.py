"""Fixtures that start real tailcast processes on 127.0.0.1 with real files."""
import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BINARY = os.environ.get("TAILCAST_BIN", str(REPO / ".build" / "debug" / "tailcast"))
CORPUS = REPO.parent / "shared" / "corpus"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=20.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def stop_process(process):
    """SIGTERM, ten seconds to exit, then SIGKILL."""
    if process and process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


PACED_JOB = ("import sys,time\n"
             "for i in range({n}):\n"
             "    sys.stdout.write('line %06d ' % i + 'y' * (i % 70) + '\\n')\n"
             "    if i % {every} == 0: sys.stdout.flush(); time.sleep({pause})\n"
             "sys.exit({code})")


def paced_job(n, pause, code, every=1):
    """A job's Python source: `n` numbered lines, a flush and a pause every `every` lines, then exit `code`."""
    return PACED_JOB.format(n=n, pause=pause, code=code, every=every)


def paced_lines(n):
    """What `paced_job(n, ...)` writes."""
    return b"".join(b"line %06d " % i + b"y" * (i % 70) + b"\n" for i in range(n))


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path):
    """Writes until the file system says ENOSPC, a page at a time so no page is left; returns the bytes written."""
    written = 0
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                written += f.write(b"\0" * 4096)
        except OSError:
            pass
    return written


def stream_file_bytes(base: Path) -> bytes:
    """A stream's bytes on the server's disk: `NAME.log`, or `NAME.log.gz` once its job ended and the
    server compressed it (which unlinks the `.log`, maybe between the two reads here)."""
    try:
        return Path(f"{base}.log").read_bytes()
    except FileNotFoundError:
        return gzip.decompress(Path(f"{base}.log.gz").read_bytes())


class Server:
    """A `tailcast serve` process; restartable on the same port and data directory."""

    def __init__(self, data: Path, port: int, extra=(), preexec_fn=None):
        self.data = data
        self.port = port
        self.extra = list(extra)
        # Runs in the child before exec: resource limits, umask.
        self.preexec_fn = preexec_fn
        self.process = None
        self.log = data.parent / f"serve-{port}.log"

    @property
    def url(self):
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        out = open(self.log, "ab")
        self.process = subprocess.Popen(
            [BINARY, "serve", "--port", str(self.port), "--data", str(self.data), *self.extra],
            stdout=out, stderr=subprocess.STDOUT, preexec_fn=self.preexec_fn,
        )
        wait_until(self.healthy, what="server to listen")
        return self

    def healthy(self):
        try:
            with urllib.request.urlopen(self.http + "/healthz", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def kill9(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        stop_process(self.process)

    def jobs(self):
        with urllib.request.urlopen(self.http + "/v1/jobs", timeout=5) as r:
            return {j["id"]: j for j in json.load(r)["jobs"]}

    def archived(self, job, stream="stdout"):
        info = json.loads((self.data / "jobs" / job / "job.json").read_text())
        name = next(s["file"] for s in info["streams"] if s["name"] == stream)
        return stream_file_bytes(self.data / "jobs" / job / "streams" / name)


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "data", free_port()).start()
    yield s
    s.stop()


@pytest.fixture
def make_server(tmp_path):
    created = []

    def make(extra=()):
        s = Server(tmp_path / "data", free_port(), extra)
        created.append(s)
        return s

    yield make
    for s in created:
        s.stop()


@pytest.fixture
def env(tmp_path):
    e = dict(os.environ)
    e["TAILCAST_SPOOL"] = str(tmp_path / "spool")
    e.pop("TAILCAST_SERVER", None)
    return e


def tailcast(*args, env=None, **kwargs):
    return subprocess.run([BINARY, *args], env=env, capture_output=True, **kwargs)


def popen(*args, env=None, **kwargs):
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen([BINARY, *args], env=env, **kwargs)


def http_request(url, method="GET", headers=None, token=None, context=None, timeout=5):
    """(status, body) of one HTTP request; an error status is an answer, not an exception."""
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def py(code: str):
    """A job command: python3 running `code`."""
    return [sys.executable, "-c", code]
