"""helpers.py — small shared helpers for the black-box API tests.

Sending a fax over multipart, polling a job to a terminal state, checking the
job JSON shape, reading the audit log, and running the CLI (with the same
sanitizer checks the server gets).
"""

import json
import os
import re
import subprocess
import time

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer", "WARNING: ThreadSanitizer")

JOB_FIELDS = ("id", "to", "status", "error", "pages", "backend", "provider_sid",
              "created_at", "updated_at", "attempts", "max_attempts", "failure_reason",
              "duration_s", "bit_rate", "ecm", "remote_station_id", "inbound_id",
              "resolution", "file_name", "next_attempt_at")
STATUSES = ("queued", "in_progress", "SUCCESS", "FAILED", "cancelled")
TERMINAL = ("SUCCESS", "FAILED", "cancelled")

ID_RE = re.compile(r"^[0-9a-f]{32}$")
ISO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)$")

PHONE = "+15551234567"


def sanitized():
    return os.environ.get("FAXBOT_SANITIZED") == "1"


def slow_factor():
    """Timeouts grow under the sanitizers (about 3x slower)."""
    return 3.0 if sanitized() else 1.0


def send_fax(srv, to=PHONE, content=b"hello fax\n", filename="letter.txt",
             content_type="application/octet-stream", key=None, headers=None,
             fields=None, timeout=60):
    data = {} if to is None else {"to": to}
    if fields:
        data.update(fields)
    files = None if content is None else {"file": (filename, content, content_type)}
    if files is None:
        # requests only sends multipart when there is a file; force it with a dummy part
        files = {"dummy": (None, "x")}
    return srv.post("/fax", key=key, headers=headers, data=data, files=files, timeout=timeout)


def create_job(srv, key=None, **kw):
    r = send_fax(srv, key=key, **kw)
    assert r.status_code == 202, f"POST /fax -> {r.status_code} {r.text[:500]}"
    return r.json()


def get_job(srv, job_id, key=None):
    r = srv.get(f"/fax/{job_id}", key=key)
    assert r.status_code == 200, f"GET /fax/{job_id} -> {r.status_code} {r.text[:500]}"
    return r.json()


def wait_job(srv, job_id, key=None, timeout=60.0, until=TERMINAL):
    """Polls GET /fax/{id} until its status is in `until`; returns (job, statuses seen)."""
    deadline = time.monotonic() + timeout * slow_factor()
    seen = []
    job = None
    while time.monotonic() < deadline:
        job = get_job(srv, job_id, key)
        if not seen or seen[-1] != job["status"]:
            seen.append(job["status"])
        if job["status"] in until:
            return job, seen
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} not in {until} after {timeout * slow_factor():.0f} s; "
                         f"statuses seen {seen}; last: {job}\nserver stderr tail:\n"
                         f"{srv.stderr_text()[-3000:]}")


def wait_jobs(srv, ids, key=None, timeout=60.0):
    """Waits for several jobs at once; returns {id: job}."""
    deadline = time.monotonic() + timeout * slow_factor()
    jobs = {}
    pending = list(ids)
    while pending and time.monotonic() < deadline:
        still = []
        for jid in pending:
            job = get_job(srv, jid, key)
            jobs[jid] = job
            if job["status"] not in TERMINAL:
                still.append(jid)
        pending = still
        if pending:
            time.sleep(0.3)
    if pending:
        states = {jid: jobs[jid]["status"] for jid in pending}
        raise AssertionError(f"{len(pending)} jobs not terminal after "
                             f"{timeout * slow_factor():.0f} s: {states}\n"
                             f"server stderr tail:\n{srv.stderr_text()[-3000:]}")
    return jobs


