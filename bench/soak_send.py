#!/usr/bin/python3
"""bench/soak_send.py — the steady send stream of bench/soak.sh.

Sends POST /fax (a small plain-text document, multipart) to a faxbot server on
127.0.0.1 at a fixed rate for a fixed time, bounded in count; then waits (up to a
drain time) until every accepted job has reached a final status, polling
GET /fax/{id}. Writes a JSON summary for soak.sh and keeps a one-line progress
file (the number of sends so far) that the RSS sampler reads. RATE_PER_S 0 sends
nothing (a reads-only run, to compare RSS with and without the send stream).

Usage: soak_send.py URL API_KEY RATE_PER_S SECONDS MAX_COUNT DRAIN_S SUMMARY_JSON PROGRESS_FILE
Only the standard library; every request goes to the URL given (127.0.0.1).
"""
import http.client
import json
import sys
import time
import urllib.parse

FINAL = ("SUCCESS", "FAILED", "cancelled")
BOUNDARY = "faxbotSoakBoundary5d4c3b"
DOC = b"Faxbot soak document.\nOne short page of plain text, sent through loopback.\n"


def multipart_body():
    b = BOUNDARY.encode()
    return (b"--" + b + b"\r\n"
            b"Content-Disposition: form-data; name=\"to\"\r\n\r\n+15551234567\r\n"
            b"--" + b + b"\r\n"
            b"Content-Disposition: form-data; name=\"file\"; filename=\"soak.txt\"\r\n"
            b"Content-Type: text/plain\r\n\r\n" + DOC + b"\r\n"
            b"--" + b + b"--\r\n")


class Client:
    """One keep-alive connection to the server, reopened after any error."""

    def __init__(self, url, key):
        u = urllib.parse.urlsplit(url)
        if u.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit("soak_send: refusing a non-loopback URL")
        self.host, self.port, self.key = u.hostname, u.port, key
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        h = {"X-API-Key": self.key}
        h.update(headers or {})
        for attempt in (1, 2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
                self.conn.request(method, path, body=body, headers=h)
                r = self.conn.getresponse()
                return r.status, r.read()
            except (OSError, http.client.HTTPException):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 2:
                    return None, b""
        return None, b""


def percentile(values, p):
    if not values:
        return 0.0
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def main():
    if len(sys.argv) != 9:
        raise SystemExit(__doc__)
    url, key = sys.argv[1], sys.argv[2]
    rate, seconds = float(sys.argv[3]), float(sys.argv[4])
    max_count, drain_s = int(sys.argv[5]), float(sys.argv[6])
    summary_path, progress_path = sys.argv[7], sys.argv[8]

    client = Client(url, key)
    body = multipart_body()
    ctype = {"Content-Type": "multipart/form-data; boundary=" + BOUNDARY}
    ids, other, latencies = [], {}, []

    # -- send phase: request i is due at t0 + i/rate, never more than max_count ----
    t0 = time.monotonic()
    sent = 0
    while rate > 0 and sent < max_count:
        due = t0 + sent / rate
        if due - t0 >= seconds:
            break
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        t1 = time.monotonic()
        status, data = client.request("POST", "/fax", body, ctype)
        latencies.append(time.monotonic() - t1)
        sent += 1
        if status == 202:
            try:
                ids.append(json.loads(data)["id"])
            except (ValueError, KeyError, TypeError):
                other["202 without id"] = other.get("202 without id", 0) + 1
        else:
            k = str(status) if status else "connection error"
            other[k] = other.get(k, 0) + 1
        with open(progress_path, "w") as f:
            f.write("%d\n" % sent)
    send_time = time.monotonic() - t0

    # -- drain phase: poll the jobs not yet final, once a second ---------------------
    status_of = {}
    pending = list(ids)
    d0 = time.monotonic()
    while True:
        still = []
        for job in pending:
            st, data = client.request("GET", "/fax/" + job)
            s = None
            if st == 200:
                try:
                    s = json.loads(data).get("status")
                except ValueError:
                    s = None
            status_of[job] = s or ("http %s" % st)
            if s not in FINAL:
                still.append(job)
        pending = still
        if not pending or time.monotonic() - d0 >= drain_s:
            break
        time.sleep(1.0)
    drain_time = time.monotonic() - d0

    counts = {}
    for s in status_of.values():
        counts[s] = counts.get(s, 0) + 1
    summary = {
        "sent": sent,
        "accepted": len(ids),
        "rejected": other,
        "send_seconds": round(send_time, 2),
        "send_latency_p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "send_latency_p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "final_status": counts,
        "success": counts.get("SUCCESS", 0),
        "not_final": len(pending),
        "drain_seconds": round(drain_time, 1),
    }
    with open(summary_path, "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
