"""test_send.py — POST /fax and the job routes: intake, validation, listing, cancel,
the tokenized PDF and the TIFF, all over real HTTP against the real server."""

import os
import re
import time

import pytest

import documents as docs
from helpers import (ID_RE, PHONE, TERMINAL, assert_detail, assert_job_shape, create_job,
                     get_job, multipart_body, raw_post, send_fax, wait_job, wait_jobs)

KEY = "send-test-bootstrap-key-0123456789"

KINDS = {
    # kind: (bytes factory, file name, declared type, expected pages)
    "pdf3": (lambda: docs.pdf_text(3), "three.pdf", "application/pdf", 3),
    "text": (docs.utf8_text, "note.txt", "text/plain; charset=utf-8", 1),
    "png": (docs.png_image, "pic.png", "image/png", 1),
    "jpeg": (docs.jpeg_image, "pic.jpg", "image/jpeg", 1),
    "tiff": (docs.tiff_image, "scan.tif", "image/tiff", 1),
    # type is sniffed from the bytes: a PDF named .txt and declared text/plain is a PDF
    "pdf_misnamed": (lambda: docs.pdf_text(2), "looks-like.txt", "text/plain", 2),
}


@pytest.fixture(scope="module")
def kinds_run(module_server):
    """One server; every kind of document submitted at once, then awaited by the tests."""
    srv = module_server(API_KEY=KEY)
    responses = {}
    for kind, (make, name, ctype, _) in KINDS.items():
        responses[kind] = send_fax(srv, to="(555) 123-4567", content=make(), filename=name,
                                   content_type=ctype, key=KEY)
    return srv, responses


@pytest.mark.parametrize("kind", list(KINDS))
def test_send_kind_accepted_and_delivered(kinds_run, kind):
    srv, responses = kinds_run
    r = responses[kind]
    assert r.status_code == 202, f"{kind}: {r.status_code} {r.text[:500]}"
    job = r.json()
    assert_job_shape(job)
    assert job["status"] in ("queued", "in_progress")
    assert job["to"] == "+15551234567"
    assert job["backend"] == "loopback"
    assert job["file_name"] == KINDS[kind][1]
    assert job["pdf_url"].startswith(f"{srv.url}/fax/{job['id']}/pdf?token="), job["pdf_url"]
    final, seen = wait_job(srv, job["id"], key=KEY, timeout=60)
    assert final["status"] == "SUCCESS", f"{kind}: ended {final['status']} via {seen}: {final}"
    assert_job_shape(final)
    assert final["pages"] == KINDS[kind][3], f"{kind}: pages {final['pages']}"
    assert final["failure_reason"] is None and final["error"] is None, final
    assert isinstance(final["bit_rate"], int) and final["bit_rate"] > 0, final
    assert isinstance(final["ecm"], bool), final
    assert isinstance(final["duration_s"], (int, float)) and final["duration_s"] > 0, final
    assert final["remote_station_id"] is not None, final
    assert final["attempts"] >= 1
    assert final["created_at"] <= final["updated_at"]
    assert "pdf_url" not in final or final["pdf_url"] is None, \
        "the PDF token must only be shown in the 202 response"


def test_missing_fields_422(server):
    srv = server()
    assert_detail(send_fax(srv, to=None), 422, "to")
    assert_detail(send_fax(srv, content=None), 422, "file")


