"""Scale out (issue 15): three `serve --store postgres://…` nodes behind haproxy, a real PostgreSQL.

The PostgreSQL server is a throwaway one per test session (postgres.py); each test gets its own
database, so jobs of one test never show in another. Agents and watchers go through the balancer
(round robin, no stickiness) or straight to one node when the test needs them on different nodes.
Which node holds an agent or a watcher is read from the nodes' logs ("agent connected" and
"watcher connected" lines name the job). "Exactly once" is checked in the database itself: the
stream's chunks concatenated in offset order must equal what the job wrote, which no overlap and
no gap can.
"""
import json
import re
import subprocess
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

import peer
from conftest import REPO, free_port, http_request, paced_job, paced_lines, popen, py, stop_process, tailcast, wait_until
from postgres import database_of, make_cluster, postgres  # noqa: F401 (fixtures)


def connections(node, kind, job):
    """How many `kind` ("agent" or "watcher") connections for `job` the node's log records."""
    lines = node.log.read_text(errors="replace").splitlines()
    return sum(1 for line in lines if line.endswith(f" {kind} connected") and f"job={job}" in line.split())


def holder(cluster, kind, job, among=None):
    """The node whose log records a `kind` connection for `job`, or None while none does."""
    return next((n for n in (among or cluster.nodes) if connections(n, kind, job)), None)


def streamed(node, job):
    """Bytes of the job's stdout that the node knows of (its local cache), 0 before it knows the job."""
    streams = node.jobs().get(job, {}).get("streams") or []
    return sum(s["size"] for s in streams if s["name"] == "stdout")


def caught_up(nodes, job, expected):
    """Every node's cache ends up with the whole stream and the job's exit, pulled from the store."""
    def cached(node):
        try:
            return node.archived(job)
        except (OSError, ValueError, StopIteration):  # not there yet, or job.json being replaced
            return None

    for node in nodes:
        wait_until(lambda: cached(node) == expected, what=f"node {node.name}'s cache")
        assert node.jobs()[job]["state"] == "exited"


def metric(node, name):
    status, body = http_request(node.http + "/metrics")
    assert status == 200
    match = re.search(rf"^{name} (\S+)$", body.decode(), re.M)
    return float(match.group(1)) if match else None


def healthz(node):
    status, body = http_request(node.http + "/healthz")
    return status, json.loads(body)


def watched(process, code, expected):
    out, err = process.communicate(timeout=90)
    assert process.returncode == code, err.decode(errors="replace")
    assert out == expected, f"{len(out)} bytes watched, {len(expected)} expected"
    return err


def test_throwaway_postgres_answers_restarts_and_keeps_its_data(postgres):
    url = postgres.fresh_database()
    database = url.rsplit("/", 1)[1].split("?")[0]
    assert postgres.sql("select 1", database, user="tailcast") == "1"
    postgres.sql("create table t (n int); insert into t values (42)", database, user="tailcast")
    postgres.stop()
    assert not postgres.running()
    postgres.start()
    assert postgres.sql("select n from t", database, user="tailcast") == "42"


def test_balancer_routes_websockets_round_robin_to_every_node(make_cluster, env):
    """The haproxy configuration of README's "Scale out", in front of three embedded-store nodes (each
    its own archive): every node gets agents through it, and a WebSocket upgrade goes through whole."""
    cluster = make_cluster(None)
    for i in range(6):
        run = tailcast("run", "--job", f"rr-{i}", "--no-pty", "--quiet", "--server", cluster.url, "--",
                       *py(f"print('job {i}')"), env=env, timeout=60)
        assert run.returncode == 0, run.stderr
    held = {n.name: sorted(j for j in n.jobs()) for n in cluster.nodes}
    assert all(held.values()), f"a node got no job: {held}"
    for i in range(6):
        (node,) = [n for n in cluster.nodes if f"rr-{i}" in n.jobs()]
        assert node.archived(f"rr-{i}") == b"job %d\n" % i


