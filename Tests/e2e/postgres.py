"""A throwaway PostgreSQL for the store tests, and a cluster of `serve --store` nodes behind haproxy.

PostgresCluster runs Debian's own binaries (/usr/lib/postgresql/*/bin, no system service): `initdb` in
a temporary directory, `pg_ctl` on a free 127.0.0.1 port with its Unix socket in that directory, trust
authentication (the cluster lives for one test session and listens only on loopback). initdb refuses
to run as root, so as root (CI) every server-side command runs as the `postgres` system user, which
owns the directory; the client commands (psql) connect over TCP and run as whoever runs the tests.
With a server certificate it speaks TLS, and takes the tailcast role over TLS only (test_store_tls.py).

Cluster starts N `tailcast serve` nodes, each with its own `--data` (its local cache) and `--node` name,
and haproxy in front of them with the configuration README gives users (Packaging/scale-out/haproxy.cfg):
HTTP mode (WebSocket upgrades become tunnels), round robin with no stickiness, a health check on
/healthz, and redispatch so a connection meant for a node that just died goes to another one.
"""
import glob
import itertools
import os
import shutil
import subprocess
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO, Server, free_port, stop_process, wait_until

SBIN_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])
HAPROXY = shutil.which("haproxy", path=SBIN_PATH)
# The newest installed major version: Debian's postgresql package puts each under its own directory.
POSTGRES_BIN = next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                                key=lambda p: int(Path(p).parts[-3]), reverse=True)), None)
POSTGRES_BIN = Path(POSTGRES_BIN).parent if POSTGRES_BIN else None
INSTALL_HINT = "(apt-get install postgresql haproxy; Packaging/install-deps --test does)"

# The role and database a tailcast node logs in as, the way a deployment would name them.
ROLE = "tailcast"


def database_of(url):
    """The database a postgres:// URL names (its query may hold paths)."""
    return url.split("?")[0].rsplit("/", 1)[1]


def skip_without_postgres():
    if POSTGRES_BIN is None:
        pytest.skip(f"PostgreSQL is not installed {INSTALL_HINT}")


