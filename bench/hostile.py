#!/usr/bin/python3
"""bench/hostile.py — two hostile loads against a running gateway, with /health
probed from a fresh connection (and a fresh 127.0.0.x address) throughout.

  readers   N clients page GET /fax?limit=500 (following next_cursor) as fast
            as they can; reports /health latency and pages read.
  slowbody  C connections from A source addresses (127.0.0.2 ...) each send a
            request head announcing a large body, then one body byte every
            --gap seconds (the issue's attack: ~1,100 connections from 17
            addresses); reports /health latency, how many attack connections
            were still open at the end, and how long they lasted. With
            --idle the connections send only part of a request head instead
            (the issue's ~1,020 idle connections).

  bench/hostile.py readers  --port 8080 --key K --clients 16 --seconds 20
  bench/hostile.py slowbody --port 8080 --key K --conns 1100 --addrs 17 --seconds 60

Only 127.0.0.x addresses are used. Prints one summary line per run (and JSON
with --json)."""

import argparse
import json
import socket
import statistics
import threading
import time


FAILURES = []                        # (seconds, what came back) of failed probes


def fresh_health(port, source, timeout=5.0):
    """GET /health on a new connection from source; seconds, or None on failure."""
    t0 = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        if not data.startswith(b"HTTP/1.1 200"):
            FAILURES.append((round(time.monotonic() - t0, 3), data[:120]))
            return None
    except OSError as e:
        FAILURES.append((round(time.monotonic() - t0, 3), repr(e)))
        return None
    return time.monotonic() - t0


def probe_health(port, stop, out, interval=0.1):
    i = 0
    while not stop.is_set():
        source = f"127.0.0.{200 + i % 50}"
        out.append(fresh_health(port, source))
        i += 1
        stop.wait(interval)


def summarize(lat):
    ok = [x for x in lat if x is not None]
    failed = len(lat) - len(ok)
    if not ok:
        return {"probes": len(lat), "failed": failed}
    ok.sort()
    return {"probes": len(lat), "failed": failed, "p50_ms": round(statistics.median(ok) * 1000, 2),
            "p99_ms": round(ok[min(len(ok) - 1, int(len(ok) * 0.99))] * 1000, 2),
            "max_ms": round(ok[-1] * 1000, 2)}


def get(port, path, key, timeout=30):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key}\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if b"Transfer-Encoding: chunked" in head:
        out, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            n = int(size_line.split(b";")[0], 16)
            if n == 0:
                break
            out += rest[:n]
            rest = rest[n + 2:]
        body = out
    return int(head.split(b" ")[1]), body


def readers(args):
    stop = threading.Event()
    pages = [0]
    errors = [0]
    lock = threading.Lock()

    def reader():
        cursor = None
        while not stop.is_set():
            path = "/fax?limit=500" + (f"&cursor={cursor}" if cursor else "")
            try:
                status, body = get(args.port, path, args.key)
                doc = json.loads(body)
                cursor = doc.get("next_cursor")
                with lock:
                    pages[0] += 1
                if status != 200:
                    raise ValueError(status)
            except (OSError, ValueError):
                with lock:
                    errors[0] += 1
                cursor = None

    lat = []
    threads = [threading.Thread(target=reader, daemon=True) for _ in range(args.clients)]
    for t in threads:
        t.start()
    prober = threading.Thread(target=probe_health, args=(args.port, stop, lat), daemon=True)
    prober.start()
    time.sleep(args.seconds)
    stop.set()
    prober.join(10)
    for t in threads:
        t.join(30)
    res = {"scenario": "readers", "clients": args.clients, "seconds": args.seconds, "pages": pages[0],
           "reader_errors": errors[0], "health": summarize(lat)}
    return res


def slowbody(args):
    stop = threading.Event()
    socks = []
    opened_at = {}
    closed_after = []
    lock = threading.Lock()
    head = (f"POST /fax HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {args.key}\r\n"
            f"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000000\r\n\r\n").encode()
    if args.idle:
        head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        args.gap = 1e9               # never another byte

    def opener(addr_index, count):
        source = f"127.0.0.{2 + addr_index}"
        for _ in range(count):
            if stop.is_set():
                return
            try:
                s = socket.create_connection(("127.0.0.1", args.port), timeout=2, source_address=(source, 0))
                s.sendall(head)
                s.setblocking(False)
            except OSError:
                continue
            with lock:
                socks.append(s)
                opened_at[s] = time.monotonic()

    per = [args.conns // args.addrs + (1 if i < args.conns % args.addrs else 0) for i in range(args.addrs)]
    openers = [threading.Thread(target=opener, args=(i, n), daemon=True) for i, n in enumerate(per)]
    lat = []
    prober = threading.Thread(target=probe_health, args=(args.port, stop, lat), daemon=True)
    prober.start()
    for t in openers:
        t.start()
    t_end = time.monotonic() + args.seconds
    next_byte = time.monotonic() + args.gap
    while time.monotonic() < t_end:
        time.sleep(0.2)
        now = time.monotonic()
        with lock:
            current = list(socks)
        dead = []
        for s in current:
            try:
                if s.recv(4096) == b"":
                    dead.append(s)
            except BlockingIOError:
                pass
            except OSError:
                dead.append(s)
        if now >= next_byte:
            for s in current:
                if s in dead:
                    continue
                try:
                    s.send(b"a")
                except OSError:
                    dead.append(s)
            next_byte = now + args.gap
        with lock:
            for s in dead:
                if s in opened_at:
                    closed_after.append(now - opened_at.pop(s))
                    socks.remove(s)
                    s.close()
    stop.set()
    prober.join(10)
    with lock:
        still_open = len(socks)
        for s in socks:
            s.close()
    res = {"scenario": "idle" if args.idle else "slowbody", "conns": args.conns, "addrs": args.addrs, "seconds": args.seconds,
           "gap_s": None if args.idle else args.gap, "opened": still_open + len(closed_after), "closed_by_server": len(closed_after),
           "still_open_at_end": still_open,
           "median_lifetime_s": round(statistics.median(closed_after), 1) if closed_after else None,
           "health": summarize(lat)}
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", choices=["readers", "slowbody"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--key", default="")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--conns", type=int, default=1100)
    ap.add_argument("--addrs", type=int, default=17)
    ap.add_argument("--gap", type=float, default=20)
    ap.add_argument("--idle", action="store_true", help="slowbody: send part of a head, then nothing")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    res = readers(args) if args.scenario == "readers" else slowbody(args)
    if FAILURES:
        res["health_failures"] = FAILURES[:10]
    print(json.dumps(res) if args.json else res)


if __name__ == "__main__":
    main()
