"""test_sinch.py — black-box tests of FAX_BACKEND=sinch against a stand-in Sinch Fax API v3
(tests/peers/sinch_peer.py): the upload, FAX_COMPLETED webhooks (JSON and multipart,
Basic credentials from the callback URL), retries, 4xx/5xx, stale and replayed events,
polling when a webhook is late, inbound faxes (both forms), OAuth token caching,
readiness and diagnostics."""

import base64
import os
import sys
import tempfile
import time
import urllib.parse

import pytest
import requests

import conftest
from documents import pdf_pages
from helpers import create_job, get_job, slow_factor, wait_job

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
from sinch_peer import Plan, SinchPeer  # noqa: E402

HOOK_USER = "sinch-hook"
HOOK_PASS = "s3cret:with/odd@chars"
PDF = pdf_pages(["Sinch test page"])


@pytest.fixture
def peer():
    p = SinchPeer()
    yield p
    p.close()


@pytest.fixture
def gateway(tmp_path):
    """Like `server`, with PUBLIC_API_URL set to the server's own URL so the peer can call back."""
    started = []

    def make(**env):
        workdir = tempfile.mkdtemp(prefix="gw-", dir=str(tmp_path))
        srv = conftest.Server(workdir, env)
        srv.env.setdefault("PUBLIC_API_URL", srv.url)
        started.append(srv)
        return srv.start()

    yield make
    conftest._stop_all(started)


def sinch_env(peer, **extra):
    env = {"FAX_BACKEND": "sinch", "SINCH_PROJECT_ID": peer.project_id, "SINCH_API_KEY": peer.key,
           "SINCH_API_SECRET": peer.secret, "SINCH_BASE_URL": peer.base_url, "SINCH_AUTH_URL": peer.auth_url,
           "SINCH_WEBHOOK_USER": HOOK_USER, "SINCH_WEBHOOK_PASSWORD": HOOK_PASS, "FAX_RETRY_BASE_SECONDS": "1"}
    env.update(extra)
    return env


def send(srv, **fields):
    return create_job(srv, content=PDF, filename="doc.pdf", content_type="application/pdf", fields=fields or None)