def test_not_multipart(server):
    srv = server()
    r = srv.post("/fax", json={"to": PHONE, "file": "aGVsbG8="})
    assert r.status_code in (400, 415), r.text
    assert_detail(r, r.status_code)
    r = srv.post("/fax", data=b"to=%2B15551234567", headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code in (400, 415, 422), r.text
    assert_detail(r, r.status_code)


@pytest.mark.parametrize("bad", ["abc5551234", "555-CALL-NOW", "12345", "+12345",
                                 "1" * 21, "+" + "1" * 21, "++15551234567", "+1555123456#",
                                 "", "   ", "+", "1555 123 4567;rm"])
def test_bad_numbers_400(module_server, bad):
    srv = module_server(FAX_WORKERS="1")
    r = send_fax(srv, to=bad)
    if bad.strip() == "" and r.status_code == 422:
        return  # an empty field may be treated as missing
    assert_detail(r, 400)


NORMALIZE = [
    ("(555) 123-4567", "+15551234567"),
    ("555.123.4567", "+15551234567"),
    ("5551234567", "+15551234567"),
    ("15551234567", "+15551234567"),
    ("1-555-123-4567", "+15551234567"),
    ("+1 555 123 4567", "+15551234567"),
    ("+44 20 7946 0958", "+442079460958"),
    ("0044 20 7946 0958", "+442079460958"),
    ("004420-7946-0958", "+442079460958"),
    ("+" + "4" * 15, "+" + "4" * 15),       # E.164's longest (16 and more: test_input_rules.py)
    ("+123456", "+123456"),
]


@pytest.mark.parametrize("raw,expected", NORMALIZE)
def test_number_normalization(module_server, raw, expected):
    srv = module_server(FAX_WORKERS="1")
    job = create_job(srv, to=raw)
    assert job["to"] == expected
    assert get_job(srv, job["id"])["to"] == expected


@pytest.mark.parametrize("raw,expected", [
    ("020 7946 0958", "+442079460958"),   # national with trunk 0
    ("2079460958", "+442079460958"),      # 10 digits but country code is not 1
    ("442079460958", "+442079460958"),    # starts with the country code
    ("0033 1 23 45 67 89", "+33123456789"),
    ("+1 555 123 4567", "+15551234567"),
])
def test_number_normalization_other_country(module_server, raw, expected):
    srv = module_server(FAX_WORKERS="1", FAX_DEFAULT_COUNTRY_CODE="44")
    assert create_job(srv, to=raw)["to"] == expected


def _files_under(root):
    out = []
    for dirpath, _, names in os.walk(root):
        out.extend(os.path.join(dirpath, n) for n in names)
    return out


def test_oversized_413_and_no_leftovers(server):
    srv = server(MAX_FILE_SIZE_MB="1")
    before = set(_files_under(srv.data_dir))
    big = b"%PDF-1.4\n" + b"0" * (2 * 1024 * 1024)
    body, ctype = multipart_body({"to": PHONE}, "big.pdf", big, "application/pdf")
    status, resp, send_err = raw_post(srv.port, "/fax", body, ctype)
    assert status == 413, (f"expected 413 for a 2 MB upload with MAX_FILE_SIZE_MB=1, got "
                           f"{status} (send error {send_err!r}); response: {resp[:500]!r}")
    assert re.search(r"\b1 ?MB", resp), f"413 detail should mention the 1 MB limit: {resp[-300:]!r}"
    # server still fine, nothing left behind
    assert srv.get("/health").status_code == 200
    assert srv.get("/fax").json()["items"] == []
    outbound = os.path.join(srv.data_dir, "outbound")
    if os.path.isdir(outbound):
        assert os.listdir(outbound) == [], f"rejected upload left {os.listdir(outbound)}"
    new_files = set(_files_under(srv.data_dir)) - before
    big_files = [p for p in new_files if os.path.getsize(p) > 256 * 1024
                 and not re.search(r"faxbot\.db(-wal|-shm)?$", p)]
    assert not big_files, f"rejected upload left files behind: {big_files}"
    # and a small upload right after still works (also over requests)
    create_job(srv)


def test_oversized_413_with_requests_client(server):
    """What an SDK built on requests sees: the whole body is sent, then the answer read."""
    srv = server(MAX_FILE_SIZE_MB="1")
    r = send_fax(srv, content=b"%PDF-1.4\n" + b"1" * (3 * 1024 * 1024), filename="big.pdf")
    assert_detail(r, 413, "1 MB")
    assert srv.get("/health").status_code == 200


def test_file_under_limit_accepted(server):
    srv = server(MAX_FILE_SIZE_MB="1", FAX_WORKERS="1")
    data = docs.pdf_text(1)
    data = data + b"%" + b" " * (1_000_000 - len(data) - 2) + b"\n"
    assert len(data) == 1_000_000
    job = create_job(srv, content=data, filename="exact.pdf")
    assert job["status"] in ("queued", "in_progress")


@pytest.mark.parametrize("what", ["random", "zip", "empty"])
def test_unsupported_type_415(server, what):
    srv = server()
    content = {"random": docs.random_binary, "zip": docs.zip_archive, "empty": lambda: b""}[what]()
    r = send_fax(srv, content=content, filename="doc.pdf", content_type="application/pdf")
    if what == "empty":
        assert r.status_code in (400, 415, 422), r.text
        assert_detail(r, r.status_code)
    else:
        assert_detail(r, 415)
    assert srv.get("/fax").json()["items"] == []


def test_client_file_name_never_becomes_a_path(server, tmp_path):
    srv = server()
    # data dir is <workdir>/data; "../../etc/passwd" from outbound/<id>/ would land in it
    # or next to it, from the data dir itself in tmp_path
    names = ["../../etc/passwd", "../../../etc/passwd", "/etc/passwd", "..\\..\\evil.txt",
             "a/../../b.txt"]
    passwd_mtime = os.stat("/etc/passwd").st_mtime
    ids = []
    for name in names:
        r = send_fax(srv, content=b"path traversal test\n", filename=name)
        assert r.status_code in (202, 400), f"{name!r}: {r.status_code} {r.text}"
        if r.status_code == 202:
            ids.append(r.json()["id"])
    assert ids, "at least the plain traversal names should be accepted (the name is only a label)"
    wait_jobs(srv, ids, timeout=60)
    assert os.stat("/etc/passwd").st_mtime == passwd_mtime
    for root in (tmp_path, os.path.dirname(srv.workdir)):
        for p in _files_under(root):
            base = os.path.basename(p)
            assert base not in ("passwd", "evil.txt", "b.txt"), f"client file name became a path: {p}"
    data_real = os.path.realpath(srv.data_dir)
    for p in _files_under(srv.data_dir):
        assert os.path.realpath(p).startswith(data_real + os.sep), p


def test_corrupt_pdf_fails_with_conversion_error(server):
    srv = server()
    job = create_job(srv, content=docs.corrupt_pdf(), filename="broken.pdf")
    final, seen = wait_job(srv, job["id"], timeout=60)
    assert final["status"] == "FAILED", f"ended {final['status']} via {seen}"
    assert final["failure_reason"] == "conversion_error", final
    assert isinstance(final["error"], str) and final["error"].strip(), final
    assert srv.get("/health").status_code == 200
    ready = srv.get("/health/ready")
    assert ready.status_code == 200, ready.text
    # and a good document still goes through afterwards
    good = create_job(srv, content=docs.pdf_text(1), filename="good.pdf")
    assert wait_job(srv, good["id"], timeout=60)[0]["status"] == "SUCCESS"


def test_idempotency_key(server):
    srv = server(API_KEY=KEY, FAX_WORKERS="1")
    a = send_fax(srv, key=KEY, headers={"Idempotency-Key": "order-42"})
    b = send_fax(srv, key=KEY, headers={"Idempotency-Key": "order-42"})
    c = send_fax(srv, key=KEY, headers={"Idempotency-Key": "order-43"})
    d = send_fax(srv, key=KEY)
    e = send_fax(srv, key=KEY)
    for r in (a, b, c, d, e):
        assert r.status_code == 202, r.text
    assert a.json()["id"] == b.json()["id"], "same Idempotency-Key must return the same job"
    assert c.json()["id"] != a.json()["id"]
    assert d.json()["id"] != e.json()["id"], "without Idempotency-Key every POST is a new job"
    items = srv.get("/fax", key=KEY).json()["items"]
    assert sorted(j["id"] for j in items) == sorted({a.json()["id"], c.json()["id"],
                                                     d.json()["id"], e.json()["id"]})


def test_resolution(server):
    srv = server(FAX_WORKERS="1")
    job = create_job(srv, fields={"resolution": "standard"})
    assert job["resolution"] == "standard"
    job = create_job(srv, fields={"resolution": "fine"})
    assert job["resolution"] == "fine"
    assert_detail(send_fax(srv, fields={"resolution": "bogus"}), 400, "resolution")


def test_optional_fields_accepted(server):
    srv = server(FAX_WORKERS="1")
    job = create_job(srv, fields={"header_text": "ACME Corp", "caller_id": "+15550001111"})
    assert ID_RE.match(job["id"])


def test_list_pagination_newest_first(server):
    srv = server(FAX_WORKERS="1")
    created = []
    for i in range(7):
        created.append(create_job(srv, content=f"job {i}\n".encode())["id"])
        time.sleep(0.005)
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        r = srv.get("/fax", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) >= {"items", "next_cursor"}
        pages += 1
        assert len(body["items"]) == (3 if pages < 3 else 1), body
        for job in body["items"]:
            assert_job_shape(job)
            assert "pdf_url" not in job or job["pdf_url"] is None
        seen += [j["id"] for j in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str) and cursor
        assert pages < 5, "pagination does not end"
    assert pages == 3
    assert len(seen) == len(set(seen)) == 7, f"duplicates or missing: {seen}"
    assert seen == list(reversed(created)), "list must be newest first"
    # default limit returns everything here
    assert [j["id"] for j in srv.get("/fax").json()["items"]] == list(reversed(created))
    assert srv.get("/fax", params={"limit": 500}).status_code == 200


def test_list_filters(server):
    srv = server(FAX_WORKERS="1")
    other = "+442079460958"
    mine = [create_job(srv, to=PHONE)["id"] for _ in range(3)]
    theirs = [create_job(srv, to=other)["id"] for _ in range(2)]
    r = srv.get("/fax", params={"to": other})
    assert r.status_code == 200, r.text
    assert sorted(j["id"] for j in r.json()["items"]) == sorted(theirs)
    r = srv.get("/fax", params={"to": PHONE})
    assert sorted(j["id"] for j in r.json()["items"]) == sorted(mine)
    # cancel what is still queued and filter on it
    cancelled = []
    for jid in reversed(mine + theirs):
        if srv.post(f"/fax/{jid}/cancel").status_code == 200:
            cancelled.append(jid)
    assert cancelled, "with one worker, at least one of 5 jobs must still be queued"
    r = srv.get("/fax", params={"status": "cancelled"})
    assert r.status_code == 200
    assert sorted(j["id"] for j in r.json()["items"]) == sorted(cancelled)
    for status in ("queued", "in_progress", "SUCCESS", "FAILED"):
        r = srv.get("/fax", params={"status": status})
        assert r.status_code == 200, f"status={status}: {r.text}"
        assert all(j["status"] == status for j in r.json()["items"])
    r = srv.get("/fax", params={"status": "cancelled", "to": other})
    assert all(j["to"] == other and j["status"] == "cancelled" for j in r.json()["items"])


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "-1"}, {"limit": "abc"},
                                    {"limit": "3x"}, {"status": "bogus"},
                                    {"cursor": "!!!not-a-cursor!!!"}])
