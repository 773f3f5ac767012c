"""Store mode (issue 15), one or two `serve --store postgres://…` nodes and no balancer: what one node
commits before it acknowledges, what another node relays, who may publish a job, and what happens
while the database is down. A real PostgreSQL (postgres.py); each test has a database of its own.
The three-node tests behind haproxy are in test_cluster.py.
"""
import json
import re
import time

import pytest

from conftest import Server, free_port, http_request, paced_job, paced_lines, popen, py, tailcast, wait_until
from postgres import postgres  # noqa: F401 (fixture)


@pytest.fixture
def make_node(tmp_path):
    """make_node(url, name, port=None, extra=()): a `serve --store` node with its own cache under tmp_path,
    not started; every node made is stopped at the end."""
    made = []

    def make(url, name, port=None, extra=()):
        directory = tmp_path / f"node-{name}"
        directory.mkdir(exist_ok=True)
        made.append(Server(directory / "data", port or free_port(), ["--store", url, "--node", name, *extra]))
        return made[-1]

    yield make
    for server in made:
        server.stop()


def metric(server, name):
    status, body = http_request(server.http + "/metrics")
    assert status == 200
    found = re.search(rb"^" + name.encode() + rb" (\S+)$", body, re.M)
    return float(found.group(1)) if found else None


def test_check_names_the_schema_version_and_says_why_it_cannot(tmp_path, make_node, postgres):
    url = postgres.fresh_database()
    shown = url.split("?")[0]
    fresh = tailcast("serve", "--store", url, "--check", timeout=30)
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout.decode() == f"store {shown}: reachable, schema version 0 (this tailcast: 3)\n"

    started = make_node(url, "a").start()
    started.stop()
    migrated = tailcast("serve", "--store", url, "--check", timeout=30)
    assert migrated.stdout.decode() == f"store {shown}: reachable, schema version 3 (this tailcast: 3)\n"
    assert b"store schema migrated to version 1" in started.log.read_bytes()
    assert b"store schema migrated to version 2" in started.log.read_bytes()
    assert b"store schema migrated to version 3" in started.log.read_bytes()
    # Debian's PostgreSQL 15 has lz4, so version 2 took: chunks are compressed with it ('l'), not pglz.
    database = url.rsplit("/", 1)[1].split("?")[0]
    assert postgres.sql("SELECT attcompression FROM pg_attribute WHERE attrelid = 'chunks'::regclass"
                        " AND attname = 'bytes'", database) == "l"
    # A database an earlier tailcast made (version 1: pglz, no generations) is brought to version 3 at the next start.
    postgres.sql("DELETE FROM tailcast_schema_migrations WHERE version > 1", database, user="tailcast")
    postgres.sql("ALTER TABLE chunks ALTER COLUMN bytes SET COMPRESSION pglz", database, user="tailcast")
    postgres.sql("DROP SEQUENCE job_generations", database, user="tailcast")
    upgraded = make_node(url, "b").start()
    upgraded.stop()
    assert b"store schema migrated to version 2" in upgraded.log.read_bytes()
    assert b"store schema migrated to version 3" in upgraded.log.read_bytes()
    assert postgres.sql("SELECT nextval('job_generations')", database, user="tailcast") == "1"
    assert postgres.sql("SELECT attcompression FROM pg_attribute WHERE attrelid = 'chunks'::regclass"
                        " AND attname = 'bytes'", database) == "l"

    nobody = f"postgres://tailcast@127.0.0.1:{free_port()}/tailcast?sslmode=disable"
    unreachable = tailcast("serve", "--store", nobody, "--check", "--store-statement-timeout", "2000", timeout=30)
    assert unreachable.returncode == 3
    assert unreachable.stdout == b""
    assert len(unreachable.stderr.decode().strip().splitlines()) == 1 and b"unreachable" in unreachable.stderr

    postgres.sql("INSERT INTO tailcast_schema_migrations VALUES (99, 'from the future', 0)", database, user="tailcast")
    newer = tailcast("serve", "--store", url, "--check", timeout=30)
    assert newer.returncode == 7 and b"schema version 99, newer than this tailcast's 3" in newer.stderr
    refused = tailcast("serve", "--store", url, "--data", str(tmp_path / "other"), "--port", str(free_port()), timeout=30)
    assert refused.returncode == 7

    bad = tailcast("serve", "--store", "postgres://127.0.0.1/tailcast", "--check", timeout=30)
    assert bad.returncode == 64 and b"names no user" in bad.stderr


