"""sse_holder.py URL KEY N — opens N idle GET /events streams and holds them.

Prints "open N" once every stream has its 200 and first bytes, then holds them
until stdin closes; prints "alive M" (streams the server still has open) and exits.
Used by bench/sse_streams.sh; stdlib only, one thread, non-blocking sockets."""

import selectors
import socket
import sys
import time
from urllib.parse import urlparse


def main():
    url, key, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    u = urlparse(url)
    req = (f"GET /events HTTP/1.1\r\nHost: {u.hostname}\r\nX-API-Key: {key}\r\n"
           f"Accept: text/event-stream\r\n\r\n").encode()
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(n):
        s = socket.create_connection((u.hostname, u.port))
        s.sendall(req)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, {"head": b"", "ok": False, "closed": False})
        socks.append(s)
    deadline = time.monotonic() + 60
    ready = 0
    while ready < n and time.monotonic() < deadline:
        for k, _ in sel.select(timeout=1):
            st = k.data
            try:
                data = k.fileobj.recv(65536)
            except BlockingIOError:
                continue
            if not data:
                st["closed"] = True
                sel.unregister(k.fileobj)
                continue
            if not st["ok"]:
                st["head"] += data
                if b"\r\n\r\n" in st["head"]:
                    if not st["head"].startswith(b"HTTP/1.1 200"):
                        print("refused: " + st["head"].split(b"\r\n")[0].decode(), flush=True)
                        sys.exit(1)
                    st["ok"] = True
                    ready += 1
    print(f"open {ready}", flush=True)
    sys.stdin.read()                      # hold until the caller closes stdin
    alive = 0
    for k in list(sel.get_map().values()):
        st = k.data
        try:
            while True:
                data = k.fileobj.recv(65536)
                if not data:
                    st["closed"] = True
                    break
        except BlockingIOError:
            pass
        if st["ok"] and not st["closed"]:
            alive += 1
    print(f"alive {alive}", flush=True)
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
