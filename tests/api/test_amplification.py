"""test_amplification.py — documents that cost far more than their bytes, and
documents that only partly draw (issue 18, points 3 and 10), black box.

Text bombs are refused at CONVERT_MAX_PAGES while they are laid out, not after:
64 KB of form feeds and megabytes of unbreakable text fail at once with a message
naming the limit. One owner's heavy documents cannot take every worker: at most
CONVERT_PER_OWNER of them convert at once, so another client's one-line fax goes
through while they grind. A page Ghostscript could not draw completely (a form
that draws itself, an image in a file outside the PDF) fails the job, or with
CONVERT_ON_PAGE_ERROR=warn goes out with a warning the API shows.

Times are asserted only as generous bounds against the limits the test sets (a
refusal must come well before the conversion timeout), never as micro-timings."""

import time

import pytest

import documents as docs
from helpers import create_job, get_job, slow_factor, wait_job, wait_jobs

TIMEOUT_S = 30       # CONVERT_TIMEOUT_SECONDS in these tests: a refusal must come long before it


def _failed_fast(srv, content, filename, within):
    t0 = time.monotonic()
    job = create_job(srv, content=content, filename=filename)
    final, _ = wait_job(srv, job["id"], timeout=TIMEOUT_S * 2)
    took = time.monotonic() - t0
    assert final["status"] == "FAILED" and final["failure_reason"] == "conversion_error", final
    assert took < within * slow_factor(), f"refused after {took:.1f} s (bound {within * slow_factor():.0f} s)"
    return final


@pytest.fixture(scope="module")
def bomb_server(module_server):
    return module_server(CONVERT_MAX_PAGES="20", CONVERT_TIMEOUT_SECONDS=str(TIMEOUT_S), FAX_WORKERS="2")


def test_form_feed_bomb_refused_at_the_page_limit(bomb_server):
    final = _failed_fast(bomb_server, b"\f\n" * 32768, "ff.txt", within=10)
    assert "the text makes more than 20 pages" in final["error"], final["error"]


def test_unbreakable_text_refused_at_the_page_limit(bomb_server):
    final = _failed_fast(bomb_server, b"x" * (4 * 1024 * 1024), "wall.txt", within=10)
    assert "the text makes more than 20 pages" in final["error"], final["error"]
    # the gateway is not held up: a normal fax right after goes through
    ok = create_job(bomb_server, content=b"one line\n")
    assert wait_job(bomb_server, ok["id"])[0]["status"] == "SUCCESS"


def test_many_page_tiff_refused_from_its_headers(bomb_server):
    tiff = docs.tiff_image()
    # the same small page 30 times: over the limit of 20, refused before drawing
    import io
    import struct
    many = _repeat_tiff_pages(tiff, 30)
    final = _failed_fast(bomb_server, many, "many.tif", within=10)
    assert "more than 20 pages" in final["error"], final["error"]


def _repeat_tiff_pages(tiff, n):
    """A TIFF with n directories pointing at the first page's data (little- or
    big-endian classic TIFF): n pages for the bytes of one."""
    import struct
    bo = "<" if tiff[:2] == b"II" else ">"
    first = struct.unpack(bo + "I", tiff[4:8])[0]
    count = struct.unpack(bo + "H", tiff[first:first + 2])[0]
    entries = tiff[first + 2:first + 2 + 12 * count]
    out = bytearray(tiff)
    while len(out) % 2:
        out += b"\0"
    offsets = []
    for _ in range(n - 1):
        offsets.append(len(out))
        out += struct.pack(bo + "H", count) + entries + b"\0\0\0\0"
    # chain: first IFD -> offsets[0] -> ... -> 0
    struct.pack_into(bo + "I", out, first + 2 + 12 * count, offsets[0])
    for a, b in zip(offsets, offsets[1:]):
        struct.pack_into(bo + "I", out, a + 2 + 12 * count, b)
    return bytes(out)


def test_one_owners_heavy_documents_do_not_starve_another(server):
    """Three heavy documents from one client, then a one-line fax from another: the
    one-line fax is done while the heavy ones are still converting (before
    CONVERT_PER_OWNER, all workers were taken by the heavy documents and the small
    fax waited for one of them to finish)."""
    boot = "fairness-bootstrap-key-8e21c4"
    srv = server(API_KEY=boot, FAX_WORKERS="3", CONVERT_PER_OWNER="1", CONVERT_MAX_PAGES="10000",
                 CONVERT_TIMEOUT_SECONDS="120")
    keys = {}
    for owner in ("heavy", "light"):
        r = srv.post("/admin/api-keys", key=boot, json={"name": owner, "owner": owner})
        assert r.status_code == 200, r.text
        keys[owner] = r.json()["token"]
    wall = b"x" * (2 * 1024 * 1024)          # seconds of layout each, within every limit
    heavy = [create_job(srv, key=keys["heavy"], content=wall, filename=f"wall{i}.txt")["id"] for i in range(3)]
    time.sleep(0.5)                           # the heavy ones have the workers first
    light = create_job(srv, key=keys["light"], content=b"a one-line fax\n")["id"]
    final, _ = wait_job(srv, light, key=keys["light"], timeout=60)
    assert final["status"] == "SUCCESS", final
    states = {jid: get_job(srv, jid, key=keys["heavy"])["status"] for jid in heavy}
    assert all(s in ("queued", "in_progress") for s in states.values()), \
        f"the one-line fax waited for the heavy documents: {states}"


@pytest.mark.parametrize("kind,words", [
    ("self_form", "could not be drawn completely"),
    ("external_stream", "outside itself"),
])
def test_page_drawing_errors_fail_the_job(module_server, kind, words):
    srv = module_server()
    job = create_job(srv, content=docs.pdf_broken_drawing(kind), filename=f"{kind}.pdf")
    final, _ = wait_job(srv, job["id"])
    assert final["status"] == "FAILED" and final["failure_reason"] == "conversion_error", final
    assert words in final["error"], final["error"]
    assert "CONVERT_ON_PAGE_ERROR" in final["error"], final["error"]


def test_page_drawing_errors_warn_when_configured(module_server):
    srv = module_server(CONVERT_ON_PAGE_ERROR="warn")
    ids = {kind: create_job(srv, content=docs.pdf_broken_drawing(kind), filename=f"{kind}.pdf")["id"]
           for kind in ("self_form", "external_stream", "clean")}
    done = wait_jobs(srv, list(ids.values()))
    for kind in ("self_form", "external_stream"):
        job = done[ids[kind]]
        assert job["status"] == "SUCCESS", job
        assert job["warning"] and "drawn only in part" in job["warning"], job
    clean = done[ids["clean"]]
    assert clean["status"] == "SUCCESS" and clean["warning"] is None, clean


def test_clean_pdf_has_no_warning_and_bad_setting_stops_the_start(server):
    srv = server()
    job = create_job(srv, content=docs.pdf_broken_drawing("clean"), filename="clean.pdf")
    final, _ = wait_job(srv, job["id"])
    assert final["status"] == "SUCCESS" and final["warning"] is None, final
    bad = server(expect_ready=False, CONVERT_ON_PAGE_ERROR="ignore")
    assert bad.proc.wait(timeout=10) != 0
    assert "CONVERT_ON_PAGE_ERROR" in bad.stderr_text()
