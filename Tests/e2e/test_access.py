"""Who may do what: tokens with roles, loopback-only without tokens, TLS with a CA made here, and
clients through a real HTTP CONNECT proxy (Debian's tinyproxy)."""
import json
import os
import re
import shutil
import ssl
import subprocess
import time
import urllib.request

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from certificates import make_certificates
from conftest import BINARY, Server, free_port, http_request, popen, py, tailcast, wait_until
from peer import SUBPROTOCOL

PUBLISH = "publish-3f9a1c77e2b04d5e"
WATCH = "watch-8c2d6b19aa4e4f03"
UNKNOWN = "nobody-5b1e0f3d9c7a4e21"


def owner_only(path, text):
    """A tokens file as it must be: readable by its owner only."""
    path.write_text(text)
    os.chmod(path, 0o600)
    return path


@pytest.fixture
def guarded(tmp_path):
    tokens = owner_only(tmp_path / "tokens", f"# agents\npublish {PUBLISH}\nwatch {WATCH}  # laptops\n")
    server = Server(tmp_path / "data", free_port(), ["--tokens-file", str(tokens)]).start()
    yield server
    server.stop()


def test_every_refusal_is_seen_at_once(guarded, env):
    """Tokens are refused before the upgrade (401/403): sixty refusals in a row, each seen at once, with
    the reason the server gave and exit 4."""
    slowest = 0.0
    for i in range(30):
        for token in (WATCH, None):
            started = time.monotonic()
            refused = tailcast("run", "--job", f"refused-{i}", "--no-pty", "--quiet", "--server", guarded.url, "--", "true",
                               env={**env, **({"TAILCAST_TOKEN": token} if token else {})}, timeout=60)
            slowest = max(slowest, time.monotonic() - started)
            assert b"server refused the job" in refused.stderr and refused.returncode == 4, refused.stderr
    assert slowest < 5, f"a refusal took {slowest:.1f} s: the client stalled until its deadline"


def test_roles_decide_who_publishes_watches_and_lists(guarded, env):
    url = guarded.url
    ok = tailcast("run", "--job", "allowed", "--no-pty", "--token", PUBLISH, "--server", url, "--", *py("print('secret line')"),
                  env=env, timeout=60)
    assert ok.returncode == 0 and ok.stdout == b"secret line\n", ok.stderr
    assert guarded.archived("allowed") == b"secret line\n"

    # A watch token cannot publish: run asks before it starts the job, which then never runs; exit 4.
    started = os.path.join(env["TAILCAST_SPOOL"], "started")
    job = py(f"open({started!r}, 'w').write('ran')")
    wrong = tailcast("run", "--job", "intruder", "--no-pty", "--quiet", "--server", url, "--", *job,
                     env={**env, "TAILCAST_TOKEN": WATCH}, timeout=60)
    assert wrong.returncode == 4 and b"this token may not publish" in wrong.stderr, wrong.stderr
    none = tailcast("run", "--job", "intruder", "--no-pty", "--quiet", "--server", url, "--", *job, env=env, timeout=60)
    assert none.returncode == 4 and b"this server needs a token" in none.stderr
    assert not os.path.exists(started), "a refused run started its job"

    # Watching and listing need a watch token; a publish token or an unknown one exits 4.
    watch = tailcast("watch", "allowed", "--server", url, env={**env, "TAILCAST_TOKEN": WATCH}, timeout=30)
    assert watch.returncode == 0 and watch.stdout == b"secret line\n", watch.stderr
    for token, message in ((PUBLISH, b"this token may not watch"), (UNKNOWN, b"does not know this token")):
        denied = tailcast("watch", "allowed", "--server", url, "--token", token, env=env, timeout=30)
        assert denied.returncode == 4 and message in denied.stderr and denied.stdout == b""
    assert tailcast("watch", "allowed", "--server", url, env=env, timeout=30).returncode == 4
    listed = tailcast("ls", "--json", "--server", url, "--token", WATCH, env=env, timeout=30)
    assert listed.returncode == 0, listed.stderr
    assert [job["id"] for job in json.loads(listed.stdout)["jobs"]] == ["allowed"]
    assert tailcast("ls", "--server", url, "--token", PUBLISH, env=env, timeout=30).returncode == 4

    # A sidecar refused for its token stops with 4, so a service manager sees why.
    log = os.path.join(env["TAILCAST_SPOOL"], "x.log")
    os.makedirs(env["TAILCAST_SPOOL"], exist_ok=True)
    open(log, "w").write("line\n")
    sidecar = tailcast("tail", "--job", "side", "--server", url, "--token", WATCH, log, env=env, timeout=30)
    assert sidecar.returncode == 4 and b"may not publish" in sidecar.stderr

    # The HTTP API: 401 without or with an unknown token, 403 for a publish token, 200 for a watch token.
    assert http_request(guarded.http + "/v1/jobs")[0] == 401
    assert http_request(guarded.http + "/v1/jobs", token=UNKNOWN)[0] == 401
    assert http_request(guarded.http + "/v1/jobs", token=PUBLISH)[0] == 403
    status, body = http_request(guarded.http + "/v1/jobs/allowed/raw?stream=stdout", token=WATCH)
    assert status == 200 and body == b"secret line\n"
    assert http_request(guarded.http + "/healthz")[0] == 200

    # Tokens, good or bad, never reach the server's log; refusals do.
    text = guarded.log.read_text()
    assert "refused a connection" in text
    for token in (PUBLISH, WATCH, UNKNOWN):
        assert token not in text