def assert_job_shape(job):
    missing = [f for f in JOB_FIELDS if f not in job]
    assert not missing, f"job JSON lacks fields {missing}: {job}"
    assert ID_RE.match(job["id"]), f"bad id {job['id']!r}"
    assert job["status"] in STATUSES, f"bad status {job['status']!r}"
    for f in ("created_at", "updated_at"):
        assert isinstance(job[f], str) and ISO_RE.match(job[f]), f"{f} not ISO-8601 UTC: {job[f]!r}"
    assert isinstance(job["attempts"], int) and job["attempts"] >= 0, job
    assert isinstance(job["max_attempts"], int) and job["max_attempts"] >= 1, job


def assert_detail(r, status, contains=None):
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text[:500]}"
    try:
        body = r.json()
    except ValueError:
        raise AssertionError(f"error body is not JSON: {r.text[:300]!r}")
    assert isinstance(body, dict) and isinstance(body.get("detail"), str) and body["detail"], \
        f"error body must be {{\"detail\": \"...\"}}: {body}"
    if contains is not None:
        assert contains.lower() in body["detail"].lower(), \
            f"detail {body['detail']!r} should mention {contains!r}"
    return body["detail"]


def read_audit(path):
    """Parses an audit log: one JSON object per line, each with event and ts."""
    with open(path, "rb") as f:
        raw = f.read()
    events = []
    for n, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
        except ValueError:
            raise AssertionError(f"audit line {n} is not JSON: {line[:300]!r}")
        assert isinstance(ev, dict) and "event" in ev and "ts" in ev, \
            f"audit line {n} lacks event/ts: {ev}"
        events.append(ev)
    return raw, events


def audit_job_id(ev):
    return ev.get("job_id") or ev.get("id")


def run_cli(args, env, timeout=120, cwd=None):
    from conftest import faxbot_bin, check_binary  # late import: conftest owns the path
    check_binary()
    p = subprocess.run([faxbot_bin(), *args], env=env, cwd=cwd, capture_output=True,
                       timeout=timeout * slow_factor())
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    if sanitized():
        for marker in SANITIZER_MARKERS:
            assert marker not in err, f"sanitizer report from `faxbot {' '.join(args)}`:\n{err}"
    return p.returncode, out, err


# -- raw HTTP, for uploads the server may cut short (413) or that we cut short (kill -9) --

BOUNDARY = "faxbotTestBoundary7MA4YWxkTrZu0gW"


def multipart_body(fields, file_name, file_bytes, file_type="application/octet-stream"):
    parts = []
    for k, v in fields.items():
        parts.append(f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n"
                     f"{v}\r\n".encode())
    parts.append(f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
                 f"filename=\"{file_name}\"\r\nContent-Type: {file_type}\r\n\r\n".encode())
    parts.append(file_bytes)
    parts.append(f"\r\n--{BOUNDARY}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={BOUNDARY}"


def raw_request_head(port, path, content_type, length, key=None):
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {length}\r\n"
            f"Connection: close\r\n")
    if key:
        head += f"X-API-Key: {key}\r\n"
    return (head + "\r\n").encode()


def raw_post(port, path, body, content_type, key=None, timeout=30):
    """Sends a whole request even if the server answers early; returns
    (status or None, response text, send error or None)."""
    import socket
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    send_error = None
    try:
        s.sendall(raw_request_head(port, path, content_type, len(body), key))
        view = memoryview(body)
        for off in range(0, len(body), 65536):
            try:
                s.sendall(view[off:off + 65536])
            except OSError as e:
                send_error = e
                break
        chunks = []
        try:
            while True:
                c = s.recv(65536)
                if not c:
                    break
                chunks.append(c)
        except OSError as e:
            if not chunks:
                return None, "", send_error or e
        resp = b"".join(chunks).decode("latin-1")
        m = re.match(r"HTTP/1\.[01] (\d{3})", resp)
        return (int(m.group(1)) if m else None), resp, send_error
    finally:
        s.close()


# -- TIFF structure (header + IFD chain only; pixel data is not decoded) --

