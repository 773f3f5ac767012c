#!/usr/bin/env python3
"""A TCP relay that counts the bytes crossing it in each direction: the bytes on the wire.

It runs as its own process with one thread and a selector, so it neither competes for the
benchmark's interpreter lock nor adds a thread hand-off per packet: a line crosses it in tens of
microseconds, the same for every peer measured through it.

    relay = Relay(target_port)   # listens on relay.port, forwards to 127.0.0.1:target_port
    up, down = relay.counts()    # client → target, target → client, summed over connections
    relay.close()
"""
import selectors
import socket
import subprocess
import sys


class Relay:
    def __init__(self, target_port):
        self.process = subprocess.Popen([sys.executable, __file__, str(target_port)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, bufsize=1)
        self.port = int(self.process.stdout.readline())

    def counts(self):
        self.process.stdin.write("count\n")
        up, down = self.process.stdout.readline().split()
        return int(up), int(down)

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=10)


class Pipe:
    """One direction of one relayed connection, with what the sink has not taken yet."""

    def __init__(self, source, sink, direction):
        self.source, self.sink, self.direction = source, sink, direction
        self.pending = b""
        self.peer = None  # the opposite direction


def serve(target_port):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(sys.stdin, selectors.EVENT_READ, "command")
    totals = {"up": 0, "down": 0}
    print(listener.getsockname()[1], flush=True)

    def update(sock):
        """Read from a socket while its sink keeps up; write to it while it has pending bytes."""
        events = 0
        reading, writing = sockets[sock]
        if reading and not reading.pending and reading.sink is not None:
            events |= selectors.EVENT_READ
        if writing and writing.pending:
            events |= selectors.EVENT_WRITE
        key = selector.get_map().get(sock)
        if events and key:
            selector.modify(sock, events, "data")
        elif events:
            selector.register(sock, events, "data")
        elif key:
            selector.unregister(sock)

    def shut(pipe):
        for sock in (pipe.source, pipe.sink):
            if sock in sockets:
                if sock in selector.get_map():
                    selector.unregister(sock)
                del sockets[sock]
                sock.close()

    sockets = {}  # socket → (the pipe it is the source of, the pipe it is the sink of)
    while True:
        for key, events in selector.select():
            if key.data == "accept":
                client, _ = listener.accept()
                server = socket.create_connection(("127.0.0.1", target_port))
                for s in (client, server):
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    s.setblocking(False)
                up, down = Pipe(client, server, "up"), Pipe(server, client, "down")
                up.peer, down.peer = down, up
                sockets[client], sockets[server] = (up, down), (down, up)
                update(client)
                update(server)
            elif key.data == "command":
                line = sys.stdin.readline()
                if not line:
                    return
                print(totals["up"], totals["down"], flush=True)
            else:
                sock = key.fileobj
                if sock not in sockets:
                    continue
                reading, writing = sockets[sock]
                if events & selectors.EVENT_WRITE and writing.pending:
                    try:
                        sent = sock.send(writing.pending)
                    except OSError:
                        shut(writing)
                        continue
                    writing.pending = writing.pending[sent:]
                    update(sock)
                    update(writing.source)
                if events & selectors.EVENT_READ and sock in sockets:
                    try:
                        data = sock.recv(1 << 16)
                    except OSError:
                        data = b""
                    if not data:
                        shut(reading)
                        continue
                    totals[reading.direction] += len(data)
                    try:
                        sent = reading.sink.send(data)
                    except BlockingIOError:
                        sent = 0
                    except OSError:
                        shut(reading)
                        continue
                    reading.pending = data[sent:]
                    update(sock)
                    update(reading.sink)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
