"""A raw-socket WebSocket client (RFC 6455) that sends whatever bytes it is told: for hostile-input tests.

`websockets` refuses to send bad frames; this builds them byte by byte. Every read has a timeout, so a
server that hangs shows up as `Hung`, never as a test that waits forever.
"""
import base64
import os
import socket
import struct
import time
import zlib

SUBPROTOCOL = "tailcast.v1"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
FIN, RSV1, RSV2, RSV3 = 0x80, 0x40, 0x20, 0x10


class Hung(AssertionError):
    """The server neither answered nor closed within the timeout."""


def frame(opcode, payload=b"", *, fin=True, rsv=0, mask=True, key=None, length=None):
    """One frame. `rsv` is OR-ed into the first byte (RSV1/RSV2/RSV3); `length` overrides the encoded length."""
    n = len(payload) if length is None else length
    head = bytearray([(FIN if fin else 0) | rsv | (opcode & 0x0F)])
    m = 0x80 if mask else 0
    if n < 126:
        head.append(m | n)
    elif n < 1 << 16:
        head.append(m | 126)
        head += struct.pack("!H", n)
    else:
        head.append(m | 127)
        head += struct.pack("!Q", n)
    if not mask:
        return bytes(head) + payload
    key = os.urandom(4) if key is None else key
    return bytes(head) + key + apply_mask(payload, key)


def apply_mask(payload: bytes, key: bytes) -> bytes:
    if not payload:
        return b""
    repeated = (key * (len(payload) // 4 + 1))[:len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(len(payload), "big")


def deflate(message: bytes) -> bytes:
    """permessage-deflate payload of one message (RFC 7692 7.2.1: raw deflate, sync flush, tail removed)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = c.compress(message) + c.flush(zlib.Z_SYNC_FLUSH)
    assert data.endswith(b"\x00\x00\xff\xff")
    return data[:-4]


def inflate(payload: bytes) -> bytes:
    """The message of a compressed (RSV1) server frame; a fresh context, so only for a connection's first message."""
    return zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff")


def handshake_request(path, *, host="127.0.0.1", key=None, version="13", protocol=SUBPROTOCOL,
                      extensions=None, extra=()):
    key = base64.b64encode(os.urandom(16)).decode() if key is None else key
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Upgrade: websocket", "Connection: Upgrade"]
    if key is not False:
        lines.append(f"Sec-WebSocket-Key: {key}")
    if version is not None:
        lines.append(f"Sec-WebSocket-Version: {version}")
    if protocol:
        lines.append(f"Sec-WebSocket-Protocol: {protocol}")
    if extensions:
        lines.append(f"Sec-WebSocket-Extensions: {extensions}")
    lines += list(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Frame:
    def __init__(self, fin, rsv, opcode, payload, masked=False):
        self.fin, self.rsv, self.opcode, self.payload, self.masked = fin, rsv, opcode, payload, masked

    @property
    def close_code(self):
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None

    @property
    def close_reason(self):
        return self.payload[2:].decode("utf-8", "replace")

    def __repr__(self):
        return f"Frame(op={self.opcode:#x}, fin={self.fin}, rsv={self.rsv:#x}, {self.payload[:80]!r})"


def parse_frames(data: bytes):
    """The complete frames in `data` (what a server sent); stops at the first incomplete one."""
    frames, pos = [], 0
    while pos + 2 <= len(data):
        b0, b1 = data[pos], data[pos + 1]
        n, head = b1 & 0x7F, pos + 2
        if n == 126:
            if head + 2 > len(data):
                break
            n, head = struct.unpack("!H", data[head:head + 2])[0], head + 2
        elif n == 127:
            if head + 8 > len(data):
                break
            n, head = struct.unpack("!Q", data[head:head + 8])[0], head + 8
        key = None
        if b1 & 0x80:
            key, head = data[head:head + 4], head + 4
        if head + n > len(data):
            break
        payload = data[head:head + n]
        frames.append(Frame(bool(b0 & FIN), b0 & 0x70, b0 & 0x0F, apply_mask(payload, key) if key else payload,
                            masked=key is not None))
        pos = head + n
    return frames


class RawWebSocket:
    """A connected socket, optionally upgraded, reading frames with a deadline."""

    def __init__(self, port, timeout=5.0):
        self.timeout = timeout
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.status = None
        self.headers = {}

    # --- plain bytes ---------------------------------------------------------------------------------
    def send(self, data: bytes):
        """Sends; a server that already closed (reset, broken pipe) is not an error here."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Hung("no answer from the server within %.1fs" % self.timeout)
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise Hung("no answer from the server within %.1fs" % self.timeout) from None
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise EOFError("connection closed")
        self.buffer += chunk

    def _take(self, n, deadline):
        while len(self.buffer) < n:
            self._fill(deadline)
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def read_until_eof(self, timeout=None):
        """Everything until the server closes; raises Hung if it does not within the timeout."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            try:
                self._fill(deadline)
            except EOFError:
                out, self.buffer = self.buffer, b""
                return out

    # --- HTTP ----------------------------------------------------------------------------------------
    def read_http_response(self, timeout=None):
        """(status, headers, body-so-far) of an HTTP response; status None if the server closed silently."""
        deadline = time.monotonic() + (timeout or self.timeout)
        try:
            while b"\r\n\r\n" not in self.buffer:
                self._fill(deadline)
        except EOFError:
            if not self.buffer:
                return None, {}, b""
            raise
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self.status, self.headers = status, headers
        return status, headers, self.buffer

    def upgrade(self, path, **kwargs):
        self.send(handshake_request(path, **kwargs))
        status, headers, _ = self.read_http_response()
        assert status == 101, f"upgrade refused: {status} {headers}"
        assert headers.get("sec-websocket-protocol") == SUBPROTOCOL, headers
        return headers

    @property
    def deflate(self):
        return "permessage-deflate" in self.headers.get("sec-websocket-extensions", "")

    # --- frames --------------------------------------------------------------------------------------
    def read_frame(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        b0, b1 = self._take(2, deadline)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._take(2, deadline))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._take(8, deadline))[0]
        key = self._take(4, deadline) if b1 & 0x80 else None
        payload = self._take(n, deadline)
        if key:
            payload = apply_mask(payload, key)
        return Frame(bool(b0 & FIN), b0 & 0x70, b0 & 0x0F, payload, masked=key is not None)

    def read_frame_or_none(self, timeout=None):
        """The next frame, or None when the server closed the TCP connection first."""
        try:
            return self.read_frame(timeout)
        except EOFError:
            return None

    def read_close(self, timeout=None):
        """Reads frames up to the server's close frame and returns it (skipping data, answering pings).

        Returns None when the server closed the TCP connection without a close frame.
        Raises Hung when the server does neither within the timeout.
        """
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            try:
                f = self.read_frame(timeout=max(0.01, deadline - time.monotonic()))
            except EOFError:
                return None
            if f.opcode == OP_CLOSE:
                return f

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
