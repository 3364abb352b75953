"""test_loopback.py — the built-in fax engine end to end through the API: a document
is sent over the simulated line (audio or T.38, ECM on or off), received by the
built-in receiver and stored as an inbound fax; `faxbot tiff-compare` proves the
received pages equal the sent ones.  Also: a 300-dpi scan is scaled to the fax
width, standard resolution, and a hopeless line that retries and then fails
without leaving an inbound fax behind."""

import re
import time

import pytest

import documents as docs
from helpers import (TERMINAL, assert_job_shape, create_job, fetch, get_job, pdf_page_count,
                     run_cli, slow_factor, tiff_pages, wait_job)

COMPARE_RE = re.compile(r"identical: (\d+) pages \(header band of (\d+) rows\)")


def _success(srv, job_id, pages):
    final, seen = wait_job(srv, job_id, timeout=60)
    assert final["status"] == "SUCCESS", f"ended {final['status']} via {seen}: {final}"
    assert_job_shape(final)
    assert final["pages"] == pages, final
    assert isinstance(final["bit_rate"], int) and final["bit_rate"] > 0, final
    assert isinstance(final["duration_s"], (int, float)) and final["duration_s"] > 0, final
    assert isinstance(final["inbound_id"], str) and re.fullmatch(r"[0-9a-f]{32}",
                                                                 final["inbound_id"]), final
    return final


def _compare(srv, job, tmp_path, cli_env, tag="x"):
    """Downloads the sent and the received TIFF and runs `faxbot tiff-compare`;
    returns (exit code, output, sent pages, received pages)."""
    sent = fetch(srv, f"/fax/{job['id']}/tiff", ctype="image/tiff").content
    recv = fetch(srv, f"/inbound/{job['inbound_id']}/tiff", ctype="image/tiff").content
    sent_path, recv_path = tmp_path / f"sent-{tag}.tif", tmp_path / f"recv-{tag}.tif"
    sent_path.write_bytes(sent)
    recv_path.write_bytes(recv)
    code, out, err = run_cli(["tiff-compare", str(sent_path), str(recv_path)], cli_env)
    return code, out + err, tiff_pages(sent), tiff_pages(recv)


def _assert_identical(srv, job, tmp_path, cli_env, pages, tag="x"):
    code, text, sent, recv = _compare(srv, job, tmp_path, cli_env, tag)
    assert code == 0, f"tiff-compare exit {code}: {text}"
    m = COMPARE_RE.search(text)
    assert m, f"tiff-compare output: {text!r}"
    assert int(m.group(1)) == pages, text
    assert len(sent) == len(recv) == pages, (sent, recv)
    band = int(m.group(2))
    for i, (s, r) in enumerate(zip(sent, recv), start=1):
        assert s["width"] == r["width"] == 1728, f"page {i}: sent {s}, received {r}"
        # the received page is the sent one with the header band on top
        assert r["length"] - s["length"] == band, f"page {i}: sent {s}, received {r}, band {band}"
    return sent, recv


LINES = [("audio", "true"), ("audio", "false"), ("t38", "true"), ("t38", "false")]


@pytest.mark.parametrize("transport,ecm", LINES, ids=[f"{t}-ecm_{e}" for t, e in LINES])
def test_three_pages_over_the_line_arrive_intact(server, tmp_path, cli_env, transport, ecm):
    srv = server(LOOPBACK_TRANSPORT=transport, LOOPBACK_ECM=ecm)
    job = create_job(srv, content=docs.pdf_text(3), filename="three.pdf",
                     content_type="application/pdf")
    final = _success(srv, job["id"], 3)
    assert final["ecm"] is (ecm == "true"), f"LOOPBACK_ECM={ecm} but job says ecm={final['ecm']}"

    _assert_identical(srv, final, tmp_path, cli_env, 3)

    r = fetch(srv, "/inbound")
    listed = [f for f in r.json() if f["id"] == final["inbound_id"]]
    assert len(listed) == 1, f"inbound {final['inbound_id']} not listed: {r.json()}"
    assert listed[0]["pages"] == 3, listed[0]
    assert listed[0]["source_job_id"] == final["id"], listed[0]
    assert listed[0]["status"] == "received", listed[0]
    assert listed[0]["to"] == final["to"], listed[0]

    one = fetch(srv, f"/inbound/{final['inbound_id']}").json()
    url = one["pdf_url"]
    assert re.match(rf"^(/|{re.escape(srv.url)}/)inbound/{final['inbound_id']}/pdf\?token=.+", url), url
    path = url[len(srv.url):] if url.startswith(srv.url) else url
    pdf = fetch(srv, path, ctype="application/pdf").content
    assert pdf.startswith(b"%PDF"), pdf[:20]
    assert pdf_page_count(pdf, tmp_path) == 3