def test_jobs_and_watchers_spread_over_the_nodes_arrive_byte_exact(postgres, make_cluster, env):
    url = postgres.fresh_database()
    cluster = make_cluster(url)
    jobs = [f"spread-{i}" for i in range(6)]
    agents = [popen("run", "--job", job, "--no-pty", "--quiet", "--server", cluster.url, "--",
                    *py(paced_job(1500, pause=0.002, code=i)), env=env) for i, job in enumerate(jobs)]
    # Watchers go to the nodes in turn, not through the balancer: `watch --wait` reconnects while the job
    # does not exist yet, each time to the balancer's next node, so where it ends up is chance, and every
    # node must serve watchers here. Agents go through the balancer, as users' do.
    nodes = cluster.nodes
    watchers = [popen("watch", job, "--wait", "--server", nodes[i % len(nodes)].url, env=env) for i, job in enumerate(jobs)]
    for i, agent in enumerate(agents):
        assert agent.wait(90) == i, agent.stderr.read().decode(errors="replace")
    for i, watcher in enumerate(watchers):
        watched(watcher, i, paced_lines(1500))
    for job in jobs:
        assert postgres.archived(url, job) == paced_lines(1500)
    assert sum(any(connections(n, "agent", job) for job in jobs) for n in nodes) >= 2, cluster.logs()
    assert all(any(connections(n, "watcher", job) for job in jobs) for n in nodes), cluster.logs()


def test_a_watcher_on_another_node_than_its_agent_replays_then_follows(postgres, make_cluster, env):
    url = postgres.fresh_database()
    a, b, c = make_cluster(url).nodes
    early = popen("watch", "cross", "--wait", "--server", b.url, env=env)
    agent = popen("run", "--job", "cross", "--no-pty", "--quiet", "--server", a.url, "--",
                  *py(paced_job(3000, pause=0.002, code=3)), env=env)
    # c learns of the job and its bytes from the database, never from a
    wait_until(lambda: streamed(c, "cross") > 20_000, what="node c to follow the job")
    late = popen("watch", "cross", "--server", c.url, env=env)
    assert agent.wait(90) == 3
    watched(early, 3, paced_lines(3000))
    watched(late, 3, paced_lines(3000))
    assert postgres.archived(url, "cross") == paced_lines(3000)
    assert connections(b, "agent", "cross") == connections(c, "agent", "cross") == 0
    caught_up((b, c), "cross", paced_lines(3000))


def test_killing_the_node_holding_the_agent_moves_the_job_to_another_node(postgres, make_cluster, env):
    url = postgres.fresh_database()
    cluster = make_cluster(url)
    agent = popen("run", "--job", "moving", "--no-pty", "--quiet", "--server", cluster.url, "--",
                  *py(paced_job(4000, pause=0.002, code=5)), env=env)
    first = wait_until(lambda: holder(cluster, "agent", "moving"), what="the agent to connect")
    others = [n for n in cluster.nodes if n is not first]
    wait_until(lambda: streamed(others[0], "moving") > 20_000, what="output to reach the other nodes")
    direct = popen("watch", "moving", "--server", others[0].url, env=env)
    balanced = popen("watch", "moving", "--server", cluster.url, env=env)
    time.sleep(0.5)
    first.kill9()
    assert agent.wait(120) == 5, agent.stderr.read().decode(errors="replace")
    assert holder(cluster, "agent", "moving", among=others), "no other node took the job over"
    watched(direct, 5, paced_lines(4000))
    watched(balanced, 5, paced_lines(4000))
    assert postgres.archived(url, "moving") == paced_lines(4000)
    caught_up(others, "moving", paced_lines(4000))


def test_killing_the_node_holding_a_watcher_the_watcher_moves_on(postgres, make_cluster, env):
    url = postgres.fresh_database()
    cluster = make_cluster(url)
    publisher = cluster.nodes[0]
    agent = popen("run", "--job", "steady", "--no-pty", "--quiet", "--server", publisher.url, "--",
                  *py(paced_job(4000, pause=0.002, code=0)), env=env)
    wait_until(lambda: all(streamed(n, "steady") > 10_000 for n in cluster.nodes), what="every node to follow")
    # round robin puts three watchers on three nodes; one of them not on the publisher's node
    watchers = [popen("watch", "steady", "--server", cluster.url, env=env) for _ in range(3)]
    victim = wait_until(lambda: holder(cluster, "watcher", "steady", among=cluster.nodes[1:]),
                        what="a watcher on a node other than the publisher's")
    time.sleep(0.5)
    victim.kill9()
    assert agent.wait(90) == 0
    errors = [watched(w, 0, paced_lines(4000)) for w in watchers]
    assert any(b"reconnecting" in e for e in errors), "no watcher was on the killed node"
    assert postgres.archived(url, "steady") == paced_lines(4000)