def wait_until(pred, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout * slow_factor()
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_send_success_json_callback(peer, gateway):
    srv = gateway(**sinch_env(peer))
    job = send(srv, header_text="ACME Corp", caller_id="+15550001111")
    done, _ = wait_job(srv, job["id"], timeout=30)
    assert done["status"] == "SUCCESS", done
    assert done["backend"] == "sinch"
    sends = peer.sends()
    assert len(sends) == 1
    req = sends[0]
    f = req["fields"]
    assert f["to"] == "+15551234567"
    assert f["from"] == "+15550001111"
    assert f["headerText"] == "ACME Corp"
    assert f["labels[faxbotJobId]"] == job["id"] and f["labels[faxbotAttempt]"] == "1"
    assert f["callbackUrlContentType"] == "application/json"
    assert f["maxRetries"] == "0"
    assert req["file"].startswith(b"%PDF") and req["file_type"] == "application/pdf"
    cb = urllib.parse.urlsplit(f["callbackUrl"])
    assert urllib.parse.unquote(cb.username) == HOOK_USER and urllib.parse.unquote(cb.password) == HOOK_PASS
    assert cb.path == "/sinch-callback" and urllib.parse.parse_qs(cb.query)["job_id"] == [job["id"]]
    assert req["headers"]["Authorization"] == "Basic " + base64.b64encode(b"key-id:key-secret").decode()
    fax_id = next(iter(peer.faxes))
    assert done["provider_sid"] == fax_id
    assert done["pages"] == 1
    # the peer records the callback's answer after the gateway has already applied it
    wait_until(lambda: peer.callbacks, what="the callback's answer recorded by the peer")
    assert peer.callbacks[0][1] == 200


def test_multipart_callback_replayed_is_harmless(peer, gateway):
    srv = gateway(**sinch_env(peer, SINCH_CALLBACK_CONTENT_TYPE="multipart"))
    peer.plan(Plan(replays=2, pages=2))
    job = send(srv)
    done, _ = wait_job(srv, job["id"], timeout=30)
    assert done["status"] == "SUCCESS", done
    wait_until(lambda: len(peer.callbacks) == 3, what="three deliveries")
    assert [c[1] for c in peer.callbacks] == [200, 200, 200]
    after = get_job(srv, job["id"])
    assert after["status"] == "SUCCESS" and after["attempts"] == 1 and after["updated_at"] == done["updated_at"]


def test_busy_and_no_answer_are_retried_then_success(peer, gateway):
    srv = gateway(**sinch_env(peer, FAX_MAX_ATTEMPTS="3"))
    peer.plan(Plan(outcome=("FAILURE", 17, "CALL_ERROR", "Busy")),
              Plan(outcome=("FAILURE", 16, "CALL_ERROR", "Ring Timeout")),
              Plan())
    job = send(srv)
    reasons = set()
    deadline = time.monotonic() + 40 * slow_factor()
    while time.monotonic() < deadline:
        cur = get_job(srv, job["id"])
        if cur["failure_reason"]:
            reasons.add(cur["failure_reason"])
        if cur["status"] in ("SUCCESS", "FAILED"):
            break
        time.sleep(0.1)
    assert cur["status"] == "SUCCESS", cur
    assert cur["attempts"] == 3
    assert [s["fields"]["labels[faxbotAttempt]"] for s in peer.sends()] == ["1", "2", "3"]
    assert reasons <= {"busy", "no_answer"} and reasons, reasons


def test_final_failure_codes(peer, gateway):
    srv = gateway(**sinch_env(peer, FAX_MAX_ATTEMPTS="3"))
    peer.plan(Plan(outcome=("FAILURE", 34, "CALL_ERROR", "Phone number not operational")))
    job = send(srv)
    done, _ = wait_job(srv, job["id"], timeout=30)
    assert done["status"] == "FAILED" and done["attempts"] == 1, done
    assert done["failure_reason"] == "invalid_number"
    assert "Phone number not operational" in done["error"]


def test_4xx_is_final_with_the_providers_message(peer, gateway):
    srv = gateway(**sinch_env(peer, FAX_MAX_ATTEMPTS="3"))
    peer.plan(Plan(http=422, error_body={"code": 422, "status": "INVALID_ARGUMENT", "message": "Invalid parameters",
                                          "details": [{"type": "BadRequest", "fieldViolations": [
                                              {"field": "to", "description": "The (+1555) is not a valid phone number"}]}]}),
              Plan(http=402, error_body={"code": "402", "error": "Payment required",
                                         "message": "You have reached 0 balance on your account please make a payment."}))
    a = send(srv)
    done, _ = wait_job(srv, a["id"], timeout=30)
    assert done["status"] == "FAILED" and done["attempts"] == 1, done
    assert done["failure_reason"] == "invalid_number"
    assert "not a valid phone number" in done["error"] and "422" in done["error"]
    b = send(srv)
    done, _ = wait_job(srv, b["id"], timeout=30)
    assert done["status"] == "FAILED" and done["attempts"] == 1, done
    assert done["failure_reason"] == "provider_error" and "balance" in done["error"]
    assert len(peer.sends()) == 2


def test_5xx_is_retried(peer, gateway):
    srv = gateway(**sinch_env(peer, FAX_MAX_ATTEMPTS="3"))
    peer.plan(Plan(http=500), Plan(http=503), Plan())
    job = send(srv)
    done, _ = wait_job(srv, job["id"], timeout=40)
    assert done["status"] == "SUCCESS", done
    assert done["attempts"] == 3
    assert len(peer.sends()) == 3
    # after each 5xx the gateway looked for the fax by its label before sending again
    lists = [r for r in peer.requests if r["method"] == "GET" and r["path"].endswith("/faxes")]
    assert len(lists) >= 2 and all(r["query"]["labels[faxbotJobId]"] == [job["id"]] for r in lists)


def test_dropped_answer_finds_the_fax_by_label_no_second_send(peer, gateway):
    srv = gateway(**sinch_env(peer, FAX_MAX_ATTEMPTS="3"))
    peer.plan(Plan(hang_up=True))
    job = send(srv)
    done, _ = wait_job(srv, job["id"], timeout=30)
    assert done["status"] == "SUCCESS", done
    assert len(peer.sends()) == 1 and done["attempts"] == 1
    assert done["provider_sid"] == next(iter(peer.faxes))


def test_crash_before_the_answer_resumes_without_a_second_fax(peer, gateway):
    """The gateway dies after Sinch created the fax but before the answer arrived: after the
    restart the job is found by its label (resume) instead of being sent again."""
    srv = gateway(**sinch_env(peer, FAX_LEASE_SECONDS="2"))   # no webhook: polled after the restart
    peer.plan(Plan(stall=4, callback=False, delay=0.5))
    job = send(srv)
    wait_until(lambda: peer.faxes, what="the fax to be created")
    srv.kill9()
    srv.start()
    done, _ = wait_job(srv, job["id"], timeout=30)
    assert done["status"] == "SUCCESS", done
    assert len(peer.sends()) == 1 and done["attempts"] == 1
    assert done["provider_sid"] == next(iter(peer.faxes))
    lists = [r for r in peer.requests if r["method"] == "GET" and r["path"].endswith("/faxes")]
    assert lists and lists[0]["query"]["labels[faxbotJobId]"] == [job["id"]]


def test_crash_before_sinch_got_it_sends_again(peer, gateway):
    """No fax carries the job's label after the restart: it never reached Sinch, so it is sent again."""
    srv = gateway(**sinch_env(peer))
    peer.plan(Plan(http=500, stall=4), Plan())
    job = send(srv)
    wait_until(lambda: peer.sends(), what="the first request")
    srv.kill9()
    srv.start()
    done, _ = wait_job(srv, job["id"], timeout=30)
    assert done["status"] == "SUCCESS", done
    assert len(peer.sends()) == 2


def test_bad_webhook_credentials_refused_job_unchanged(peer, gateway):
    srv = gateway(**sinch_env(peer))
    peer.plan(Plan(callback=False, delay=0.1))
    job = send(srv)
    wait_until(lambda: peer.faxes and all(f["status"] == "COMPLETED" for f in peer.faxes.values()),
               what="the peer to finish the fax")
    fax = next(iter(peer.faxes.values()))
    wait_until(lambda: get_job(srv, job["id"])["provider_sid"] == fax["id"], what="acceptance")
    assert peer.deliver_completed(fax, user=HOOK_USER, password="wrong") == 401
    assert peer.deliver_completed(fax, user="nobody", password=HOOK_PASS) == 401
    r = requests.post(srv.url + f"/sinch-callback?job_id={job['id']}", json={"event": "FAX_COMPLETED", "fax": fax},
                      timeout=10)
    assert r.status_code == 401 and "detail" in r.json()
    assert get_job(srv, job["id"])["status"] == "in_progress"
    assert peer.deliver_completed(fax) == 200
    assert get_job(srv, job["id"])["status"] == "SUCCESS"
    # malformed body with good credentials: 400, nothing changes
    r = requests.post(srv.url + f"/sinch-callback?job_id={job['id']}", data=b"{not json",
                      headers={"Content-Type": "application/json"}, auth=(HOOK_USER, HOOK_PASS), timeout=10)
    assert r.status_code == 400


def test_late_webhook_job_resolved_by_polling(peer, gateway):
    srv = gateway(**sinch_env(peer, FAX_LEASE_SECONDS="2"))
    peer.plan(Plan(callback=False, delay=0.2))
    job = send(srv)
    done, _ = wait_job(srv, job["id"], timeout=30)
    assert done["status"] == "SUCCESS", done
    fax = next(iter(peer.faxes.values()))
    polls = [r for r in peer.requests if r["method"] == "GET" and r["path"].endswith("/faxes/" + fax["id"])]
    assert polls, "the gateway should have polled GET /faxes/{id}"
    assert len(peer.sends()) == 1
    # the webhook finally arrives: harmless
    assert peer.deliver_completed(fax) == 200
    after = get_job(srv, job["id"])
    assert after["status"] == "SUCCESS" and after["attempts"] == 1


def test_late_failure_by_polling_and_stale_event_of_earlier_attempt(peer, gateway):
    srv = gateway(**sinch_env(peer, FAX_MAX_ATTEMPTS="2"))
    peer.plan(Plan(outcome=("FAILURE", 17, "CALL_ERROR", "Busy")), Plan(callback=False, delay=0.2))
    job = send(srv)
    wait_until(lambda: len(peer.sends()) == 2, timeout=30, what="the second attempt")
    first = next(f for f in peer.faxes.values() if f["labels"]["faxbotAttempt"] == "1")
    wait_until(lambda: get_job(srv, job["id"])["attempts"] == 2 and get_job(srv, job["id"])["provider_sid"]
               and get_job(srv, job["id"])["provider_sid"] != first["id"], what="attempt 2 accepted")
    # a replay of attempt 1's "busy" must not fail attempt 2
    assert peer.deliver_completed(first) == 200
    cur = get_job(srv, job["id"])
    assert cur["status"] == "in_progress" and cur["attempts"] == 2, cur
    second = next(f for f in peer.faxes.values() if f["labels"]["faxbotAttempt"] == "2")
    wait_until(lambda: second["status"] == "COMPLETED", what="attempt 2 done at the peer")
    assert peer.deliver_completed(second) == 200
    assert get_job(srv, job["id"])["status"] == "SUCCESS"


def test_inbound_both_forms_stored_once(peer, gateway):
    srv = gateway(**sinch_env(peer, INBOUND_ENABLED="true", SINCH_WEBHOOK_USER="", SINCH_WEBHOOK_PASSWORD="",
                              SINCH_INBOUND_BASIC_USER="in-user", SINCH_INBOUND_BASIC_PASS="in-pass"))
    url = srv.url + "/sinch-inbound"
    pdf = pdf_pages(["incoming page one", "incoming page two"])
    r1, fax1 = peer.send_inbound(url, "in-user", "in-pass", pdf, form="multipart")
    assert r1.status_code == 200, r1.text
    r2, fax2 = peer.send_inbound(url, "in-user", "in-pass", pdf, form="json")
    assert r2.status_code == 200, r2.text
    id1, id2 = r1.json()["inbound_id"], r2.json()["inbound_id"]
    assert id1 != id2
    # replays: the same inbound fax, not a new one
    r3, _ = peer.send_inbound(url, "in-user", "in-pass", pdf, form="json", fax_id=fax1["id"])
    assert r3.status_code == 200 and r3.json()["inbound_id"] == id1
    r4, _ = peer.send_inbound(url, "in-user", "in-pass", pdf, form="multipart", fax_id=fax2["id"])
    assert r4.status_code == 200 and r4.json()["inbound_id"] == id2
    # bad credentials: refused, nothing stored
    r5, _ = peer.send_inbound(url, "in-user", "nope", pdf)
    assert r5.status_code == 401
    r6, _ = peer.send_inbound(url, None, None, pdf, form="json")
    assert r6.status_code == 401
    items = srv.get("/inbound").json()
    items = items["items"] if isinstance(items, dict) else items
    assert sorted(i["id"] for i in items) == sorted([id1, id2])
    one = srv.get(f"/inbound/{id1}").json()
    assert one["backend"] == "sinch" and one["pages"] == 2 and one["fr"] == "+14155552222"
    got = srv.get(f"/inbound/{id1}/pdf")
    assert got.status_code == 200 and got.content.startswith(b"%PDF")


def test_inbound_disabled_and_garbage(peer, gateway):
    srv = gateway(**sinch_env(peer))
    r, _ = peer.send_inbound(srv.url + "/sinch-inbound", HOOK_USER, HOOK_PASS, PDF)
    assert r.status_code == 404
    srv2 = gateway(**sinch_env(peer, INBOUND_ENABLED="true"))
    r, _ = peer.send_inbound(srv2.url + "/sinch-inbound", HOOK_USER, HOOK_PASS, b"not a pdf at all", form="json")
    assert r.status_code == 400 and "PDF" in r.json()["detail"]


def test_oauth_token_cached_and_refreshed(peer, gateway):
    srv = gateway(**sinch_env(peer, SINCH_AUTH_METHOD="oauth"))
    jobs = [send(srv) for _ in range(3)]
    for j in jobs:
        done, _ = wait_job(srv, j["id"], timeout=30)
        assert done["status"] == "SUCCESS", done
    assert peer.token_requests == 1, peer.token_requests
    assert all(s["headers"]["Authorization"].startswith("Bearer ") for s in peer.sends())
    peer.expire_tokens()   # the provider revokes/expires the token early
    j = send(srv)
    done, _ = wait_job(srv, j["id"], timeout=30)
    assert done["status"] == "SUCCESS", done
    assert peer.token_requests == 2, peer.token_requests


def test_oauth_short_lived_token_renewed_before_expiry(gateway):
    p = SinchPeer(token_ttl=2)   # cached for half its life when that short
    try:
        srv = gateway(**sinch_env(p, SINCH_AUTH_METHOD="oauth"))
        a = send(srv)
        assert wait_job(srv, a["id"], timeout=30)[0]["status"] == "SUCCESS"
        time.sleep(1.5)
        b = send(srv)
        assert wait_job(srv, b["id"], timeout=30)[0]["status"] == "SUCCESS"
        assert p.token_requests == 2
        assert not [r for r in p.requests if r["method"] == "POST" and r["path"].endswith("/faxes")
                    and r["headers"].get("Authorization", "").startswith("Basic")]
    finally:
        p.close()


def test_ready_names_missing_credentials(server):
    srv = server(FAX_BACKEND="sinch", SINCH_API_KEY="", PHAXIO_API_KEY="")
    r = srv.get("/health/ready")
    assert r.status_code == 503
    body = r.json()
    assert body["checks"]["backend_config"] is False
    text = " ".join(body["warnings"])
    for var in ("SINCH_PROJECT_ID", "SINCH_API_KEY", "SINCH_API_SECRET"):
        assert var in text, text


def test_empty_sinch_key_falls_back_to_phaxio_credentials(peer, gateway):
    """Faxbot bug 16: SINCH_API_KEY= (empty, as .env.example ships it) must not defeat the fallback."""
    env = sinch_env(peer, SINCH_API_KEY="", SINCH_API_SECRET="", PHAXIO_API_KEY=peer.key,
                    PHAXIO_API_SECRET=peer.secret)
    srv = gateway(**env)
    assert srv.get("/health/ready").status_code == 200, srv.get("/health/ready").text
    job = send(srv)
    assert wait_job(srv, job["id"], timeout=30)[0]["status"] == "SUCCESS"


def test_diagnostics_ok_and_rejected(peer, gateway):
    srv = gateway(**sinch_env(peer, API_KEY="admin-key"))
    r = srv.post("/admin/diagnostics/run", key="admin-key")
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["ok"] is True and d["checks"]["backend"]["credentials"] == "ok", d
    assert any(q["path"].endswith("/services") for q in peer.requests)
    peer.deny_all = True
    d = srv.post("/admin/diagnostics/run", key="admin-key").json()
    assert d["ok"] is False
    assert d["checks"]["backend"]["credentials"] == "rejected", d
    assert d["checks"]["backend"]["http_status"] == 401
    assert "SINCH_API_KEY" in d["checks"]["backend"]["detail"]


def test_diagnostics_oauth_rejected(peer, gateway):
    srv = gateway(**sinch_env(peer, API_KEY="admin-key", SINCH_AUTH_METHOD="oauth", SINCH_API_SECRET="wrong"))
    d = srv.post("/admin/diagnostics/run", key="admin-key").json()
    assert d["ok"] is False
    b = d["checks"]["backend"]
    assert b["credentials"] == "rejected" and b["oauth_token"] == "rejected", b


def test_bad_settings_refuse_to_start(server):
    srv = server(expect_ready=False, FAX_BACKEND="sinch", SINCH_AUTH_METHOD="magic")
    deadline = time.monotonic() + 10
    while srv.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.proc.poll() not in (None, 0)
    assert "SINCH_AUTH_METHOD" in srv.stderr_text()