@pytest.fixture(scope="module")
def default_line(module_server):
    return module_server()


def test_300dpi_letter_width_tiff_is_scaled_to_fax_width(default_line, tmp_path, cli_env):
    srv = default_line
    scan = docs.bilevel_tiff(2550, 3300, 300)
    assert tiff_pages(scan)[0]["width"] == 2550
    job = create_job(srv, content=scan, filename="scan300.tif", content_type="image/tiff")
    final = _success(srv, job["id"], 1)
    engine = tiff_pages(fetch(srv, f"/fax/{job['id']}/tiff", ctype="image/tiff").content)
    assert len(engine) == 1, engine
    assert engine[0]["width"] == 1728, f"the engine got a {engine[0]['width']}-px-wide page: {engine}"
    assert abs(engine[0]["xres"] - 204) < 1, engine
    _assert_identical(srv, final, tmp_path, cli_env, 1)


def test_standard_resolution_is_98_lpi_and_intact(default_line, tmp_path, cli_env):
    srv = default_line
    job = create_job(srv, content=docs.pdf_text(2), filename="std.pdf",
                     fields={"resolution": "standard"})
    assert job["resolution"] == "standard"
    final = _success(srv, job["id"], 2)
    sent, recv = _assert_identical(srv, final, tmp_path, cli_env, 2, tag="std")
    for page in sent:
        assert abs(page["yres"] - 98) < 1.5, f"standard resolution should be 98 lpi: {sent}"
    for page in recv:
        assert abs(page["yres"] - 98) < 1.5, f"received standard fax should be 98 lpi: {recv}"

    # tiff-compare is not a rubber stamp: a fine 2-page fax does not match it
    fine = create_job(srv, content=docs.pdf_text(2), filename="fine.pdf")
    fine = _success(srv, fine["id"], 2)
    fine_sent = fetch(srv, f"/fax/{fine['id']}/tiff").content
    for page in tiff_pages(fine_sent):
        assert abs(page["yres"] - 196) < 2, page
    (tmp_path / "fine-sent.tif").write_bytes(fine_sent)
    code, out, err = run_cli(["tiff-compare", str(tmp_path / "fine-sent.tif"),
                              str(tmp_path / "recv-std.tif")], cli_env)
    assert code == 1, f"fine vs standard compared equal? exit {code}: {out}{err}"
    assert "different:" in out + err, out + err


def test_hopeless_t38_line_no_answer_then_failed_without_inbound(server):
    srv = server(LOOPBACK_TRANSPORT="t38", LOOPBACK_IMPAIRMENT="100", FAX_MAX_ATTEMPTS="3",
                 FAX_RETRY_BASE_SECONDS="1")
    job = create_job(srv, content=b"this fax cannot get through\n", filename="x.txt")
    assert job["max_attempts"] == 3
    deadline = time.monotonic() + 90 * slow_factor()
    history = []
    in_progress_since = None
    while time.monotonic() < deadline:
        cur = get_job(srv, job["id"])
        key = (cur["status"], cur["attempts"], cur["failure_reason"])
        if not history or history[-1] != key:
            history.append(key)
        if cur["status"] == "in_progress":
            in_progress_since = in_progress_since or time.monotonic()
            assert time.monotonic() - in_progress_since < 30 * slow_factor(), \
                f"stuck in_progress; history {history}"
        else:
            in_progress_since = None
        if cur["status"] in TERMINAL:
            break
        time.sleep(0.1)
    assert cur["status"] == "FAILED", f"not FAILED within 90 s; history {history}; last {cur}"
    assert cur["attempts"] == 3, f"attempts {cur['attempts']}; history {history}"
    assert cur["failure_reason"] == "no_answer", cur
    assert isinstance(cur["error"], str) and cur["error"], cur
    assert cur["inbound_id"] is None, cur
    attempts = [a for _, a, _ in history]
    assert attempts == sorted(attempts), f"attempts went down: {history}"
    between = [h for h in history if h[0] != "FAILED" and h[1] in (1, 2)]
    assert between, f"the retries were never visible (attempts 1 or 2 before FAILED): {history}"
    for status, _, reason in between:
        if status == "queued":
            assert reason == "no_answer", f"a retry waits with failure_reason no_answer: {history}"
    assert "SUCCESS" not in [h[0] for h in history]
    assert fetch(srv, "/inbound").json() == [], "a failed call must not create an inbound fax"