def test_postgres_stopped_and_started_mid_job_loses_and_duplicates_nothing(postgres, make_cluster, env):
    url = postgres.fresh_database()
    a, b, c = make_cluster(url).nodes
    agent = popen("run", "--job", "pgdown", "--no-pty", "--quiet", "--server", a.url, "--",
                  *py(paced_job(5000, pause=0.002, code=0)), env=env)
    watcher = popen("watch", "pgdown", "--wait", "--server", b.url, env=env)
    wait_until(lambda: streamed(c, "pgdown") > 20_000, what="output to reach node c")
    postgres.stop()
    try:
        wait_until(lambda: metric(a, "tailcast_store_up") == 0, what="node a to say the store is down")
        status, health = healthz(a)
        assert health["store"]["ok"] is False and health["store"]["node"] == "a", health
        # every node keeps serving what it has
        cached = tailcast("watch", "pgdown", "--no-follow", "--server", c.url, env=env, timeout=30)
        assert cached.stdout and paced_lines(5000).startswith(cached.stdout), cached.stderr
        assert metric(a, "tailcast_store_errors_total") > 0
        time.sleep(2)
    finally:
        postgres.start()
    wait_until(lambda: all(metric(n, "tailcast_store_up") == 1 for n in (a, b, c)), timeout=30,
               what="every node to reconnect to the store")
    assert agent.wait(120) == 0, agent.stderr.read().decode(errors="replace")
    watched(watcher, 0, paced_lines(5000))
    assert postgres.archived(url, "pgdown") == paced_lines(5000)
    assert healthz(a)[1]["store"]["ok"] is True


HELLO = {"type": "hello", "job": "twice", "agent": "peer.py/1",
         "meta": {"kind": "run", "command": ["peer"], "host": "h", "user": "u", "started_at_ms": 1}}


def publish(node, run_id):
    """A connection that said hello to the node, and the node's answer. The test closes it, or the server does."""
    ws = connect(node.url + "/v1/publish", subprotocols=[peer.SUBPROTOCOL], legacy=True)
    ws.send(json.dumps({**HELLO, "run_id": run_id}))
    return ws, json.loads(ws.recv())


def closed_with(ws):
    """(the error message, the close code) of a refused connection."""
    error = json.loads(ws.recv(timeout=10))
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=10)
    return error["code"], closed.value.rcvd.code


def test_a_second_run_of_a_job_is_refused_on_any_node_and_the_same_run_takes_over(postgres, make_cluster):
    url = postgres.fresh_database()
    a, b, c = make_cluster(url).nodes
    first, welcome = publish(a, "run-1")
    assert welcome["type"] == "welcome" and welcome["streams"] == []
    first.send(json.dumps({"type": "open", "stream": 1, "name": "stdout"}))
    first.send(peer.encode_data([(1, 0, 1000, b"one\n")]))
    assert json.loads(first.recv(timeout=10))["offsets"] == {"1": 4}
    # another run, through another node: today's answer
    other, answer = publish(b, "run-2")
    assert answer["type"] == "error" and answer["code"] == "job_conflict", answer
    with pytest.raises(ConnectionClosed) as closed:
        other.recv(timeout=10)
    assert closed.value.rcvd.code == 4009
    # the same run through a third node takes the job over at once, from what the store committed
    again, welcome = publish(c, "run-1")
    assert welcome == {"type": "welcome", "job": "twice", "streams": [{"name": "stdout", "size": 4}], "ended": False}
    # the first connection has lost the lease: what it sends now is refused, not archived (its lease
    # renewal may have told it first, within 3 s)
    try:
        first.send(peer.encode_data([(1, 4, 1000, b"stale\n")]))
    except ConnectionClosed:
        pass
    assert closed_with(first) == ("replaced", 4010)
    again.send(json.dumps({"type": "open", "stream": 7, "name": "stdout"}))
    again.send(peer.encode_data([(7, 4, 2000, b"two\n")]))
    again.send(json.dumps({"type": "end", "exit": {"code": 0}, "ended_at_ms": 3000, "sizes": {"7": 8}}))
    wait_until(lambda: json.loads(again.recv(timeout=10)).get("ended"), what="the end to be acknowledged")
    again.close()
    assert postgres.archived(url, "twice") == b"one\ntwo\n"


