"""Store mode (issue 15) under database faults: the database read-only, full, and cut off from a node (a
real PostgreSQL, real relays, real files). Each time the node stops acknowledging, says why in its log
and /metrics, keeps serving watchers what it has, and resumes when the fault heals: nothing acknowledged
is lost, nothing archived twice. Each test prints how long acknowledging took to resume after the heal
(RELIABILITY.md quotes these figures).
"""
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import BINARY, fill, paced_job, paced_lines, popen, py, tailcast, wait_until
from postgres import postgres  # noqa: F401 (fixture)
from relay import Relay
from test_store_postgres import make_node, metric  # noqa: F401 (fixture)

LINES = 3000
# Ten lines every 20 ms: about six seconds of output, so a fault lands while the agent still writes.
JOB = paced_job(LINES, pause=0.02, code=4, every=10)
# A short statement timeout, so a silent database is given up on within seconds.
QUICK = ["--store-statement-timeout", "1000"]


def database_of(url):
    return url.rsplit("/", 1)[1].split("?")[0]


def through_a_fault(postgres, url, server, env, job, fault, heal, cause):
    """Runs JOB as `job` on `server`; once its first bytes are committed, fault() breaks the database.
    Checks that the node stops acknowledging (nothing more is committed), says so in /metrics and its log
    (`cause` in it), and still serves a watcher what it holds; then heal(), and every byte arrives once.
    Returns the seconds from the heal to the next commit."""
    agent = popen("run", "--job", job, "--no-pty", "--quiet", "--server", server.url, "--", *py(JOB), env=env)
    wait_until(lambda: len(postgres.archived(url, job)) > 10_000, what="first commits")
    fault()
    try:
        wait_until(lambda: metric(server, "tailcast_store_up") == 0, timeout=30, what="tailcast_store_up 0")
        assert metric(server, "tailcast_store_errors_total") >= 1
        stalled = len(postgres.archived(url, job))
        cached = tailcast("watch", "--no-follow", "--server", server.url, job, env=env, timeout=60)
        assert cached.returncode == 0, cached.stderr
        assert len(cached.stdout) > 10_000 and paced_lines(LINES).startswith(cached.stdout)
        time.sleep(1.5)
        assert len(postgres.archived(url, job)) == stalled, "committed while the database was broken"
        assert agent.poll() is None, "the agent ended without its bytes acknowledged"
    finally:
        heal()
    healed = time.monotonic()
    wait_until(lambda: len(postgres.archived(url, job)) > stalled, timeout=30, what="commits to resume")
    resumed = time.monotonic() - healed
    assert agent.wait(120) == 4, agent.stderr.read()
    assert postgres.archived(url, job) == paced_lines(LINES)
    assert server.archived(job) == paced_lines(LINES)
    wait_until(lambda: metric(server, "tailcast_store_up") == 1, what="tailcast_store_up 1 again")
    log = server.log.read_text()
    assert cause in log, log
    assert "the store answers again" in log
    print(f"{job}: acknowledging resumed {resumed:.2f} s after the heal")
    return resumed


def test_the_database_read_only_mid_job_stops_acks_and_everything_arrives_once_after(make_node, postgres, env):
    url = postgres.fresh_database()
    database = database_of(url)
    server = make_node(url, "a", extra=QUICK).start()

    def read_only():
        postgres.sql(f'ALTER DATABASE "{database}" SET default_transaction_read_only = on')
        # New sessions are read-only; the node's open ones are ended so that it has to open new ones.
        postgres.sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'"
                     " AND application_name LIKE 'tailcast %'")

    def read_write():
        # Only for new sessions: the node must not keep sessions opened while the database was read-only.
        postgres.sql(f'ALTER DATABASE "{database}" RESET default_transaction_read_only')

    resumed = through_a_fault(postgres, url, server, env, "read-only", read_only, read_write,
                              cause="in a read-only transaction (SQLSTATE 25006)")
    assert resumed < 10


@pytest.fixture
def small_tablespace(postgres):
    """A tablespace on a 4 MB tmpfs owned by the postgres user, in the cluster's directory (the postgres
    user cannot reach the test's): (its name, the mount, [(stop, database)] of the databases that use it).
    Those are dropped before the tablespace and the tmpfs go: PostgreSQL must not find its files gone."""
    if not postgres.as_postgres:
        pytest.skip("mounting a small tmpfs for PostgreSQL needs root")
    mount = Path(tempfile.mkdtemp(prefix="disk-", dir=postgres.dir))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount)], check=True)
    subprocess.run(["chown", "postgres:postgres", str(mount)], check=True)
    name = f"small_{mount.stat().st_ino}"
    postgres.sql(f"CREATE TABLESPACE {name} LOCATION '{mount}'")
    users = []
    yield name, mount, users
    for stop, database in users:
        stop()
        postgres.sql(f'DROP DATABASE "{database}" WITH (FORCE)')
    postgres.sql(f"DROP TABLESPACE {name}")
    subprocess.run(["umount", str(mount)], check=False)
    mount.rmdir()


