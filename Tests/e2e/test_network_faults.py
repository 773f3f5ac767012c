"""Real network faults between tailcast's peers: a TCP relay (relay.py) between an agent or a watcher and
the server resets connections in the middle of WebSocket frames, stalls them, or black-holes them,
and every byte must still arrive exactly once. `pytest -s` prints what the relay did."""
import contextlib
import hashlib
import os
import random
import time

import pytest

from conftest import py, popen, wait_until
from relay import Relay

# Numbered lines with a hash in each, so the wire carries real volume (about half of it compresses
# away), in bursts of 100 lines: 700 bursts make about 3.4 MB over about 10 s.
BURSTS = """
import hashlib, sys, time
for burst in range({bursts}):
    sys.stdout.write(''.join('%07d %s\\n' % (i, hashlib.sha1(b'%d' % i).hexdigest())
                             for i in range(burst * 100, burst * 100 + 100)))
    sys.stdout.flush()
    time.sleep({pause})
sys.exit({code})
"""


def bursts_expected(bursts):
    return b"".join(b"%07d %s\n" % (i, hashlib.sha1(b"%d" % i).hexdigest().encode()) for i in range(bursts * 100))


@contextlib.contextmanager
def reaped(*processes):
    """Kills what is still running at the end, even a hung `run` (which forwards SIGTERM to its job)."""
    try:
        yield
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def archived_size(server, job):
    streams = server.jobs().get(job, {}).get("streams") or [{"size": 0}]
    return streams[0]["size"]


def test_agent_through_cuts_and_stalls_delivers_every_byte_once(make_server, env):
    server = make_server().start()
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    with Relay(server.port, seed=seed) as relay:
        started = time.monotonic()
        run = popen("run", "--job", "cuts", "--no-pty", "--quiet", "--server", relay.url, "--",
                    *py(BURSTS.format(bursts=700, pause=0.013, code=5)), env=env)
        with reaped(run):
            wait_until(lambda: relay.bytes_up > 50_000, what="the agent to stream through the relay")
            # A fault every 0.25 to 0.8 s until run exits (its last acknowledgements included): resets
            # inside a frame, and every fourth a stall.
            faults = 0
            while run.poll() is None and time.monotonic() - started < 40:
                time.sleep(rng.uniform(0.25, 0.8))
                faults += 1
                if faults % 4 == 0:
                    pause = rng.uniform(0.3, 0.8)
                    relay.stall(pause)
                    time.sleep(pause)
                else:
                    relay.cut()
            assert run.wait(60) == 5, run.stderr.read()
            elapsed = time.monotonic() - started
    expected = bursts_expected(700)
    print(f"\nagent through the relay (seed {seed}): {relay.summary()}; "
          f"{len(expected)} bytes checked; run took {elapsed:.1f}s")
    # Not vacuous: connections really were reset, some inside a frame, and reconnected each time.
    assert relay.cuts >= 8 and relay.mid_frame_cuts >= 2 and relay.stalls >= 2, relay.events
    assert relay.accepted >= relay.cuts
    archived = server.archived("cuts")
    assert len(archived) == len(expected), f"archived {len(archived)} bytes, the job wrote {len(expected)}"
    assert archived == expected
    job = server.jobs()["cuts"]
    assert job["state"] == "exited" and job["exit"] == {"code": 5}
    assert not any(os.scandir(env["TAILCAST_SPOOL"])), "the spool should be empty once all is delivered"


