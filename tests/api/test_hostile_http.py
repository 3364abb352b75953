"""test_hostile_http.py — the HTTP layer against hostile clients (issue 18, points
1, 2, 5, 8 and 9), byte for byte over raw sockets on 127.0.0.x:

- malformed and ambiguous request heads (smuggling: TE+CL, two Content-Lengths;
  NUL bytes, bare LF, no Host, other HTTP versions, oversize lines) get exactly one
  JSON answer and a closed connection, and a request hidden behind them never runs;
- bodies where none belongs are refused at once; body routes check the key before
  the body; slow bodies are cut by the minimum body rate and the request deadline;
- floods of idle heads and slow bodies from several addresses, past the global
  connection limit, never keep /health from answering a fresh address within 1 s;
- TRUSTED_PROXIES, the auth lock-out per (address, key id), METRICS_REQUIRE_KEY;
- heavy GET /fax?limit=500 readers do not stall /health.
"""

import json
import os
import re
import socket
import sqlite3
import threading
import time
import uuid

import pytest
import requests

from helpers import PHONE, assert_detail, read_audit, send_fax, slow_factor

BOOT = "hostile-http-bootstrap-key-51d3a9"
LIMIT_DETAIL = "Too many failed authentications; try again later"


def exchange(port, data, timeout=10.0, source=None, then_wait=None):
    """Sends data, reads until the server closes; returns (raw bytes, seconds)."""
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                 source_address=(source, 0) if source else None)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                c = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not c:
                break
            out += c
    finally:
        s.close()
    return out, time.monotonic() - t0


def one_json_answer(raw):
    """Asserts raw is exactly one HTTP response with a JSON {"detail": ...} body and
    Connection: close; returns (status, detail)."""
    assert len(re.findall(rb"(?m)^HTTP/1\.[01] \d{3} ", raw)) == 1, f"not exactly one response: {raw[:600]!r}"
    head, _, body = raw.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", head)
    assert m, raw[:200]
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower()] = v.strip()
    assert headers.get(b"content-type") == b"application/json", head
    assert headers.get(b"connection", b"").lower() == b"close", head
    assert int(headers[b"content-length"]) == len(body), (head, body)
    doc = json.loads(body)
    assert list(doc) == ["detail"] and doc["detail"], doc
    return int(m.group(1)), doc["detail"]


def fresh_health(port, source):
    raw, took = exchange(port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5, source=source)
    return raw.startswith(b"HTTP/1.1 200"), took


HIDDEN = (b"POST /admin/api-keys HTTP/1.1\r\nHost: x\r\nX-API-Key: " + BOOT.encode() +
          b"\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")