def test_list_bad_params_400(module_server, params):
    srv = module_server()
    assert_detail(srv.get("/fax", params=params), 400)


def test_cancel(server):
    srv = server(FAX_WORKERS="1", FAX_BACKEND="loopback")
    ids = [create_job(srv, content=docs.pdf_text(2), filename="c.pdf")["id"] for _ in range(6)]
    outcomes = {}
    for jid in reversed(ids):
        r = srv.post(f"/fax/{jid}/cancel")
        assert r.status_code in (200, 409), r.text
        outcomes[jid] = r.status_code
        now = get_job(srv, jid)
        if r.status_code == 200:
            assert r.json()["status"] == "cancelled" and r.json()["id"] == jid
            assert now["status"] == "cancelled"
        else:
            assert_detail(r, 409)
            assert now["status"] in ("in_progress", "SUCCESS", "FAILED"), now
    assert 200 in outcomes.values(), "the last of 6 jobs on one worker must still be queued"
    # a cancelled job is final: a second cancel is a conflict, and it never gets sent
    cancelled = [j for j, c in outcomes.items() if c == 200]
    assert_detail(srv.post(f"/fax/{cancelled[0]}/cancel"), 409)
    wait_jobs(srv, ids, timeout=90)
    for jid in cancelled:
        job = get_job(srv, jid)
        assert job["status"] == "cancelled", job
        assert srv.get(f"/fax/{jid}/tiff").status_code == 404


