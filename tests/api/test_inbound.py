"""test_inbound.py — received faxes over the API: GET /inbound (a Faxbot-compatible
array with X-Next-Cursor paging and filters), GET /inbound/{id} with its short-lived
pdf_url, the token and key rules of the PDF and TIFF downloads, scopes, retention
dates, INBOUND_ENABLED=false, and crash safety (no inbound fax lost or doubled by
kill -9).  Every inbound fax here comes from the loopback engine receiving what
the server itself sent."""

import hashlib
import re
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

import documents as docs
from helpers import (ID_RE, ISO_RE, PHONE, assert_detail, create_job, fetch, get_job,
                     pdf_page_count, slow_factor, wait_job, wait_jobs)

BOOT = "inbound-bootstrap-key-7d1e0c55aa"
OTHER = "+442079460958"
NOBODY = "0123456789abcdef" * 2  # a well-formed id no fax has

INBOUND_FIELDS = ("id", "fr", "to", "status", "backend", "pages", "size_bytes", "created_at",
                  "received_at", "updated_at", "mailbox", "sha256", "remote_station_id",
                  "source_job_id", "retention_until", "artifacts_deleted_at")


def _parse_iso(s):
    assert isinstance(s, str) and ISO_RE.match(s), f"not ISO-8601 UTC: {s!r}"
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def _assert_inbound_shape(fax):
    missing = [f for f in INBOUND_FIELDS if f not in fax]
    assert not missing, f"inbound JSON lacks {missing}: {fax}"
    assert ID_RE.match(fax["id"]), fax
    assert fax["status"] == "received", fax
    assert fax["backend"] == "loopback", fax
    assert isinstance(fax["pages"], int) and fax["pages"] >= 1, fax
    assert isinstance(fax["size_bytes"], int) and fax["size_bytes"] > 0, fax
    assert isinstance(fax["sha256"], str) and re.fullmatch(r"[0-9a-f]{64}", fax["sha256"]), fax
    for f in ("created_at", "received_at", "updated_at"):
        _parse_iso(fax[f])
    assert fax["artifacts_deleted_at"] is None, fax


def _make_key(srv, scopes):
    r = srv.post("/admin/api-keys", key=BOOT, json={"name": "inbound test", "owner": "tests",
                                                    "scopes": scopes})
    assert r.status_code == 200, f"create key -> {r.status_code} {r.text}"
    return r.json()["token"]


def _token_path(fax):
    """The path of a GET /inbound/{id} pdf_url (relative unless PUBLIC_API_URL is set)."""
    url = fax["pdf_url"]
    m = re.fullmatch(r"(?:https?://[^/]+)?(/inbound/([0-9a-f]{32})/pdf\?token=([^&]+))", url)
    assert m and m.group(2) == fax["id"], f"pdf_url {url!r} for {fax['id']}"
    return m.group(1), m.group(3)


def _list_all(srv, key=BOOT, **params):
    r = srv.get("/inbound", key=key, params=params)
    assert r.status_code == 200, f"GET /inbound {params} -> {r.status_code} {r.text[:300]}"
    return r


# -- one server, three received faxes (two numbers), shared by most tests ----------

@pytest.fixture(scope="module")
def three(module_server):
    srv = module_server(API_KEY=BOOT, INBOUND_LIST_RPM="1000", INBOUND_GET_RPM="1000")
    jobs = []
    for i, to in enumerate((PHONE, OTHER, PHONE)):
        # one after the other, so that the receive order is known
        job = create_job(srv, key=BOOT, to=to, content=docs.pdf_text(1 + i % 2),
                         filename=f"in{i}.pdf")
        final, seen = wait_job(srv, job["id"], key=BOOT)
        assert final["status"] == "SUCCESS", f"{final} via {seen}"
        assert final["inbound_id"], f"a delivered loopback fax names its inbound fax: {final}"
        jobs.append(final)
    return srv, jobs


def test_list_is_an_array_of_received_faxes(three):
    srv, jobs = three
    r = _list_all(srv)
    assert r.headers["Content-Type"].startswith("application/json")
    items = r.json()
    assert isinstance(items, list), f"GET /inbound must be a JSON array: {items}"
    assert len(items) == 3, items
    for fax in items:
        _assert_inbound_shape(fax)
        assert "pdf_url" not in fax, f"list items carry no token URL: {fax}"
    by_job = {f["source_job_id"]: f for f in items}
    for job in jobs:
        fax = by_job.get(job["id"])
        assert fax is not None, f"no inbound fax for job {job['id']}: {items}"
        assert fax["id"] == job["inbound_id"], (fax, job)
        assert fax["to"] == job["to"], (fax, job)
        assert fax["pages"] == job["pages"], (fax, job)
    received = [_parse_iso(f["received_at"]) for f in items]
    assert received == sorted(received, reverse=True), f"not newest first: {received}"
    assert [f["source_job_id"] for f in items] == [j["id"] for j in reversed(jobs)], \
        "newest first: the last sent fax is received last"
    assert "X-Next-Cursor" not in r.headers, "everything fit in one page"