def test_an_independent_client_lists_and_is_refused_by_protocol(guarded, env):
    """Python's websockets, written from PROTOCOL.md: `list`, and 401/403 before any upgrade."""
    tailcast("run", "--job", "one", "--no-pty", "--quiet", "--token", PUBLISH, "--server", guarded.url, "--", "true",
             env=env, timeout=60)
    with connect(guarded.url + "/v1/watch", subprotocols=[SUBPROTOCOL],
                 additional_headers={"Authorization": f"Bearer {WATCH}"}) as ws:
        ws.send(json.dumps({"type": "list"}))
        answer = json.loads(ws.recv())
    assert answer["type"] == "jobs" and [job["id"] for job in answer["jobs"]] == ["one"]
    for headers, status in (({}, 401), ({"Authorization": f"Bearer {UNKNOWN}"}, 401),
                            ({"Authorization": f"Bearer {WATCH}"}, 403)):
        with pytest.raises(InvalidStatus) as refused:
            connect(guarded.url + "/v1/publish", subprotocols=[SUBPROTOCOL], additional_headers=headers)
        assert refused.value.response.status_code == status
        if status == 401:
            assert refused.value.response.headers["WWW-Authenticate"].startswith("Bearer")


def test_without_tokens_the_server_stays_on_loopback(tmp_path):
    # A host name that starts like a loopback address is not one: it may resolve anywhere.
    for host in ("0.0.0.0", "127.evil.example", "127.0.0.1.evil.example"):
        refused = subprocess.run([BINARY, "serve", "--host", host, "--port", str(free_port()), "--data", str(tmp_path / "d")],
                                 capture_output=True, timeout=30)
        assert refused.returncode == 64, host
        assert b"without tokens" in refused.stderr and b"--insecure-listen-any" in refused.stderr

    for extra in (["--insecure-listen-any"], ["--watch-token", WATCH, "--publish-token", PUBLISH]):
        server = Server(tmp_path / "d", free_port(), ["--host", "0.0.0.0", *extra]).start()
        server.stop()

    bad = owner_only(tmp_path / "bad-tokens", f"publish {PUBLISH}\nadmin {WATCH}\n")
    failed = subprocess.run([BINARY, "serve", "--port", str(free_port()), "--data", str(tmp_path / "d"), "--tokens-file", str(bad)],
                            capture_output=True, timeout=30)
    assert failed.returncode == 1 and f"{bad}:2:".encode() in failed.stderr
    empty = owner_only(tmp_path / "empty-tokens", "# nothing yet\n")
    failed = subprocess.run([BINARY, "serve", "--host", "0.0.0.0", "--port", str(free_port()), "--data", str(tmp_path / "d"),
                             "--tokens-file", str(empty)], capture_output=True, timeout=30)
    assert failed.returncode == 1 and b"holds no tokens" in failed.stderr
    short = subprocess.run([BINARY, "serve", "--port", str(free_port()), "--publish-token", "short"], capture_output=True, timeout=30)
    assert short.returncode == 64 and b"at least 16 characters" in short.stderr


