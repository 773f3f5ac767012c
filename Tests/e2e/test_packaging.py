"""Packaging: the .deb installs, serves a job as the packaged user and uninstalls cleanly; the example
manifests are valid YAML.

The package tests run only when TAILCAST_DEB points to a built package (Packaging/deb/build makes
one; building it takes minutes) and as root: they install it into this machine with `dpkg -i`, and
remove and purge it at the end, leaving the machine as it was. Without systemd running as PID 1
(containers, most CI machines) the server is started directly as the tailcast user, with the
command line and settings the unit would use; only the systemctl checks are skipped then.

    TAILCAST_DEB=.build/deb/tailcast_0.1.0-1_amd64.deb python3 -m pytest Tests/e2e/test_packaging.py -v
"""
import gzip
import json
import os
import pwd
import grp
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

from conftest import stream_file_bytes
from postgres import postgres  # noqa: F401 (fixture)

REPO = Path(__file__).resolve().parents[2]
DEB = os.environ.get("TAILCAST_DEB")
UNITS = Path("/lib/systemd/system")
SERVER_UNIT = UNITS / "tailcast-server.service"
TAIL_UNIT = UNITS / "tailcast-tail@.service"
SERVER_ENV = Path("/etc/tailcast/server.env")
DATA = Path("/var/lib/tailcast")
SPOOLS = Path("/var/lib/tailcast-tail")
SHIPPED = [
    Path("/usr/bin/tailcast"),
    Path("/usr/share/man/man1/tailcast.1.gz"),
    Path("/usr/share/bash-completion/completions/tailcast"),
    Path("/usr/share/zsh/vendor-completions/_tailcast"),
    Path("/usr/share/fish/vendor_completions.d/tailcast.fish"),
    SERVER_UNIT,
    TAIL_UNIT,
    SERVER_ENV,
    Path("/usr/share/doc/tailcast/copyright"),
    Path("/usr/share/doc/tailcast/examples/tail-example.env"),
]


def package_skip_reason():
    if not DEB:
        return ("set TAILCAST_DEB to a built .deb to run the package tests "
                "(Packaging/deb/build makes one; it takes minutes)")
    if not Path(DEB).is_file():
        return f"TAILCAST_DEB={DEB} is not a file"
    if os.geteuid() != 0:
        return "the package tests install the .deb into this machine: run them as root"
    return None


needs_package = pytest.mark.skipif(package_skip_reason() is not None, reason=package_skip_reason() or "")


def systemd_running() -> bool:
    """systemd is PID 1 and up (not in a container or a CI job without it)."""
    if not Path("/run/systemd/system").is_dir() or not shutil.which("systemctl"):
        return False
    state = subprocess.run(["systemctl", "is-system-running"], capture_output=True, text=True).stdout.strip()
    return state in ("running", "degraded", "starting", "initializing")


def sh(*args, check=True, **kwargs):
    result = subprocess.run(list(args), capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{shlex.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def healthy(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def source_version() -> str:
    text = (REPO / "Sources/tailcast/Tailcast.swift").read_text()
    return re.search(r'static let version = "([^"]+)"', text).group(1)


# --- systemd's unit and environment file syntax, as much of it as the packaged units use ---------

def read_env_file(path: Path) -> dict:
    """KEY=value lines as systemd's EnvironmentFile= reads them (comments, quotes)."""
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")) or "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def unit_service_settings(path: Path) -> list:
    """(key, value) pairs of the [Service] section, in order."""
    settings, section = [], None
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]" and "=" in line:
            key, value = line.split("=", 1)
            settings.append((key.strip(), value.strip()))
    return settings


def unit_command(path: Path, drop_ins=()) -> tuple:
    """ExecStart= of a unit, expanded as systemd would: Environment= defaults, then the
    EnvironmentFile= values over them; ${VAR} is one argument, a lone $VAR splits on whitespace.
    `drop_ins` (`UNIT.d/*.conf`) are read after the unit, so their EnvironmentFile= values win."""
    env, command = {}, None
    for key, value in [setting for file in (path, *drop_ins) for setting in unit_service_settings(file)]:
        if key == "Environment":
            for assignment in shlex.split(value):
                name, _, val = assignment.partition("=")
                env[name] = val
        elif key == "EnvironmentFile":
            optional = value.startswith("-")
            file = Path(value.lstrip("-"))
            if file.exists():
                env.update(read_env_file(file))
            else:
                assert optional, f"{path}: EnvironmentFile {file} is missing"
        elif key == "ExecStart":
            command = value.lstrip("-@:+!")
    assert command, f"{path} has no ExecStart"
    argv = []
    for word in shlex.split(command):
        lone = re.fullmatch(r"\$(\w+)", word)
        if lone:
            argv += env.get(lone.group(1), "").split()
        else:
            argv.append(re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), ""), word))
    return argv, env