def test_the_database_full_mid_job_stops_acks_and_everything_arrives_once_after(make_node, postgres, env, small_tablespace):
    tablespace, mount, users = small_tablespace
    url = postgres.fresh_database()
    database = database_of(url)
    server = make_node(url, "a", extra=QUICK).start()
    users.append((server.stop, database))
    # The chunks (and their TOAST table, where the bytes go) live on the small file system; the job
    # records, the leases and the WAL stay on the cluster's disk. This is the disk PostgreSQL writes
    # chunks to running full, as a real one does.
    postgres.sql(f"ALTER TABLE chunks SET TABLESPACE {tablespace}", database)
    filler = mount / "filler"

    def full():
        assert fill(filler) > 0

    resumed = through_a_fault(postgres, url, server, env, "full", full, filler.unlink,
                              cause="No space left on device")
    assert resumed < 10


def test_a_network_cut_to_the_database_mid_job_and_everything_arrives_once_after(make_node, postgres, env):
    url = postgres.fresh_database()
    with Relay(postgres.port) as relay:
        server = make_node(url.replace(f":{postgres.port}/", f":{relay.port}/"), "a", extra=QUICK).start()
        agent = popen("run", "--job", "cut", "--no-pty", "--quiet", "--server", server.url, "--", *py(JOB), env=env)
        wait_until(lambda: len(postgres.archived(url, "cut")) > 10_000, what="first commits")
        # Reset: every connection to the database fails at once and the node opens new ones.
        held = len(postgres.archived(url, "cut"))
        assert relay.cut(mid_frame=False) > 0
        cut = time.monotonic()
        wait_until(lambda: len(postgres.archived(url, "cut")) > held, timeout=15, what="commits after the cut")
        print(f"cut: acknowledging resumed {time.monotonic() - cut:.2f} s after the reset")
        assert agent.wait(120) == 4, agent.stderr.read()
    # A commit whose answer the reset lost is sent again, and archived once.
    assert postgres.archived(url, "cut") == paced_lines(LINES)
    assert server.archived("cut") == paced_lines(LINES)


def test_a_black_holed_database_is_given_up_on_and_acks_resume_after_the_heal(make_node, postgres, env):
    url = postgres.fresh_database()
    with Relay(postgres.port) as relay:
        server = make_node(url.replace(f":{postgres.port}/", f":{relay.port}/"), "a", extra=QUICK).start()
        # Connections open now never answer again, even after the heal (like a NAT that lost their state).
        resumed = through_a_fault(postgres, url, server, env, "blackhole", relay.blackhole, relay.heal,
                                  cause="no answer within 3.0 seconds")
    assert resumed < 10


def held_on(node, job):
    """How many bytes of the job's stdout `node`'s cache holds, read off its disk: asking the node over HTTP
    would make it read the database, and hide whether its follower does."""
    try:
        return len(node.archived(job))
    except (FileNotFoundError, StopIteration):
        return 0


def followed_across_a_relay(make_node, postgres, relay, url, job, lines, pause, env):
    """Node a publishes `job` (`lines` paced ten every `pause` s) over its own sound route to the
    database; node b reaches the database through `relay`, and a watcher on b follows the job once b
    relays it. Returns (b, the agent, the watcher)."""
    a = make_node(url, "a", extra=QUICK).start()
    b = make_node(url.replace(f":{postgres.port}/", f":{relay.port}/"), "b", extra=QUICK).start()
    agent = popen("run", "--job", job, "--no-pty", "--quiet", "--server", a.url, "--",
                  *py(paced_job(lines, pause=pause, code=0, every=10)), env=env)
    wait_until(lambda: held_on(b, job) > 2_000, what="node b to relay the job")
    return b, agent, popen("watch", "--server", b.url, job, env=env)