def test_token_files_only_their_owner_may_read(tmp_path, env):
    """Issue 11, item 7: a tokens file others may read is refused (as ssh refuses such a key), by the
    server and by clients, and a '#' inside a token is an error, not a comment that cuts it short."""
    tokens = tmp_path / "tokens"
    tokens.write_text(f"publish {PUBLISH}\nwatch {WATCH}\n")
    for mode in (0o640, 0o604):
        os.chmod(tokens, mode)
        refused = subprocess.run([BINARY, "serve", "--port", str(free_port()), "--data", str(tmp_path / "d"), "--tokens-file", str(tokens)],
                                 capture_output=True, timeout=30)
        assert refused.returncode == 1 and b"too open" in refused.stderr and b"chmod 600" in refused.stderr, refused.stderr
    cut = owner_only(tmp_path / "cut-tokens", f"publish {PUBLISH}#comment\n")
    refused = subprocess.run([BINARY, "serve", "--port", str(free_port()), "--data", str(tmp_path / "d"), "--tokens-file", str(cut)],
                             capture_output=True, timeout=30)
    assert refused.returncode == 1 and f"{cut}:1:".encode() in refused.stderr and b"'#'" in refused.stderr
    os.chmod(tokens, 0o600)
    server = Server(tmp_path / "data", free_port(), ["--tokens-file", str(tokens)]).start()
    try:
        publish = tmp_path / "publish-token"
        publish.write_text(PUBLISH + "\n")
        os.chmod(publish, 0o640)
        job = ("run", "--job", "from-file", "--no-pty", "--quiet", "--server", server.url, "--token-file", str(publish), "--",
               *py("print('token from a file')"))
        refused = tailcast(*job, env=env, timeout=60)
        assert refused.returncode == 64 and b"too open" in refused.stderr and b"chmod 600" in refused.stderr, refused.stderr
        status, body = http_request(server.http + "/v1/jobs", token=WATCH)
        assert status == 200 and b"from-file" not in body
        os.chmod(publish, 0o600)
        ran = tailcast(*job, env=env, timeout=60)
        assert ran.returncode == 0, ran.stderr
        watch = owner_only(tmp_path / "watch-token", WATCH[:8] + "#" + WATCH[8:] + "\n")
        refused = tailcast("watch", "from-file", "--server", server.url, "--token-file", str(watch), env=env, timeout=30)
        assert refused.returncode == 64 and b"'#'" in refused.stderr, refused.stderr
        owner_only(watch, WATCH + "\n")
        watched = tailcast("watch", "from-file", "--server", server.url, "--token-file", str(watch), env=env, timeout=30)
        assert watched.returncode == 0 and watched.stdout == b"token from a file\n", watched.stderr
    finally:
        server.stop()


def test_a_token_sent_over_plain_ws_to_another_host_is_warned_about_once(server, env):
    """Issue 11, item 7: clients warn when a token would cross the network in the clear. The hosts
    below are reached only through a proxy on loopback that is down: nothing leaves the machine."""
    dead_proxy = f"http://127.0.0.1:{free_port()}"
    for host in ("192.0.2.1", "127.evil.example", "logs.example.com"):
        sent = tailcast("ls", "--server", f"ws://{host}:7070", "--proxy", dead_proxy, "--token", PUBLISH, env=env, timeout=30)
        assert sent.returncode == 3
        assert sent.stderr.count(b"over plain ws://") == 1, sent.stderr
    for url, token in ((server.url, ["--token", PUBLISH]), (f"ws://localhost:{server.port}", ["--token", PUBLISH]),
                       (f"ws://[::1]:{server.port}", ["--token", PUBLISH]), ("ws://192.0.2.1:7070", [])):
        quiet = tailcast("ls", "--server", url, "--proxy", dead_proxy, *token, env=env, timeout=30)
        assert b"over plain ws://" not in quiet.stderr, (url, quiet.stderr)