BAD_HEADS = [
    ("te_and_cl", b"POST /fax HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
                  b"0\r\n\r\n" + HIDDEN, 400, "Transfer-Encoding"),
    ("two_lengths", b"POST /admin/api-keys HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: "
                    + str(len(HIDDEN) + 2).encode() + b"\r\n\r\n{}" + HIDDEN, 400, "Content-Length"),
    ("nul_in_line", b"GET /health\x00/../admin HTTP/1.1\r\nHost: x\r\n\r\n", 400, "NUL"),
    ("nul_in_key", b"GET /fax HTTP/1.1\r\nHost: x\r\nX-API-Key: " + BOOT.encode() + b"\x00tail\r\n\r\n", 400, "NUL"),
    ("no_host", b"GET /health HTTP/1.1\r\n\r\n", 400, "Host"),
    ("two_hosts", b"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "Host"),
    ("bare_lf", b"GET /health HTTP/1.1\nHost: x\n\n", 400, "bare LF"),
    ("bad_length", b"POST /fax HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, "Content-Length"),
    ("negative_length", b"POST /fax HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", 400, "Content-Length"),
    ("gzip_coding", b"POST /fax HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "chunked"),
    ("http2_line", b"GET /health HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP/1.1"),
    ("http09_line", b"GET /health\r\n\r\n", 400, "HTTP/0.9"),
    ("obs_fold", b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400, "obs-fold"),
    ("url_too_long", b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "too long"),
    ("headers_too_long", b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 100_000 + b"\r\n\r\n", 431,
     "too large"),
]


@pytest.mark.parametrize("name,data,status,detail", BAD_HEADS, ids=[c[0] for c in BAD_HEADS])
def test_bad_heads_get_one_json_answer_and_nothing_hidden_runs(server, name, data, status, detail):
    srv = server(API_KEY=BOOT)
    raw, took = exchange(srv.port, data)
    got, text = one_json_answer(raw)
    assert got == status, raw[:300]
    assert detail.lower() in text.lower(), text
    assert took < 2 * slow_factor(), took
    # the request hidden behind the first never ran
    assert srv.get("/admin/api-keys", key=BOOT).json() == []
    assert srv.get("/health").status_code == 200


CHUNKED_HEAD = (b"POST /admin/api-keys HTTP/1.1\r\nHost: x\r\nX-API-Key: " + BOOT.encode() +
                b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
BAD_CHUNKS = [
    ("bad_chunk_size", b"zz\r\n{}\r\n0\r\n\r\n", "bad chunk size"),
    ("huge_chunk_size", b"ffffffffffffffffffff\r\n{}\r\n0\r\n\r\n", "too large"),
    ("data_past_size", b"1\r\n{}\r\n0\r\n\r\n", "longer than its size"),
    ("bare_lf_in_chunks", b"2\n{}\n0\n\n", "CRLF"),
]


@pytest.mark.parametrize("name,body,detail", BAD_CHUNKS, ids=[c[0] for c in BAD_CHUNKS])
def test_malformed_chunked_bodies_get_one_json_answer(server, name, body, detail):
    srv = server(API_KEY=BOOT)
    raw, took = exchange(srv.port, CHUNKED_HEAD + body)
    status, text = one_json_answer(raw)
    assert status == 400 and detail in text, raw[:300]
    assert took < 3 * slow_factor(), took
    assert srv.get("/admin/api-keys", key=BOOT).json() == []


def test_chunked_bodies_still_work_and_nothing_after_them_runs(server):
    srv = server(API_KEY=BOOT)
    doc = b'{"name": "c", "owner": "o", "scopes": ["fax:read"]}'
    body = b"".join(b"%x\r\n%s\r\n" % (len(doc[i:i + 7]), doc[i:i + 7]) for i in range(0, len(doc), 7))
    raw, _ = exchange(srv.port, CHUNKED_HEAD + body + b"0\r\nX-Trailer: t\r\n\r\n" + HIDDEN)
    assert raw.startswith(b"HTTP/1.1 200"), raw[:300]
    assert raw.count(b"HTTP/1.1 ") == 1
    names = [k["name"] for k in srv.get("/admin/api-keys", key=BOOT).json()]
    assert names == ["c"], names


def test_pipelined_request_after_a_good_one_is_not_run(server):
    """One request per connection: bytes after the first request are never parsed."""
    srv = server(API_KEY=BOOT)
    raw, _ = exchange(srv.port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" + HIDDEN)
    assert raw.count(b"HTTP/1.1 ") == 1 and raw.startswith(b"HTTP/1.1 200"), raw
    assert b"Connection: close" in raw
    assert srv.get("/admin/api-keys", key=BOOT).json() == []


def test_bodies_where_none_belongs_are_refused_at_once(server):
    srv = server(API_KEY=BOOT)
    for head in (b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n",
                 b"GET /fax HTTP/1.1\r\nHost: x\r\nX-API-Key: " + BOOT.encode() +
                 b"\r\nTransfer-Encoding: chunked\r\n\r\n",
                 b"POST /fax/" + b"0" * 32 + b"/cancel HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n",
                 b"DELETE /admin/api-keys/abc HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n"):
        raw, took = exchange(srv.port, head)    # the body itself is never sent
        status, detail = one_json_answer(raw)
        assert status == 413 and "takes no request body" in detail, raw
        assert took < 1.5 * slow_factor(), took


def test_body_routes_check_the_key_before_the_body(server):
    srv = server(API_KEY=BOOT)
    for path in (b"/admin/api-keys", b"/fax"):
        for key in (b"", b"X-API-Key: wrong\r\n"):
            head = (b"POST " + path + b" HTTP/1.1\r\nHost: x\r\n" + key +
                    b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
            raw, took = exchange(srv.port, head)
            status, _ = one_json_answer(raw)
            assert status == 401, raw
            assert took < 1.5 * slow_factor(), (path, took)
    assert srv.get("/admin/api-keys", key=BOOT).json() == []


def _trickle(port, head, gap, results, name, source=None, limit=60):
    """Sends head, then a byte every gap seconds; records how long the server kept it."""
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0) if source else None)
    try:
        s.sendall(head)
        while time.monotonic() - t0 < limit:
            time.sleep(gap)
            s.setblocking(False)
            try:
                if s.recv(4096) == b"":
                    break
            except BlockingIOError:
                pass
            except OSError:
                break
            s.setblocking(True)
            try:
                s.sendall(b"a")
            except OSError:
                break
        results[name] = time.monotonic() - t0
    finally:
        s.close()


def test_slow_body_is_cut_by_the_minimum_rate(server):
    srv = server(API_KEY=BOOT, FAXBOT_HTTP_TIMEOUT_SECONDS="2", FAXBOT_HTTP_MIN_BODY_RATE="1000")
    results = {}
    head = (b"POST /fax HTTP/1.1\r\nHost: x\r\nX-API-Key: " + BOOT.encode() +
            b"\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n")
    _trickle(srv.port, head, 0.3, results, "slow", limit=20)
    # the grace is the head timeout (2 s); then 1000 bytes/s on average are due
    assert 2 <= results["slow"] <= 5 * slow_factor(), results
    assert "sending a body slower than 1000 bytes/s" in srv.stderr_text()
    # an upload at a normal speed is not affected
    r = send_fax(srv, key=BOOT)
    assert r.status_code == 202, r.text


def test_request_deadline_bounds_a_body_that_keeps_the_rate(server):
    srv = server(API_KEY=BOOT, FAXBOT_HTTP_TIMEOUT_SECONDS="1", FAXBOT_HTTP_MIN_BODY_RATE="0",
                 FAXBOT_HTTP_REQUEST_TIMEOUT_SECONDS="3")
    results = {}
    head = (b"POST /admin/api-keys HTTP/1.1\r\nHost: x\r\nX-API-Key: " + BOOT.encode() +
            b"\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n")
    _trickle(srv.port, head, 0.2, results, "slow", limit=20)
    assert 2.5 <= results["slow"] <= 5 * slow_factor(), results
    assert "not complete within 3 s" in srv.stderr_text()


def test_floods_past_the_connection_limit_never_lock_a_fresh_address_out(server):
    """Idle heads and slow bodies from four addresses fill the connection limit and
    keep coming; /health from fresh addresses answers within 1 s throughout."""
    srv = server(API_KEY=BOOT, FAXBOT_MAX_CONNECTIONS="60", FAXBOT_MAX_CONNECTIONS_PER_IP="25",
                 FAXBOT_HTTP_TIMEOUT_SECONDS="30")
    held = []
    stop = threading.Event()
    slow_head = (b"POST /fax HTTP/1.1\r\nHost: x\r\nX-API-Key: " + BOOT.encode() +
                 b"\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000000\r\n\r\n")

    def attacker(source, head):
        while not stop.is_set():
            try:
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=2, source_address=(source, 0))
                s.sendall(head)
                held.append(s)
            except OSError:
                pass
            stop.wait(0.02)

    attackers = [threading.Thread(target=attacker, args=(f"127.0.0.{2 + i}", b"GET /health HTTP/1.1\r\nX-Slow:"))
                 for i in range(2)]
    attackers += [threading.Thread(target=attacker, args=(f"127.0.0.{4 + i}", slow_head)) for i in range(2)]
    for t in attackers:
        t.start()
    probes = []
    try:
        t_end = time.monotonic() + 6
        i = 0
        while time.monotonic() < t_end:
            probes.append(fresh_health(srv.port, f"127.0.0.{100 + i % 100}"))
            i += 1
            time.sleep(0.1)
        # an attacking address is served too, or told it holds too many connections
        raw, _ = exchange(srv.port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", source="127.0.0.2")
        assert raw.startswith(b"HTTP/1.1 200") or one_json_answer(raw)[0] == 429, raw[:200]
    finally:
        stop.set()
        for t in attackers:
            t.join(10)
        for s in held:
            s.close()
    assert len(probes) >= 20, probes
    bad = [(ok, round(took, 3)) for ok, took in probes if not ok or took >= 1.0 * slow_factor()]
    assert not bad, f"/health from a fresh address failed or took >= 1 s: {bad} of {len(probes)}"
    assert "connection limit reached; closed the oldest unfinished request" in srv.stderr_text()
    # and it still stops cleanly (libmicrohttpd's own limit was never reached)
    assert srv.stop() == 0


def test_trusted_proxies_name_the_client_for_the_lockout(server, tmp_path):
    audit = tmp_path / "audit.log"
    srv = server(API_KEY=BOOT, TRUSTED_PROXIES="127.0.0.1, 10.0.0.0/8", AUTH_FAILURES_PER_MINUTE="5",
                 AUDIT_LOG_ENABLED="true", AUDIT_LOG_FILE=str(audit))

    def get_fax(key, xff=None, fwd=None, source=None):
        extra = b""
        if xff:
            extra += b"X-Forwarded-For: " + xff.encode() + b"\r\n"
        if fwd:
            extra += b"Forwarded: " + fwd.encode() + b"\r\n"
        raw, _ = exchange(srv.port, b"GET /fax HTTP/1.1\r\nHost: x\r\nX-API-Key: " + key.encode() + b"\r\n" +
                          extra + b"\r\n", source=source)
        return int(raw.split(b" ")[1])

    _avoid_minute_boundary(4.0 * slow_factor())
    codes = [get_fax(f"wrong-{i}", xff="203.0.113.7") for i in range(7)]
    assert codes == [401] * 5 + [429] * 2, codes
    assert get_fax(BOOT, xff="203.0.113.7") == 429          # that client is locked out ...
    assert get_fax(BOOT, xff="203.0.113.8") == 200          # ... not the others behind the proxy
    assert get_fax(BOOT, xff="198.51.100.1, 203.0.113.7, 10.1.2.3") == 429   # through two proxies
    assert get_fax(BOOT, fwd='for=203.0.113.7;proto=http') == 429
    assert get_fax(BOOT, fwd='for="[2001:db8::7]:4711"') == 200
    # an address not in TRUSTED_PROXIES cannot choose its own identity
    codes = [get_fax(f"wrong-{i}", xff=f"192.0.2.{i}", source="127.0.0.2") for i in range(6)]
    assert codes == [401] * 5 + [429], codes
    assert get_fax(BOOT, xff="192.0.2.99", source="127.0.0.2") == 429
    assert srv.stop() == 0
    _, events = read_audit(audit)
    ips = {e.get("ip") for e in events if e["event"] == "auth_failed"}
    assert "203.0.113.7" in ips and "127.0.0.2" in ips, ips
    assert not any(ip and ip.startswith("192.0.2.") for ip in ips), ips


def test_lockout_is_per_key_id(server):
    srv = server(API_KEY=BOOT, AUTH_FAILURES_PER_MINUTE="5")
    a = srv.post("/admin/api-keys", key=BOOT, json={"name": "a", "owner": "o", "scopes": ["fax:read"]}).json()
    b = srv.post("/admin/api-keys", key=BOOT, json={"name": "b", "owner": "o", "scopes": ["fax:read"]}).json()
    _avoid_minute_boundary(4.0 * slow_factor())
    guess = "fbk_live_" + a["key_id"] + "_" + "A" * 43
    codes = [srv.get("/fax", key=guess).status_code for _ in range(6)]
    assert codes == [401] * 5 + [429], codes
    assert_detail(srv.get("/fax", key=a["token"]), 429, "too many failed")   # a's secret cannot be confirmed
    assert srv.get("/fax", key=b["token"]).status_code == 200                 # b, same address, is fine
    assert srv.get("/fax", key=BOOT).status_code == 200


def _avoid_minute_boundary(need_s):
    left = 60 - time.time() % 60
    if left < need_s:
        time.sleep(left + 0.2)


def test_metrics_can_require_a_key(server):
    open_srv = server(API_KEY=BOOT)
    assert open_srv.get("/metrics").status_code == 200
    srv = server(API_KEY=BOOT, METRICS_REQUIRE_KEY="true")
    assert_detail(srv.get("/metrics"), 401)
    assert_detail(srv.get("/metrics", key="wrong"), 401)
    reader = srv.post("/admin/api-keys", key=BOOT, json={"name": "m", "owner": "o", "scopes": ["fax:read"]}).json()
    r = srv.get("/metrics", key=reader["token"])
    assert r.status_code == 200 and "faxbot_http_requests_total" in r.text
    assert srv.get("/metrics", key=BOOT).status_code == 200
    assert srv.get("/health").status_code == 200


def _seed_jobs(srv, n):
    """n stored jobs: one sent through the API, copied in the real database."""
    r = send_fax(srv, key=BOOT)
    assert r.status_code == 202, r.text
    srv.stop()
    db = sqlite3.connect(os.path.join(srv.data_dir, "faxbot.db"))
    cols = [c[1] for c in db.execute("PRAGMA table_info(fax_jobs)")]
    row = dict(zip(cols, db.execute("SELECT * FROM fax_jobs").fetchone()))
    rows = []
    for i in range(n - 1):
        rec = dict(row, id=uuid.uuid4().hex, created_at=row["created_at"] - (i + 1) * 1000, idempotency_key="")
        rows.append(tuple(rec[c] for c in cols))
    db.executemany(f"INSERT INTO fax_jobs ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})", rows)
    db.commit()
    db.close()
    srv.start()


@pytest.mark.sqlite_only
def test_heavy_list_readers_do_not_stall_health(server):
    srv = server(API_KEY=BOOT, FAX_DISABLED="true", MAX_REQUESTS_PER_MINUTE="0")
    _seed_jobs(srv, 1500)
    stop = threading.Event()
    pages, errors = [], []

    def reader():
        cursor = None
        session = requests.Session()
        session.trust_env = False           # never a proxy: 127.0.0.1 only
        while not stop.is_set():
            params = {"limit": 500}
            if cursor:
                params["cursor"] = cursor
            r = session.get(srv.url + "/fax", headers={"X-API-Key": BOOT}, params=params, timeout=30)
            if r.status_code != 200:
                errors.append(r.status_code)
                return
            doc = r.json()
            pages.append(len(doc["items"]))
            cursor = doc["next_cursor"]

    readers = [threading.Thread(target=reader) for _ in range(12)]
    for t in readers:
        t.start()
    probes = []
    try:
        time.sleep(0.5)
        t_end = time.monotonic() + 5
        i = 0
        while time.monotonic() < t_end:
            probes.append(fresh_health(srv.port, f"127.0.0.{50 + i % 50}"))
            i += 1
            time.sleep(0.1)
    finally:
        stop.set()
        for t in readers:
            t.join(60)
    assert not errors, errors
    assert len(pages) >= 12 and set(pages) <= {500}, pages[:20]   # 1500 rows: three full pages each round
    assert len(probes) >= 20
    slow = [round(took, 3) for ok, took in probes if not ok or took >= 1.0 * slow_factor()]
    assert not slow, f"/health under heavy readers: {slow} of {len(probes)}"
