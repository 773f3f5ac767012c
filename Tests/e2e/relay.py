"""A TCP relay that injects real network faults between a tailcast client and its server.

`Relay(target_port)` listens on 127.0.0.1 (a free port, `relay.port`, `relay.url`) and forwards each
connection it accepts to 127.0.0.1:target_port. While it runs, a test can:

    cut()              reset every connection (RST, not FIN), by default in the middle of a WebSocket frame
    stall(s), resume() hold every byte in both directions; the sockets stay open
    blackhole(), heal() a dead route: connections open now, and those accepted until heal(), are never
                       read, written or answered again, even after heal() (like a NAT that lost their
                       state); connections accepted after heal() are forwarded normally
    chaos(...)         random cuts and stalls from a background thread, until stop_chaos() or close()

Counters: accepted (connections), bytes_up (client to server), bytes_down, cuts, mid_frame_cuts, stalls.

One thread owns every socket and waits on select(): a fault never races a forward in flight, and a
cut can forward part of a buffer and then reset. The other methods hand it work through a queue and
wake it through a socketpair.
"""
import copy
import queue
import random
import select
import socket
import struct
import threading
import time

# SO_LINGER on with a zero timeout: close() sends RST at once and drops unsent bytes, as a crashed
# middlebox would; a plain close() would send FIN and look like an orderly end.
LINGER_RESET = struct.pack("ii", 1, 0)


def reset(sock):
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
    except OSError:
        pass
    sock.close()


def frame_payload_length(header: bytes):
    """The payload length once `header` holds a whole WebSocket frame header (RFC 6455 5.2), else None."""
    if len(header) < 2:
        return None
    short = header[1] & 0x7F
    extended = {126: 2, 127: 8}.get(short, 0)
    if len(header) < 2 + extended + (4 if header[1] & 0x80 else 0):  # 4 more bytes when masked
        return None
    return int.from_bytes(header[2:2 + extended], "big") if extended else short


class FrameTracker:
    """Follows one direction of a connection (the HTTP upgrade, then frame headers and payload
    lengths) to tell whether a position in the byte stream falls inside a WebSocket frame."""

    def __init__(self):
        self.http = b""          # the upgrade request or response, until its blank line
        self.upgraded = False
        self.header = b""        # the current frame's header, while it is incomplete
        self.left = 0            # payload bytes of the current frame still to come

    @property
    def mid_frame(self):
        return self.upgraded and (self.header != b"" or self.left > 0)

    def feed(self, data: bytes):
        pos = 0
        if not self.upgraded:
            self.http += data
            end = self.http.find(b"\r\n\r\n")
            if end < 0:
                return
            pos = end + 4 - (len(self.http) - len(data))  # frames may follow in the same buffer
            self.upgraded, self.http = True, b""
        while pos < len(data):
            if self.left:
                step = min(self.left, len(data) - pos)
                self.left -= step
                pos += step
                continue
            self.header += data[pos:pos + 1]  # byte by byte: a header is only 2 to 14 bytes
            pos += 1
            length = frame_payload_length(self.header)
            if length is not None:
                self.header, self.left = b"", length


class Pipe:
    """One direction of a connection: bytes read from `src` and not yet written to `dst`."""

    def __init__(self, src, dst, direction):
        self.src, self.dst, self.direction = src, dst, direction
        self.pending = b""
        self.eof = False        # src sent FIN
        self.shut = False       # ... and we passed it on to dst
        self.tracker = FrameTracker()


class Conn:
    def __init__(self, client, upstream):
        self.client, self.upstream = client, upstream
        self.dead = upstream is None  # black-holed: left alone until cut or closed
        self.pipes = [Pipe(client, upstream, "up"), Pipe(upstream, client, "down")]
        self.cut = None         # (CutRequest, deadline) while a mid-frame cut waits for bytes


class CutRequest:
    def __init__(self, count):
        self.left = count
        self.cut = 0
        self.done = threading.Event()
        if count == 0:
            self.done.set()

    def finished_one(self, was_cut):
        self.cut += was_cut
        self.left -= 1
        if self.left == 0:
            self.done.set()