# --- the package: install, check, serve, remove, purge ------------------------------------------

class Installed:
    """What the package tests share: the machine's state before, and a server they started."""

    def __init__(self):
        self.user_existed = self.group_existed = False
        self.dirs_existed = {}
        self.server = None  # a Popen when started directly (no systemd)
        self.port = None
        self.job = None


@pytest.fixture(scope="module")
def installed():
    state = Installed()
    already = sh("dpkg-query", "-W", "-f=${Status}", "tailcast", check=False).stdout
    if "installed" in already and "not-installed" not in already:
        pytest.fail("a tailcast package is installed already; these tests install and purge one, so they stop here")
    try:
        pwd.getpwnam("tailcast")
        state.user_existed = True
    except KeyError:
        pass
    try:
        grp.getgrnam("tailcast")
        state.group_existed = True
    except KeyError:
        pass
    state.dirs_existed = {d: d.exists() for d in (DATA, SPOOLS, SERVER_ENV.parent)}

    result = sh("dpkg", "-i", DEB, check=False)
    assert result.returncode == 0, f"dpkg -i failed:\n{result.stdout}\n{result.stderr}"
    try:
        yield state
    finally:
        stop_direct_server(state)
        status = sh("dpkg-query", "-W", "-f=${Status}", "tailcast", check=False).stdout
        if status and "not-installed" not in status:
            sh("dpkg", "--purge", "tailcast", check=False)
        # Leave the machine as it was: the package keeps the archive and the user on purge, on
        # purpose; these are the test's (and /etc/tailcast, should a failed purge have left it).
        for directory, existed in state.dirs_existed.items():
            if not existed:
                shutil.rmtree(directory, ignore_errors=True)
        if not state.user_existed:
            sh("userdel", "tailcast", check=False)
        if not state.group_existed:
            sh("groupdel", "tailcast", check=False)


def stop_direct_server(state):
    if state.server and state.server.poll() is None:
        state.server.send_signal(signal.SIGTERM)
        try:
            state.server.wait(15)
        except subprocess.TimeoutExpired:
            state.server.kill()
            state.server.wait()
    state.server = None


@needs_package
def test_files_are_in_place(installed):
    for path in SHIPPED:
        assert path.is_file(), f"{path} is missing"
    assert os.access("/usr/bin/tailcast", os.X_OK)
    assert shutil.which("tailcast") == "/usr/bin/tailcast", "tailcast is not the one on the PATH"
    listed = sh("dpkg-query", "-L", "tailcast").stdout.split("\n")
    for path in SHIPPED:
        assert str(path) in listed, f"dpkg does not list {path} as the package's"
    conffiles = sh("dpkg-query", "-W", "-f=${Conffiles}", "tailcast").stdout
    assert str(SERVER_ENV) in conffiles, "server.env must be a conffile (kept on remove and upgrades)"


@needs_package
def test_version_matches_the_source_and_the_package(installed):
    reported = sh("tailcast", "--version").stdout.strip()
    assert reported == source_version()
    package_version = sh("dpkg-deb", "-f", DEB, "Version").stdout.strip()
    assert package_version.split("-")[0] == reported, f"package {package_version}, binary {reported}"


@needs_package
def test_dependencies_cover_what_the_binary_loads(installed):
    ldd = sh("ldd", "/usr/bin/tailcast", check=False)
    if "not a dynamic executable" in ldd.stdout + ldd.stderr:
        return  # fully static: nothing to depend on
    assert "not found" not in ldd.stdout, ldd.stdout
    assert "/opt/" not in ldd.stdout and "/usr/local/" not in ldd.stdout, \
        f"the packaged binary loads libraries from outside Debian's packages:\n{ldd.stdout}"
    depends = sh("dpkg-deb", "-f", DEB, "Depends").stdout
    assert "libc6" in depends and "adduser" in depends, depends


