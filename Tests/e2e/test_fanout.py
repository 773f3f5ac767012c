"""Fan-out (issue 12): one job, fifty watchers through real sockets. The server prepares each batch once and
writes the same (deflated) bytes to every watcher at the same place; watchers that join mid-stream, one that
negotiates no compression and one that is stopped with SIGSTOP must all still get every byte exactly once."""
import asyncio
import json
import signal
import time

from websockets.asyncio.client import connect

import peer
from conftest import paced_job, paced_lines, popen, py, stop_process, tailcast, wait_until

LINES = 4000


async def watcher(url, job, compression, delay):
    """Follows `job` from the start after `delay` seconds; returns (stdout bytes, exit, deflate negotiated)."""
    await asyncio.sleep(delay)
    kwargs = {} if compression else {"compression": None}
    async with connect(url + "/v1/watch", subprotocols=[peer.SUBPROTOCOL], max_size=8 << 20, **kwargs) as ws:
        negotiated = "permessage-deflate" in (ws.response.headers.get("Sec-WebSocket-Extensions") or "")
        await ws.send(json.dumps({"type": "watch", "job": job, "follow": True}))
        names, positions, out = {}, {}, bytearray()
        async for message in ws:
            if isinstance(message, bytes):
                for stream, offset, _, data in peer.decode_data(message):
                    name = names[stream]
                    assert offset == positions[name], f"gap or duplicate in {name}: at {positions[name]}, got {offset}"
                    positions[name] += len(data)
                    if name == "stdout":
                        out += data
                continue
            control = json.loads(message)
            if control["type"] == "stream":
                names[control["stream"]] = control["name"]
                positions[control["name"]] = control["offset"]
            elif control["type"] == "finished":
                return bytes(out), control["exit"], negotiated
    raise AssertionError("the connection closed before `finished`")


async def fifty(url, job):
    tasks = [watcher(url, job, compression=i % 5 != 0, delay=0 if i < 25 else 1.0 + i * 0.02) for i in range(50)]
    return await asyncio.gather(*tasks)


def test_fifty_watchers_joining_at_any_time_get_every_byte_once(server, env):
    job = popen("run", "--job", "fan", "--no-pty", "--quiet", "--server", server.url, "--",
                *py(paced_job(LINES, 0.02, 3, every=20)), env=env)
    wait_until(lambda: "fan" in server.jobs(), what="the job")
    stopped = popen("watch", "fan", "--raw", "--server", server.url, env=env)
    time.sleep(0.5)
    stopped.send_signal(signal.SIGSTOP)
    results = asyncio.run(fifty(server.url, "fan"))
    stopped.send_signal(signal.SIGCONT)
    expected = paced_lines(LINES)
    assert job.wait(60) == 3
    for index, (out, exit, negotiated) in enumerate(results):
        assert negotiated == (index % 5 != 0), f"watcher {index}: permessage-deflate {negotiated}"
        assert exit == {"code": 3}
        assert out == expected, f"watcher {index}: {len(out)} of {len(expected)} bytes"
    out, _ = stopped.communicate(timeout=60)
    assert stopped.returncode == 3 and out == expected
    assert server.archived("fan") == expected


def test_a_replay_and_a_live_watcher_share_batches_and_stay_exact(server, env):
    """Two watchers that resume by offset in the middle of a finished job, with and without compression:
    each gets the bytes from its own offset on, the later edges shared."""
    assert tailcast("run", "--job", "done", "--no-pty", "--quiet", "--server", server.url, "--",
                    *py(paced_job(20000, 0, 0, every=1000)), env=env, timeout=60).returncode == 0
    expected = paced_lines(20000)

    async def resume(offset, compression):
        kwargs = {} if compression else {"compression": None}
        async with connect(server.url + "/v1/watch", subprotocols=[peer.SUBPROTOCOL], max_size=8 << 20, **kwargs) as ws:
            await ws.send(json.dumps({"type": "watch", "job": "done", "follow": True,
                                      "offsets": [{"name": "stdout", "offset": offset}]}))
            out = bytearray()
            async for message in ws:
                if isinstance(message, bytes):
                    for _, chunk_offset, _, data in peer.decode_data(message):
                        assert chunk_offset == offset + len(out)
                        out += data
                elif json.loads(message)["type"] == "finished":
                    return bytes(out)

    async def both():
        return await asyncio.gather(resume(0, True), resume(12345, True), resume(12345, False), resume(0, False))

    a, b, c, d = asyncio.run(both())
    assert a == d == expected and b == c == expected[12345:]