def test_get_one_with_pdf_url(three):
    srv, jobs = three
    listed = {f["id"]: f for f in _list_all(srv).json()}
    before = datetime.now(timezone.utc)
    fax = fetch(srv, f"/inbound/{jobs[0]['inbound_id']}", key=BOOT).json()
    for f in INBOUND_FIELDS:
        assert fax[f] == listed[fax["id"]][f], f"{f}: get {fax[f]!r} vs list {listed[fax['id']][f]!r}"
    path, token = _token_path(fax)
    assert path.startswith(f"/inbound/{fax['id']}/pdf?token="), fax["pdf_url"]
    expires = _parse_iso(fax["pdf_url_expires_at"])
    ttl = expires - before
    assert timedelta(minutes=59) < ttl <= timedelta(minutes=60, seconds=5), \
        f"pdf_url_expires_at {fax['pdf_url_expires_at']} is not ~60 min ahead"


def test_pdf_token_rules(three, tmp_path):
    srv, jobs = three
    a = fetch(srv, f"/inbound/{jobs[0]['inbound_id']}", key=BOOT).json()
    b = fetch(srv, f"/inbound/{jobs[1]['inbound_id']}", key=BOOT).json()
    path, token = _token_path(a)
    # the token alone opens it, no API key although auth is enforced
    r = fetch(srv, path, ctype="application/pdf")
    assert r.content.startswith(b"%PDF"), r.content[:20]
    assert pdf_page_count(r.content, tmp_path) == a["pages"]
    # a tampered token, a forged one, another fax's token: 403
    bad = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert_detail(srv.get(f"/inbound/{a['id']}/pdf", params={"token": bad}), 403, "Invalid token")
    mid = len(token) // 2
    flipped = token[:mid] + ("x" if token[mid] != "x" else "y") + token[mid + 1:]
    assert_detail(srv.get(f"/inbound/{a['id']}/pdf", params={"token": flipped}), 403)
    assert_detail(srv.get(f"/inbound/{a['id']}/pdf", params={"token": "forged"}), 403, "Invalid token")
    if "." in token:  # "<expiry>.<signature>": a later expiry under the same signature
        exp, sig = token.split(".", 1)
        if exp.isdigit():
            later = f"{int(exp) + 86_400_000}.{sig}"
            assert_detail(srv.get(f"/inbound/{a['id']}/pdf", params={"token": later}), 403)
    _, b_token = _token_path(b)
    assert_detail(srv.get(f"/inbound/{a['id']}/pdf", params={"token": b_token}), 403,
                  "Invalid token")
    # and a token does not stand in for a key anywhere else
    assert srv.get(f"/inbound/{a['id']}/tiff", params={"token": token}).status_code == 401
    assert srv.get(f"/inbound/{a['id']}", params={"token": token}).status_code == 401
    # no token: an API key with inbound:read is needed
    assert_detail(srv.get(f"/inbound/{a['id']}/pdf"), 401)
    assert_detail(srv.get(f"/inbound/{a['id']}/pdf", key="not-a-key"), 401)
    r = fetch(srv, f"/inbound/{a['id']}/pdf", key=BOOT, ctype="application/pdf")
    assert r.content.startswith(b"%PDF")