def test_watcher_through_cuts_prints_every_byte_once(make_server, env, tmp_path):
    server = make_server().start()
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    with Relay(server.port, seed=seed) as relay:
        run = popen("run", "--job", "watched", "--no-pty", "--quiet", "--server", server.url, "--",
                    *py(BURSTS.format(bursts=600, pause=0.013, code=3)), env=env)
        wait_until(lambda: archived_size(server, "watched") > 0, what="the job's first output")
        # Files, not pipes: a watcher blocked on a full pipe would hide what the network does.
        with open(tmp_path / "watch.out", "wb") as out, open(tmp_path / "watch.err", "wb") as err:
            watch = popen("watch", "watched", "--server", relay.url, env=env, stdout=out, stderr=err)
        with reaped(run, watch):
            # While the job writes: once the watcher is connected again, let it receive for 0.3 to
            # 0.8 s, then reset its connection inside a frame.
            seen = 0
            while run.poll() is None:
                if relay.accepted > seen:
                    seen = relay.accepted
                    time.sleep(rng.uniform(0.3, 0.8))
                    relay.cut()
                time.sleep(0.02)
            assert run.wait(60) == 3
            assert watch.wait(60) == 3, (tmp_path / "watch.err").read_text()
    expected = bursts_expected(600)
    print(f"\nwatcher through the relay (seed {seed}): {relay.summary()}; {len(expected)} bytes checked")
    assert relay.cuts >= 4 and relay.mid_frame_cuts >= 2 and relay.accepted >= relay.cuts, relay.events
    assert server.archived("watched") == expected
    printed = (tmp_path / "watch.out").read_bytes()
    assert len(printed) == len(expected), f"watch printed {len(printed)} bytes, the job wrote {len(expected)}"
    assert printed == expected
    assert b"reconnecting" in (tmp_path / "watch.err").read_bytes()


def test_run_still_exits_after_wait_when_the_server_never_answers(make_server, env):
    """The relay accepts the TCP connection and never answers (a stopped server does the same)."""
    server = make_server().start()
    with Relay(server.port) as relay:
        relay.blackhole()
        started = time.monotonic()
        run = popen("run", "--job", "unanswered", "--no-pty", "--quiet", "--wait", "2", "--server", relay.url,
                    "--", *py("print('kept')"), env=env)
        with reaped(run):
            wait_until(lambda: run.poll() is not None, timeout=8, what="run to give up after --wait 2")
    assert run.returncode == 0
    assert b"has not acknowledged" in run.stderr.read()
    print(f"\nrun gave up after {time.monotonic() - started:.1f}s; {relay.summary()}")


def test_agent_notices_a_black_holed_connection_and_delivers_everything(make_server, env):
    """No reset ever comes: only pings can tell that the connection is dead. The connections the agent
    opens during the black hole are accepted but never answered either, and stay dead after heal(),
    so the agent must also give up on an upgrade that gets no answer."""
    env["TAILCAST_PING_INTERVAL"] = "1"
    server = make_server().start()
    with Relay(server.port) as relay:
        run = popen("run", "--job", "hole", "--no-pty", "--quiet", "--wait", "30", "--server", relay.url, "--",
                    *py(BURSTS.format(bursts=600, pause=0.013, code=4)), env=env)
        with reaped(run):
            wait_until(lambda: archived_size(server, "hole") > 200_000, what="the job to stream through the relay")
            relay.blackhole()
            time.sleep(0.5)  # what was in flight lands
            frozen = archived_size(server, "hole")
            time.sleep(4.0)  # four ping intervals: the agent has given up on that connection by now
            assert archived_size(server, "hole") == frozen, "the black hole let bytes through"
            accepted_before_heal = relay.accepted
            relay.heal()
            healed = time.monotonic()
            # The job ends about 4 s after heal(); delivering what piled up takes a second. The rest of
            # the margin is for an agent that gives up on an unanswered upgrade more slowly than on a ping.
            wait_until(lambda: run.poll() is not None, timeout=25, what="run to deliver and exit after heal()")
            stderr = run.stderr.read()
            assert run.returncode == 4, stderr
    expected = bursts_expected(600)
    print(f"\nagent through a black hole: {relay.summary()}; {len(expected)} bytes checked; "
          f"{accepted_before_heal} connections before heal, run exited {time.monotonic() - healed:.1f}s after it")
    assert relay.cuts == 0
    assert relay.accepted > accepted_before_heal, f"the agent never reconnected after heal(): {stderr}"
    assert b"has not acknowledged" not in stderr, stderr
    assert server.archived("hole") == expected
    assert server.jobs()["hole"]["exit"] == {"code": 4}
