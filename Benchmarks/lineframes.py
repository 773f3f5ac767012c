"""A lean WebSocket reader for the fan-out load generator, which holds up to a thousand connections
in one process: a general-purpose library spends tens of microseconds per message, which measures
the reader instead of the server. This one parses frames straight off the socket (server frames are
unmasked), answers pings, and keeps each message's RSV1 bit (set: deflated, RFC 7692). It offers no
extension unless asked to (websocketd never negotiates one).
"""
import base64
import os
import struct

PING, PONG, CLOSE = 0x9, 0xA, 0x8


def handshake(host, port, path="/", headers=()):
    key = base64.b64encode(os.urandom(16)).decode()
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n").encode()


def masked(opcode, payload):
    """A client frame (clients mask; a zero mask keeps the payload as it is); payloads under 64 KiB."""
    if len(payload) < 126:
        return bytes([0x80 | opcode, 0x80 | len(payload)]) + b"\0\0\0\0" + payload
    return bytes([0x80 | opcode, 0x80 | 126]) + struct.pack("!H", len(payload)) + b"\0\0\0\0" + payload


class FrameParser:
    """Feed it bytes; it returns the complete messages (data frames; replies to pings in `replies`).

    With `flags`, each message is (opcode, rsv1, payload); servers here send every message in one frame
    (no continuations), and a continuation frame is an error rather than silently misread."""

    def __init__(self, flags=False):
        self.flags = flags
        self.response_head = b""
        self.buffer = bytearray()
        self.head = True  # still reading the HTTP response head
        self.replies = bytearray()
        self.closed = False
        self.close_reason = b""

    def feed(self, data):
        self.buffer += data
        messages = []
        if self.head:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return messages
            if not self.buffer.startswith(b"HTTP/1.1 101"):
                raise ConnectionError(f"upgrade refused: {bytes(self.buffer[:end]).decode(errors='replace')}")
            self.response_head = bytes(self.buffer[:end])
            del self.buffer[:end + 4]
            self.head = False
        pos, buffer = 0, self.buffer
        while len(buffer) - pos >= 2:
            first, length = buffer[pos], buffer[pos + 1] & 0x7F
            opcode = first & 0x0F
            start = pos + 2
            if length == 126:
                if len(buffer) - pos < 4:
                    break
                length, start = struct.unpack_from("!H", buffer, pos + 2)[0], pos + 4
            elif length == 127:
                if len(buffer) - pos < 10:
                    break
                length, start = struct.unpack_from("!Q", buffer, pos + 2)[0], pos + 10
            if len(buffer) < start + length:
                break
            payload = bytes(buffer[start:start + length])
            pos = start + length
            if opcode == PING:
                self.replies += masked(PONG, payload)
            elif opcode == CLOSE:
                self.closed, self.close_reason = True, payload
            elif opcode == 0 or not first & 0x80:
                raise ConnectionError("a fragmented message: this reader expects one frame per message")
            elif opcode != PONG:
                messages.append((opcode, bool(first & 0x40), payload) if self.flags else payload)
        del buffer[:pos]
        return messages