def test_unknown_job_404(server):
    srv = server()
    missing = "0" * 32
    assert_detail(srv.get(f"/fax/{missing}"), 404, "Job not found")
    assert srv.get(f"/fax/{missing}").json() == {"detail": "Job not found"}
    assert_detail(srv.post(f"/fax/{missing}/cancel"), 404)
    assert_detail(srv.get(f"/fax/{missing}/tiff"), 404)
    assert srv.get("/fax/not-an-id").status_code == 404
    assert srv.get("/fax/" + "A" * 32).status_code == 404


def _token(job):
    m = re.search(r"/fax/([0-9a-f]{32})/pdf\?token=([^&]+)$", job["pdf_url"])
    assert m and m.group(1) == job["id"], job["pdf_url"]
    return m.group(2)


def test_pdf_token(server):
    srv = server(API_KEY=KEY)
    job = create_job(srv, key=KEY, content=docs.pdf_text(2), filename="p.pdf")
    token = _token(job)
    wait_job(srv, job["id"], key=KEY)
    r = srv.get(f"/fax/{job['id']}/pdf", params={"token": token})  # no API key needed
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/pdf")
    assert r.content.startswith(b"%PDF")
    # the full URL as given works too
    assert srv.session.get(job["pdf_url"], timeout=30).status_code == 200
    assert_detail(srv.get(f"/fax/{job['id']}/pdf", params={"token": token[:-1] + (
        "A" if token[-1] != "A" else "B")}), 403)
    assert_detail(srv.get(f"/fax/{job['id']}/pdf", params={"token": "x"}), 403)
    assert_detail(srv.get(f"/fax/{job['id']}/pdf"), 422)
    assert_detail(srv.get(f"/fax/{'f' * 32}/pdf", params={"token": token}), 404)
    # another job's token does not open this one
    other = create_job(srv, key=KEY)
    assert_detail(srv.get(f"/fax/{job['id']}/pdf", params={"token": _token(other)}), 403)


