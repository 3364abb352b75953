"""test_phaxio.py — FAX_BACKEND=phaxio end to end against tests/peers/phaxio_peer.py,
a Phaxio v2.1 stand-in that checks Basic auth, fetches the tokenized PDF like
Phaxio does, and posts signed v2.1 webhooks back.  Covers: a send from POST /fax to
SUCCESS (fields, tags, callback URL, the PDF fetch and its token), busy then retry,
4xx final, 5xx then one fax only, signature failures, replayed / stale /
out-of-order webhooks, the inbound webhook and its replay, kill -9 during the
submission both ways (Phaxio has the fax: follow it; Phaxio never got it: send once),
readiness and diagnostics."""

import json
import os
import sys
import tempfile
import time

import pytest

import documents as docs
from conftest import Server, _stop_all
from helpers import wait_for, PHONE, create_job, get_job, slow_factor, wait_job

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
from phaxio_peer import PhaxioPeer  # noqa: E402

ADMIN = "phaxio-admin-key-0b7c9e"


@pytest.fixture
def peer():
    p = PhaxioPeer()
    yield p
    p.close()


@pytest.fixture
def phaxio(tmp_path, peer):
    """Factory: a faxbot server with FAX_BACKEND=phaxio talking to `peer`, whose
    PUBLIC_API_URL is its own address (so the peer can fetch and call back)."""
    started = []

    def make(**env):
        base = {"FAX_BACKEND": "phaxio", "PHAXIO_API_KEY": peer.api_key,
                "PHAXIO_API_SECRET": peer.api_secret, "PHAXIO_API_URL": peer.url,
                "PHAXIO_CALLBACK_TOKEN": peer.callback_token, "FAX_WORKERS": "2"}
        base.update(env)
        srv = Server(tempfile.mkdtemp(prefix="phx-", dir=str(tmp_path)), base)
        srv.env["PUBLIC_API_URL"] = srv.url
        started.append(srv)
        srv.start()
        if srv.url != srv.env["PUBLIC_API_URL"]:   # the port was taken meanwhile
            srv.restart(PUBLIC_API_URL=srv.url)
        return srv

    yield make
    _stop_all(started)


def _pdf(n=1):
    return docs.pdf_pages([f"phaxio test page {i + 1}" for i in range(n)])


def _send(srv, n_pages=1, key=None, **fields):
    return create_job(srv, key=key, content=_pdf(n_pages), filename="doc.pdf", fields=fields or None)


def _wait(cond, what, timeout=30.0):
    return wait_for(cond, what, timeout)


def _callbacks(peer, fax_id, event_type=None):
    return [c for c in peer.callbacks
            if c["fax_id"] == fax_id and (event_type is None or c["event_type"] == event_type)]


def _replay(peer, cb, **kw):
    return peer.post_webhook(cb["url"], cb["fields"], **kw)


def _held(peer, srv, job_id, n):
    """Waits until the n-th fax is held at the peer and the job follows it."""
    _wait(lambda: len(peer.created()) >= n and peer.created()[n - 1] in peer._holds, f"fax #{n} held")
    fid = peer.created()[n - 1]
    _wait(lambda: get_job(srv, job_id)["provider_sid"] == fid, f"job to follow fax {fid}")
    return fid


