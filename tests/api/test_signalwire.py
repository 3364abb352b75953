"""test_signalwire.py — black-box tests of FAX_BACKEND=signalwire against a stand-in
SignalWire Compatibility fax API (tests/peers/signalwire_peer.py): the send form, the
peer fetching our tokenized MediaUrl, signed StatusCallbacks (every status), retries,
4xx/5xx, bad signatures, replays and stale events, polling a late result, readiness and
diagnostics."""

import os
import sys
import tempfile
import time

import pytest
import requests

import conftest
from documents import pdf_pages
from helpers import create_job, get_job, slow_factor, wait_job

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
from signalwire_peer import Plan, SignalWirePeer, sign  # noqa: E402

PDF = pdf_pages(["SignalWire test page"])


@pytest.fixture
def peer():
    p = SignalWirePeer()
    yield p
    p.close()


@pytest.fixture
def gateway(tmp_path):
    """Like `server`, with PUBLIC_API_URL set to the server's own URL (the peer fetches and calls back)."""
    started = []

    def make(**env):
        workdir = tempfile.mkdtemp(prefix="gw-", dir=str(tmp_path))
        srv = conftest.Server(workdir, env)
        srv.env.setdefault("PUBLIC_API_URL", srv.url)
        started.append(srv)
        return srv.start()

    yield make
    conftest._stop_all(started)


def sw_env(peer, **extra):
    env = {"FAX_BACKEND": "signalwire", "SIGNALWIRE_SPACE_URL": peer.url, "SIGNALWIRE_PROJECT_ID": peer.project,
           "SIGNALWIRE_API_TOKEN": peer.token, "SIGNALWIRE_WEBHOOK_SIGNING_KEY": peer.signing_key,
           "SIGNALWIRE_FAX_FROM_E164": "+15550009999", "FAX_RETRY_BASE_SECONDS": "1"}
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


def test_send_success_end_to_end(peer, gateway):
    srv = gateway(**sw_env(peer))
    job = send(srv)
    done, seen = wait_job(srv, job["id"], timeout=30)
    assert done["status"] == "SUCCESS", done
    assert done["backend"] == "signalwire"
    (req,) = peer.sends()
    f = req["form"]
    assert req["path"] == f"/api/laml/2010-04-01/Accounts/{peer.project}/Faxes"
    assert f["To"] == "+15551234567" and f["From"] == "+15550009999"
    assert f["MediaUrl"].startswith(srv.url + f"/fax/{job['id']}/pdf?token=") and "attempt=1" in f["MediaUrl"]
    assert f["StatusCallback"] == srv.url + f"/signalwire-callback?job_id={job['id']}&attempt=1"
    # the peer downloaded the PDF through the tokenized URL, like SignalWire does
    assert peer.media_fetches and peer.media_fetches[0][1] == 200 and peer.media_fetches[0][2].startswith(b"%PDF")
    sid = next(iter(peer.faxes))
    assert done["provider_sid"] == sid
    assert done["pages"] == 1 and done["remote_station_id"] == "REMOTE CSID 42"
    assert [c for c in peer.callbacks if c[1] != 200] == []
    assert [c[0] for c in peer.callbacks] == ["queued", "processing", "sending", "delivered"]


@pytest.mark.parametrize("first,reason", [("busy", "busy"), ("no-answer", "no_answer")])
def test_busy_no_answer_retried_then_success(peer, gateway, first, reason):
    srv = gateway(**sw_env(peer, FAX_MAX_ATTEMPTS="3"))
    peer.plan(Plan(final=first), Plan())
    job = send(srv)
    reasons = set()
    deadline = time.monotonic() + 30 * slow_factor()
    while time.monotonic() < deadline:
        cur = get_job(srv, job["id"])
        if cur["failure_reason"]:
            reasons.add(cur["failure_reason"])
        if cur["status"] in ("SUCCESS", "FAILED"):
            break
        time.sleep(0.05)
    assert cur["status"] == "SUCCESS" and cur["attempts"] == 2, cur
    assert reasons <= {reason}
    assert [s["form"]["StatusCallback"].endswith(f"attempt={i}") for i, s in enumerate(peer.sends(), 1)] == [True, True]


