"""test_console_live.py — the routes behind the Admin Console's live pages, against
the real server with the built-in loopback engine: page thumbnails of the fax image
(GET /fax/{id}/thumbnail, /inbound/{id}/thumbnail), read marks of received faxes
(POST /inbound/{id}/read|unread, ?unread=true, X-Unread-Count), GET /events with the
console's session cookie instead of a key, and the live log stream
GET /admin/logs/stream (numbers masked, new lines arrive while it is open)."""

import json
import os
import struct
import threading
import time
import zlib

import requests

import documents as docs
from helpers import PHONE, assert_detail, create_job, pdf_page_count, slow_factor, wait_for, wait_job

BOOT = "bootstrap-Key-for-console-live-7d21"


def make_key(srv, scopes, owner="ops"):
    r = srv.post("/admin/api-keys", key=BOOT, json={"name": "live", "owner": owner, "scopes": scopes})
    assert r.status_code == 200, r.text
    return r.json()["token"]


def console(srv, key=BOOT):
    """A signed-in browser-like session: the cookie, and the CSRF token it needs for POSTs."""
    s = requests.Session()
    s.trust_env = False
    r = s.post(srv.url + "/admin/ui/session", json={"api_key": key})
    assert r.status_code == 200, r.text
    return s, r.json()["csrf_token"]