def test_send_success_end_to_end(phaxio, peer):
    srv = phaxio()
    peer.script({"outcome": "success", "pages": 2})
    job = _send(srv, 2, header_text="ACME Corp fax", caller_id="+15550001111")
    done, _ = wait_job(srv, job["id"])
    assert done["status"] == "SUCCESS", done
    assert done["backend"] == "phaxio"
    assert done["pages"] == 2 and done["attempts"] == 1
    assert peer.created() == [done["provider_sid"]], (peer.created(), done)

    assert len(peer.sends) == 1
    s = peer.sends[0]
    assert s["auth_ok"] and s["answer"] == 200
    f = s["fields"]
    assert f["to"] == PHONE
    assert f["content_url"].startswith(f"{srv.url}/fax/{job['id']}/pdf?token="), f
    assert f["callback_url"] == f"{srv.url}/phaxio-callback?job_id={job['id']}&attempt=1", f
    assert f["tag[faxbot_job]"] == job["id"] and f["tag[faxbot_attempt]"] == "1"
    assert f["header_text"] == "ACME Corp fax" and f["caller_id"] == "+15550001111"
    assert "file" not in s["files"]

    # Phaxio fetched the real PDF with the token; a wrong token is refused
    assert len(peer.fetches) == 1 and peer.fetches[0]["status"] == 200
    assert peer.fetches[0]["body"].startswith(b"%PDF")
    r = srv.get(f"/fax/{job['id']}/pdf", params={"token": "not-the-token"})
    assert r.status_code == 403, r.text

    events = [c["event_type"] for c in _callbacks(peer, done["provider_sid"])]
    assert events == ["transmitting_page", "transmitting_page", "fax_completed"]
    assert all(c["status"] == 200 for c in peer.callbacks), peer.callbacks


def test_busy_then_retry_and_stale_replay_ignored(phaxio, peer):
    srv = phaxio()
    peer.script({"outcome": "busy", "retry_scheduled": True}, {"outcome": "hold"})
    job = _send(srv)
    second = _held(peer, srv, job["id"], 2)
    first = peer.created()[0]
    mid = get_job(srv, job["id"])
    assert mid["status"] == "in_progress" and mid["attempts"] == 2, mid
    assert peer.sends[1]["fields"]["tag[faxbot_attempt]"] == "2"

    # attempt 1's busy webhook arrives again while attempt 2 is on the line: ignored
    busy = _callbacks(peer, first, "fax_completed")
    assert len(busy) == 1 and busy[0]["status"] == 200
    status, body = _replay(peer, busy[0])
    assert status == 200, body
    after = get_job(srv, job["id"])
    assert after["status"] == "in_progress" and after["attempts"] == 2, after

    peer.release(second)
    done, _ = wait_job(srv, job["id"])
    assert done["status"] == "SUCCESS" and done["attempts"] == 2, done
    assert done["provider_sid"] == second
    status, _ = _replay(peer, busy[0])
    assert status == 200
    assert get_job(srv, job["id"])["status"] == "SUCCESS"
    assert len(peer.created()) == 2


def test_busy_until_attempts_run_out_fails_with_reason(phaxio, peer):
    srv = phaxio(FAX_MAX_ATTEMPTS="2")
    peer.script({"outcome": "busy"}, {"outcome": "busy"})
    job = _send(srv)
    done, _ = wait_job(srv, job["id"])
    assert done["status"] == "FAILED" and done["failure_reason"] == "busy", done
    assert "Busy" in done["error"] and done["attempts"] == 2, done


def test_4xx_is_final(phaxio, peer):
    srv = phaxio()
    peer.script({"http": 422, "message": "Phone number is not valid"})
    job = _send(srv)
    done, _ = wait_job(srv, job["id"])
    assert done["status"] == "FAILED", done
    assert done["failure_reason"] == "invalid_number", done
    assert "Phone number is not valid" in done["error"]
    assert done["attempts"] == 1
    time.sleep(1.5)   # the retry delay is 1 s: nothing may be sent again
    assert len(peer.sends) == 1 and peer.created() == []


def test_5xx_then_success_makes_one_fax(phaxio, peer):
    srv = phaxio()
    peer.script({"http": 500})
    job = _send(srv)
    done, _ = wait_job(srv, job["id"])
    assert done["status"] == "SUCCESS" and done["attempts"] == 2, done
    assert [s["answer"] for s in peer.sends] == [500, 200]
    assert peer.created() == [done["provider_sid"]]
    # after the 500 the gateway looked for a fax by its tag before sending again
    assert any(m == "GET" and "tag%5Bfaxbot_job%5D=" + job["id"] in p for m, p in peer.requests), peer.requests