class Relay:
    def __init__(self, target_port: int, seed=None):
        self.target_port = target_port
        self.random = random.Random(seed)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.accepted = self.bytes_up = self.bytes_down = 0
        self.cuts = self.mid_frame_cuts = self.stalls = 0
        self.events = []          # (seconds since start, what) for a test to print
        self._start = time.monotonic()
        self._conns = []
        self._stalled_until = 0.0
        self._blackholed = False
        self._closed = False
        self._commands = queue.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._chaos = None
        self._thread = threading.Thread(target=self._run, name=f"relay:{self.port}", daemon=True)
        self._thread.start()

    @property
    def url(self):
        return f"ws://127.0.0.1:{self.port}"

    # --- controls, called from the test's thread ---------------------------------------------

    def cut(self, mid_frame=True, wait=1.0) -> int:
        """Resets every connection now and returns how many. With `mid_frame`, each connection is cut
        on its next bytes (either way, up to `wait` s): part of them is forwarded, ending inside a
        WebSocket frame, then both sides get RST. A connection with nothing to send in time is reset
        as it is."""
        request = self._call(lambda: self._cut_all(mid_frame, wait))
        request.done.wait(wait + 5)
        return request.cut

    def stall(self, seconds=None):
        """Stops forwarding in both directions, for `seconds` or until resume(); returns at once."""
        def go():
            self._stalled_until = float("inf") if seconds is None else time.monotonic() + seconds
            self.stalls += 1
            self._event(f"stall {'until resume' if seconds is None else round(seconds, 2)}")
        self._call(go)

    def resume(self):
        def go():
            self._stalled_until = 0.0
            self._event("resume")
        self._call(go)

    def blackhole(self):
        def go():
            self._blackholed = True
            for conn in self._conns:
                conn.dead = True
            self._event(f"blackhole ({len(self._conns)} connections)")
        self._call(go)

    def heal(self):
        def go():
            self._blackholed = False
            self._event("heal")
        self._call(go)

    def chaos(self, interval=(0.5, 1.5), modes=("cut", "stall"), stall_for=(0.2, 1.0)):
        """Until stop_chaos(): every `interval` seconds (uniform), one of `modes` ("cut" is mid-frame,
        "reset" is a plain cut, "stall" holds bytes for `stall_for` seconds)."""
        stop = threading.Event()

        def loop():
            while not stop.wait(self.random.uniform(*interval)):
                mode = self.random.choice(modes)
                if mode == "stall":
                    seconds = self.random.uniform(*stall_for)
                    self.stall(seconds)
                    stop.wait(seconds)
                else:
                    self.cut(mid_frame=mode == "cut")

        self.stop_chaos()
        self._chaos = (stop, threading.Thread(target=loop, name="relay-chaos", daemon=True))
        self._chaos[1].start()

    def stop_chaos(self):
        if self._chaos:
            self._chaos[0].set()
            self._chaos[1].join()
            self._chaos = None

    def close(self):
        self.stop_chaos()
        if not self._closed:
            self._call(lambda: setattr(self, "_closed", True))
            self._thread.join(5)
            for conn in self._conns:
                reset(conn.client)
                reset(conn.upstream)
            self.listener.close()
            self._wake_r.close()
            self._wake_w.close()

    def summary(self):
        return (f"{self.accepted} connections, {self.cuts} cuts ({self.mid_frame_cuts} mid-frame), "
                f"{self.stalls} stalls, {self.bytes_up} bytes up, {self.bytes_down} bytes down")

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()

    def _call(self, fn):
        """Runs `fn` on the relay's thread and returns its result (or raises its exception here)."""
        done, result = threading.Event(), []

        def command():
            try:
                result.append(fn())
            except Exception as error:  # the test should fail, not the relay's thread
                result.append(error)
            done.set()

        self._commands.put(command)
        self._wake_w.send(b"x")
        if not done.wait(10):
            raise RuntimeError("the relay thread did not answer")
        if isinstance(result[0], Exception):
            raise result[0]
        return result[0]

    def _event(self, what):
        self.events.append((round(time.monotonic() - self._start, 2), what))

    # --- the relay's thread -------------------------------------------------------------------

    def _run(self):
        while not self._closed:
            now = time.monotonic()
            readers, writers = {self.listener: None, self._wake_r: None}, {}
            if now >= self._stalled_until:
                for conn in self._conns:
                    if conn.dead:
                        continue  # never read: the peer's kernel buffers fill, as on a dead route
                    for pipe in conn.pipes:
                        if pipe.pending:
                            writers[pipe.dst] = (conn, pipe)  # read no more until the peer took it
                        elif not pipe.eof:
                            readers[pipe.src] = (conn, pipe)
            readable, writable, _ = select.select(list(readers), list(writers), [], 0.02)
            for sock in readable:
                if sock is self.listener:
                    self._accept()
                elif sock is self._wake_r:
                    self._wake_r.recv(4096)
                    while not self._commands.empty():
                        self._commands.get()()
                elif readers[sock][0] in self._conns:  # not dropped earlier in this round
                    self._read(*readers[sock])
            for sock in writable:
                conn, pipe = writers[sock]
                if conn in self._conns and not conn.dead and now >= self._stalled_until:
                    self._write(conn, pipe)
            now = time.monotonic()
            for conn in list(self._conns):
                if conn.cut and now >= conn.cut[1]:
                    self._drop(conn, reset_it=True, by_cut=True)  # no bytes came to cut inside of

    def _accept(self):
        try:
            client, _ = self.listener.accept()
        except BlockingIOError:
            return
        self.accepted += 1
        upstream = None
        if not self._blackholed:
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
            except OSError:
                reset(client)  # the server is down: refuse the way it would
                return
            upstream.setblocking(False)
        client.setblocking(False)
        self._conns.append(Conn(client, upstream))

    def _read(self, conn, pipe):
        try:
            data = pipe.src.recv(65536)
        except OSError:
            self._drop(conn, reset_it=True)  # the peer reset: pass the reset on
            return
        if not data:
            pipe.eof = True
            self._write(conn, pipe)
        elif conn.cut:
            self._cut_inside(conn, pipe, data)
        else:
            pipe.pending = data
            self._write(conn, pipe)

    def _write(self, conn, pipe):
        if pipe.pending:
            try:
                sent = pipe.dst.send(pipe.pending)
            except BlockingIOError:
                return
            except OSError:
                self._drop(conn, reset_it=True)
                return
            self._forwarded(pipe, pipe.pending[:sent])
            pipe.pending = pipe.pending[sent:]
        if pipe.eof and not pipe.pending and not pipe.shut:
            pipe.shut = True  # pass the FIN on, keep the other direction open (half-close)
            try:
                pipe.dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        if all(p.shut for p in conn.pipes):
            self._drop(conn, reset_it=False)

    def _cut_all(self, mid_frame, wait):
        request = CutRequest(len(self._conns))
        for conn in list(self._conns):
            if mid_frame and not conn.dead:
                conn.cut = (request, time.monotonic() + wait)
            else:
                conn.cut = (request, 0)
                self._drop(conn, reset_it=True, by_cut=True)
        return request

    def _cut_inside(self, conn, pipe, data):
        """Forwards a prefix of `data` that ends inside a frame (if one of a few random tries finds
        one: `data` may hold only whole frames), then resets."""
        for _ in range(8):
            prefix = self.random.randint(1, max(1, len(data) - 1))
            tracker = copy.deepcopy(pipe.tracker)
            tracker.feed(data[:prefix])
            if tracker.mid_frame:
                break
        try:
            self._forwarded(pipe, data[:pipe.dst.send(data[:prefix])])
        except OSError:
            pass
        self._drop(conn, reset_it=True, by_cut=True)

    def _forwarded(self, pipe, data):
        pipe.tracker.feed(data)
        if pipe.direction == "up":
            self.bytes_up += len(data)
        else:
            self.bytes_down += len(data)

    def _drop(self, conn, reset_it, by_cut=False):
        """Closes both sides (RST with `reset_it`, else FIN) and forgets the connection."""
        self._conns.remove(conn)
        for sock in (conn.client, conn.upstream):
            if reset_it:
                reset(sock)
            elif sock is not None:
                sock.close()
        if by_cut:
            # What the peers see: a frame cut short if the bytes forwarded so far end inside one.
            mid = any(p.tracker.mid_frame for p in conn.pipes)
            self.cuts += 1
            self.mid_frame_cuts += mid
            self._event("cut " + ("mid-frame" if mid else "between frames"))
        if conn.cut:
            conn.cut[0].finished_one(by_cut)  # a peer may have closed or reset it first
            conn.cut = None