def test_an_archive_size_cap_is_refused_in_store_mode_and_retention_is_not(tmp_path, env):
    """--max-archive-bytes would weigh one node's cache and delete the cluster's jobs from the database."""
    nobody = f"postgres://tailcast@127.0.0.1:{free_port()}/tailcast?sslmode=disable"
    refused = tailcast("serve", "--max-archive-bytes", "1G", "--data", str(tmp_path / "data"), timeout=30,
                       env={**env, "TAILCAST_STORE": nobody})
    assert refused.returncode == 64
    assert b"--max-archive-bytes cannot go with --store" in refused.stderr
    assert not (tmp_path / "data").exists()
    # --retain passes validation: the check then fails only because nothing listens there.
    retained = tailcast("serve", "--store", nobody, "--retain", "30d", "--check", "--store-statement-timeout", "500",
                        timeout=30)
    assert retained.returncode == 3, retained.stderr


def test_one_node_commits_every_byte_and_reports_its_store(make_node, postgres, env):
    url = postgres.fresh_database()
    server = make_node(url, "solo").start()
    run = tailcast("run", "--job", "solo-job", "--no-pty", "--quiet", "--server", server.url, "--",
                   *py(paced_job(3000, pause=0.001, code=3, every=50)), env=env, timeout=120)
    assert run.returncode == 3, run.stderr
    # Acknowledged means committed: the store holds every byte once, in order.
    assert postgres.archived(url, "solo-job") == paced_lines(3000)
    assert server.archived("solo-job") == paced_lines(3000)
    record = json.loads(postgres.sql("SELECT record::text FROM jobs WHERE id = 'solo-job'", url.rsplit("/", 1)[1].split("?")[0]))
    assert record["info"]["exit"] == {"code": 3}
    status, body = http_request(server.http + "/healthz")
    health = json.loads(body)
    assert status == 200 and health["store"]["ok"] is True and health["store"]["node"] == "solo"
    assert health["store"]["schema_version"] == 3 and health["store"]["kind"] == "postgres"
    assert metric(server, "tailcast_store_up") == 1
    assert metric(server, "tailcast_store_commit_seconds_count") > 0


def test_a_watcher_on_another_node_gets_every_byte_and_the_exit(make_node, postgres, env):
    url = postgres.fresh_database()
    a = make_node(url, "a").start()
    b = make_node(url, "b").start()
    job = popen("run", "--job", "relay", "--no-pty", "--quiet", "--server", a.url, "--",
                *py(paced_job(4000, pause=0.02, code=6, every=20)), env=env)
    wait_until(lambda: "relay" in b.jobs(), what="node b to learn of the job")
    watch = popen("watch", "--server", b.url, "relay", env=env)
    # Relayed live, while the job runs (not only caught up when its record says it ended).
    def held_on_b():
        streams = b.jobs()["relay"]["streams"]
        return streams[0]["size"] if streams else 0
    first = held_on_b()
    wait_until(lambda: job.poll() is not None or held_on_b() > first + 20_000, timeout=60, what="bytes relayed to node b")
    assert job.poll() is None, "the job ended before node b relayed anything"
    out, err = watch.communicate(timeout=120)
    assert job.wait(60) == 6
    assert watch.returncode == 6, err
    assert out == paced_lines(4000)
    assert b.jobs()["relay"]["state"] == "exited"


def test_a_line_reaches_a_watcher_on_another_node_without_waiting_for_the_ack_window(make_node, postgres, env):
    """Other nodes see bytes once they are committed, so a node commits them as they arrive, not once per
    ack window: with a 3 s window on the publishing node, each line of a job writing one every 0.5 s
    reaches a watcher on another node well within the window."""
    url = postgres.fresh_database()
    a = make_node(url, "a", extra=("--ack-interval-ms", "3000")).start()
    b = make_node(url, "b").start()
    stamps = "import time\nfor i in range(12):\n    print(f'T{time.time():.6f}', flush=True)\n    time.sleep(0.5)\n"
    watcher = popen("watch", "prompt", "--wait", "--server", b.url, env=env)
    agent = popen("run", "--job", "prompt", "--no-pty", "--quiet", "--server", a.url, "--", *py(stamps), env=env)
    delays = [time.time() - float(line[1:]) for line in iter(watcher.stdout.readline, b"")]
    assert agent.wait(60) == 0 and watcher.wait(60) == 0
    assert len(delays) == 12
    # The first lines may be replayed to a watcher that attached after them.
    assert max(delays[2:]) < 1.0, [f"{d:.2f}" for d in delays]