@needs_package
def test_man_page(installed):
    page = gzip.decompress(Path("/usr/share/man/man1/tailcast.1.gz").read_bytes()).decode()
    assert ".TH TAILCAST 1" in page
    assert source_version() in page
    for command in ("serve", "run", "watch", "ls"):
        assert f".SS tailcast {command}" in page, f"the man page does not document {command}"
    if shutil.which("man"):
        rendered = sh("man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", "/usr/share/man/man1/tailcast.1.gz",
                      env={**os.environ, "LC_ALL": "C.UTF-8", "MANWIDTH": "80"})
        assert rendered.stderr.strip() == "", f"groff warnings:\n{rendered.stderr}"


@needs_package
@pytest.mark.parametrize("shell,path", [
    ("bash", "/usr/share/bash-completion/completions/tailcast"),
    ("zsh", "/usr/share/zsh/vendor-completions/_tailcast"),
    ("fish", "/usr/share/fish/vendor_completions.d/tailcast.fish"),
])
def test_completions_are_swift_argument_parsers(installed, shell, path):
    shipped = Path(path).read_text()
    generated = sh("/usr/bin/tailcast", "--generate-completion-script", shell, env={"PATH": "/usr/bin:/bin"}).stdout
    if shell == "bash":  # the build drops the #! line (the file is sourced, not run)
        generated = re.sub(r"\A#!.*\n", "", generated)
        assert sh("bash", "-n", path).returncode == 0
    assert shipped == generated, f"{path} is not what tailcast --generate-completion-script {shell} prints"


@needs_package
def test_system_user_and_directories(installed):
    user = pwd.getpwnam("tailcast")
    assert user.pw_uid < 1000, "tailcast must be a system user"
    assert user.pw_dir == str(DATA)
    assert user.pw_shell in ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false")
    assert grp.getgrgid(user.pw_gid).gr_name == "tailcast"
    for directory in (DATA, SPOOLS):
        info = directory.stat()
        assert (info.st_uid, info.st_gid) == (user.pw_uid, user.pw_gid), f"{directory} is not tailcast's"
        assert oct(info.st_mode & 0o777) == oct(0o750), f"{directory} is {oct(info.st_mode & 0o777)}"


@needs_package
def test_units(installed):
    server = dict(unit_service_settings(SERVER_UNIT))
    for key, value in {"User": "tailcast", "ProtectSystem": "strict", "NoNewPrivileges": "yes",
                       "PrivateTmp": "yes", "Restart": "on-failure", "StateDirectory": "tailcast"}.items():
        assert server.get(key) == value, f"tailcast-server.service: {key}={server.get(key)}, expected {value}"
    assert "/etc/tailcast/server.env" in server["EnvironmentFile"]
    argv, _ = unit_command(SERVER_UNIT)
    assert argv[:2] == ["/usr/bin/tailcast", "serve"] and argv[argv.index("--data") + 1] == str(DATA)

    tail = dict(unit_service_settings(TAIL_UNIT))
    assert tail["EnvironmentFile"] == "/etc/tailcast/tail-%i.env"
    assert tail["ExecStart"].startswith("/usr/bin/tailcast tail --job %i")
    assert "$TAILCAST_FILES" in tail["ExecStart"]

    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    for unit in (str(SERVER_UNIT), str(TAIL_UNIT), "tailcast-tail@web.service"):
        result = sh("systemd-analyze", "verify", unit, check=False)
        # systemd 252 reports unknown keys and bad values on stderr but still exits 0.
        assert result.returncode == 0 and result.stderr.strip() == "", f"verify {unit}:\n{result.stderr}"


