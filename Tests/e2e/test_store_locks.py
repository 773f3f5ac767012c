"""Store mode (issue 15): the row locks of two nodes never deadlock, and a `run --replace` never lets an
earlier run's late commit into the new run's stream.

Each test holds, in a psql session of its own, the locks another node takes at that point (a takeover
reads the job's row FOR SHARE, then writes its lease; a commit renews the lease and inserts chunks),
waits until a real node is blocked behind them, and then lets go. Before the lock order was one order
(the job's row, then its lease, then its chunks), PostgreSQL found a deadlock here and failed one side
after a second, and a replace deleted the earlier run's chunks while one of its commits was in flight.
"""
import subprocess
import time

from conftest import paced_job, paced_lines, popen, py, tailcast, wait_until
from postgres import POSTGRES_BIN, ROLE, postgres  # noqa: F401 (fixture)
from test_store_postgres import make_node, metric  # noqa: F401 (fixture)

# A job that reports progress as it goes (`N/M` in its text), so its node saves the job's record about
# once a second while it runs.
COUNTING = ("import sys, time\n"
            "for i in range(1, 100001):\n"
            "    print(f'step {i}/100000', flush=True)\n"
            "    time.sleep(0.05)\n")


class Session:
    """One psql session fed a statement at a time, so a test decides when its transaction goes on."""

    def __init__(self, postgres, database):
        self.process = subprocess.Popen(
            [str(POSTGRES_BIN / "psql"), "-h", "127.0.0.1", "-p", str(postgres.port), "-U", ROLE, "-d", database,
             "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def send(self, statements):
        self.process.stdin.write(statements + "\n")
        self.process.stdin.flush()

    def finish(self, timeout=30):
        """(exit status, stderr) once the session has run what it was sent and ended."""
        _, err = self.process.communicate(timeout=timeout)
        return self.process.returncode, err


def database_of(url):
    return url.rsplit("/", 1)[1].split("?")[0]


def nodes_waiting_on_a_lock(postgres, database):
    return int(postgres.sql(f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}' "
                            "AND application_name LIKE 'tailcast %' AND wait_event_type = 'Lock'"))


def deadlocks_logged_since(postgres, offset):
    return postgres.log.read_bytes()[offset:].count(b"deadlock detected")


def test_a_progress_save_and_a_takeover_in_flight_do_not_deadlock(make_node, postgres, env):
    """A takeover holds the job's row (FOR SHARE) while the node that runs the job saves its progress:
    the save waits for the row without holding the lease, so the takeover's write to the lease goes
    through, and neither side fails."""
    url = postgres.fresh_database()
    database = database_of(url)
    a = make_node(url, "a").start()
    log_offset = postgres.log.stat().st_size
    agent = popen("run", "--job", "counting", "--no-pty", "--quiet", "--server", a.url, "--", *py(COUNTING), env=env)
    try:
        wait_until(lambda: (a.jobs().get("counting", {}).get("progress") or [{}])[0].get("current", 0) > 2,
                   what="the job's progress on its node")
        takeover = Session(postgres, database)
        takeover.send("BEGIN;\nSELECT 1 FROM jobs WHERE id = 'counting' FOR SHARE;")
        wait_until(lambda: nodes_waiting_on_a_lock(postgres, database) > 0, timeout=15,
                   what="the node's progress save to wait for the job's row")
        takeover.send("UPDATE leases SET node = node WHERE job = 'counting';\nCOMMIT;")
        status, err = takeover.finish()
        assert status == 0, err
        saved = lambda: int(postgres.sql("SELECT updated_ms FROM jobs WHERE id = 'counting'", database))
        after = saved()
        wait_until(lambda: saved() > after, what="the node to save the job's record again")
    finally:
        agent.terminate()
        agent.wait(30)
    assert metric(a, "tailcast_store_errors_total") == 0, a.log.read_text()[-3000:]
    time.sleep(1.5)  # the deadlock detector fires after a second
    assert deadlocks_logged_since(postgres, log_offset) == 0, postgres.log.read_bytes()[log_offset:].decode(errors="replace")


def test_the_lease_reaper_skips_a_job_a_takeover_holds_and_reaps_it_after(make_node, postgres, env):
    """Node a dies with its agent; the job's lease expires. A takeover holds the job's row through two of
    node b's reaping rounds: b skips that job (no deadlock with the takeover's write to the lease), and
    once the takeover lets go without renewing, b shows the job lost."""
    url = postgres.fresh_database()
    database = database_of(url)
    a = make_node(url, "a").start()
    b = make_node(url, "b").start()
    log_offset = postgres.log.stat().st_size
    agent = popen("run", "--job", "orphan", "--no-pty", "--quiet", "--server", a.url, "--",
                  *py(paced_job(100000, pause=0.05, code=0, every=10)), env=env, start_new_session=True)
    wait_until(lambda: len(postgres.archived(url, "orphan")) > 1000, what="the first commits")
    takeover = Session(postgres, database)
    takeover.send("BEGIN;\nSELECT 1 FROM jobs WHERE id = 'orphan' FOR SHARE;")
    a.kill9()
    subprocess.run(["kill", "-KILL", "--", f"-{agent.pid}"], check=False)
    agent.wait(10)
    expired = lambda: postgres.sql(f"SELECT count(*) FROM leases WHERE job = 'orphan' AND expires_ms > 0 AND "
                                   "expires_ms < (extract(epoch from clock_timestamp()) * 1000)::int8", database) == "1"
    wait_until(expired, timeout=20, what="the dead node's lease to expire")
    # Two of node b's reaping rounds (every 5 s). A reaper that took the lease first would be seen
    # waiting for the job's row here, and the takeover's write below would then deadlock with it.
    deadline = time.monotonic() + 11
    while time.monotonic() < deadline:
        assert nodes_waiting_on_a_lock(postgres, database) == 0, "node b's reaper waits for the takeover's row"
        time.sleep(0.1)
    assert b.jobs()["orphan"]["state"] == "running", "reaped while a takeover held the job's row"
    takeover.send("UPDATE leases SET node = node WHERE job = 'orphan';\nCOMMIT;")
    status, err = takeover.finish()
    assert status == 0, err
    wait_until(lambda: b.jobs()["orphan"]["state"] == "lost", timeout=15, what="node b to show the job lost")
    assert metric(b, "tailcast_store_errors_total") == 0, b.log.read_text()[-3000:]
    assert deadlocks_logged_since(postgres, log_offset) == 0, postgres.log.read_bytes()[log_offset:].decode(errors="replace")


def test_a_replace_waits_for_a_commit_in_flight_and_the_new_run_holds_only_its_own_bytes(make_node, postgres, env):
    """The earlier run's lease has expired, but one of its commits is still in flight (it renews the lease
    and inserts a chunk past the run's end). `run --replace` waits for it, then finds the lease renewed and
    is refused as running; once the lease expires, a replace deletes every chunk of the earlier run, the
    late one too, and the store holds the new run's bytes exactly."""
    url = postgres.fresh_database()
    database = database_of(url)
    a = make_node(url, "a").start()
    b = make_node(url, "b").start()
    first = tailcast("run", "--job", "nightly", "--no-pty", "--quiet", "--server", a.url, "--", *py("print('first')"),
                     env=env, timeout=60)
    assert first.returncode == 0, first.stderr
    late = Session(postgres, database)
    late.send("BEGIN;\n"
              "UPDATE leases SET expires_ms = (extract(epoch from clock_timestamp()) * 1000)::int8 + 10000 WHERE job = 'nightly';\n"
              "INSERT INTO chunks VALUES ('nightly', 'stdout', 6, 'LATE CHUNK', 0) ON CONFLICT DO NOTHING;")
    code = paced_job(200, pause=0, code=0)
    replace = popen("run", "--job", "nightly", "--replace", "--no-pty", "--quiet", "--server", b.url, "--", *py(code), env=env)
    wait_until(lambda: nodes_waiting_on_a_lock(postgres, database) > 0, timeout=15,
               what="the replace to wait for the commit in flight")
    late.send("COMMIT;")
    status, err = late.finish()
    assert status == 0, err
    refused = replace.wait(60)
    stderr = replace.stderr.read()
    assert refused == 5 and b"is running" in stderr, (refused, stderr)
    time.sleep(10.5)  # the renewed lease expires
    again = tailcast("run", "--job", "nightly", "--replace", "--no-pty", "--quiet", "--server", b.url, "--", *py(code),
                     env=env, timeout=60)
    assert again.returncode == 0, again.stderr
    assert postgres.archived(url, "nightly") == paced_lines(200)
    wait_until(lambda: a.archived("nightly") == paced_lines(200), what="node a's cache of the new run")