def test_size_and_sha256_describe_the_stored_pdf(three):
    """Faxbot computes an inbound fax's size_bytes and sha256 from the same stored PDF
    (reference FAXBOT.md 1.5: "tiff_to_pdf creates <id>.pdf, then size and sha256 are
    computed"); here both must at least describe the same file."""
    srv, jobs = three
    fax = fetch(srv, f"/inbound/{jobs[1]['inbound_id']}", key=BOOT).json()
    pdf = fetch(srv, f"/inbound/{fax['id']}/pdf", key=BOOT, ctype="application/pdf").content
    tiff = fetch(srv, f"/inbound/{fax['id']}/tiff", key=BOOT, ctype="image/tiff").content
    sizes = {"pdf": len(pdf), "tiff": len(tiff)}
    hashes = {"pdf": hashlib.sha256(pdf).hexdigest(), "tiff": hashlib.sha256(tiff).hexdigest()}
    assert fax["size_bytes"] in sizes.values(), f"size_bytes {fax['size_bytes']} vs {sizes}"
    assert fax["sha256"] in hashes.values(), f"sha256 {fax['sha256']} vs {hashes}"
    size_of = [k for k, v in sizes.items() if v == fax["size_bytes"]]
    hash_of = [k for k, v in hashes.items() if v == fax["sha256"]]
    assert size_of == hash_of, \
        (f"size_bytes is the size of the {size_of[0]} but sha256 is the hash of the "
         f"{hash_of[0]}; they must describe the same file (Faxbot: both of the PDF)")


def test_tiff_needs_a_key(three):
    srv, jobs = three
    fid = jobs[2]["inbound_id"]
    assert_detail(srv.get(f"/inbound/{fid}/tiff"), 401)
    r = fetch(srv, f"/inbound/{fid}/tiff", key=BOOT, ctype="image/tiff")
    assert r.content[:4] in (b"II*\x00", b"MM\x00*"), r.content[:8]


def test_lists_and_reads_need_a_key(three):
    srv, jobs = three
    fid = jobs[0]["inbound_id"]
    for path in ("/inbound", f"/inbound/{fid}"):
        assert srv.get(path).status_code == 401, path
        assert srv.get(path, key=BOOT + "x").status_code == 401, path


def test_scopes(three):
    srv, jobs = three
    fid = jobs[0]["inbound_id"]
    reader = _make_key(srv, ["fax:read"])
    assert fetch(srv, "/fax", key=reader).status_code == 200  # the key itself works
    assert_detail(srv.get("/inbound", key=reader), 403, "inbound:list")
    assert_detail(srv.get(f"/inbound/{fid}", key=reader), 403, "inbound:read")
    assert_detail(srv.get(f"/inbound/{fid}/pdf", key=reader), 403, "inbound:read")
    assert_detail(srv.get(f"/inbound/{fid}/tiff", key=reader), 403, "inbound:read")

    # the faxes came back from the bootstrap key's jobs, so they are its owner's: keys
    # of another owner see them with fax:all (test_owners.py covers owners)
    lister = _make_key(srv, ["inbound:list", "fax:all"])
    items = fetch(srv, "/inbound", key=lister).json()
    assert sorted(f["id"] for f in items) == sorted(j["inbound_id"] for j in jobs)
    assert_detail(srv.get(f"/inbound/{fid}", key=lister), 403, "inbound:read")
    assert_detail(srv.get(f"/inbound/{fid}/pdf", key=lister), 403, "inbound:read")
    assert_detail(srv.get(f"/inbound/{fid}/tiff", key=lister), 403, "inbound:read")

    both = _make_key(srv, ["inbound:list", "inbound:read", "fax:all"])
    assert fetch(srv, f"/inbound/{fid}", key=both).json()["id"] == fid
    assert fetch(srv, f"/inbound/{fid}/pdf", key=both).content.startswith(b"%PDF")
    assert fetch(srv, f"/inbound/{fid}/tiff", key=both, ctype="image/tiff")


def test_pagination_with_x_next_cursor(three):
    srv, jobs = three
    newest_first = [j["inbound_id"] for j in reversed(jobs)]
    pages, cursor = [], None
    while True:
        params = {"limit": 1}
        if cursor is not None:
            params["cursor"] = cursor
        r = _list_all(srv, **params)
        pages.append(r.json())
        assert len(pages[-1]) <= 1, pages[-1]
        cursor = r.headers.get("X-Next-Cursor")
        if cursor is None:
            break
        assert cursor.strip(), "an empty X-Next-Cursor"
        assert len(pages) <= 5, f"paging does not end: {pages}"
    seen = [f["id"] for page in pages for f in page]
    assert len(seen) == len(set(seen)), f"duplicates across pages: {seen}"
    assert seen == newest_first, f"pages not newest first / incomplete: {seen} vs {newest_first}"
    # limit=2: a full page with a cursor, then the rest without one
    r = _list_all(srv, limit=2)
    assert [f["id"] for f in r.json()] == newest_first[:2]
    assert "X-Next-Cursor" in r.headers
    r2 = _list_all(srv, limit=2, cursor=r.headers["X-Next-Cursor"])
    assert [f["id"] for f in r2.json()] == newest_first[2:]
    assert "X-Next-Cursor" not in r2.headers
    # the page holding the last fax has no cursor: no empty extra page for clients
    assert [len(p) for p in pages] == [1, 1, 1], \
        (f"with limit=1 over 3 faxes the 3rd page must not carry X-Next-Cursor "
         f"(no more rows exist); page sizes were {[len(p) for p in pages]}")