def test_an_agent_moves_to_another_node_after_kill_9_and_nothing_is_lost_or_doubled(make_node, postgres, env):
    url = postgres.fresh_database()
    port = free_port()
    a = make_node(url, "a", port=port).start()
    b = make_node(url, "b").start()
    job = popen("run", "--job", "moves", "--no-pty", "--quiet", "--server", a.url, "--",
                *py(paced_job(6000, pause=0.002, code=0, every=20)), env=env)
    wait_until(lambda: "moves" in b.jobs(), what="node b to learn of the job")
    watch = popen("watch", "--server", b.url, "moves", env=env)
    wait_until(lambda: b.jobs()["moves"]["streams"] and b.jobs()["moves"]["streams"][0]["size"] > 30_000,
               what="output relayed to node b")
    a.kill9()
    # Another node, with a cache of its own, comes up where the agent reconnects.
    c = make_node(url, "c", port=port).start()
    assert job.wait(120) == 0, job.stderr.read()
    out, err = watch.communicate(timeout=120)
    assert watch.returncode == 0, err
    assert out == paced_lines(6000)
    assert postgres.archived(url, "moves") == paced_lines(6000)
    assert c.archived("moves") == paced_lines(6000)


def running_on_node_a(make_node, postgres, env, job):
    """Nodes a and b on a fresh database, and an agent on node a running `job` (a sleeper) until node b
    shows it running; returns (a, b, the agent's process)."""
    url = postgres.fresh_database()
    a = make_node(url, "a").start()
    b = make_node(url, "b").start()
    agent = popen("run", "--job", job, "--no-pty", "--quiet", "--server", a.url, "--",
                  *py("import time; print('started', flush=True); time.sleep(20)"), env=env)
    wait_until(lambda: b.jobs().get(job, {}).get("state") == "running", what="node b to show the job running")
    return a, b, agent


def test_the_http_api_reads_a_job_this_node_has_not_heard_of_from_the_store(make_node, postgres, env):
    """A job in the store that node b's cache does not hold (inserted without the NOTIFY a node sends,
    as when b has just started or reconnected and not caught up yet) is answered from the store on every
    HTTP route that names it, not with 404."""
    url = postgres.fresh_database()
    database = url.rsplit("/", 1)[1].split("?")[0]
    a = make_node(url, "a").start()
    b = make_node(url, "b").start()
    expected = paced_lines(300)
    assert tailcast("run", "--job", "orig", "--no-pty", "--quiet", "--server", a.url, "--",
                    *py(paced_job(300, pause=0, code=0)), env=env, timeout=60).returncode == 0
    postgres.sql("INSERT INTO jobs SELECT 'copy', jsonb_set(record, '{info,id}', '\"copy\"'), updated_ms FROM jobs WHERE id = 'orig';"
                 "INSERT INTO chunks SELECT 'copy', stream, start_offset, bytes, time_ms FROM chunks WHERE job = 'orig'", database)
    time.sleep(0.5)
    assert "copy" not in b.jobs(), "node b heard of a job no node announced"
    status, body = http_request(f"{b.http}/v1/jobs/copy")
    assert status == 200 and json.loads(body)["id"] == "copy", (status, body)
    assert http_request(f"{b.http}/v1/jobs/copy/raw") == (200, expected)
    assert http_request(f"{b.http}/v1/jobs/never-made")[0] == 404


def test_a_different_run_on_another_node_is_refused(make_node, postgres, env):
    a, b, first = running_on_node_a(make_node, postgres, env, "taken")
    second = tailcast("run", "--job", "taken", "--no-pty", "--server", b.url, "--", *py("print('second')"),
                      env=env, timeout=60)
    assert second.returncode == 5, second.stderr
    assert b"belongs to another run" in second.stderr
    assert b.jobs()["taken"]["state"] == "running"
    first.kill()
    first.wait()