def test_bad_signature_is_401_and_changes_nothing(phaxio, peer):
    srv = phaxio()
    peer.script({"outcome": "hold"})
    job = _send(srv)
    fid = _held(peer, srv, job["id"], 1)
    before = get_job(srv, job["id"])
    url = f"{srv.url}/phaxio-callback?job_id={job['id']}&attempt=1"
    fax = {"id": int(fid), "direction": "sent", "status": "failure", "num_pages": 0, "tags": {},
           "error_type": "lineError", "error_id": 17, "error_message": "Busy"}
    fields = [("event_type", "fax_completed"), ("fax", json.dumps(fax))]
    # signed with the wrong token
    status, body = peer.post_webhook(url, fields, token="not-the-webhook-token")
    assert status == 401 and b"signature" in body.lower(), body
    # no signature at all
    status, body = peer.post_webhook(url, fields, signature="")
    assert status == 401, body
    # signed for a different URL (another job's callback)
    status, _ = peer.post_webhook(url, fields, signature=peer.sign(url.replace("attempt=1", "attempt=2"), fields))
    assert status == 401
    # a correct signature over other field values
    sig = peer.sign(url, [("event_type", "fax_completed"), ("fax", json.dumps(dict(fax, status="success")))])
    status, _ = peer.post_webhook(url, fields, signature=sig)
    assert status == 401
    after = get_job(srv, job["id"])
    assert after["status"] == "in_progress" and after["updated_at"] == before["updated_at"], after

    peer.release(fid)
    done, _ = wait_job(srv, job["id"])
    assert done["status"] == "SUCCESS", done


def test_out_of_order_and_replayed_callbacks_are_harmless(phaxio, peer):
    srv = phaxio()
    peer.script({"outcome": "success", "pages": 3, "order": "completed_first"})
    job = _send(srv, 3)
    done, _ = wait_job(srv, job["id"])
    fid = done["provider_sid"]
    _wait(lambda: len(_callbacks(peer, fid)) == 4, "all four webhooks")
    assert [c["event_type"] for c in _callbacks(peer, fid)][0] == "fax_completed"
    assert all(c["status"] == 200 for c in _callbacks(peer, fid))
    final = get_job(srv, job["id"])
    assert final["status"] == "SUCCESS" and final["pages"] == 3, final
    for cb in _callbacks(peer, fid):
        status, _ = _replay(peer, cb)
        assert status == 200
    again = get_job(srv, job["id"])
    assert again["status"] == "SUCCESS" and again["pages"] == 3
    assert again["updated_at"] == final["updated_at"], (again, final)


def test_inbound_webhook_stores_pdf_and_replay_does_not_duplicate(phaxio, peer):
    srv = phaxio(INBOUND_ENABLED="true")
    pdf = docs.pdf_pages(["received by phaxio", "page two"])
    url = f"{srv.url}/phaxio-inbound"
    status, body = peer.send_inbound(url, pdf, 55405223, from_number="+14155550123", pages=2)
    assert status == 200, body
    listed = srv.get("/inbound").json()
    assert len(listed) == 1, listed
    fax = listed[0]
    assert fax["backend"] == "phaxio" and fax["fr"] == "+14155550123" and fax["to"] == "+15558675309", fax
    assert fax["pages"] == 2
    got = srv.get(f"/inbound/{fax['id']}/pdf")
    assert got.status_code == 200 and got.content == pdf

    status, body = peer.send_inbound(url, pdf, 55405223, from_number="+14155550123", pages=2)
    assert status == 200, body
    assert json.loads(body).get("inbound_id") == fax["id"]
    status, _ = peer.send_inbound(url, pdf, 55405999, token="wrong-token")
    assert status == 401
    assert len(srv.get("/inbound").json()) == 1


