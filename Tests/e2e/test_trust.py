"""Who may do what, tried as an attacker would on loopback (issue 11): hijacking a job with a leaked run id or
another publish token, writing after the end, squatting a job id, the token leaking into the job, another web
page reading a local server (forged Origin, DNS rebinding), and metadata large enough to break `ls` for everyone.
Each of these got through before; each test fails on that server."""
import json
import os
import time

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from conftest import Server, free_port, http_request, popen, py, tailcast, wait_until
from postgres import postgres  # noqa: F401 (fixture)
from peer import SUBPROTOCOL
from rawws import RawWebSocket, handshake_request

OWNER = "publish-owner-3f9a1c77e2b04d5e"
OTHER = "publish-other-77e2b04d5e3f9a1c"
WATCH = "watch-8c2d6b19aa4e4f03aa4e"


@pytest.fixture
def guarded(request, tmp_path):
    """A server with tokens. Tests whose answer the store decides (who owns a job, which run may publish into
    it) run on a store node too (`IN_BOTH_MODES`), where the database's record and lease decide; the others
    test the agent (its environment, its descriptors), or are covered on store nodes by test_cluster.py
    (`--replace` across nodes). `store` is the node's database (None: embedded), `postgres` its server."""
    tokens = tmp_path / "tokens"
    tokens.write_text(f"publish {OWNER}\npublish {OTHER}\nwatch {WATCH}\n")
    tokens.chmod(0o600)
    extra, store, cluster = ["--tokens-file", str(tokens)], None, None
    if getattr(request, "param", "embedded") == "postgres":
        cluster = request.getfixturevalue("postgres")
        store = cluster.fresh_database()
        extra += ["--store", store, "--node", "guarded"]
    server = Server(tmp_path / "data", free_port(), extra).start()
    server.store, server.postgres = store, cluster
    yield server
    server.stop()


IN_BOTH_MODES = pytest.mark.parametrize("guarded", ["embedded", "postgres"], indirect=True)


def hello(job, run_id, command=("job",)):
    return json.dumps({"type": "hello", "job": job, "run_id": run_id, "agent": "attacker/1",
                       "meta": {"kind": "run", "command": list(command), "host": "h", "user": "u",
                                "started_at_ms": int(time.time() * 1000)}})