@needs_package
def test_serve_a_job_as_the_packaged_user(installed, tmp_path):
    # A free port, set through the settings file the unit reads.
    installed.port = port = free_port()
    settings = SERVER_ENV.read_text()
    settings = re.sub(r"(?m)^TAILCAST_PORT=.*$", f"TAILCAST_PORT={port}", settings)
    SERVER_ENV.write_text(settings)
    server_url = f"ws://127.0.0.1:{port}"

    if systemd_running():
        sh("systemctl", "restart", "tailcast-server")
        wait_until(lambda: healthy(port), what="tailcast-server.service to listen on the port from server.env")
        pid = int(sh("systemctl", "show", "-p", "MainPID", "--value", "tailcast-server").stdout)
        uid = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                   if line.startswith("Uid:"))
        assert uid == pwd.getpwnam("tailcast").pw_uid, "the service does not run as tailcast"
    else:
        # What the unit would run, with the settings it would read, as the user it would use.
        argv, env = unit_command(SERVER_UNIT)
        assert env["TAILCAST_PORT"] == str(port)
        log = open(tmp_path / "serve.log", "wb")
        installed.server = subprocess.Popen(["runuser", "-u", "tailcast", "--", *argv],
                                            stdout=log, stderr=subprocess.STDOUT, cwd="/")
        wait_until(lambda: healthy(port) or installed.server.poll() is not None,
                   what="tailcast serve (as tailcast) to listen")
        assert installed.server.poll() is None, (tmp_path / "serve.log").read_text()

    installed.job = job = f"pkg-{uuid.uuid4().hex[:8]}"
    client_env = {**os.environ, "TAILCAST_SPOOL": str(tmp_path / "spool")}
    client_env.pop("TAILCAST_SERVER", None)
    run = sh("tailcast", "run", "--job", job, "--server", server_url, "--no-pty", "--",
             "sh", "-c", "echo hello from the package; echo on stderr >&2; exit 3",
             check=False, env=client_env, timeout=60)
    assert run.returncode == 3, run.stderr
    assert "hello from the package" in run.stdout

    # The archive, under the packaged data directory, owned by the packaged user.
    job_dir = DATA / "jobs" / job
    info = json.loads((job_dir / "job.json").read_text())
    assert job_dir.stat().st_uid == pwd.getpwnam("tailcast").pw_uid
    stdout_file = next(s["file"] for s in info["streams"] if s["name"] == "stdout")
    assert stream_file_bytes(job_dir / "streams" / stdout_file) == b"hello from the package\n"

    watch = sh("tailcast", "watch", job, "--server", server_url, "--no-follow", check=False, env=client_env, timeout=30)
    assert watch.returncode == 3
    assert watch.stdout == "hello from the package\n" and "on stderr" in watch.stderr
    listing = json.loads(sh("tailcast", "ls", "--json", "--server", server_url, env=client_env, timeout=30).stdout)
    assert any(j["id"] == job for j in listing["jobs"])


@needs_package
def test_sidecar_template_follows_a_file_as_the_packaged_user(installed, tmp_path):
    assert installed.job, "runs after test_serve_a_job_as_the_packaged_user"
    logs = Path("/var/tmp") / f"tailcast-pkgtest-{uuid.uuid4().hex[:6]}"
    logs.mkdir()
    log = logs / "app.log"
    log.write_text("")
    os.chmod(logs, 0o755)
    os.chmod(log, 0o644)
    env_file = Path("/etc/tailcast/tail-pkgtest.env")
    env_file.write_text(f"TAILCAST_FILES={log}\nTAILCAST_SERVER=ws://127.0.0.1:{installed.port}\n")
    if systemd_running():
        sh("systemctl", "start", "tailcast-tail@pkgtest")
        sidecar = None
    else:
        # What tailcast-tail@pkgtest.service runs: its command line, its settings, its user and state directory.
        settings = read_env_file(env_file)
        state = Path("/var/lib/tailcast-tail/pkgtest")
        state.mkdir(parents=True, exist_ok=True)
        shutil.chown(state, "tailcast", "tailcast")
        # setpriv execs (runuser would stay in between and turn SIGTERM into a kill of the session).
        sidecar = subprocess.Popen(
            ["setpriv", "--reuid=tailcast", "--regid=tailcast", "--init-groups", "env", f"TAILCAST_SPOOL={state.parent}", f"TAILCAST_SERVER={settings['TAILCAST_SERVER']}",
             "tailcast", "tail", "--job", "pkgtest", *settings["TAILCAST_FILES"].split()],
            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "sidecar.err", "wb"), cwd="/")
    try:
        time.sleep(1.5)
        with open(log, "a") as f:
            f.write("from the sidecar\n")
        url = f"http://127.0.0.1:{installed.port}/v1/jobs/pkgtest/raw?stream={log}"

        def delivered():
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    return r.read() == b"from the sidecar\n"
            except OSError:
                return False
        wait_until(delivered, what="the sidecar to deliver the line")
        assert (Path("/var/lib/tailcast-tail/pkgtest") / "checkpoints.json").is_file(), "state where the docs say"
    finally:
        if sidecar is None:
            sh("systemctl", "stop", "tailcast-tail@pkgtest", check=False)
        else:
            sidecar.send_signal(signal.SIGTERM)
            assert sidecar.wait(30) == 0, (tmp_path / "sidecar.err").read_text()
        shutil.rmtree(logs, ignore_errors=True)