class PostgresCluster:
    """One PostgreSQL server in a temporary directory, on 127.0.0.1:port; stop() and start() keep its data.
    tls: a (certificate, key) pair of PEM files to serve TLS with; the tailcast role may then connect
    over TLS only (`hostssl`), so a plain connection is refused as a deployment that requires TLS would."""

    def __init__(self, tls=None):
        if POSTGRES_BIN is None:
            raise RuntimeError(f"PostgreSQL is not installed {INSTALL_HINT}")
        self.dir = Path(tempfile.mkdtemp(prefix="tailcast-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = free_port()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self._names = itertools.count(1)
        self._server(["initdb", "-D", str(self.data), "--auth=trust", "--username=postgres",
                      "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"])
        if tls:
            self._serve_tls(*tls)
        self.start()
        self.sql(f"CREATE ROLE {ROLE} LOGIN")
        self.create_database(ROLE)

    def _serve_tls(self, certificate, key):
        shutil.copy(certificate, self.dir / "server.pem")
        shutil.copy(key, self.dir / "server.key")
        # PostgreSQL refuses a key that others may read or that another user owns.
        os.chmod(self.dir / "server.key", 0o600)
        if self.as_postgres:
            shutil.chown(self.dir / "server.key", "postgres", "postgres")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"ssl = on\nssl_cert_file = '{self.dir / 'server.pem'}'\nssl_key_file = '{self.dir / 'server.key'}'\n")
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\n"
            "host all postgres 127.0.0.1/32 trust\n"
            f"hostssl all {ROLE} 127.0.0.1/32 trust\n")

    def _server(self, args):
        subprocess.run([*self.as_postgres, str(POSTGRES_BIN / args[0]), *args[1:]], check=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.dir)

    def start(self):
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        self._server(["pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data), "-l", str(self.log),
                      "-o", options])
        return self

    def stop(self, mode="fast"):
        """`fast` disconnects clients and shuts down cleanly; `immediate` is a crash (recovery at the next start)."""
        self._server(["pg_ctl", "stop", "-w", "-t", "60", "-D", str(self.data), "-m", mode])

    def running(self):
        return subprocess.run([str(POSTGRES_BIN / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
                              ).returncode == 0

    def sql(self, statement, database="postgres", user="postgres"):
        """Runs one statement with psql over TCP; returns its rows as unaligned text, `|` between columns."""
        result = subprocess.run(
            [str(POSTGRES_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", user, "-d", database,
             "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", statement],
            capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"psql {statement!r}: {result.stderr.strip()}")
        return result.stdout.strip()

    def archived(self, url, job, stream="stdout"):
        """A stream's bytes as the store holds them: its chunks in offset order, concatenated. Equal to what
        was sent only if every byte is there exactly once (an overlap or a gap would show)."""
        database = database_of(url)
        assert job.replace("-", "").isalnum() and stream.isalnum(), "test ids only: they go into the SQL text"
        hexed = self.sql("SELECT encode(coalesce(string_agg(bytes, ''::bytea ORDER BY start_offset), ''::bytea), 'hex')"
                         f" FROM chunks WHERE job = '{job}' AND stream = '{stream}'", database)
        return bytes.fromhex(hexed)

    def create_database(self, name, **url):
        self.sql(f'CREATE DATABASE "{name}" OWNER {ROLE}')
        return self.url_of(name, **url)

    def url_of(self, database, host="127.0.0.1", sslmode="disable", **parameters):
        """The database's URL; parameters such as sslrootcert go into its query after sslmode."""
        query = urllib.parse.urlencode({"sslmode": sslmode, **parameters}, safe="/")
        return f"postgres://{ROLE}@{host}:{self.port}/{database}?{query}"

    @property
    def url(self):
        return self.url_of(ROLE)

    def fresh_database(self, **url):
        """A new empty database owned by the tailcast role, so a test sees no other test's jobs; its URL
        (url_of's options)."""
        return self.create_database(f"tailcast_{next(self._names)}", **url)

    def destroy(self):
        if self.running():
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres():
    skip_without_postgres()
    cluster = PostgresCluster()
    yield cluster
    cluster.destroy()


class Balancer:
    """haproxy on 127.0.0.1:port in front of the given ports, configured as README's "Scale out" says."""

    def __init__(self, directory: Path, upstreams):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.upstreams = list(upstreams)
        self.port = free_port()
        self.stats_port = free_port()
        self.output = self.dir / "haproxy.log"
        self.process = None

    def config(self):
        """Packaging/scale-out/haproxy.cfg, the one README gives users, with this test's addresses in."""
        shipped = (REPO / "Packaging" / "scale-out" / "haproxy.cfg").read_text()
        servers = [line for line in shipped.splitlines() if line.strip().startswith("server ")]
        options = servers[0].split(None, 3)[3]  # server NAME ADDRESS OPTIONS...
        ours = "\n".join(f"    server node{i} 127.0.0.1:{port} {options}" for i, port in enumerate(self.upstreams))
        config = shipped.replace("bind :7070", f"bind 127.0.0.1:{self.port}")
        config = config.replace("\n".join(servers), ours)
        return config + f"""
listen stats
    bind 127.0.0.1:{self.stats_port}
    stats enable
    stats uri /
"""

    def start(self):
        if HAPROXY is None:
            pytest.skip(f"haproxy is not installed {INSTALL_HINT}")
        (self.dir / "haproxy.cfg").write_text(self.config())
        with open(self.output, "ab") as out:
            self.process = subprocess.Popen([HAPROXY, "-f", str(self.dir / "haproxy.cfg"), "-db"],
                                            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_until(lambda: self.process.poll() is not None or self.up_count() == len(self.upstreams),
                   timeout=20, what="haproxy to see every node up")
        if self.process.poll() is not None:
            raise RuntimeError(f"haproxy exited with {self.process.returncode}:\n{self.output.read_text()}")
        return self

    def server_states(self):
        """{server name: haproxy's status (UP, DOWN, ...)} from the stats CSV."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.stats_port}/;csv", timeout=2) as r:
                rows = r.read().decode().splitlines()
        except OSError:
            return {}
        header = rows[0].lstrip("# ").split(",")
        status, name, kind = header.index("status"), header.index("svname"), header.index("pxname")
        return {cols[name]: cols[status] for cols in (row.split(",") for row in rows[1:] if row)
                if cols[kind] == "nodes" and cols[name] not in ("FRONTEND", "BACKEND")}

    def up_count(self):
        return sum(1 for s in self.server_states().values() if s.startswith("UP"))

    def stop(self):
        stop_process(self.process)


class Cluster:
    """N `tailcast serve` nodes sharing `store` (a postgres:// URL; None: each its own embedded archive)
    behind one Balancer. Nodes are named a, b, c, ...; each has its own --data under `directory`."""

    def __init__(self, directory: Path, store, count=3, extra=()):
        self.nodes = []
        for i in range(count):
            name = chr(ord("a") + i)
            node_dir = directory / f"node-{name}"
            node_dir.mkdir(parents=True, exist_ok=True)
            store_args = ["--store", store, "--node", name] if store else []
            node = Server(node_dir / "data", free_port(), [*store_args, *extra])
            node.name = name
            self.nodes.append(node)
        self.balancer = Balancer(directory / "haproxy", (n.port for n in self.nodes))

    @property
    def url(self):
        """The balancer's address: what agents and watchers are given."""
        return f"ws://127.0.0.1:{self.balancer.port}"

    def start(self):
        for node in self.nodes:
            try:
                node.start()
            except AssertionError as error:
                raise AssertionError(f"node {node.name} did not start:\n{node.log.read_text(errors='replace')[-2000:]}") from error
        self.balancer.start()
        return self

    def stop(self):
        self.balancer.stop()
        for node in self.nodes:
            node.stop()

    def logs(self):
        return "\n".join(f"--- node {n.name}\n{n.log.read_text(errors='replace')[-4000:]}" for n in self.nodes)


@pytest.fixture
def make_cluster(tmp_path):
    created = []

    def make(store, count=3, extra=()):
        cluster = Cluster(tmp_path / f"cluster-{len(created)}", store, count, extra)
        created.append(cluster)
        return cluster.start()

    yield make
    for cluster in created:
        cluster.stop()