def tiff_pages(data):
    """Reads every IFD of a TIFF; returns one dict per page with width, length,
    compression, xres and yres (in dots per inch, whatever the ResolutionUnit)."""
    import struct
    assert data[:4] in (b"II*\x00", b"MM\x00*"), f"not a TIFF: {data[:8]!r}"
    bo = "<" if data[:2] == b"II" else ">"
    sizes = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}
    pages = []
    off = struct.unpack(bo + "I", data[4:8])[0]
    seen = set()
    while off:
        assert off not in seen and off + 2 <= len(data), f"bad IFD offset {off}"
        seen.add(off)
        n = struct.unpack(bo + "H", data[off:off + 2])[0]
        tags = {}
        for i in range(n):
            e = off + 2 + 12 * i
            tag, typ, count = struct.unpack(bo + "HHI", data[e:e + 8])
            size = sizes.get(typ, 1) * count
            raw = data[e + 8:e + 12] if size <= 4 else \
                data[struct.unpack(bo + "I", data[e + 8:e + 12])[0]:][:size]
            if typ == 3:
                tags[tag] = struct.unpack(bo + "H", raw[:2])[0]
            elif typ == 4:
                tags[tag] = struct.unpack(bo + "I", raw[:4])[0]
            elif typ == 5:
                num, den = struct.unpack(bo + "II", raw[:8])
                tags[tag] = num / den if den else 0.0
        off = struct.unpack(bo + "I", data[off + 2 + 12 * n:off + 6 + 12 * n])[0]
        per_inch = 2.54 if tags.get(296, 2) == 3 else 1.0
        pages.append({"width": tags.get(256), "length": tags.get(257),
                      "compression": tags.get(259),
                      "xres": tags.get(282, 0) * per_inch, "yres": tags.get(283, 0) * per_inch})
    return pages


def fetch(srv, path, key=None, status=200, ctype=None):
    """GET that must answer `status` (and `ctype` when given); returns the response."""
    r = srv.get(path, key=key)
    assert r.status_code == status, f"GET {path} -> {r.status_code} {r.text[:500]}"
    if ctype is not None:
        assert r.headers.get("Content-Type", "").startswith(ctype), \
            f"GET {path}: Content-Type {r.headers.get('Content-Type')!r}, want {ctype}"
    return r


def pdf_page_count(pdf_bytes, tmp_dir):
    """Pages of a PDF according to poppler's pdfinfo."""
    path = os.path.join(str(tmp_dir), "check.pdf")
    with open(path, "wb") as f:
        f.write(pdf_bytes)
    p = subprocess.run(["pdfinfo", path], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, f"pdfinfo failed: {p.stderr}"
    m = re.search(r"^Pages:\s+(\d+)$", p.stdout, re.M)
    assert m, f"pdfinfo printed no page count:\n{p.stdout}"
    return int(m.group(1))


def sse_read(srv, key=None, last_id=0, stop=lambda events: False, timeout=20.0):
    """Reads GET /events (from after last_id) until stop(events) is true; returns
    the events as dicts {id, event, data (the parsed envelope)}."""
    import requests
    headers = {"Accept": "text/event-stream", "Last-Event-ID": str(last_id)}
    if key is not None:
        headers["X-API-Key"] = key
    s = requests.Session()
    s.trust_env = False
    events, cur = [], {}
    deadline = time.monotonic() + timeout * slow_factor()
    with s.get(srv.url + "/events", headers=headers, stream=True, timeout=(5, 5)) as r:
        assert r.status_code == 200, f"GET /events -> {r.status_code} {r.text[:300]}"
        for line in r.iter_lines(decode_unicode=True):
            if line == "" and "data" in cur:
                events.append({"id": int(cur["id"]), "event": cur["event"], "data": json.loads(cur["data"])})
                cur = {}
                if stop(events):
                    return events
            elif line and not line.startswith(":"):
                k, _, v = line.partition(":")
                cur[k] = v[1:] if v.startswith(" ") else v
            if time.monotonic() > deadline:
                break
    raise AssertionError(f"GET /events: condition not met; got {[(e['id'], e['event']) for e in events]}")
