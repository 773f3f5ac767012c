"""A lean WebSocket reader for websocketd, which sends one message per line and never negotiates
compression: a general-purpose library spends tens of microseconds per message, which at one
message per line measures the reader instead of websocketd. This one parses frames straight off the
socket (server frames are unmasked) and answers pings; it offers no extension.
"""
import base64
import os
import struct

PING, PONG, CLOSE = 0x9, 0xA, 0x8


def handshake(host, port, path="/"):
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()


def masked(opcode, payload):
    """A client frame (clients mask; a zero mask keeps the payload as it is)."""
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + b"\0\0\0\0" + payload


class FrameParser:
    """Feed it bytes; it returns the complete messages (data frames; replies to pings in `replies`)."""

    def __init__(self):
        self.buffer = bytearray()
        self.head = True  # still reading the HTTP response head
        self.replies = bytearray()
        self.closed = False

    def feed(self, data):
        self.buffer += data
        messages = []
        if self.head:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return messages
            if not self.buffer.startswith(b"HTTP/1.1 101"):
                raise ConnectionError(f"upgrade refused: {bytes(self.buffer[:end]).decode(errors='replace')}")
            del self.buffer[:end + 4]
            self.head = False
        pos, buffer = 0, self.buffer
        while len(buffer) - pos >= 2:
            opcode, length = buffer[pos] & 0x0F, buffer[pos + 1] & 0x7F
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
                self.closed = True
            elif opcode != PONG:
                messages.append(payload)  # websocketd sends each line in one frame: no continuations
        del buffer[:pos]
        return messages