def test_ls_through_any_node_lists_every_job(postgres, make_cluster, env):
    url = postgres.fresh_database()
    cluster = make_cluster(url)
    for i, node in enumerate(cluster.nodes):
        run = tailcast("run", "--job", f"on-{node.name}", "--no-pty", "--quiet", "--server", node.url, "--",
                       *py(f"raise SystemExit({i})"), env=env, timeout=60)
        assert run.returncode == i, run.stderr
    expected = {"on-a": {"code": 0}, "on-b": {"code": 1}, "on-c": {"code": 2}}

    def listed(server):
        result = tailcast("ls", "--json", "--server", server, env=env, timeout=30)
        assert result.returncode == 0, result.stderr
        return {j["id"]: j.get("exit") for j in json.loads(result.stdout)["jobs"]}

    for server in [n.url for n in cluster.nodes] + [cluster.url] * 3:
        wait_until(lambda: listed(server) == expected, timeout=10, what=f"ls through {server}")


def test_the_kubernetes_example_starts_nodes_on_the_store_from_its_secret(postgres, tmp_path, env):
    """Examples/kubernetes/tailcast.yaml's containers run as Kubernetes would run them (the init
    container's copy of the tokens Secret, then the server's args and environment), with this
    machine's paths and a free port in."""
    yaml = pytest.importorskip("yaml")
    manifest = [d for d in yaml.safe_load_all((REPO / "Examples" / "kubernetes" / "tailcast.yaml").read_text()) if d]
    (deployment,) = [d for d in manifest if d["kind"] == "Deployment"]
    (service,) = [d for d in manifest if d["kind"] == "Service"]
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["replicas"] > 1 and "sessionAffinity" not in service["spec"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    (init,) = pod["spec"]["initContainers"]
    (container,) = pod["spec"]["containers"]
    assert service["spec"]["ports"][0]["targetPort"] in [p["name"] for p in container["ports"]]
    variables = {e["name"]: e["valueFrom"] for e in container["env"]}
    assert "secretKeyRef" in variables["TAILCAST_STORE"]
    assert variables["TAILCAST_NODE"] == {"fieldRef": {"fieldPath": "metadata.name"}}

    # Every volume becomes a directory here; the Secret's holds the tokens file with the Secret's mode.
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    for name, volume in volumes.items():
        (tmp_path / name).mkdir()
        if "secret" in volume:
            tokens = tmp_path / name / "tokens"
            tokens.write_text("publish publish-token-0123456789\nwatch watch-token-0123456789ab\n")
            tokens.chmod(volume["secret"]["defaultMode"])
    mounts = {m["mountPath"]: str(tmp_path / m["name"]) for c in (init, container) for m in c["volumeMounts"]}

    def here(argument):
        return next((argument.replace(path, local) for path, local in mounts.items() if argument.startswith(path)), argument)

    copied = subprocess.run([here(a) for a in init["command"]], capture_output=True)
    assert copied.returncode == 0, copied.stderr
    port = free_port()
    args = [str(port) if a == "7070" else "127.0.0.1" if a == "0.0.0.0" else here(a) for a in container["args"]]
    node = popen(*args, env={**env, "TAILCAST_STORE": postgres.fresh_database(), "TAILCAST_NODE": "tailcast-7d9f-x2"},
                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        def health():
            if node.poll() is not None:
                raise AssertionError(f"the node exited {node.returncode}: {node.stderr.read().decode()}")
            try:
                return http_request(f"http://127.0.0.1:{port}/healthz", timeout=1)
            except OSError:
                return None
        status, body = wait_until(health, what="the node to listen")
        store = json.loads(body)["store"]
        assert status == 200 and store["ok"] is True and store["node"] == "tailcast-7d9f-x2", body
    finally:
        stop_process(node)


OWNER = "publish-owner-3f9a1c77e2b04d5e"
OTHER = "publish-other-77e2b04d5e3f9a1c"
WATCH = "watch-8c2d6b19aa4e4f03aa4e"


def agent_of(node, job, run_id, token=OWNER):
    """A raw agent of `job` connected to `node` with its stdout open; the test closes it."""
    ws = connect(node.url + "/v1/publish", subprotocols=[peer.SUBPROTOCOL], additional_headers={"Authorization": f"Bearer {token}"},
                 legacy=True)
    ws.send(json.dumps({**HELLO, "job": job, "run_id": run_id}))
    assert json.loads(ws.recv(timeout=10))["type"] == "welcome"
    ws.send(json.dumps({"type": "open", "stream": 1, "name": "stdout"}))
    return ws


def test_run_replace_starts_a_job_anew_across_nodes_for_its_token_while_no_agent_holds_it(postgres, make_cluster, tmp_path, env):
    """`run --replace` in store mode works as on one server, whichever nodes the runs and watchers reach:
    only with the token that made the job and while no agent of it is connected anywhere (its lease not
    held); the earlier run's bytes leave the store and every node's cache, and its watchers on every
    node get `job_replaced` (4012)."""
    tokens = tmp_path / "tokens"
    tokens.write_text(f"publish {OWNER}\npublish {OTHER}\nwatch {WATCH}\n")
    tokens.chmod(0o600)
    url = postgres.fresh_database()
    a, b, c = make_cluster(url, extra=("--tokens-file", str(tokens))).nodes

    def run(node, job, *args, token=OWNER, code="print('x')"):
        return tailcast("run", "--job", job, "--no-pty", "--quiet", "--token", token, "--server", node.url, *args, "--",
                        *py(code), env=env, timeout=60)

    def generation(job):
        return int(postgres.sql(f"SELECT record->>'generation' FROM jobs WHERE id = '{job}'", database_of(url)))

    assert run(a, "nightly", code="print('first')").returncode == 0
    first = generation("nightly")
    again = run(b, "nightly", code="print('second')")
    assert again.returncode == 5 and b"--replace" in again.stderr, again.stderr
    assert run(c, "nightly", "--replace", token=OTHER).returncode == 5  # not the token that made it
    replaced = run(b, "nightly", "--replace", code="print('second')")
    assert replaced.returncode == 0, replaced.stderr
    assert postgres.archived(url, "nightly") == b"second\n"
    # Each run of an id has a greater generation, by which every node tells a stale record of the earlier
    # run (read just before the replace) from the new one.
    assert generation("nightly") > first > 0
    for node in (a, b, c):
        wait_until(lambda: node.archived("nightly") == b"second\n", what=f"node {node.name}'s cache of the new run")

    # A job whose agent is connected to one node is not replaced through another.
    busy = agent_of(a, "busy", "busy-run")
    try:
        taken = run(c, "busy", "--replace")
        assert taken.returncode == 5 and b"is running" in taken.stderr, taken.stderr
    finally:
        busy.close()

    # A lost job's watchers on every node are told when a new run, through a third node, takes the id.
    lost = agent_of(a, "lost", "lost-run")
    lost.send(peer.encode_data([(1, 0, 1000, b"old run\n")]))
    assert json.loads(lost.recv(timeout=10))["offsets"] == {"1": 8}
    lost.close()
    watchers = [popen("watch", "lost", "--token", WATCH, "--server", node.url, env=env) for node in (a, b)]
    for node in (a, b):
        wait_until(lambda: connections(node, "watcher", "lost"), what=f"the watcher on node {node.name}")
    renewed = run(c, "lost", "--replace", code="print('new run')")
    assert renewed.returncode == 0, renewed.stderr
    for watcher in watchers:
        out, err = watcher.communicate(timeout=30)
        assert watcher.returncode == 1 and b"started anew" in err, err
        assert out == b"old run\n"
    assert postgres.archived(url, "lost") == b"new run\n"
    for node in (a, b, c):
        wait_until(lambda: node.archived("lost") == b"new run\n", what=f"node {node.name}'s cache of the new run")