def test_pdf_token_for_text_is_a_pdf(server):
    srv = server()
    job = create_job(srv, content=docs.utf8_text(), filename="t.txt")
    wait_job(srv, job["id"])
    r = srv.get(f"/fax/{job['id']}/pdf", params={"token": _token(job)})
    assert r.status_code == 200 and r.content.startswith(b"%PDF"), r.content[:100]


def test_pdf_token_expired(server):
    srv = server(PDF_TOKEN_TTL_MINUTES="0")
    job = create_job(srv, content=docs.pdf_text(1), filename="p.pdf")
    wait_job(srv, job["id"])
    assert_detail(srv.get(f"/fax/{job['id']}/pdf", params={"token": _token(job)}), 403)


def test_public_api_url(server):
    srv = server(PUBLIC_API_URL="https://fax.example.org")
    job = create_job(srv)
    assert job["pdf_url"].startswith(f"https://fax.example.org/fax/{job['id']}/pdf?token="), \
        job["pdf_url"]


def test_tiff_after_conversion(server):
    srv = server(API_KEY=KEY)
    job = create_job(srv, key=KEY, content=docs.pdf_text(3), filename="t.pdf")
    final, _ = wait_job(srv, job["id"], key=KEY)
    assert final["status"] == "SUCCESS", final
    assert srv.get(f"/fax/{job['id']}/tiff").status_code == 401
    r = srv.get(f"/fax/{job['id']}/tiff", key=KEY)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("image/tiff")
    assert r.content[:4] in (b"II*\x00", b"MM\x00*"), r.content[:8]
    assert os.path.isfile(os.path.join(srv.data_dir, "outbound", job["id"], "fax.tiff"))