def publish(server, token, *messages):
    """Sends messages on /v1/publish; returns the server's answers and the close code."""
    answers = []
    with connect(server.url + "/v1/publish", subprotocols=[SUBPROTOCOL],
                 additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        for message in messages:
            ws.send(message)
            try:
                answers.append(json.loads(ws.recv(timeout=5)))
            except Exception:
                break
        try:
            while True:
                answers.append(json.loads(ws.recv(timeout=5)))
        except Exception:
            pass
        return answers, ws.close_code


@IN_BOTH_MODES
def test_a_leaked_run_id_and_another_publish_token_cannot_touch_a_job(guarded, env):
    job = tailcast("run", "--job", "victim", "--no-pty", "--quiet", "--token", OWNER, "--server", guarded.url, "--",
                   *py("print('real output')"), env=env, timeout=60)
    assert job.returncode == 0, job.stderr
    # Watchers no longer see the run id at all.
    status, body = http_request(guarded.http + "/v1/jobs/victim", headers={"Authorization": f"Bearer {WATCH}"})
    assert status == 200 and "run_id" not in json.loads(body)
    # Say it leaked anyway (job.json is on the server's disk): with another publish token it is refused.
    run_id = json.loads((guarded.data / "jobs" / "victim" / "job.json").read_text())["run_id"]
    answers, code = publish(guarded, OTHER, hello("victim", run_id))
    assert answers[0]["type"] == "error" and answers[0]["code"] == "job_conflict" and code == 4009, answers
    # Even the owner's own run, once the exit is stored, gets only `ended` and cannot append or end again.
    answers, code = publish(guarded, OWNER, hello("victim", run_id), json.dumps({"type": "open", "stream": 1, "name": "stdout"}))
    assert answers[0] == {"type": "welcome", "job": "victim", "streams": [{"name": "stdout", "size": 12}, {"name": "stderr", "size": 0}], "ended": True}
    assert answers[1]["code"] == "job_ended" and code == 4011, answers
    answers, code = publish(guarded, OWNER, hello("victim", run_id),
                            json.dumps({"type": "end", "exit": {"code": 99}, "ended_at_ms": 1, "sizes": {}}))
    assert answers[1]["code"] == "job_ended" and code == 4011, answers
    assert guarded.archived("victim") == b"real output\n"
    stored = json.loads((guarded.data / "jobs" / "victim" / "job.json").read_text())
    assert stored["info"]["exit"] == {"code": 0}
    assert OWNER not in (guarded.data / "jobs" / "victim" / "job.json").read_text()
    if guarded.store:  # nor in the database's record, which every node takes the job's owner from
        record = guarded.postgres.sql("SELECT record::text FROM jobs WHERE id = 'victim'",
                                      guarded.store.rsplit("/", 1)[1].split("?")[0])
        assert json.loads(record)["info"]["exit"] == {"code": 0} and OWNER not in record


@IN_BOTH_MODES
def test_a_squatted_job_id_stops_run_before_its_job_starts(guarded, env):
    answers, _ = publish(guarded, OTHER, hello("build-7", "squatter"))
    assert answers[0]["type"] == "welcome"
    marker = os.path.join(env["TAILCAST_SPOOL"], "ran")
    run = tailcast("run", "--job", "build-7", "--no-pty", "--quiet", "--token", OWNER, "--server", guarded.url, "--",
                   *py(f"open({marker!r}, 'w')"), env=env, timeout=60)
    assert run.returncode == 5, run.stderr
    assert b"belongs to another run" in run.stderr
    assert not os.path.exists(marker), "run started a job whose output the server had refused"
    assert not os.listdir(env["TAILCAST_SPOOL"]) or not any(
        name.startswith("build-7") for name in os.listdir(env["TAILCAST_SPOOL"]))


def test_the_token_and_proxy_credentials_stay_out_of_the_job(guarded, env):
    job_env = {**env, "TAILCAST_TOKEN": OWNER, "http_proxy": "http://alice:s3cret-pw@proxy.invalid:3128",
               "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost", "UNRELATED": "kept"}
    run = tailcast("run", "--job", "printenv", "--no-pty", "--quiet", "--server", guarded.url, "--", "env",
                   env=job_env, timeout=60)
    assert run.returncode == 0, run.stderr
    archived = guarded.archived("printenv")
    assert OWNER.encode() not in archived and b"TAILCAST_TOKEN" not in archived
    assert b"s3cret-pw" not in archived and b"alice" not in archived
    assert b"http_proxy=http://proxy.invalid:3128\n" in archived and b"UNRELATED=kept\n" in archived


def test_another_sites_page_cannot_read_or_publish(tmp_path, env):
    server = Server(tmp_path / "data", free_port(), ["--allow-origin", "https://dash.example"]).start()
    try:
        assert tailcast("run", "--job", "local", "--quiet", "--server", server.url, "--", "echo", "private",
                        env=env, timeout=60).returncode == 0
        evil = {"Origin": "http://evil.example"}
        assert http_request(server.http + "/v1/jobs", headers=evil)[0] == 403
        assert http_request(server.http + "/v1/jobs/local/raw", headers=evil)[0] == 403
        assert http_request(server.http + "/v1/jobs", headers={"Origin": "null"})[0] == 403
        for path in ("/v1/watch", "/v1/publish"):
            with pytest.raises(InvalidStatus) as refused:
                connect(server.url + path, subprotocols=[SUBPROTOCOL], origin="http://evil.example")
            assert refused.value.response.status_code == 403
        # The server's own origin and an allowed one are served.
        assert http_request(server.http + "/v1/jobs", headers={"Origin": server.http})[0] == 200
        assert http_request(server.http + "/v1/jobs", headers={"Origin": "https://dash.example"})[0] == 200
        with connect(server.url + "/v1/watch", subprotocols=[SUBPROTOCOL], origin="https://dash.example") as ws:
            ws.send(json.dumps({"type": "list"}))
            assert json.loads(ws.recv())["type"] == "jobs"
        # DNS rebinding: a page on evil.example whose name now points at 127.0.0.1 sends Host: evil.example,
        # and its Origin is then "the server's own". Without tokens only loopback names are answered.
        port = server.port
        for host in (f"evil.example:{port}", f"127.0.0.1.evil.example:{port}", "127.1"):
            status, _ = http_request(server.http + "/v1/jobs", headers={"Host": host, "Origin": f"http://{host}"})
            assert status == 403, host
            with RawWebSocket(server.port, timeout=5) as ws:
                ws.send(handshake_request("/v1/watch", host=host, extra=[f"Origin: http://{host}"]))
                status, _, _ = ws.read_http_response()
                assert status == 403, host
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"127.9.9.9:{port}"):
            assert http_request(server.http + "/v1/jobs", headers={"Host": host})[0] == 200, host
        assert b"refused a connection" in server.log.read_bytes()
    finally:
        server.stop()


