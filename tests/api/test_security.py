"""test_security.py — the server under hostile input at the HTTP boundary, black box.

Path traversal on every route that takes an id and may touch files; oversize
request heads (431) and admin JSON bodies (413); a chunked upload past the size
limit (413, nothing left behind); slow clients (slowloris: a request head trickled
a byte a second is cut at FAXBOT_HTTP_TIMEOUT_SECONDS while others are served) and
the per-IP connection cap; a flood of bad API keys (AUTH_FAILURES_PER_MINUTE per
client IP, then 429 with Retry-After for every request of that IP, good key or not,
until the minute ends, audited once as auth_rate_limited); control characters,
NUL bytes and long values in the fields that reach a backend; and hostile upload
file names, which must never reach the logs or the file system.

Every client here is on 127.0.0.1; where a second client address is needed the
socket is bound to 127.0.0.2 (the whole of 127/8 is loopback on Linux).
"""

import json
import os
import re
import socket
import threading
import time

import pytest

from helpers import (BOUNDARY, PHONE, assert_detail, create_job, read_audit, send_fax,
                     slow_factor, wait_jobs)

BOOT = "security-bootstrap-key-0c4f7e21b9"
MARKER = "SECRET-OUTSIDE-DATA-DIR-6d2f"
AUTH_LIMIT_DETAIL = "Too many failed authentications; try again later"


# ---------------------------------------------------------------- raw HTTP ----