@needs_package
def test_the_scale_out_drop_in_makes_the_packaged_server_a_store_node(installed, postgres, tmp_path):
    """README's "Scale out" recipe for plain hosts, from the files the package ships: the drop-in and
    store.env put where it says, then the packaged unit serves from a real PostgreSQL."""
    shipped = Path("/usr/share/doc/tailcast/examples/scale-out")
    for name in ("tailcast-server.service.d/store.conf", "store.env", "haproxy.cfg"):
        assert (shipped / name).is_file(), f"{shipped / name} is not in the package"
    drop_in = Path("/etc/systemd/system/tailcast-server.service.d/store.conf")
    store_env = SERVER_ENV.parent / "store.env"
    assert not drop_in.exists() and not store_env.exists(), "this machine has a store drop-in already"
    stop_direct_server(installed)
    installed.port = port = free_port()
    SERVER_ENV.write_text(re.sub(r"(?m)^TAILCAST_PORT=.*$", f"TAILCAST_PORT={port}", SERVER_ENV.read_text()))
    url, node = postgres.fresh_database(), f"pkg-{uuid.uuid4().hex[:6]}"
    drop_in.parent.mkdir(parents=True)
    shutil.copy(shipped / "tailcast-server.service.d/store.conf", drop_in)
    settings = (shipped / "store.env").read_text()
    settings = re.sub(r"(?m)^TAILCAST_STORE=.*$", f"TAILCAST_STORE={url}", settings)
    settings = re.sub(r"(?m)^#TAILCAST_NODE=.*$", f"TAILCAST_NODE={node}", settings)
    store_env.write_text(settings)
    os.chmod(store_env, 0o640)
    shutil.chown(store_env, "root", "tailcast")
    try:
        if systemd_running():
            sh("systemctl", "daemon-reload")
            sh("systemctl", "restart", "tailcast-server")
        else:
            argv, env = unit_command(SERVER_UNIT, [drop_in])
            assert env["TAILCAST_STORE"] == url and env["TAILCAST_NODE"] == node
            log = open(tmp_path / "serve.log", "wb")
            installed.server = subprocess.Popen(["runuser", "-u", "tailcast", "--", *argv], env={**os.environ, **env},
                                                stdout=log, stderr=subprocess.STDOUT, cwd="/")
        wait_until(lambda: healthy(port), what="the packaged server to listen with the store drop-in")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            store = json.loads(response.read())["store"]
        assert store["kind"] == "postgres" and store["ok"] and store["node"] == node, store
        job = f"pkg-store-{uuid.uuid4().hex[:6]}"
        client_env = {**os.environ, "TAILCAST_SPOOL": str(tmp_path / "spool")}
        run = sh("tailcast", "run", "--job", job, "--server", f"ws://127.0.0.1:{port}", "--no-pty", "--",
                 "echo", "committed through the drop-in", check=False, env=client_env, timeout=60)
        assert run.returncode == 0, run.stderr
        assert postgres.archived(url, job) == b"committed through the drop-in\n"
    finally:
        drop_in.unlink()
        drop_in.parent.rmdir()
        store_env.unlink()
        if systemd_running():
            sh("systemctl", "daemon-reload")
            sh("systemctl", "restart", "tailcast-server")
        else:
            stop_direct_server(installed)