def test_two_mib_of_metadata_cannot_break_ls(server, env):
    huge = ["x" * 100_000 for _ in range(10)]  # 1 MB of arguments (a single one is capped at 128 KiB by Linux)
    run = tailcast("run", "--job", "wide", "--no-pty", "--quiet", "--server", server.url, "--", "true", *huge,
                   env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    command = server.jobs()["wide"]["meta"]["command"]
    assert command[:1] == ["true"] and command[-1] == "…" and len(json.dumps(command)) < 9000
    # A peer that does not cut its metadata is refused, with a reason that names the field.
    answers, code = publish(server, "-", hello("bloated", "r1", command=["y" * (2 << 20)]))
    assert answers[0]["code"] == "limit" and "meta.command" in answers[0]["message"] and code == 4029
    listed = tailcast("ls", "--server", server.url, env=env, timeout=30)
    assert listed.returncode == 0 and b"wide" in listed.stdout, listed.stderr


def test_the_job_gets_no_descriptor_of_the_agent(guarded, env):
    """The uplink connects before the job starts; its socket (not close-on-exec in NIO) once leaked into the job,
    which could then write into the stream, and kept a killed agent's connection open."""
    run = tailcast("run", "--job", "fds", "--no-pty", "--quiet", "--token", OWNER, "--server", guarded.url, "--",
                   *py("import os; print(sorted(int(fd) for fd in os.listdir('/proc/self/fd')))"), env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    assert guarded.archived("fds") == b"[0, 1, 2, 3]\n"  # 3: the listing's own directory


def test_flush_keeps_a_refused_spool_until_told_to_discard_it(tmp_path, env):
    """A run made while the server was down leaves its output in a spool; meanwhile another token took the job
    id. flush reports the refusal (exit 5) and keeps the spool; flush --discard lets it go."""
    tokens = tmp_path / "tokens"
    tokens.write_text(f"publish {OWNER}\npublish {OTHER}\nwatch {WATCH}\n")
    tokens.chmod(0o600)
    server = Server(tmp_path / "data", free_port(), ["--tokens-file", str(tokens)])
    offline = tailcast("run", "--job", "later", "--no-pty", "--quiet", "--wait", "1", "--token", OWNER,
                       "--server", server.url, "--", "echo", "made offline", env=env, timeout=60)
    assert offline.returncode == 0 and b"output kept in" in offline.stderr, offline.stderr
    spools = os.listdir(env["TAILCAST_SPOOL"])
    assert len(spools) == 1
    server.start()
    try:
        answers, _ = publish(server, OTHER, hello("later", "squatter"))
        assert answers[0]["type"] == "welcome"
        kept = tailcast("flush", "--token", OWNER, "--server", server.url, "--wait", "10", env=env, timeout=60)
        assert kept.returncode == 5 and b"--discard deletes it" in kept.stderr, kept.stderr
        assert os.listdir(env["TAILCAST_SPOOL"]) == spools
        discarded = tailcast("flush", "--discard", "--token", OWNER, "--server", server.url, "--wait", "10", env=env, timeout=60)
        assert discarded.returncode == 0 and b"discarded" in discarded.stderr, discarded.stderr
        assert os.listdir(env["TAILCAST_SPOOL"]) == []
    finally:
        server.stop()


def test_a_rerun_under_the_same_id_is_explicit(guarded, env):
    """Another run under a taken id is refused (exit 5) unless it says --replace, with the token that created
    the job, while no agent of it is connected; the earlier run's output is then gone and its watchers are told."""
    def run(*args, token=OWNER, code="print('x')"):
        return tailcast("run", "--no-pty", "--quiet", "--token", token, "--server", guarded.url, *args, "--", *py(code),
                        env=env, timeout=60)
    assert run("--job", "nightly", code="print('first')").returncode == 0
    again = run("--job", "nightly", code="print('second')")
    assert again.returncode == 5 and b"--replace" in again.stderr, again.stderr
    assert run("--job", "nightly", "--replace", token=OTHER).returncode == 5  # not the token that made it
    replaced = run("--job", "nightly", "--replace", code="print('second')")
    assert replaced.returncode == 0, replaced.stderr
    assert guarded.archived("nightly") == b"second\n"
    assert [path.name for path in (guarded.data / "jobs").iterdir()] == ["nightly"]

    # A running job is never taken from under its agent.
    busy = popen("run", "--job", "busy", "--no-pty", "--quiet", "--token", OWNER, "--server", guarded.url, "--",
                 *py("import time; print('on', flush=True); time.sleep(6)"), env=env)
    try:
        wait_until(lambda: http_request(guarded.http + "/v1/jobs/busy", headers={"Authorization": f"Bearer {WATCH}"})[0] == 200, what="busy")
        taken = run("--job", "busy", "--replace")
        assert taken.returncode == 5 and b"is running" in taken.stderr, taken.stderr
    finally:
        busy.kill()
        busy.wait()

    # The watcher of a job whose agent was lost is told when a new run takes the id, and stops.
    run_id = "lost-run"
    answers, _ = publish(guarded, OWNER, hello("lost", run_id), json.dumps({"type": "open", "stream": 1, "name": "stdout"}))
    watcher = popen("watch", "lost", "--token", WATCH, "--server", guarded.url, env=env)
    time.sleep(1)
    assert run("--job", "lost", "--replace", code="print('new run')").returncode == 0
    out, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 1 and b"started anew" in err, err