def test_a_watcher_on_a_node_cut_off_from_the_database_gets_every_later_byte(make_node, postgres, env):
    """Node a publishes (its own route to the database is sound); node b reaches the database through a
    relay, and a watcher on b reads the job from start to end while that route is down for 15 s, heals,
    and is reset once. After the reset b's follower reconnects within its first backoff, not the longest
    one the outage before reached, and the watcher gets every byte once."""
    url = postgres.fresh_database()
    lines = 4000
    with Relay(postgres.port) as relay:
        # Ten lines every 150 ms: about 60 seconds, longer than the faults below.
        b, agent, watch = followed_across_a_relay(make_node, postgres, relay, url, "far", lines, 0.15, env)

        def relayed_past(size, timeout, what):
            started = time.monotonic()
            wait_until(lambda: held_on(b, "far") > size, timeout=timeout, what=what)
            return time.monotonic() - started

        # A dead route (no answer), whose connections are then reset: every reconnect meanwhile times out,
        # for long enough that the follower's backoff reaches its longest (5 s).
        relay.blackhole()
        time.sleep(1)
        relay.cut(mid_frame=False)
        time.sleep(14)
        relay.heal()
        stale = held_on(b, "far")
        noticed = relayed_past(stale, 30, "node b to follow again after the heal")
        print(f"black hole: node b relays again {noticed:.2f} s after the heal")
        time.sleep(1)
        # One reset of a follower that has been listening fine: it is back within its first backoff.
        before = held_on(b, "far")
        relay.cut(mid_frame=False)
        back = relayed_past(before, 20, "node b to relay after one reset")
        print(f"one reset: node b relays again {back:.2f} s after it")
        assert back < 2.5, f"node b took {back:.2f} s to relay again after one reset"
        assert agent.wait(120) == 0, agent.stderr.read()
        out, err = watch.communicate(timeout=60)
    assert watch.returncode == 0, err
    assert out == paced_lines(lines)


def test_a_progress_update_lost_to_an_outage_reaches_the_other_nodes_after_it(make_node, postgres, env, tmp_path):
    """Progress is saved in the background (the agent's data does not wait for it); one that fails while
    the database is cut off is saved again after the heal, not only at the job's next update."""
    url = postgres.fresh_database()
    go, done = tmp_path / "go", tmp_path / "done"
    job = ("import os, subprocess, time\n"
           f"def progress(n): subprocess.run([{BINARY!r}, 'progress', str(n), '--total', '10'], check=True)\n"
           "progress(1)\n"
           f"while not os.path.exists({str(go)!r}): time.sleep(0.05)\n"
           # A node saves a job's progress at most once a second.
           "time.sleep(1.2)\n"
           "progress(7)\n"
           f"while not os.path.exists({str(done)!r}): time.sleep(0.05)\n")
    with Relay(postgres.port) as relay:
        a = make_node(url.replace(f":{postgres.port}/", f":{relay.port}/"), "a", extra=QUICK).start()
        b = make_node(url, "b").start()
        agent = popen("run", "--job", "bars", "--no-pty", "--quiet", "--server", a.url, "--", *py(job), env=env)

        def progress_on_b():
            bars = b.jobs().get("bars", {}).get("progress") or []
            return bars[0]["current"] if bars else None

        wait_until(lambda: progress_on_b() == 1, what="node b to show the first progress")
        relay.blackhole()
        go.touch()
        wait_until(lambda: metric(a, "tailcast_store_up") == 0, timeout=30, what="node a to give up on the database")
        relay.heal()
        wait_until(lambda: progress_on_b() == 7, timeout=20, what="node b to show the progress sent during the outage")
        assert agent.poll() is None
        done.touch()
        assert agent.wait(60) == 0, agent.stderr.read()


def test_a_route_to_the_database_that_flaps_leaves_the_follower_following(make_node, postgres, env):
    """The route between node b and the database is reset every 0.1 s for 6 s, four times, while node a
    publishes a job that a watcher on b follows. After each flap b relays again within its longest
    backoff and a margin, and the watcher gets every byte once. A request whose connection a reset broke
    mid-way is given up on at its time limit, not waited for: about one flap in ten used to leave b's
    follower waiting for good on such a request (a catch-up read)."""
    url = postgres.fresh_database()
    lines = 6000
    with Relay(postgres.port) as relay:
        # Ten lines every 100 ms: a minute, longer than the flaps below.
        b, agent, watch = followed_across_a_relay(make_node, postgres, relay, url, "flapping", lines, 0.1, env)
        for flap in range(4):
            relay.chaos(interval=(0.1, 0.1), modes=("reset",))
            time.sleep(6)
            relay.stop_chaos()
            before = held_on(b, "flapping")
            healed = time.monotonic()
            wait_until(lambda: held_on(b, "flapping") > before, timeout=15, what=f"node b to relay again after flap {flap}")
            print(f"flap {flap}: node b relays again {time.monotonic() - healed:.2f} s after it")
        assert agent.wait(120) == 0, agent.stderr.read()
        out, err = watch.communicate(timeout=60)
    assert watch.returncode == 0, err
    assert out == paced_lines(lines)
