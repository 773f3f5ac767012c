"""Through Debian's real reverse proxies, nginx and haproxy, set to close connections idle for 5 s.

Each test starts its own proxy process in the foreground (not the system service: nothing under /etc
or /var is read or written), with its configuration, pid file, logs and temporary files under
tmp_path, listening on a free 127.0.0.1 port in front of a `tailcast serve`. Agents and watchers talk
to the proxy; the test reads the server directly.

How connections are counted: each proxy writes one access-log line per proxied request when the
request ends, and a WebSocket is one request that ends when the tunnel closes (status 101). The
test waits until the proxy reports no open client connection (nginx's stub_status, haproxy's stats
CSV), so every connection has ended and has its line, then counts the 101 lines per path
(/v1/publish: the agent, /v1/watch: the watcher). The server's own log ("agent connected", one per
agent connection) is a second count for the agent. Proof that the proxy cut a connection for being
idle: nginx logs "upstream timed out ... while proxying upgraded connection" in its error log (at
level info, which the configuration keeps);
haproxy's log line has a termination state starting with c or s (client- or server-side timeout).
"""
import hashlib
import os
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from conftest import free_port, popen, py, stop_process, tailcast, wait_until

IDLE_TIMEOUT = 5  # seconds, both proxies, both directions
SBIN_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])
NGINX = shutil.which("nginx", path=SBIN_PATH)
HAPROXY = shutil.which("haproxy", path=SBIN_PATH)

PROXIES = [
    pytest.param("nginx", marks=pytest.mark.skipif(
        NGINX is None, reason="nginx is not installed (apt-get install nginx-light; Packaging/install-deps --test does)")),
    pytest.param("haproxy", marks=pytest.mark.skipif(
        HAPROXY is None, reason="haproxy is not installed (apt-get install haproxy; Packaging/install-deps --test does)")),
]

PUBLISH, WATCH = "/v1/publish", "/v1/watch"
# The proxies here are reverse proxies: clients (tailcast and urllib) must reach them directly.
PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture
def direct_env(env):
    return {k: v for k, v in env.items() if k not in PROXY_VARIABLES}