def test_tiff_404_while_queued(server):
    srv = server(FAX_WORKERS="1")
    ids = [create_job(srv, content=docs.pdf_text(2), filename="q.pdf")["id"] for _ in range(4)]
    last = ids[-1]
    before = get_job(srv, last)["status"]
    r = srv.get(f"/fax/{last}/tiff")
    after = get_job(srv, last)["status"]
    if before == after == "queued":
        assert_detail(r, 404)
    else:
        assert r.status_code in (200, 404)


def test_job_files_on_disk(server):
    srv = server()
    job = create_job(srv, content=docs.pdf_text(1), filename="d.pdf")
    final, _ = wait_job(srv, job["id"])
    assert final["status"] == "SUCCESS"
    d = os.path.join(srv.data_dir, "outbound", job["id"])
    with open(os.path.join(d, "original"), "rb") as f:
        assert f.read() == docs.pdf_text(1)
    if "DATABASE_URL" not in srv.env:        # (on PostgreSQL runs the jobs are in the server)
        assert os.path.isfile(os.path.join(srv.data_dir, "faxbot.db"))


def test_statuses_are_exact(server):
    srv = server()
    job = create_job(srv)
    final, seen = wait_job(srv, job["id"])
    for s in seen:
        assert s in ("queued", "in_progress") + TERMINAL, seen


def test_idempotency_key_is_per_api_key(server):
    srv = server(API_KEY=KEY, FAX_WORKERS="1")
    keys = []
    for name in ("one", "two"):
        r = srv.post("/admin/api-keys", key=KEY,
                     json={"name": name, "owner": "t", "scopes": ["fax:send", "fax:read"]})
        assert r.status_code == 200, r.text
        keys.append(r.json()["token"])
    a = create_job(srv, key=keys[0], headers={"Idempotency-Key": "shared-key"})
    b = create_job(srv, key=keys[1], headers={"Idempotency-Key": "shared-key"})
    a2 = create_job(srv, key=keys[0], headers={"Idempotency-Key": "shared-key"})
    assert a["id"] != b["id"], "another API key's Idempotency-Key must not return its job"
    assert a2["id"] == a["id"]


def test_concurrent_posts(server):
    from concurrent.futures import ThreadPoolExecutor
    srv = server(FAX_WORKERS="2")

    def one(i):
        import requests
        with requests.Session() as s:
            s.trust_env = False
            files = {"file": (f"c{i}.txt", f"concurrent {i}\n".encode(), "text/plain")}
            return s.post(srv.url + "/fax", data={"to": PHONE}, files=files, timeout=60)

    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(one, range(32)))
    codes = [r.status_code for r in responses]
    assert codes == [202] * 32, codes
    ids = [r.json()["id"] for r in responses]
    assert len(set(ids)) == 32
    listed = srv.get("/fax", params={"limit": 100}).json()["items"]
    assert sorted(j["id"] for j in listed) == sorted(ids)
    assert srv.get("/health").status_code == 200