def test_filters(three):
    srv, jobs = three
    mine = sorted(j["inbound_id"] for j in jobs if j["to"] == PHONE)
    theirs = sorted(j["inbound_id"] for j in jobs if j["to"] == OTHER)
    assert len(mine) == 2 and len(theirs) == 1
    got = _list_all(srv, to_number=OTHER).json()
    assert sorted(f["id"] for f in got) == theirs and all(f["to"] == OTHER for f in got), got
    got = _list_all(srv, to_number=PHONE).json()
    assert sorted(f["id"] for f in got) == mine and all(f["to"] == PHONE for f in got), got
    assert _list_all(srv, to_number="+15550009999").json() == []
    assert len(_list_all(srv, status="received").json()) == 3
    assert _list_all(srv, status="deleted").json() == []
    assert _list_all(srv, mailbox="no-such-mailbox").json() == []


@pytest.mark.parametrize("limit", ["0", "501", "-1", "abc", "2x", "1.5"])
def test_bad_limit_400(three, limit):
    srv, _ = three
    assert_detail(srv.get("/inbound", key=BOOT, params={"limit": limit}), 400, "limit")


def test_limit_bounds_ok(three):
    srv, _ = three
    assert len(_list_all(srv, limit=500).json()) == 3
    assert len(_list_all(srv, limit=1).json()) == 1


def test_unknown_id_404(three):
    srv, jobs = three
    for path in (f"/inbound/{NOBODY}", f"/inbound/{NOBODY}/pdf", f"/inbound/{NOBODY}/tiff"):
        r = srv.get(path, key=BOOT)
        assert r.status_code == 404, f"{path}: {r.status_code} {r.text}"
        assert r.json() == {"detail": "Inbound fax not found"}, f"{path}: {r.text}"
    for path in ("/inbound/not-an-id", "/inbound/" + "A" * 32, "/inbound/%2e%2e"):
        assert_detail(srv.get(path, key=BOOT), 404)
    # a job id is not an inbound id
    assert srv.get(f"/inbound/{jobs[0]['id']}", key=BOOT).status_code == 404
    # a real fax's token does not open an unknown id
    _, token = _token_path(fetch(srv, f"/inbound/{jobs[0]['inbound_id']}", key=BOOT).json())
    assert srv.get(f"/inbound/{NOBODY}/pdf", params={"token": token}).status_code in (403, 404)


def test_retention_until_is_received_plus_30_days(three):
    srv, _ = three
    for fax in _list_all(srv).json():
        delta = _parse_iso(fax["retention_until"]) - _parse_iso(fax["received_at"])
        assert delta == timedelta(days=30), \
            f"retention_until {fax['retention_until']} != received_at {fax['received_at']} + 30 days"


# -- servers of their own ---------------------------------------------------------

def test_retention_days_setting_and_public_url(server):
    srv = server(API_KEY=BOOT, INBOUND_RETENTION_DAYS="0", PUBLIC_API_URL="https://fax.example.org",
                 INBOUND_TOKEN_TTL_MINUTES="5")
    job = create_job(srv, key=BOOT, content=docs.pdf_text(1), filename="keep.pdf")
    final, _ = wait_job(srv, job["id"], key=BOOT)
    assert final["status"] == "SUCCESS", final
    before = datetime.now(timezone.utc)
    fax = fetch(srv, f"/inbound/{final['inbound_id']}", key=BOOT).json()
    assert fax["retention_until"] is None, f"INBOUND_RETENTION_DAYS=0 keeps faxes forever: {fax}"
    assert fetch(srv, "/inbound", key=BOOT).json()[0]["retention_until"] is None
    assert fax["pdf_url"].startswith(f"https://fax.example.org/inbound/{fax['id']}/pdf?token="), \
        fax["pdf_url"]
    ttl = _parse_iso(fax["pdf_url_expires_at"]) - before
    assert timedelta(minutes=4) < ttl <= timedelta(minutes=5, seconds=5), fax["pdf_url_expires_at"]
    path, _ = _token_path(fax)
    assert fetch(srv, path, ctype="application/pdf").content.startswith(b"%PDF")