class Proxy:
    """A reverse proxy process in front of 127.0.0.1:upstream, on 127.0.0.1:port."""

    def __init__(self, directory: Path, upstream: int, idle_timeout: int):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.upstream = upstream
        self.idle_timeout = idle_timeout
        self.port = free_port()
        self.process = None
        self.output = self.dir / "output.log"

    @property
    def url(self):
        return f"ws://127.0.0.1:{self.port}"

    def command(self) -> list:
        raise NotImplementedError

    def start(self):
        with open(self.output, "ab") as out:
            self.process = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
        wait_until(lambda: self.process.poll() is not None or self.reaches_server(), timeout=15,
                   what=f"{self.name} to listen")
        if self.process.poll() is not None:
            pytest.fail(f"{self.name} exited with {self.process.returncode}:\n{self.logs()}")
        return self

    def reaches_server(self):
        try:
            with DIRECT.open(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def stop(self):
        stop_process(self.process)

    def get(self, url):
        with DIRECT.open(url, timeout=2) as r:
            return r.read().decode()

    def websockets(self, path) -> int:
        """WebSocket connections to `path` that went through and have ended."""
        return sum(1 for status, p in self.requests() if status == "101" and p == path)

    def settled(self):
        """Waits until no client connection is open, so every connection has its log line."""
        wait_until(self.idle, timeout=15, what=f"{self.name} to have no open connection")


class Nginx(Proxy):
    name = "nginx"

    def command(self):
        d = self.dir
        t = self.idle_timeout
        (d / "nginx.conf").write_text(f"""
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 256; }}
http {{
    log_format tailcast '$status $request_method $uri $request_time $upstream_addr';
    access_log {d}/access.log tailcast;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    keepalive_timeout {t}s;
    client_header_timeout {t}s;
    client_body_timeout {t}s;
    send_timeout {t}s;
    server {{
        listen 127.0.0.1:{self.port};
        location = /nginx-status {{ stub_status; access_log off; }}
        location / {{
            proxy_pass http://127.0.0.1:{self.upstream};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_connect_timeout {t}s;
            proxy_read_timeout {t}s;
            proxy_send_timeout {t}s;
            proxy_buffering off;
        }}
    }}
}}
""")
        return [NGINX, "-p", f"{d}/", "-e", f"{d}/error.log", "-c", f"{d}/nginx.conf", "-g", "daemon off;"]

    def requests(self):
        path = self.dir / "access.log"
        lines = path.read_text().splitlines() if path.exists() else []
        return [(f[0], f[2]) for f in (line.split() for line in lines) if len(f) >= 3]

    def idle(self):
        # "Active connections: N" counts this status request too.
        return re.search(r"Active connections:\s*(\d+)", self.get(f"http://127.0.0.1:{self.port}/nginx-status")).group(1) == "1"

    def timeouts(self):
        path = self.dir / "error.log"
        return [line for line in path.read_text().splitlines() if "timed out" in line] if path.exists() else []

    def logs(self):
        return "\n".join(f"--- {name}\n" + ((self.dir / name).read_text()[-3000:] if (self.dir / name).exists() else "")
                         for name in ("output.log", "error.log", "access.log"))


class HAProxy(Proxy):
    name = "haproxy"

    def __init__(self, *args):
        super().__init__(*args)
        self.stats_port = free_port()

    def command(self):
        t = self.idle_timeout
        (self.dir / "haproxy.cfg").write_text(f"""
global
    log stdout format raw local0 info
    maxconn 256

defaults
    mode http
    timeout connect {t}s
    timeout client {t}s
    timeout server {t}s
    timeout tunnel {t}s
    timeout http-request {t}s

frontend tailcast
    bind 127.0.0.1:{self.port}
    log global
    log-format "%ci:%cp %ST %HM %HP %Tt %ts"
    default_backend tailcast

backend tailcast
    server tailcast 127.0.0.1:{self.upstream}

listen stats
    bind 127.0.0.1:{self.stats_port}
    stats enable
    stats uri /
""")
        return [HAPROXY, "-f", str(self.dir / "haproxy.cfg"), "-db"]

    def log_lines(self):
        return [line.split() for line in self.output.read_text().splitlines() if re.match(r"\d+\.\d+\.\d+\.\d+:\d+ ", line)]

    def requests(self):
        return [(f[1], f[3]) for f in self.log_lines() if len(f) >= 6]

    def idle(self):
        rows = [row.split(",") for row in self.get(f"http://127.0.0.1:{self.stats_port}/;csv").splitlines()]
        header = rows[0]
        scur = header.index("scur")
        return any(row[:2] == ["tailcast", "FRONTEND"] and row[scur] == "0" for row in rows[1:])

    def timeouts(self):
        # Termination state: first letter c / s = the client / server side timed out.
        return [" ".join(f) for f in self.log_lines() if len(f) >= 6 and f[5][:1] in ("c", "s")]

    def logs(self):
        return "--- output.log (log)\n" + self.output.read_text()[-3000:]


@pytest.fixture
def start_proxy(tmp_path):
    started = []

    def start(kind, upstream, idle_timeout=IDLE_TIMEOUT):
        proxy = {"nginx": Nginx, "haproxy": HAProxy}[kind](tmp_path / kind, upstream, idle_timeout)
        started.append(proxy)
        return proxy.start()

    yield start
    for proxy in started:
        proxy.stop()


def serve_with_ping_interval(make_server, seconds):
    """`tailcast serve --ping-interval SECONDS`: the server pings every connection that often."""
    help_text = tailcast("serve", "--help").stdout.decode()
    if "--ping-interval" not in help_text:
        pytest.fail("this tailcast has no `serve --ping-interval SECONDS` yet (the server pinging every connection "
                    "that often); this test needs it")
    return make_server(["--ping-interval", str(seconds)]).start()


QUIET = ("import sys, time\n"
         "for i in range({n}):\n"
         "    if i: time.sleep({pause})\n"
         "    print('quiet line %d of {n}' % (i + 1), flush=True)\n"
         "sys.exit({code})")
QUIET_PAUSE = 7  # seconds between lines: longer than the proxies' idle timeout


def quiet_expected(n):
    return b"".join(b"quiet line %d of %d\n" % (i + 1, n) for i in range(n))


def agent_connections(server, job):
    """The server's count: it logs "agent connected" once per agent connection."""
    return sum(1 for line in server.log.read_text().splitlines()
               if line.endswith(" agent connected") and re.search(rf"\bjob={re.escape(job)}\b", line))


def run_quiet_job_through(proxy, server, env, job, lines, code=3):
    """A job printing a line every QUIET_PAUSE s, run and watched through `proxy`; checks nothing is
    lost or repeated and the status arrives; returns (agent stderr, watcher stderr)."""
    run = popen("run", "--job", job, "--no-pty", "--quiet", "--server", proxy.url, "--",
                *py(QUIET.format(n=lines, pause=QUIET_PAUSE, code=code)), env=env)
    wait_until(lambda: job in server.jobs(), what="the job on the server")
    watch = popen("watch", job, "--server", proxy.url, env=env)
    assert run.wait((lines - 1) * QUIET_PAUSE + 40) == code
    run_err = run.stderr.read().decode()
    out, watch_err = watch.communicate(timeout=30)
    watch_err = watch_err.decode()
    assert watch.returncode == code, watch_err
    expected = quiet_expected(lines)
    assert server.archived(job) == expected
    assert out == expected
    info = server.jobs()[job]
    assert info["state"] == "exited" and info["exit"] == {"code": code}
    proxy.settled()
    return run_err, watch_err


@pytest.mark.parametrize("kind", PROXIES)
def test_server_pings_keep_quiet_connections_open_through_proxy(kind, make_server, start_proxy, direct_env):
    server = serve_with_ping_interval(make_server, 2)
    proxy = start_proxy(kind, server.port)
    run_err, watch_err = run_quiet_job_through(proxy, server, direct_env, "quiet", lines=4)
    for text in ("connection lost", "reconnecting", "unreachable"):
        assert text not in run_err, run_err
        assert text not in watch_err, watch_err
    assert proxy.websockets(PUBLISH) == 1, proxy.logs()
    assert proxy.websockets(WATCH) == 1, proxy.logs()
    assert agent_connections(server, "quiet") == 1, server.log.read_text()
    assert proxy.timeouts() == [], proxy.logs()


@pytest.mark.parametrize("kind", PROXIES)
def test_without_frequent_pings_the_proxy_cuts_idle_connections_and_nothing_is_lost(kind, make_server, start_proxy, direct_env):
    server = serve_with_ping_interval(make_server, 60)
    proxy = start_proxy(kind, server.port)
    run_err, watch_err = run_quiet_job_through(proxy, server, direct_env, "cut", lines=3)
    # The proxy really closes idle tunnels: both clients had to connect again, and it says why.
    assert proxy.timeouts(), proxy.logs()
    assert proxy.websockets(PUBLISH) > 1, proxy.logs()
    assert proxy.websockets(WATCH) > 1, proxy.logs()
    assert agent_connections(server, "cut") == proxy.websockets(PUBLISH), server.log.read_text()
    assert "reconnecting" in watch_err, watch_err


HEAVY_LINES = 40_000
HEAVY = ("import hashlib, sys\n"
         "w = sys.stdout.buffer.write\n"
         f"for i in range({HEAVY_LINES}):\n"
         "    d = hashlib.sha256(b'%d' % i).digest()\n"
         "    w(b'%07d ' % i + d.hex().encode() + b' ' + d + b'\\n')\n")


def heavy_expected():
    out = []
    for i in range(HEAVY_LINES):
        d = hashlib.sha256(b"%d" % i).digest()
        out.append(b"%07d " % i + d.hex().encode() + b" " + d + b"\n")
    return b"".join(out)


def digest(data: bytes):
    return len(data), hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("kind", PROXIES)
def test_heavy_output_through_proxy_is_archived_byte_exact(kind, make_server, start_proxy, direct_env):
    expected = heavy_expected()  # about 4.2 MB, a third of it random bytes (newlines and CRs included)
    server = make_server().start()
    proxy = start_proxy(kind, server.port)
    run = popen("run", "--job", "heavy", "--no-pty", "--quiet", "--server", proxy.url, "--", *py(HEAVY), env=direct_env)
    wait_until(lambda: "heavy" in server.jobs(), what="the job on the server")
    watch = popen("watch", "heavy", "--raw", "--server", proxy.url, env=direct_env)
    assert run.wait(60) == 0, run.stderr.read()
    out, watch_err = watch.communicate(timeout=60)
    assert watch.returncode == 0, watch_err
    assert digest(server.archived("heavy")) == digest(expected)
    assert digest(out) == digest(expected)
    proxy.settled()
    assert proxy.websockets(PUBLISH) == 1, proxy.logs()
    assert proxy.websockets(WATCH) == 1, proxy.logs()