def test_kill9_after_phaxio_got_the_fax_resumes_without_resending(phaxio, peer):
    srv = phaxio()
    peer.script({"stall": True})
    job = _send(srv)
    assert peer.stalled.wait(30 * slow_factor()), "the send never reached the peer"
    srv.kill9()                     # Phaxio has the fax, we never saw its answer
    peer.unstall()
    srv.start()
    done, _ = wait_job(srv, job["id"])
    assert done["status"] == "SUCCESS", done
    assert len(peer.sends) == 1 and len(peer.created()) == 1, peer.sends
    assert done["provider_sid"] == peer.created()[0]
    assert any(m == "GET" and "tag%5Bfaxbot_job%5D=" + job["id"] in p for m, p in peer.requests)


def test_kill9_before_phaxio_got_the_fax_sends_it_once(phaxio, peer):
    srv = phaxio()
    peer.script({"drop": True})
    job = _send(srv)
    assert peer.stalled.wait(30 * slow_factor()), "the send never reached the peer"
    srv.kill9()                     # Phaxio drops the request: no fax exists
    peer.unstall()
    srv.start()
    done, _ = wait_job(srv, job["id"])
    assert done["status"] == "SUCCESS", done
    assert len(peer.sends) == 1 and len(peer.created()) == 1
    assert done["provider_sid"] == peer.created()[0]


def test_late_result_is_polled_by_fax_id(phaxio, peer):
    """No webhook ever comes: when the lease runs out the gateway asks GET /faxes/{id}."""
    srv = phaxio(FAX_LEASE_SECONDS="2")
    peer.script({"outcome": "silent", "pages": 1})
    job = _send(srv)
    done, _ = wait_job(srv, job["id"])
    assert done["status"] == "SUCCESS", done
    fid = peer.created()[0]
    assert done["provider_sid"] == fid and peer.callbacks == []
    assert ("GET", f"/v2.1/faxes/{fid}") in peer.requests, peer.requests
    assert len(peer.sends) == 1


def test_upload_mode_sends_the_pdf_as_file(phaxio, peer):
    srv = phaxio(PHAXIO_UPLOAD="true")
    job = _send(srv)
    done, _ = wait_job(srv, job["id"])
    assert done["status"] == "SUCCESS", done
    s = peer.sends[0]
    assert "content_url" not in s["fields"]
    name, content = s["files"]["file"]
    assert name.endswith(".pdf") and content.startswith(b"%PDF")
    assert peer.fetches == []


def test_ready_names_missing_credentials_and_token(phaxio, peer):
    srv = phaxio(PHAXIO_API_KEY=None, PHAXIO_CALLBACK_TOKEN=None)
    r = srv.get("/health/ready")
    assert r.status_code == 503, r.text
    text = r.text
    assert "PHAXIO_API_KEY" in text and "PHAXIO_CALLBACK_TOKEN" in text, text
    # without the token, webhooks are refused with a clear 401
    status, body = peer.post_webhook(f"{srv.url}/phaxio-callback?job_id={'0' * 32}", [("fax", "{}")])
    assert status == 401 and b"PHAXIO_CALLBACK_TOKEN" in body, body


def test_ready_and_diagnostics_ok(phaxio, peer):
    srv = phaxio(API_KEY=ADMIN)
    r = srv.get("/health/ready")
    assert r.status_code == 200, r.text
    d = srv.post("/admin/diagnostics/run", key=ADMIN).json()
    be = d["checks"]["backend"]
    assert be["credentials"] == "ok" and be["api_reachable"] is True and be["balance"] == 8325, d
    assert d["ok"] is True


def test_diagnostics_say_rejected_credentials(phaxio, peer):
    srv = phaxio(API_KEY=ADMIN, PHAXIO_API_SECRET="wrong-secret")
    d = srv.post("/admin/diagnostics/run", key=ADMIN).json()
    be = d["checks"]["backend"]
    assert be["credentials"] == "rejected" and be["api_reachable"] is True, d
    assert d["ok"] is False
    # and a send with rejected credentials fails for good, naming the settings
    job = _send(srv, key=ADMIN)
    done, _ = wait_job(srv, job["id"], key=ADMIN)
    assert done["status"] == "FAILED" and "PHAXIO_API_KEY" in done["error"], done
    assert done["attempts"] == 1 and done["failure_reason"] == "provider_error", done
    assert peer.created() == []