class TLSServer(Server):
    @property
    def url(self):
        return f"wss://localhost:{self.port}"

    def healthy(self):
        try:
            with urllib.request.urlopen(f"https://localhost:{self.port}/healthz", timeout=1, context=self.context) as r:
                return r.status == 200
        except OSError:
            return False


def start_tls_server(tmp_path):
    """A server on wss://localhost with a certificate from a private CA: the CA's, certificate's and key's files,
    and the started server."""
    ca, cert, key = make_certificates(tmp_path)
    server = TLSServer(tmp_path / "data", free_port(), ["--tls-cert", str(cert), "--tls-key", str(key)])
    server.context = ssl.create_default_context(cafile=str(ca))
    return ca, cert, key, server.start()


def run_secure_job(server, ca, env):
    """`run` of the job "secure" (printing `over tls`) through a TLS server that trusts `ca`."""
    job = tailcast("run", "--job", "secure", "--no-pty", "--quiet", "--server", server.url, "--ca", str(ca), "--",
                   *py("print('over tls')"), env=env, timeout=60)
    assert job.returncode == 0, job.stderr


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make certificates")
def test_tls_with_a_private_ca(tmp_path, env):
    ca, _, _, server = start_tls_server(tmp_path)
    try:
        run_secure_job(server, ca, env)
        watch = tailcast("watch", "secure", "--server", server.url, "--ca", str(ca), env=env, timeout=30)
        assert watch.stdout == b"over tls\n" and watch.returncode == 0
        listed = tailcast("ls", "--json", "--server", server.url, "--ca", str(ca), env=env, timeout=30)
        assert [j["id"] for j in json.loads(listed.stdout)["jobs"]] == ["secure"]
        status, body = http_request(f"https://localhost:{server.port}/v1/jobs/secure/raw", context=server.context)
        assert status == 200 and body == b"over tls\n"

        # Without the CA the certificate is not trusted: a clear reason, exit 3, nothing printed.
        untrusted = tailcast("watch", "secure", "--server", server.url, env=env, timeout=30)
        assert untrusted.returncode == 3 and b"certificate is not trusted" in untrusted.stderr
        # Plain ws:// to a TLS port, and an IP address where a name is needed, fail clearly too.
        plain = tailcast("ls", "--server", f"ws://localhost:{server.port}", env=env, timeout=30)
        assert plain.returncode == 3
        by_ip = tailcast("ls", "--server", f"wss://127.0.0.1:{server.port}", env=env, timeout=30)
        assert by_ip.returncode == 64 and b"host name" in by_ip.stderr
    finally:
        server.stop()