def png_size(data):
    """(width, height, decoded greyscale rows) of an 8-bit greyscale PNG, checking its chunks' CRCs."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
    pos, idat, size = 8, b"", None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert zlib.crc32(kind + body) & 0xffffffff == crc, f"bad CRC in {kind}"
        if kind == b"IHDR":
            w, h, depth, color = struct.unpack(">IIBB", body[:10])
            assert (depth, color) == (8, 0), (depth, color)
            size = (w, h)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    w, h = size
    assert len(raw) == h * (w + 1)
    return w, h, [raw[y * (w + 1) + 1:(y + 1) * (w + 1)] for y in range(h)]


def sent_three_pages(srv, key=BOOT):
    job = create_job(srv, key=key, content=docs.pdf_text(3), filename="three.pdf", content_type="application/pdf")
    final, _ = wait_job(srv, job["id"], key=key, timeout=90)
    assert final["status"] == "SUCCESS", final
    # the built-in receiver's copy is stored as the call ends (under load a moment after SUCCESS)
    wait_for(lambda: srv.get(f"/inbound/{final['inbound_id']}", key=BOOT).status_code == 200, "the received copy")
    return final


def test_thumbnails_of_sent_and_received_pages(server):
    srv = server(API_KEY=BOOT)
    job = sent_three_pages(srv)
    for page in (1, 2, 3):
        r = srv.get(f"/fax/{job['id']}/thumbnail?page={page}", key=BOOT)
        assert r.status_code == 200 and r.headers["Content-Type"] == "image/png", r.text[:200]
        assert r.headers["X-Page-Count"] == "3"
        w, h, rows = png_size(r.content)
        # a Letter/A4 page 240 px wide keeps its portrait proportions (fax pixels are not square)
        assert w == 240 and 1.2 < h / w < 1.5, (w, h)
        ink = sum(255 - v for row in rows for v in row)
        assert ink > 0, f"page {page} thumbnail is blank"
        assert min(min(row) for row in rows) < 200, "no dark pixels: the text did not come through"
    wide = srv.get(f"/fax/{job['id']}/thumbnail?page=1&width=600", key=BOOT)
    assert png_size(wide.content)[0] == 600
    assert_detail(srv.get(f"/fax/{job['id']}/thumbnail?page=4", key=BOOT), 404, "3 page")
    assert_detail(srv.get(f"/fax/{job['id']}/thumbnail?page=zero", key=BOOT), 400, "page")
    assert_detail(srv.get(f"/fax/{job['id']}/thumbnail?width=5000", key=BOOT), 400, "width")
    # received: the same three pages (plus the header band the sender prints)
    r = srv.get(f"/inbound/{job['inbound_id']}/thumbnail?page=3", key=BOOT)
    assert r.status_code == 200 and r.headers["X-Page-Count"] == "3", r.text[:200]
    assert png_size(r.content)[0] == 240


def test_thumbnails_are_scope_and_owner_checked(server):
    srv = server(API_KEY=BOOT)
    mine = make_key(srv, ["fax:send", "fax:read", "inbound:read"], owner="a")
    other = make_key(srv, ["fax:read", "inbound:read"], owner="b")
    sender_only = make_key(srv, ["fax:send"], owner="a")
    job = sent_three_pages(srv, key=mine)
    assert srv.get(f"/fax/{job['id']}/thumbnail", key=mine).status_code == 200
    assert_detail(srv.get(f"/fax/{job['id']}/thumbnail", key=other), 404)
    assert_detail(srv.get(f"/fax/{job['id']}/thumbnail", key=sender_only), 403, "fax:read")
    assert_detail(srv.get(f"/fax/{job['id']}/thumbnail"), 401)
    assert_detail(srv.get(f"/inbound/{job['inbound_id']}/thumbnail", key=sender_only), 403, "inbound:read")


def test_mark_read_and_unread_with_count_and_filter(server):
    srv = server(API_KEY=BOOT)
    a = sent_three_pages(srv)
    b = sent_three_pages(srv)
    # the received copy is stored as the call ends, a moment apart from the job's SUCCESS
    r = wait_for(lambda: (lambda r: r if r.headers.get("X-Unread-Count") == "2" else None)(srv.get("/inbound", key=BOOT)),
                 "both received faxes")
    assert all(f["read_at"] is None for f in r.json())
    s, csrf = console(srv)
    # the console's session needs the CSRF token to change anything
    assert_detail(s.post(srv.url + f"/inbound/{a['inbound_id']}/read"), 403, "CSRF")
    r = s.post(srv.url + f"/inbound/{a['inbound_id']}/read", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["read_at"], r.text
    first = r.json()["read_at"]
    time.sleep(1.1)
    again = srv.post(f"/inbound/{a['inbound_id']}/read", key=BOOT)
    assert again.json()["read_at"] == first, "marking read twice keeps the first time"
    listed = srv.get("/inbound", key=BOOT)
    assert listed.headers["X-Unread-Count"] == "1"
    unread = srv.get("/inbound?unread=true", key=BOOT).json()
    assert [f["id"] for f in unread] == [b["inbound_id"]]
    one = srv.get(f"/inbound/{a['inbound_id']}", key=BOOT).json()
    assert one["read_at"] == first
    r = srv.post(f"/inbound/{a['inbound_id']}/unread", key=BOOT)
    assert r.status_code == 200 and r.json()["read_at"] is None
    assert srv.get("/inbound", key=BOOT).headers["X-Unread-Count"] == "2"
    assert_detail(srv.get("/inbound?unread=maybe", key=BOOT), 400, "unread")
    assert_detail(srv.post("/inbound/" + "0" * 32 + "/read", key=BOOT), 404)
    lister = make_key(srv, ["inbound:list"])
    assert_detail(srv.post(f"/inbound/{a['inbound_id']}/read", key=lister), 403, "inbound:read")


def test_read_marks_survive_a_restart(server):
    srv = server(API_KEY=BOOT)
    a = sent_three_pages(srv)
    srv.post(f"/inbound/{a['inbound_id']}/read", key=BOOT)
    srv.restart()
    assert srv.get(f"/inbound/{a['inbound_id']}", key=BOOT).json()["read_at"]
    assert srv.get("/inbound", key=BOOT).headers["X-Unread-Count"] == "0"


def read_sse(session, url, stop, timeout, headers=None):
    """Reads an event stream until stop(events) is true; events as {id, event, data}."""
    events, cur = [], {}
    deadline = time.monotonic() + timeout * slow_factor()
    with session.get(url, headers=headers or {"Accept": "text/event-stream"}, stream=True, timeout=(5, 5)) as r:
        assert r.status_code == 200, f"{url} -> {r.status_code} {r.text[:300]}"
        assert r.headers["Content-Type"].startswith("text/event-stream")
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
    raise AssertionError(f"{url}: condition not met; got {[(e['event'], e['data']) for e in events][-20:]}")


def test_events_stream_accepts_the_console_session_cookie(server):
    srv = server(API_KEY=BOOT)
    reader = make_key(srv, ["fax:read", "fax:send", "inbound:list"], owner="ops")
    s, _ = console(srv, reader)
    job = {}

    def send_later():
        time.sleep(0.5)
        job.update(create_job(srv, key=reader, content=docs.pdf_text(3), filename="three.pdf",
                              content_type="application/pdf"))

    t = threading.Thread(target=send_later)
    t.start()
    try:
        events = read_sse(s, srv.url + "/events", lambda ev: any(
            e["event"] == "fax.succeeded" for e in ev) and any(e["event"] == "inbound.received" for e in ev), 90)
    finally:
        t.join()
    mine = [e for e in events if e["data"].get("data", {}).get("id") == job["id"]]
    kinds = [e["event"] for e in mine]
    assert kinds[0] == "fax.queued" and kinds[-1] == "fax.succeeded", kinds
    pages = [(e["data"]["progress"].get("pages_sent"), e["data"]["progress"].get("pages"))
             for e in mine if e["event"] == "fax.progress" and e["data"].get("progress")]
    assert (3, 3) in pages, f"no 'page 3 of 3' progress: {pages}"
    # a session whose key lacks every event scope gets 403, and no cookie at all 401
    s2, _ = console(srv, make_key(srv, ["fax:send"]))
    assert_detail(s2.get(srv.url + "/events"), 403)
    anon = requests.Session()
    anon.trust_env = False
    assert_detail(anon.get(srv.url + "/events"), 401)


def test_log_stream_sends_history_then_live_lines_masked(server):
    srv = server(API_KEY=BOOT)
    s, csrf = console(srv)
    number = "+15550104477"

    def act_later():
        time.sleep(0.7)
        # a job to a number (log lines and audit events name it) and a failed sign-in
        create_job(srv, key=BOOT, to=number)
        bad = requests.Session()
        bad.trust_env = False
        bad.post(srv.url + "/admin/ui/session", json={"api_key": "fbk_live_nope_nope"})

    t = threading.Thread(target=act_later)
    t.start()
    try:
        events = read_sse(s, srv.url + "/admin/logs/stream?history=5",
                          lambda ev: any(e["data"].get("event") == "job_created" for e in ev)
                          and any(e["data"].get("event") == "auth_failed" for e in ev), 30)
    finally:
        t.join()
    assert all(e["event"] == "log" for e in events)
    seqs = [e["id"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
    for e in events:
        d = e["data"]
        assert d["seq"] == e["id"] and d["source"] in ("gateway", "pbx", "audit") and d["level"] in (
            "debug", "info", "warn", "error") and d["message"], d
    text = json.dumps([e["data"] for e in events])
    assert "5550104477" not in text and "0104477" not in text, "a phone number was not masked"
    assert "4477" in text, "the masked number keeps its last 4 digits"
    failed = [e["data"] for e in events if e["data"].get("event") == "auth_failed"][0]
    assert failed["source"] == "audit" and failed["level"] == "warn", failed
    # resuming after the last id sends nothing old again (a key listing makes one more line)
    last = seqs[-1]
    assert srv.get("/admin/api-keys", key=BOOT).status_code == 200
    more = read_sse(s, srv.url + "/admin/logs/stream", lambda ev: True, 20,
                    headers={"Accept": "text/event-stream", "Last-Event-ID": str(last)})
    assert more and all(e["id"] > last for e in more), more
    assert_detail(srv.get("/admin/logs/stream?history=9999", key=BOOT), 400, "history")
    reader = make_key(srv, ["fax:read"])
    assert_detail(srv.get("/admin/logs/stream", key=reader), 403, "keys:manage")



def _ink(srv, job_id, page):
    r = srv.get(f"/fax/{job_id}/thumbnail?page={page}&width=120", key=BOOT)
    assert r.status_code == 200, r.text
    _, _, rows = png_size(r.content)
    return sum(255 - v for row in rows for v in row) / sum(len(row) for row in rows)


def test_several_files_become_one_fax_in_order(server, tmp_path):
    """Three 'file' parts (PDF, PNG, text): one job whose fax image has their pages in
    the order sent; the picture page (a checkerboard) is the dark one in the middle."""
    srv = server(API_KEY=BOOT)
    files = [("file", ("cover.pdf", docs.pdf_text(1), "application/pdf")),
             ("file", ("picture.png", docs.png_image(), "image/png")),
             ("file", ("notes.txt", b"last page: plain text\n", "text/plain"))]
    r = srv.post("/fax", key=BOOT, data={"to": PHONE}, files=files)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["file_name"] == "cover.pdf (+2 more)", job
    final, _ = wait_job(srv, job["id"], key=BOOT, timeout=90)
    assert final["status"] == "SUCCESS" and final["pages"] == 3, final
    ink = [_ink(srv, job["id"], p) for p in (1, 2, 3)]
    assert ink[1] > 3 * ink[0] and ink[1] > 3 * ink[2], f"the picture is not page 2: ink per page {ink}"
    # the document the console shows is those fax pages
    pdf = srv.get(f"/admin/fax-jobs/{job['id']}/pdf", key=BOOT)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF"), pdf.text[:200]
    assert pdf_page_count(pdf.content, str(tmp_path)) == 3


def test_several_files_bad_one_is_named(server):
    srv = server(API_KEY=BOOT)
    files = [("file", ("ok.txt", b"fine\n", "text/plain")),
             ("file", ("blob.bin", bytes(range(256)) * 8, "application/octet-stream"))]
    r = srv.post("/fax", key=BOOT, data={"to": PHONE}, files=files)
    assert_detail(r, 415, "file 2 (blob.bin)")
    files = [("file", ("ok.txt", b"fine\n", "text/plain")), ("file", ("empty.txt", b"", "text/plain"))]
    assert_detail(srv.post("/fax", key=BOOT, data={"to": PHONE}, files=files), 400, "file 2 (empty.txt)")
    files = [("file", (f"f{i}.txt", b"x\n", "text/plain")) for i in range(11)]
    assert_detail(srv.post("/fax", key=BOOT, data={"to": PHONE}, files=files), 400, "at most 10")
    # nothing was left behind by the refused uploads
    assert srv.get("/fax", key=BOOT).json()["items"] == []


def test_job_list_filters_by_backend_and_date(server):
    srv = server(API_KEY=BOOT)
    first = create_job(srv, key=BOOT)
    time.sleep(1.1)
    mark = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    time.sleep(1.1)
    second = create_job(srv, key=BOOT)
    third = create_job(srv, key=BOOT, to="+15550109999")

    def ids(query):
        r = srv.get("/fax?" + query, key=BOOT)
        assert r.status_code == 200, r.text
        return [j["id"] for j in r.json()["items"]]

    assert ids("backend=loopback") == [third["id"], second["id"], first["id"]]
    assert ids("backend=phaxio") == []
    assert ids(f"since={mark}") == [third["id"], second["id"]]
    assert ids(f"until={mark}") == [first["id"]]
    assert ids(f"since={mark}&backend=loopback&to=%2B15550109999") == [third["id"]]
    # paging inside a date range keeps to it
    page = srv.get(f"/fax?since={mark}&limit=1", key=BOOT).json()
    assert [j["id"] for j in page["items"]] == [third["id"]] and page["next_cursor"]
    rest = srv.get(f"/fax?since={mark}&limit=5&cursor={page['next_cursor']}", key=BOOT).json()
    assert [j["id"] for j in rest["items"]] == [second["id"]]
    assert_detail(srv.get("/fax?since=yesterday", key=BOOT), 400, "ISO-8601")
    assert_detail(srv.get(f"/fax?since={mark}&until={mark}", key=BOOT), 400, "later")
    assert_detail(srv.get("/fax?backend=no%20such", key=BOOT), 400, "backend")


def test_console_sessions_survive_a_restart_but_not_sign_out_or_revoke(server):
    srv = server(API_KEY=BOOT)
    key = make_key(srv, ["fax:read", "inbound:list"])
    s, csrf = console(srv, key)
    gone, gone_csrf = console(srv, key)
    other, _ = console(srv)                         # the bootstrap key's session
    cookie = s.cookies.get("faxbot_session")
    r = gone.delete(srv.url + "/admin/ui/session", headers={"X-CSRF-Token": gone_csrf})
    assert r.status_code == 200, r.text
    srv.restart()
    again = s.get(srv.url + "/admin/ui/session")
    assert again.status_code == 200 and again.json()["csrf_token"] == csrf, again.text
    assert s.get(srv.url + "/fax").status_code == 200
    assert other.get(srv.url + "/admin/api-keys").status_code == 200
    assert_detail(gone.get(srv.url + "/admin/ui/session"), 401)    # signed out stays signed out
    # the database holds a hash of the session id, never the cookie itself (the SQLite
    # file is looked at; on PostgreSQL runs, FAXBOT_TEST_DB=pg, the table)
    if "DATABASE_URL" in srv.env:
        from conftest import shared_pg
        url = srv.env["DATABASE_URL"]
        rows = shared_pg().sql("SELECT id_hash, key_id, key_hash, csrf FROM console_sessions",
                               db=url.split("///", 1)[1].split("?", 1)[0])
        assert rows and all(cookie not in v for row in rows for v in row), rows
    else:
        db = open(srv.data_dir + "/faxbot.db", "rb").read() + (
            open(srv.data_dir + "/faxbot.db-wal", "rb").read() if os.path.exists(srv.data_dir + "/faxbot.db-wal") else b"")
        assert cookie.encode() not in db
    # revoking the key ends its session, also after the next restart
    key_id = key.split("_")[2]
    assert srv.delete(f"/admin/api-keys/{key_id}", key=BOOT).status_code == 200
    srv.restart()
    assert_detail(s.get(srv.url + "/fax"), 401)
    assert other.get(srv.url + "/admin/api-keys").status_code == 200


def test_log_stream_shows_pbx_fax_events_from_asterisk(server, tmp_path):
    """FAX_BACKEND=sip against the AMI stand-in (tests/peers/ami_peer.py): the Logs
    page's stream carries the SIP backend's lines about the fax (the Originate and
    its result) as source "pbx", the number masked."""
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
    from ami_peer import AmiPeer
    peer = AmiPeer(secret="ami-Secret-4711")
    try:
        spool = tmp_path / "spool"
        spool.mkdir()
        srv = server(FAX_BACKEND="sip", ASTERISK_AMI_HOST="127.0.0.1", ASTERISK_AMI_PORT=peer.port,
                     ASTERISK_AMI_USERNAME="faxbot", ASTERISK_AMI_PASSWORD="ami-Secret-4711",
                     ASTERISK_SPOOL_DIR=str(spool), API_KEY=BOOT)
        wait_for(lambda: srv.get("/health/ready").status_code == 200, "the AMI login")
        s, _ = console(srv)
        job = {}

        def send_later():
            time.sleep(0.5)
            job.update(create_job(srv, key=BOOT, to="+15550104490"))

        t = threading.Thread(target=send_later)
        t.start()
        try:
            events = read_sse(s, srv.url + "/admin/logs/stream?history=0", lambda ev: job and any(
                e["data"]["source"] == "pbx" and job["id"] in e["data"]["message"] and "delivered" in e["data"]["message"]
                for e in ev), 30)
        finally:
            t.join()
        pbx = [e["data"]["message"] for e in events if e["data"]["source"] == "pbx" and job["id"] in e["data"]["message"]]
        assert any("originating to" in m for m in pbx), pbx
        assert not any("5550104490" in m for m in pbx) and any("4490" in m for m in pbx), pbx
        final, _ = wait_job(srv, job["id"], key=BOOT)
        assert final["status"] == "SUCCESS", final
    finally:
        peer.close()