@needs_package
def test_remove_keeps_the_data_and_purge_removes_the_settings(installed):
    assert installed.job, "runs after test_serve_a_job_as_the_packaged_user"
    with_systemd = systemd_running()
    if with_systemd:
        assert sh("systemctl", "is-active", "tailcast-server", check=False).stdout.strip() == "active"
    else:
        stop_direct_server(installed)  # prerm can only stop what systemd runs
    # A sidecar's settings, as an admin would write them: settings too, so purge removes them.
    sidecar_env = Path("/etc/tailcast/tail-pkgtest.env")
    sidecar_env.write_text("TAILCAST_FILES=/var/log/syslog\nTAILCAST_SERVER=ws://127.0.0.1:7070\n")

    sh("dpkg", "--remove", "tailcast")
    if with_systemd:
        assert sh("systemctl", "is-active", "tailcast-server", check=False).stdout.strip() != "active", \
            "removing the package must stop the server"
        assert not healthy(installed.port)
    for path in SHIPPED:
        if path != SERVER_ENV:
            assert not path.exists(), f"{path} is left after dpkg --remove"
    assert f"TAILCAST_PORT={installed.port}" in SERVER_ENV.read_text(), "remove must keep the settings"
    assert sidecar_env.is_file(), "remove must keep the sidecars' settings"
    assert (DATA / "jobs" / installed.job / "job.json").is_file(), "remove must keep the archive"
    pwd.getpwnam("tailcast")

    sh("dpkg", "--purge", "tailcast")
    assert not Path("/etc/tailcast").exists(), "purge must remove the settings"
    assert not Path("/etc/systemd/system/multi-user.target.wants/tailcast-server.service").exists()
    assert (DATA / "jobs" / installed.job / "job.json").is_file(), "purge keeps the archive (the admin deletes it)"
    status = sh("dpkg-query", "-W", "-f=${Status}", "tailcast", check=False)
    assert status.returncode != 0 or "not-installed" in status.stdout


# --- the examples: manifests are valid, always checked ----------------------------------------

def example_yaml_files():
    return sorted(p for p in (REPO / "Examples").rglob("*") if p.suffix in (".yaml", ".yml"))


@pytest.mark.parametrize("path", example_yaml_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_example_yaml_parses(path):
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert documents, f"{path} holds no YAML document"


def test_kubernetes_pod_has_tailcast_sidecar_sharing_the_log_volume():
    manifest = REPO / "Examples" / "kubernetes" / "pod.yaml"
    documents = [d for d in yaml.safe_load_all(manifest.read_text()) if d is not None]
    for document in documents:
        assert {"apiVersion", "kind", "metadata"} <= document.keys(), f"not a Kubernetes object: {document}"
        assert document["metadata"].get("name")
    pods = [d for d in documents if d["kind"] == "Pod"]
    assert len(pods) == 1, "pod.yaml holds one Pod"
    spec = pods[0]["spec"]
    # A native sidecar (an init container that keeps running) or a plain second container.
    containers = spec.get("containers", []) + spec.get("initContainers", [])
    for container in containers:
        assert container.get("name") and container.get("image"), container
    names = [c["name"] for c in containers]
    assert len(names) == len(set(names)), "container names must be unique"
    sidecars = [c for c in containers if "tailcast" in " ".join(c.get("command", []) + c.get("args", []))]
    assert sidecars, "no container runs tailcast"
    sidecar = sidecars[0]
    if sidecar in spec.get("initContainers", []):
        assert sidecar.get("restartPolicy") == "Always", "an init container sidecar needs restartPolicy: Always"
    apps = [c for c in spec["containers"] if c is not sidecar]
    assert apps, "the pod needs an application container beside the sidecar"
    volumes = {v["name"]: v for v in spec.get("volumes", [])}

    def mounts(container):
        return {m["name"]: m for m in container.get("volumeMounts", [])}

    shared = set(mounts(sidecar)) & set().union(*(mounts(app) for app in apps))
    assert shared, "the sidecar shares no volume with the application"
    assert shared <= volumes.keys(), "a shared mount names no volume of the pod"
    for name in shared:
        assert mounts(sidecar)[name].get("readOnly") is True, "the sidecar only reads the logs"