@pytest.mark.parametrize("code,msg,reason,attempts", [
    (None, "Far end hung up", "line_error", 2),
    (21211, "Invalid 'To' Phone Number", "invalid_number", 1),
])
def test_failed_maps_error_code(peer, gateway, code, msg, reason, attempts):
    srv = gateway(**sw_env(peer, FAX_MAX_ATTEMPTS="2"))
    peer.plan(Plan(final="failed", error_code=code, error_message=msg),
              Plan(final="failed", error_code=code, error_message=msg))
    job = send(srv)
    done, _ = wait_job(srv, job["id"], timeout=30)
    assert done["status"] == "FAILED", done
    assert done["failure_reason"] == reason and done["attempts"] == attempts, done
    assert msg in done["error"]


def test_canceled_is_final(peer, gateway):
    srv = gateway(**sw_env(peer, FAX_MAX_ATTEMPTS="3"))
    peer.plan(Plan(final="canceled"))
    job = send(srv)
    done, _ = wait_job(srv, job["id"], timeout=30)
    assert done["status"] == "FAILED" and done["failure_reason"] == "cancelled" and done["attempts"] == 1, done


def test_unfetchable_media_fails_with_11200(peer, gateway):
    """PUBLIC_API_URL pointing nowhere: SignalWire cannot fetch the PDF (error 11200), which
    is worth retrying (our side may come back), and the job fails when attempts run out."""
    srv = gateway(**sw_env(peer, FAX_MAX_ATTEMPTS="2", FAX_LEASE_SECONDS="2", PUBLIC_API_URL="http://127.0.0.1:9"))
    job = send(srv)
    done, _ = wait_job(srv, job["id"], timeout=30)
    assert done["status"] == "FAILED" and done["failure_reason"] == "provider_error", done
    assert done["attempts"] == 2 and "11200" in done["error"]


def test_4xx_final_5xx_retried(peer, gateway):
    srv = gateway(**sw_env(peer, FAX_MAX_ATTEMPTS="3"))
    peer.plan(Plan(http=400, error=(21211, "The 'To' number +15551234567 is not a valid phone number.")))
    a = send(srv)
    done, _ = wait_job(srv, a["id"], timeout=30)
    assert done["status"] == "FAILED" and done["attempts"] == 1, done
    assert done["failure_reason"] == "invalid_number" and "21211" in done["error"]
    peer.plan(Plan(http=500), Plan())
    b = send(srv)
    done, _ = wait_job(srv, b["id"], timeout=30)
    assert done["status"] == "SUCCESS" and done["attempts"] == 2, done


def test_bad_signature_refused_job_unchanged(peer, gateway):
    srv = gateway(**sw_env(peer))
    peer.plan(Plan(callbacks=False))
    job = send(srv)
    wait_until(lambda: peer.faxes and next(iter(peer.faxes.values()))["status"] == "delivered",
               what="the peer to deliver")
    fax = next(iter(peer.faxes.values()))
    wait_until(lambda: get_job(srv, job["id"])["provider_sid"] == fax["sid"], what="acceptance")
    assert peer.deliver(fax, key="not-the-key") == 403
    assert peer.deliver(fax, signature="") == 401                     # no header at all
    params = peer.callback_params(fax)
    good = sign(peer.signing_key, fax["_callback"], params)
    tampered = dict(params, FaxStatus="failed", ErrorCode="21211")
    assert peer.deliver(fax, params=tampered, signature=good) == 403  # body changed after signing
    other_url = fax["_callback"].replace("attempt=1", "attempt=2")
    r = requests.post(other_url, data=params, headers={"X-SignalWire-Signature": good}, timeout=10)
    assert r.status_code == 403                                       # URL changed after signing
    assert get_job(srv, job["id"])["status"] == "in_progress"
    # the legacy header name with a correct signature is accepted
    assert peer.deliver(fax, header="X-Twilio-Signature") == 200
    assert get_job(srv, job["id"])["status"] == "SUCCESS"