def test_the_database_stopped_mid_job_stops_acks_and_everything_arrives_after(make_node, postgres, env):
    url = postgres.fresh_database()
    database = url.rsplit("/", 1)[1].split("?")[0]
    server = make_node(url, "a", extra=["--store-statement-timeout", "1000"]).start()
    # At least 2 s of output, so the job is still writing when the database stops even on a loaded machine.
    job = popen("run", "--job", "outage", "--no-pty", "--quiet", "--server", server.url, "--",
                *py(paced_job(4000, pause=0.01, code=2, every=20)), env=env)
    wait_until(lambda: len(postgres.archived(url, "outage")) > 20_000, what="first commits")
    postgres.stop()
    try:
        wait_until(lambda: metric(server, "tailcast_store_up") == 0, timeout=30, what="tailcast_store_up 0")
        assert metric(server, "tailcast_store_errors_total") >= 1
        # Watchers are still served from the node's cache, without waiting on the database.
        status, _ = http_request(server.http + "/v1/jobs/outage")
        assert status == 200
        started = time.monotonic()
        cached = tailcast("watch", "--no-follow", "--server", server.url, "outage", env=env, timeout=60)
        assert cached.returncode == 0, cached.stderr
        assert len(cached.stdout) > 20_000 and paced_lines(4000).startswith(cached.stdout)
        assert time.monotonic() - started < 2.5
        time.sleep(1)
    finally:
        postgres.start()
    assert job.wait(120) == 2, job.stderr.read()
    assert postgres.archived(url, "outage") == paced_lines(4000)
    assert server.archived("outage") == paced_lines(4000)
    wait_until(lambda: metric(server, "tailcast_store_up") == 1, what="tailcast_store_up 1 again")
    log = server.log.read_text()
    # Said when the outage starts, not at every retry (the follower's reconnect may add one more).
    assert 1 <= log.count("the store cannot be reached") <= 2, log
    assert "the store answers again" in log
    record = json.loads(postgres.sql("SELECT record::text FROM jobs WHERE id = 'outage'", database))
    assert record["info"]["exit"] == {"code": 2}


def test_the_job_limit_counts_jobs_other_nodes_made(make_node, postgres, env):
    url = postgres.fresh_database()
    a = make_node(url, "a").start()
    b = make_node(url, "b", extra=["--max-jobs", "2"]).start()
    for job in ("one", "two"):
        assert tailcast("run", "--job", job, "--quiet", "--server", a.url, "--", "true", env=env, timeout=60).returncode == 0
    wait_until(lambda: sorted(b.jobs()) == ["one", "two"], what="node b to hold both jobs")
    third = tailcast("run", "--job", "three", "--quiet", "--wait", "5", "--server", b.url, "--", "true", env=env, timeout=60)
    assert third.returncode == 1 and b"limit of 2 jobs" in third.stderr, third.stderr
    assert postgres.sql("SELECT count(*) FROM jobs", url.rsplit("/", 1)[1].split("?")[0]) == "2"


def test_nodes_racing_to_make_new_jobs_do_not_pass_the_job_limit(make_node, postgres, env, tmp_path):
    """Twelve new jobs at once, half through each of two nodes with `--max-jobs 5`: the store holds five,
    and every other `run` is refused with the limit (a node's cache lags the other node by a notice, and
    its own claims in flight, so the store decides)."""
    url = postgres.fresh_database()
    nodes = [make_node(url, name, extra=["--max-jobs", "5"]).start() for name in ("a", "b")]
    # A spool root each: a refused run keeps its spool, which a run starting after it would rightly report.
    runs = [popen("run", "--job", f"race-{i}", "--quiet", "--wait", "10", "--spool-dir", str(tmp_path / f"spool-{i}"),
                  "--server", nodes[i % 2].url, "--", "true", env=env)
            for i in range(12)]
    results = [(run.wait(60), run.stderr.read()) for run in runs]
    made = [code for code, _ in results if code == 0]
    # One line each, whichever way the refusal reached `run` first.
    refused = [err for code, err in results if code == 1 and err.count(b"\n") == 1 and b"limit of 5 jobs" in err]
    assert len(made) == 5 and len(refused) == 7, [(code, err.decode(errors='replace').splitlines()[-1:]) for code, err in results]
    assert postgres.sql("SELECT count(*) FROM jobs", url.rsplit("/", 1)[1].split("?")[0]) == "5"


def test_a_job_whose_node_and_agent_both_died_shows_lost_on_the_other_nodes(make_node, postgres, env):
    a, b, job = running_on_node_a(make_node, postgres, env, "orphaned")
    # The node first: an agent leaving a live node is recorded at once (its node lets the lease go).
    a.kill9()
    job.kill()
    job.wait()
    # The lease lives 10 s, and a node looks for expired ones every 5 s.
    wait_until(lambda: b.jobs()["orphaned"]["state"] == "lost", timeout=30, what="node b to show it lost")