def test_retention_days_7(server):
    srv = server(INBOUND_RETENTION_DAYS="7")
    job = create_job(srv, content=b"retention\n", filename="r.txt")
    final, _ = wait_job(srv, job["id"])
    assert final["status"] == "SUCCESS", final
    fax = fetch(srv, f"/inbound/{final['inbound_id']}").json()
    delta = _parse_iso(fax["retention_until"]) - _parse_iso(fax["received_at"])
    assert delta == timedelta(days=7), fax


def test_inbound_disabled(server):
    srv = server(API_KEY=BOOT, INBOUND_ENABLED="false")
    job = create_job(srv, key=BOOT, content=docs.pdf_text(1), filename="off.pdf")
    final, _ = wait_job(srv, job["id"], key=BOOT)
    assert final["status"] == "SUCCESS", final
    assert final["inbound_id"] is None, final
    for path, params in (("/inbound", None), (f"/inbound/{NOBODY}", None),
                         (f"/inbound/{NOBODY}/pdf", None), (f"/inbound/{NOBODY}/tiff", None),
                         (f"/inbound/{NOBODY}/pdf", {"token": "anything"})):
        r = srv.get(path, key=BOOT, params=params)
        assert r.status_code == 404, f"{path}: {r.status_code} {r.text}"
        assert r.json() == {"detail": "Inbound not enabled"}, f"{path}: {r.text}"


def test_list_rate_limit(server):
    srv = server(API_KEY=BOOT, INBOUND_LIST_RPM="2")
    into = time.time() % 60
    if into > 60 - 4 * slow_factor():
        time.sleep(60 - into + 0.2)
    assert srv.get("/inbound", key=BOOT).status_code == 200
    assert srv.get("/inbound", key=BOOT).status_code == 200
    r = srv.get("/inbound", key=BOOT)
    assert_detail(r, 429, "Rate limit")
    assert int(r.headers["Retry-After"]) >= 1


def test_kill9_after_success_keeps_inbound_once(server):
    srv = server(API_KEY=BOOT, FAX_WORKERS="2", FAX_LEASE_SECONDS="5")
    first = [create_job(srv, key=BOOT, content=docs.pdf_text(1), filename=f"k{i}.pdf")["id"]
             for i in range(4)]
    deadline = time.monotonic() + 60 * slow_factor()
    done = None
    while done is None and time.monotonic() < deadline:
        for jid in first:
            if get_job(srv, jid, key=BOOT)["status"] == "SUCCESS":
                done = jid
                break
    assert done is not None, "no job succeeded in time"
    states_at_kill = Counter(get_job(srv, jid, key=BOOT)["status"] for jid in first)
    srv.kill9()  # right after a fax succeeded, others possibly mid-call
    srv.start()
    jobs = wait_jobs(srv, first, key=BOOT, timeout=60)
    survivor = jobs[done]
    assert survivor["status"] == "SUCCESS" and survivor["inbound_id"], survivor
    fax = fetch(srv, f"/inbound/{survivor['inbound_id']}", key=BOOT).json()
    assert fax["source_job_id"] == done, fax
    path, _ = _token_path(fax)
    assert fetch(srv, path, ctype="application/pdf").content.startswith(b"%PDF")
    assert fetch(srv, f"/inbound/{fax['id']}/tiff", key=BOOT, ctype="image/tiff")
    # more jobs run afterwards; still exactly one inbound fax per delivered job
    more = [create_job(srv, key=BOOT, content=f"after restart {i}\n".encode(),
                       filename=f"m{i}.txt")["id"] for i in range(2)]
    jobs.update(wait_jobs(srv, more, key=BOOT, timeout=60))
    items = fetch(srv, "/inbound", key=BOOT).json()
    per_job = Counter(f["source_job_id"] for f in items)
    dupes = {j: n for j, n in per_job.items() if n != 1}
    assert not dupes, f"inbound faxes per job (want 1 each): {dupes}; at kill: {states_at_kill}"
    for jid, job in jobs.items():
        if job["status"] == "SUCCESS":
            assert per_job[jid] == 1, f"delivered job {jid} has {per_job[jid]} inbound faxes"
            match = [f for f in items if f["source_job_id"] == jid]
            assert match[0]["id"] == job["inbound_id"], (match, job)
        else:
            assert per_job[jid] == 0, f"undelivered job {jid} has an inbound fax: {job}"
    assert set(per_job) <= set(jobs), f"inbound faxes for unknown jobs: {per_job}"