def test_replayed_and_out_of_order_callbacks_harmless(peer, gateway):
    srv = gateway(**sw_env(peer))
    peer.plan(Plan(replays=2))
    job = send(srv)
    done, _ = wait_job(srv, job["id"], timeout=30)
    assert done["status"] == "SUCCESS"
    wait_until(lambda: len(peer.callbacks) == 6, what="all callbacks")
    fax = next(iter(peer.faxes.values()))
    # an old "sending" arriving after "delivered", then a forged-looking but signed "failed" for the same fax
    params = peer.callback_params(fax)
    assert peer.deliver(fax, params=dict(params, FaxStatus="sending")) == 200
    assert peer.deliver(fax, params=dict(params, FaxStatus="failed", ErrorCode="12345")) == 200
    after = get_job(srv, job["id"])
    assert after["status"] == "SUCCESS" and after["attempts"] == 1 and after["failure_reason"] is None


def test_stale_callback_of_earlier_attempt_ignored(peer, gateway):
    srv = gateway(**sw_env(peer, FAX_MAX_ATTEMPTS="2"))
    peer.plan(Plan(final="busy"), Plan(callbacks=False))
    job = send(srv)
    wait_until(lambda: len(peer.sends()) == 2, timeout=30, what="attempt 2")
    first = next(f for f in peer.faxes.values() if f["_callback"].endswith("attempt=1"))
    second = next(f for f in peer.faxes.values() if f["_callback"].endswith("attempt=2"))
    wait_until(lambda: get_job(srv, job["id"])["provider_sid"] == second["sid"], what="attempt 2 accepted")
    assert peer.deliver(first) == 200      # attempt 1's "busy" again
    cur = get_job(srv, job["id"])
    assert cur["status"] == "in_progress" and cur["attempts"] == 2, cur
    wait_until(lambda: second["status"] == "delivered", what="attempt 2 delivered at the peer")
    assert peer.deliver(second) == 200
    assert get_job(srv, job["id"])["status"] == "SUCCESS"


def test_late_callback_resolved_by_polling(peer, gateway):
    srv = gateway(**sw_env(peer, FAX_LEASE_SECONDS="2"))
    peer.plan(Plan(callbacks=False, final="no-answer"), Plan(callbacks=False))
    job = send(srv)
    done, _ = wait_job(srv, job["id"], timeout=40)
    assert done["status"] == "SUCCESS", done
    assert done["attempts"] == 2
    sids = list(peer.faxes)
    polls = [r for r in peer.requests if r["method"] == "GET" and r["path"].rsplit("/", 1)[-1] in sids]
    assert polls, "the gateway should have polled GET /Faxes/{Sid}"
    assert len(peer.sends()) == 2
    # the late callbacks finally arrive: harmless
    for f in peer.faxes.values():
        assert peer.deliver(f) == 200
    after = get_job(srv, job["id"])
    assert after["status"] == "SUCCESS" and after["attempts"] == 2


def test_ready_names_missing_settings(server):
    srv = server(FAX_BACKEND="signalwire", SIGNALWIRE_SPACE_URL="example.signalwire.com")
    r = srv.get("/health/ready")
    assert r.status_code == 503
    text = " ".join(r.json()["warnings"])
    for var in ("SIGNALWIRE_PROJECT_ID", "SIGNALWIRE_API_TOKEN", "PUBLIC_API_URL"):
        assert var in text, text
    assert "SIGNALWIRE_SPACE_URL" not in text.split("not set")[0], text


def test_diagnostics_ok_and_rejected(peer, gateway):
    srv = gateway(**sw_env(peer, API_KEY="admin-key"))
    d = srv.post("/admin/diagnostics/run", key="admin-key").json()
    assert d["ok"] is True and d["checks"]["backend"]["credentials"] == "ok", d
    peer.deny_all = True
    d = srv.post("/admin/diagnostics/run", key="admin-key").json()
    assert d["ok"] is False
    b = d["checks"]["backend"]
    assert b["credentials"] == "rejected" and b["http_status"] == 401, b
    assert "SIGNALWIRE_API_TOKEN" in b["detail"] and "Authentication Error" in b["detail"]


def test_bad_space_url_refuses_to_start(server):
    srv = server(expect_ready=False, FAX_BACKEND="signalwire", SIGNALWIRE_SPACE_URL="ftp://x.example")
    deadline = time.monotonic() + 10
    while srv.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.proc.poll() not in (None, 0)
    assert "SIGNALWIRE_SPACE_URL" in srv.stderr_text()