def handshake(port, *args):
    """An openssl s_client handshake with the server; the protocol and cipher it agreed on, or None."""
    # @SECLEVEL=0: OpenSSL 3 itself refuses TLS 1.0/1.1 and SHA-1 suites otherwise, which would hide
    # what the server accepts.
    done = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost", *args],
                          input=b"", capture_output=True, timeout=30)
    # "New, TLSv1.2, Cipher is ECDHE-RSA-AES128-GCM-SHA256"; "New, (NONE), Cipher is (NONE)" when refused.
    agreed = re.search(rb"^New, (\S+), Cipher is (\S+)$", done.stdout, re.MULTILINE)
    return agreed.groups() if done.returncode == 0 and agreed and agreed.group(2) != b"(NONE)" else None


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_tls_is_1_2_or_newer_with_ecdhe_and_aead_only(tmp_path, env):
    """Issue 11, item 7: the server refuses TLS 1.0 and 1.1 and CBC-SHA1 suites; TLS 1.2 with an AEAD
    suite and TLS 1.3 connect. A client refuses a server that offers only TLS 1.1."""
    ca, cert, key, server = start_tls_server(tmp_path)
    try:
        old = "DEFAULT@SECLEVEL=0"
        assert handshake(server.port, "-tls1", "-cipher", old) is None
        assert handshake(server.port, "-tls1_1", "-cipher", old) is None
        assert handshake(server.port, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA@SECLEVEL=0") is None
        assert handshake(server.port, "-tls1_2", "-cipher", "AES128-GCM-SHA256") is None  # no forward secrecy
        assert handshake(server.port, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256") == (b"TLSv1.2", b"ECDHE-RSA-AES128-GCM-SHA256")
        assert handshake(server.port, "-tls1_2", "-cipher", "ECDHE-RSA-CHACHA20-POLY1305") == (b"TLSv1.2", b"ECDHE-RSA-CHACHA20-POLY1305")
        assert handshake(server.port, "-tls1_3")[0] == b"TLSv1.3"
    finally:
        server.stop()
    port = free_port()
    old_server = subprocess.Popen(["openssl", "s_server", "-accept", str(port), "-cert", str(cert), "-key", str(key),
                                   "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-www"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: handshake(port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"), what="openssl s_server")
        refused = tailcast("ls", "--server", f"wss://localhost:{port}", "--ca", str(ca), env=env, timeout=30)
        assert refused.returncode == 3 and b"TLS" in refused.stderr, refused.stderr
    finally:
        old_server.kill()
        old_server.wait()


@pytest.fixture
def tinyproxy(tmp_path):
    """Starts Debian's tinyproxy on a free port (with Basic authentication if `auth` is given);
    returns (port, log)."""
    if shutil.which("tinyproxy") is None:
        pytest.skip("needs Debian's tinyproxy")
    processes = []

    def start(auth=None):
        port = free_port()
        log = tmp_path / f"tinyproxy-{port}.log"
        config = tmp_path / f"tinyproxy-{port}.conf"
        # No ConnectPort lines: CONNECT to any port is allowed (the server's port is not 443). In the
        # foreground (-d) without a LogFile it logs to stderr, which goes to a file we opened.
        config.write_text(f"User nobody\nGroup nogroup\nPort {port}\nListen 127.0.0.1\nTimeout 600\n"
                          f"LogLevel Connect\nMaxClients 50\nAllow 127.0.0.1\n" + (f"BasicAuth {auth[0]} {auth[1]}\n" if auth else ""))
        process = subprocess.Popen(["tinyproxy", "-d", "-c", str(config)], stdout=open(log, "wb"), stderr=subprocess.STDOUT)
        processes.append(process)

        def listening():
            try:
                import socket
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return True
            except OSError:
                return False
        wait_until(listening, what="tinyproxy")
        return port, log

    yield start
    for process in processes:
        process.terminate()
        process.wait(10)


def test_clients_go_through_an_http_connect_proxy(server, env, tinyproxy):
    port, log = tinyproxy()
    proxy = f"http://127.0.0.1:{port}"
    run = tailcast("run", "--job", "proxied", "--no-pty", "--quiet", "--proxy", proxy, "--server", server.url, "--",
                   *py("for i in range(1000): print('line', i)"), env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    expected = b"".join(b"line %d\n" % i for i in range(1000))
    assert server.archived("proxied") == expected
    # The usual variable works the same; NO_PROXY sends the client around the proxy.
    via_env = {**env, "http_proxy": proxy}
    watch = tailcast("watch", "proxied", "--server", server.url, env=via_env, timeout=30)
    assert watch.returncode == 0 and watch.stdout == expected
    assert tailcast("ls", "--server", server.url, env=via_env, timeout=30).returncode == 0
    tunnel = f"CONNECT 127.0.0.1:{server.port} "
    wait_until(lambda: log.read_text().count(tunnel) >= 3, timeout=10, what="three tunnels in tinyproxy's log")
    tunnels = log.read_text().count(tunnel)
    bypass = tailcast("ls", "--server", server.url, env={**via_env, "NO_PROXY": "127.0.0.1"}, timeout=30)
    assert bypass.returncode == 0
    time.sleep(0.5)
    assert log.read_text().count(tunnel) == tunnels

    # A proxy that is down is named as the problem.
    dead = tailcast("ls", "--server", server.url, "--proxy", f"http://127.0.0.1:{free_port()}", env=env, timeout=30)
    assert dead.returncode == 3
    assert tailcast("ls", "--server", server.url, "--proxy", "socks5://x:1", env=env, timeout=30).returncode == 64


def test_a_watch_token_reads_but_cannot_write_over_a_live_job(guarded, env):
    job = popen("run", "--job", "live", "--no-pty", "--quiet", "--token", PUBLISH, "--server", guarded.url, "--",
                *py("import time\nfor i in range(30): print(i, flush=True); time.sleep(0.05)"), env=env)
    wait_until(lambda: http_request(guarded.http + "/v1/jobs/live", token=WATCH)[0] == 200, what="job")
    watch = popen("watch", "live", "--server", guarded.url, "--token", WATCH, env=env)
    assert job.wait(60) == 0
    out, err = watch.communicate(timeout=30)
    assert out == b"".join(b"%d\n" % i for i in range(30)), err


def test_a_proxy_that_wants_a_password_gets_it_from_the_url(server, env, tinyproxy):
    port, _ = tinyproxy(auth=("agent", "s3cret-pass"))
    with_password = tailcast("run", "--job", "authed", "--quiet", "--wait", "10", "--server", server.url,
                             "--proxy", f"http://agent:s3cret-pass@127.0.0.1:{port}", "--", "echo", "through", env=env, timeout=60)
    assert with_password.returncode == 0 and server.archived("authed") == b"through\r\n", with_password.stderr
    via_env = tailcast("ls", "--server", server.url, env={**env, "http_proxy": f"http://agent:s3cret-pass@127.0.0.1:{port}"}, timeout=30)
    assert via_env.returncode == 0 and b"authed" in via_env.stdout
    refused = tailcast("ls", "--server", server.url, "--proxy", f"http://127.0.0.1:{port}", env=env, timeout=30)
    assert refused.returncode == 3 and b"proxy refused the tunnel" in refused.stderr


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make certificates")
def test_rm_trusts_a_private_ca_and_names_the_https_url_it_used(tmp_path, env):
    ca, _, _, server = start_tls_server(tmp_path)
    try:
        run_secure_job(server, ca, env)
        # rm speaks HTTPS, not WebSocket: a failure names the URL it used.
        untrusted = tailcast("rm", "secure", "--server", server.url, env=env, timeout=60)
        assert untrusted.returncode == 3, untrusted
        assert f"cannot reach https://localhost:{server.port}:".encode() in untrusted.stderr, untrusted.stderr
        assert b"wss://" not in untrusted.stderr, untrusted.stderr
        # With --ca it goes straight to the server, and says why not when a proxy variable names a proxy for it.
        proxied = tailcast("rm", "secure", "--server", server.url, "--ca", str(ca),
                           env=dict(env, https_proxy="http://127.0.0.1:9"), timeout=60)
        assert proxied.returncode == 3 and b"NO_PROXY" in proxied.stderr, proxied
        deleted = tailcast("rm", "secure", "--server", server.url, "--ca", str(ca), env=env, timeout=60)
        assert deleted.returncode == 0 and b"deleted job secure" in deleted.stderr, deleted
        gone = tailcast("rm", "secure", "--server", server.url, "--ca", str(ca), env=env, timeout=60)
        assert gone.returncode == 2 and b"no job" in gone.stderr, gone
    finally:
        server.stop()