def raw_http(port, data, timeout=10.0, source=None):
    """Sends `data` byte for byte and reads until the server closes.
    Returns (status or None, {lower-case header: value}, body bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                 source_address=(source, 0) if source else None)
    try:
        s.sendall(data)
        chunks = []
        while True:
            try:
                c = s.recv(65536)
            except ConnectionResetError:
                break
            if not c:
                break
            chunks.append(c)
    finally:
        s.close()
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3})", lines[0]) if lines else None
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower().decode("latin-1")] = v.strip().decode("latin-1")
    return (int(m.group(1)) if m else None), headers, body


def raw_get(port, target, key=None, method=b"GET", extra=b"", source=None):
    req = method + b" " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    if key:
        req += b"X-API-Key: " + key.encode() + b"\r\n"
    return raw_http(port, req + extra + b"\r\n", source=source)


def files_under(root):
    out = set()
    for dirpath, dirnames, names in os.walk(root):
        out.update(os.path.join(dirpath, n) for n in names + dirnames)
    return out


def job_count(srv, key=None):
    r = srv.get("/fax", key=key, params={"limit": 500})
    assert r.status_code == 200, r.text
    return len(r.json()["items"])


# ----------------------------------------------------------- path traversal ----

# ids as sent on the wire (one path segment, or what decodes into several)
HOSTILE_IDS = [
    b"..", b".", b"../../etc/passwd", b"..%2f..%2fetc%2fpasswd", b"%2e%2e", b"%2E%2E",
    b"%2e%2e%2f%2e%2e%2fetc%2fpasswd", b"..%5c..%5cbait", b"%2e%2e%5c%2e%2e%5cbait",
    b"%252e%252e%252fbait", b"%c0%ae%c0%ae%c0%af", b"....//....//etc", b"..;", b"~root",
    b"%00", b"abc%00def", b"0" * 31 + b"%00", b"0" * 32 + b"%00.pdf", b"..%00",
    b"abc\x00def", b"\x00", b"a" * 5000, b"0" * 33, b"%2fetc%2fpasswd",
]

# (method, template, takes a key); {id} is replaced by the hostile id
FILE_ROUTES = [
    (b"GET", b"/fax/{id}/pdf?token=x", False),
    (b"GET", b"/fax/{id}/tiff", True),
    (b"GET", b"/fax/{id}", True),
    (b"POST", b"/fax/{id}/cancel", True),
    (b"GET", b"/inbound/{id}", True),
    (b"GET", b"/inbound/{id}/pdf", True),
    (b"GET", b"/inbound/{id}/pdf?token=x", False),
    (b"GET", b"/inbound/{id}/tiff", True),
    (b"DELETE", b"/admin/api-keys/{id}", True),
    (b"POST", b"/admin/api-keys/{id}/rotate", True),
]

BAIT_NAMES = ("fax.pdf", "fax.tiff", "document.pdf", "original", "passwd")


def _plant_bait(dirs):
    for d in dirs:
        os.makedirs(d, exist_ok=True)
        for n in BAIT_NAMES:
            with open(os.path.join(d, n), "w") as f:
                f.write(f"{MARKER} in {d}/{n}\n")


def test_path_traversal_never_leaves_the_data_dir(server):
    srv = server(API_KEY=BOOT, AUTH_FAILURES_PER_MINUTE="0", FAX_WORKERS="1")
    job = create_job(srv, key=BOOT)
    wait_jobs(srv, [job["id"]], key=BOOT, timeout=90)   # its files settle before the snapshot
    admin = srv.post("/admin/api-keys", key=BOOT,
                     json={"name": "n", "owner": "o", "scopes": ["fax:read"]}).json()
    # bait where an unchecked id would lead: the data dir itself (id ".."), the
    # directory above it, and a sibling named like a traversal target
    workdir = srv.workdir
    _plant_bait([srv.data_dir, workdir, os.path.join(workdir, "bait"),
                 os.path.join(srv.data_dir, "outbound"), os.path.join(srv.data_dir, "inbound")])
    before = files_under(workdir)
    for method, template, keyed in FILE_ROUTES:
        for hid in HOSTILE_IDS:
            target = template.replace(b"{id}", hid)
            status, _, body = raw_get(srv.port, target, key=BOOT if keyed else None, method=method)
            what = f"{method.decode()} {target[:80]!r}"
            # A raw NUL byte in the request line reaches us as a path cut short at it
            # (libmicrohttpd 0.9.75 hands over C strings): that shorter path is then
            # answered as what it is, e.g. 401 where it needs a key. An encoded %00 is
            # refused with 400 by the server.
            allowed = (400, 401, 404, 405) if b"\x00" in hid else (400, 404)
            assert status in allowed, f"{what}: {status} {body[:200]!r}"
            if b"%00" in hid:
                assert status == 400 and b"NUL" in body, f"{what}: {status} {body[:200]!r}"
            assert MARKER.encode() not in body, f"{what} served a file outside its place"
            assert b"root:" not in body, f"{what} served /etc/passwd"
            assert body.startswith(b"{") and b'"detail"' in body, f"{what}: {body[:200]!r}"
    # an id longer than the server takes for a request line: refused whole
    status, _, body = raw_get(srv.port, b"/fax/" + b"a" * 60000 + b"/tiff", key=BOOT)
    assert status in (404, 414, 431), status
    assert MARKER.encode() not in body
    # nothing created or removed anywhere (no directories from mkdir -p on a bad id)
    after = files_under(workdir)
    created = {p for p in after - before
               if not re.search(r"(server-\d+\.stderr|faxbot\.db(-wal|-shm|-journal)?)$", p)}
    assert not created, f"requests created {sorted(created)}"
    assert not (before - after), f"requests removed {sorted(before - after)}"
    for area in ("outbound", "inbound"):
        d = os.path.join(srv.data_dir, area)
        for name in os.listdir(d):
            assert re.fullmatch(r"[0-9a-f]{32}", name) or name in BAIT_NAMES, f"{area}/{name}"
    # the real job and key are untouched and still served
    assert srv.get(f"/fax/{job['id']}", key=BOOT).status_code == 200
    assert srv.get("/fax", key=admin["token"]).status_code == 200
    for n in BAIT_NAMES:
        with open(os.path.join(workdir, n)) as f:
            assert MARKER in f.read()


# ------------------------------------------------------------ oversize input ----

def test_oversize_headers_431_and_server_keeps_serving(server):
    srv = server(API_KEY=BOOT)
    # past our own limit (32 KiB): JSON 431 from faxbot
    status, _, body = raw_get(srv.port, b"/health", extra=b"X-Big: " + b"a" * 40000 + b"\r\n")
    assert status == 431, status
    assert b'"detail"' in body, body[:200]
    heads = [
        b"X-Big: " + b"b" * 200_000 + b"\r\n",                            # past libmicrohttpd's pool
        b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 40) for i in range(1000)),  # many small ones
        b"Cookie: " + b"c=" * 30000 + b"\r\n",
    ]
    for extra in heads:
        status, _, _ = raw_get(srv.port, b"/fax", key=BOOT, extra=extra)
        assert status == 431, f"{len(extra)} header bytes: {status}"
        assert srv.get("/health").status_code == 200
    # an oversize API key header is refused as a head, not checked as a key
    status, _, _ = raw_get(srv.port, b"/fax", key="k" * 40000)
    assert status == 431, status
    # many oversize heads at once while normal requests go on
    results = []

    def flood():
        for _ in range(10):
            results.append(raw_get(srv.port, b"/health", extra=heads[0])[0])

    threads = [threading.Thread(target=flood) for _ in range(4)]
    for t in threads:
        t.start()
    ok = [srv.get("/health", timeout=10).status_code for _ in range(20)]
    for t in threads:
        t.join(60)
    assert ok == [200] * 20, ok
    assert results == [431] * 40, results
    assert srv.get("/fax", key=BOOT).status_code == 200


def test_oversize_admin_json_413(server):
    srv = server(API_KEY=BOOT)
    big = b'{"name": "' + b"n" * 70_000 + b'", "owner": "o", "scopes": ["fax:read"]}'
    # with Content-Length: refused before the body is read
    r = srv.post("/admin/api-keys", key=BOOT, data=big,
                 headers={"Content-Type": "application/json"})
    assert_detail(r, 413)
    # chunked (no Content-Length): refused while it arrives
    r = srv.post("/admin/api-keys", key=BOOT, data=(big[i:i + 8192] for i in range(0, len(big), 8192)),
                 headers={"Content-Type": "application/json"})
    assert_detail(r, 413)
    # a body on a route that takes none is refused before it is read
    r = srv.post("/admin/diagnostics/run", key=BOOT, data=b"x" * 1_000_000)
    assert_detail(r, 413)
    # nothing was created; a normal request still works
    assert srv.get("/admin/api-keys", key=BOOT).json() == []
    r = srv.post("/admin/api-keys", key=BOOT, json={"name": "n", "owner": "o", "scopes": ["fax:read"]})
    assert r.status_code == 200, r.text


def test_oversize_chunked_upload_413_no_leftovers(server):
    """The Content-Length pre-check cannot see a chunked upload: the streaming
    check must stop it (the whole-body 413 with Content-Length is in test_send)."""
    srv = server(MAX_FILE_SIZE_MB="1")
    before = files_under(srv.data_dir)
    payload = b"%PDF-1.4\n" + b"0" * (2 * 1024 * 1024)
    body = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n{PHONE}\r\n"
            f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.pdf\"\r\n"
            f"Content-Type: application/pdf\r\n\r\n").encode() + payload + f"\r\n--{BOUNDARY}--\r\n".encode()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 65536]), body[i:i + 65536])
                       for i in range(0, len(body), 65536)) + b"0\r\n\r\n"
    req = (f"POST /fax HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
           f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
           f"Transfer-Encoding: chunked\r\n\r\n").encode() + chunked
    status, _, resp = raw_http(srv.port, req, timeout=30)
    assert status == 413, (status, resp[:300])
    assert b"1 MB" in resp, resp[:300]
    assert srv.get("/health").status_code == 200
    assert job_count(srv) == 0
    left = [p for p in files_under(srv.data_dir) - before
            if os.path.isfile(p) and os.path.getsize(p) > 64 * 1024 and "faxbot.db" not in p]
    assert not left, f"rejected upload left {left}"


# ------------------------------------------------------------- slow clients ----

def _trickle(port, prefix, results, name, max_s=30.0, sock=None):
    """Sends prefix, then one header byte a second (on sock, or a new connection);
    records how long the server let it go on ("closed") or that it never closed ("open")."""
    s = sock or socket.create_connection(("127.0.0.1", port), timeout=5)
    t0 = time.monotonic()
    try:
        s.sendall(prefix)
        while time.monotonic() - t0 < max_s:
            time.sleep(1.0)
            try:
                s.setblocking(False)
                try:
                    if s.recv(4096) == b"":
                        results[name] = ("closed", time.monotonic() - t0)
                        return
                except BlockingIOError:
                    pass
                s.setblocking(True)
                s.sendall(b"a")
            except OSError:
                results[name] = ("closed", time.monotonic() - t0)
                return
        results[name] = ("open", time.monotonic() - t0)
    finally:
        s.close()


def test_slowloris_cut_at_timeout_while_others_are_served(server):
    timeout = 3
    srv = server(FAXBOT_HTTP_TIMEOUT_SECONDS=str(timeout))
    results = {}
    head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
    threads = [threading.Thread(target=_trickle, args=(srv.port, head, results, f"slow{i}"))
               for i in range(8)]
    # a client hoping for keep-alive: its connection ends with the first answer, so
    # it cannot trickle a second head on it
    ka = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    ka.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    answer = b""
    while chunk := ka.recv(4096):
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 200") and b"Connection: close" in answer, answer
    ka.close()
    for t in threads:
        t.start()
    # meanwhile everyone else is served promptly
    latencies = []
    t_end = time.monotonic() + timeout + 2
    while time.monotonic() < t_end:
        t0 = time.monotonic()
        assert srv.get("/health", timeout=5).status_code == 200
        latencies.append(time.monotonic() - t0)
        time.sleep(0.2)
    for t in threads:
        t.join(40)
    assert max(latencies) < 1.5 * slow_factor(), f"health latencies under slowloris: {latencies}"
    assert len(results) == 8, results
    for name, (state, secs) in sorted(results.items()):
        assert state == "closed", f"{name}: a client trickling its head was never cut ({secs:.1f} s)"
        assert timeout - 0.5 <= secs <= timeout + 4, f"{name}: cut after {secs:.1f} s, timeout {timeout} s"
    assert "no complete request head" in srv.stderr_text()
    # a client that is slow but within the timeout is served
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(b"GET /health HTTP/1.1\r\n")
    time.sleep(timeout - 1.5)
    s.sendall(b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert s.recv(4096).startswith(b"HTTP/1.1 200")
    s.close()


def test_stalled_client_closed_after_timeout(server):
    srv = server(FAXBOT_HTTP_TIMEOUT_SECONDS="2")
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=15)
    s.sendall(b"GET /health HT")
    t0 = time.monotonic()
    assert s.recv(4096) == b""
    took = time.monotonic() - t0
    s.close()
    assert 1.5 <= took <= 6, took


def test_per_ip_connection_cap(server):
    srv = server(FAXBOT_MAX_CONNECTIONS_PER_IP="4", FAXBOT_HTTP_TIMEOUT_SECONDS="20")
    srv.session.close()          # its keep-alive connection would count
    time.sleep(0.3)
    held = []
    for _ in range(4):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        s.sendall(b"GET /hea")
        held.append(s)
    time.sleep(0.5)
    status, _, body = raw_get(srv.port, b"/health")
    assert status == 429, "a fifth connection from the same address was served"
    assert json.loads(body)["detail"] == "Too many connections from your address"
    # another address is not affected
    status, _, _ = raw_get(srv.port, b"/health", source="127.0.0.2")
    assert status == 200
    held.pop().close()
    time.sleep(0.3)
    status, _, _ = raw_get(srv.port, b"/health")
    assert status == 200
    for s in held:
        s.close()


@pytest.mark.parametrize("name,value", [("FAXBOT_HTTP_TIMEOUT_SECONDS", "0"),
                                        ("FAXBOT_HTTP_TIMEOUT_SECONDS", "soon"),
                                        ("FAXBOT_MAX_CONNECTIONS_PER_IP", "-1"),
                                        ("AUTH_FAILURES_PER_MINUTE", "lots")])
def test_bad_limit_settings_stop_the_start(server, name, value):
    srv = server(expect_ready=False, **{name: value})
    code = srv.proc.wait(timeout=20 * slow_factor())
    assert code != 0
    assert name in srv.stderr_text(), srv.stderr_text()


# --------------------------------------------------------- bad-key flooding ----

def _avoid_minute_boundary(margin):
    into = time.time() % 60
    if into > 60 - margin:
        time.sleep(60 - into + 0.2)


def _bad_keys(n):
    """Wrong keys that name no key id: they share one lock-out budget per address."""
    shapes = ["wrong-key-{i}", "fbk_live_zz{i}", "x" * 300 + "{i}", BOOT + "{i}"]
    return [shapes[i % len(shapes)].format(i=i) for i in range(n)]


def test_bad_key_flood_is_limited_per_address_and_key_and_audited(server, tmp_path):
    audit = tmp_path / "audit.log"
    srv = server(API_KEY=BOOT, AUDIT_LOG_ENABLED="true", AUDIT_LOG_FILE=str(audit))
    good = srv.post("/admin/api-keys", key=BOOT,
                    json={"name": "good", "owner": "o", "scopes": ["fax:read", "fax:send"]}).json()
    _avoid_minute_boundary(8.0 * slow_factor())
    bad = _bad_keys(40)
    answers = [srv.get("/fax", key=k) for k in bad]
    codes = [r.status_code for r in answers]
    assert codes == [401] * 30 + [429] * 10, codes
    for r in answers[30:]:
        assert r.json() == {"detail": AUTH_LIMIT_DETAIL}
        ra = r.headers.get("Retry-After", "")
        assert ra.isdigit() and 1 <= int(ra) <= 60, ra
        assert abs(int(ra) - (60 - time.time() % 60)) <= 3, (ra, time.time() % 60)
    # until the minute ends, this address gets 429 for every token that names no
    # key id (the bootstrap key among them): a guessed key cannot be confirmed
    # during the lock-out
    for r in (srv.get("/fax", key=BOOT), srv.get("/fax"), send_fax(srv, key=BOOT),
              srv.get("/admin/api-keys", key=BOOT), srv.get("/inbound", key=BOOT)):
        assert_detail(r, 429, "too many failed authentications")
        assert r.headers.get("Retry-After", "").isdigit()
    # a key with its own id, used from the same address (say, the same proxy), is
    # not locked out by someone else's wrong keys
    assert srv.get("/fax", key=good["token"]).status_code == 200
    # routes without keys are not locked
    assert srv.get("/health").status_code == 200
    # another client address keeps its own budget
    status, _, _ = raw_get(srv.port, b"/fax", key=BOOT, source="127.0.0.2")
    assert status == 200
    status, _, body = raw_get(srv.port, b"/fax", key="wrong", source="127.0.0.2")
    assert status == 401, body
    retry = int(srv.get("/fax", key=BOOT).headers["Retry-After"])
    # the next minute opens a new window
    time.sleep(retry + 1.0)
    assert srv.get("/fax", key=BOOT).status_code == 200
    assert srv.get("/fax", key="still-wrong").status_code == 401
    assert srv.stop() == 0
    raw, events = read_audit(audit)
    limited = [e for e in events if e["event"] == "auth_rate_limited"]
    assert len(limited) == 1, f"auth_rate_limited must be audited once per window: {limited}"
    assert limited[0].get("ip") == "127.0.0.1", limited[0]
    failed = [e for e in events if e["event"] == "auth_failed" and e.get("ip") == "127.0.0.1"]
    # 30 in the flood (refusals past the limit are not counted again) + 1 after the window
    assert len(failed) == 31, len(failed)
    assert any(e["event"] == "auth_failed" and e.get("ip") == "127.0.0.2" for e in events)
    # the keys shown are never written down
    for k in bad + [BOOT, good["token"]]:
        assert k.encode() not in raw, "audit log contains a presented key"


def test_auth_failure_limit_setting(server):
    srv = server(API_KEY=BOOT, AUTH_FAILURES_PER_MINUTE="3")
    _avoid_minute_boundary(4.0 * slow_factor())
    # a missing key on a route that needs one is a failed authentication too
    codes = [srv.get("/fax", key="bad-1").status_code, srv.get("/fax").status_code,
             srv.post("/admin/api-keys", key="bad-2", json={}).status_code,
             srv.get("/fax", key=BOOT).status_code]
    assert codes == [401, 401, 401, 429], codes
    off = server(API_KEY=BOOT, AUTH_FAILURES_PER_MINUTE="0")
    codes = [off.get("/fax", key=k).status_code for k in _bad_keys(40)]
    assert codes == [401] * 40, codes
    assert off.get("/fax", key=BOOT).status_code == 200


# -------------------------------------------- injection at the HTTP boundary ----

LONG = "9" * 5000

INJECTION_CASES = [
    ("header_text", "Hello\r\nAction: Originate", None),
    ("header_text", "Hello\nChannel: Local/666", None),
    ("header_text", "Hello\x00hidden", None),
    ("header_text", "H" * 51, None),
    ("header_text", "H" * 5000, None),
    ("caller_id", PHONE + "\r\nAction: Originate", None),
    ("caller_id", PHONE + "\n", None),
    ("caller_id", PHONE + "\x00junk", None),
    ("caller_id", "1" * 30, None),
    ("caller_id", LONG, None),
    ("callback_url", "https://example.com/cb\r\nX-Injected: 1", None),
    ("callback_url", "https://example.com/cb\nX", None),
    ("callback_url", "https://example.com/cb\x00.evil.example", None),
    ("callback_url", "https://example.com/" + "a" * 1500, None),
    ("callback_url", "https://example.com/" + "a" * 5000, None),
    ("callback_url", "javascript:alert(1)", None),
    ("to", PHONE + "\r\nX", None),
    ("to", PHONE + "\x00junk", None),
]


def _case_id(case):
    field, value, _ = case
    kind = "crlf" if "\r\n" in value else "lf" if "\n" in value else "nul" if "\x00" in value \
        else f"len{len(value)}" if len(value) > 40 else "other"
    return f"{field}-{kind}"


@pytest.fixture(scope="module")
def injection_server(module_server):
    return module_server(FAX_DISABLED="true")


@pytest.mark.parametrize("case", [
    pytest.param(c, id=_case_id(c),
                 marks=[pytest.mark.xfail(strict=True, reason=f"api_fax.c: {c[2]}")] if c[2] else [])
    for c in INJECTION_CASES])
def test_backend_bound_fields_refuse_control_chars_and_long_values(injection_server, case):
    field, value, _ = case
    srv = injection_server
    before = job_count(srv)
    fields = {field: value} if field != "to" else None
    r = send_fax(srv, to=value if field == "to" else PHONE, fields=fields)
    detail = assert_detail(r, 400)
    assert "\r" not in detail and "\n" not in detail and "\x00" not in detail, detail
    assert job_count(srv) == before, "a refused request created a job"


HOSTILE_FILE_NAMES = [
    b"EVILNAME1\r\nX-Injected: 1\r\n.txt",
    b"EVILNAME2\nsecond line.txt",
    b"EVILNAME3\rcarriage.txt",
    b'EVILNAME4\\"quoted\\".txt',
    b"EVILNAME5\x00nul.txt",
    b"EVILNAME6'; rm -rf / #.txt",
    b"../../EVILNAME7\r\n.txt",
    b"EVILNAME8\x1b[31mansi.txt",
    b"EVILNAME9%0d%0aencoded.txt",
    b"EVILNAME10${HOME},{x}.txt",
]


def _multipart_raw(file_name, content=b"hello from a hostile file name\n"):
    b = BOUNDARY.encode()
    return (b"--" + b + b"\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n" + PHONE.encode() + b"\r\n"
            + b"--" + b + b"\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + file_name
            + b"\"\r\nContent-Type: text/plain\r\n\r\n" + content + b"\r\n--" + b + b"--\r\n")


def test_upload_file_names_never_reach_logs_or_paths(server, tmp_path):
    audit = tmp_path / "audit.log"
    srv = server(FAXBOT_LOG_LEVEL="debug", AUDIT_LOG_ENABLED="true", AUDIT_LOG_FILE=str(audit))
    outside_before = files_under(os.path.dirname(srv.workdir))
    accepted = []
    for name in HOSTILE_FILE_NAMES:
        body = _multipart_raw(name)
        head = (f"POST /fax HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        status, headers, resp = raw_http(srv.port, head + body)
        assert status in (202, 400), f"{name!r}: {status} {resp[:200]!r}"
        assert b"X-Injected" not in b"".join(k.encode() for k in headers), headers
        if status == 400:
            assert resp.startswith(b'{"detail":'), resp[:200]
            continue
        job = json.loads(resp)
        accepted.append(job["id"])
        shown = job["file_name"] or ""
        assert not re.search(r"[\x00-\x1f\x7f]", shown), f"file_name keeps control characters: {shown!r}"
    assert accepted, "plain hostile names are labels only and should be accepted"
    wait_jobs(srv, accepted, timeout=90)
    for jid in accepted:
        shown = srv.get(f"/fax/{jid}").json()["file_name"] or ""
        assert not re.search(r"[\x00-\x1f\x7f]", shown), shown
    assert srv.stop() == 0
    logs = srv.stderr_text().encode("utf-8", "replace") + audit.read_bytes()
    assert b"EVILNAME" not in logs, "a client's file name reached the server log or audit log"
    assert b"X-Injected" not in logs
    for p in files_under(srv.workdir) | (files_under(os.path.dirname(srv.workdir)) - outside_before):
        assert "EVILNAME" not in p and "\r" not in p and "\n" not in p, f"file name became a path: {p!r}"
