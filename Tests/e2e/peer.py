"""A minimal third-party tailcast peer written from PROTOCOL.md alone, on Python's `websockets`."""
import json

from websockets.sync.client import connect

SUBPROTOCOL = "tailcast.v1"
REPO_ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def uvarint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def read_uvarint(data: bytes, pos: int):
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def encode_data(chunks):
    """chunks: [(stream, offset, time_ms, bytes)] → one binary data message."""
    out = bytearray(b"\x01")
    for stream, offset, time_ms, payload in chunks:
        out += uvarint(stream) + uvarint(offset) + uvarint(time_ms) + uvarint(len(payload)) + payload
    return bytes(out)


def decode_data(message: bytes):
    assert message[0] == 0x01, "data messages start with kind 0x01"
    pos, chunks = 1, []
    while pos < len(message):
        stream, pos = read_uvarint(message, pos)
        offset, pos = read_uvarint(message, pos)
        time_ms, pos = read_uvarint(message, pos)
        length, pos = read_uvarint(message, pos)
        chunks.append((stream, offset, time_ms, message[pos:pos + length]))
        pos += length
    return chunks


def watch(url, job, **request):
    """Follows a job to its end; returns ({stream name: bytes}, final control message, negotiated extensions)."""
    streams, names, starts = {}, {}, {}
    with connect(url + "/v1/watch", subprotocols=[SUBPROTOCOL], compression="deflate", max_size=8 << 20) as ws:
        extensions = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        assert ws.subprotocol == SUBPROTOCOL
        ws.send(json.dumps({"type": "watch", "job": job, "follow": True, **request}))
        while True:
            message = ws.recv()
            if isinstance(message, bytes):
                for stream, offset, _, payload in decode_data(message):
                    name = names[stream]
                    assert offset == starts[name] + len(streams[name]), "bytes arrive in order, no gap"
                    streams[name] += payload
                continue
            control = json.loads(message)
            if control["type"] == "stream":
                names[control["stream"]] = control["name"]
                streams[control["name"]] = b""
                starts[control["name"]] = control["offset"]
            elif control["type"] in ("finished", "caught_up", "error"):
                return streams, control, extensions
