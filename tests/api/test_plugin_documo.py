"""test_plugin_documo.py — black-box tests of the bundled http plugin faxbot-http-documo
(plugins/bundled/faxbot-http-documo/manifest.json) against a stand-in Documo mFax API
written from Documo's documentation (tests/peers/documo_peer.py): the multipart upload
with "Authorization: Basic <API key>", account webhooks authenticated with HTTP Basic
(good and bad credentials), failure mapping, a retried 503, and polling /fax/{id}/info."""

import os
import sys
import tempfile
import time

import pytest

import conftest
from documents import pdf_pages
from helpers import create_job, get_job, slow_factor, wait_job
from plugin_install import install, local_copy, setting

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
from documo_peer import DocumoPeer, Plan  # noqa: E402

PDF = pdf_pages(["Documo plugin test page"])
PID = "test-documo"


@pytest.fixture
def peer():
    p = DocumoPeer()
    yield p
    p.close()


@pytest.fixture
def gateway(tmp_path):
    started = []

    def make(peer, **env):
        workdir = tempfile.mkdtemp(prefix="gw-", dir=str(tmp_path))
        m = local_copy("faxbot-http-documo", PID, peer.url + "/v1")
        full = {"FAX_BACKEND": PID, setting(PID, "api_key"): peer.api_key, setting(PID, "caller_id"): "13125550100",
                setting(PID, "webhook_user"): peer.webhook_user,
                setting(PID, "webhook_password"): peer.webhook_password, "FAX_RETRY_BASE_SECONDS": "1"}
        full.update(env)
        srv = conftest.Server(workdir, full)
        install(srv.data_dir, m)
        started.append(srv)
        srv.start()
        peer.webhook_url = srv.url + f"/plugin-hooks/{PID}/events"
        return srv

    yield make
    conftest._stop_all(started)


def send(srv):
    return create_job(srv, content=PDF, filename="doc.pdf", content_type="application/pdf")


def test_send_success_by_webhook(peer, gateway):
    srv = gateway(peer)
    job = send(srv)
    done, _ = wait_job(srv, job["id"], timeout=30)
    assert done["status"] == "SUCCESS", done
    (parts,) = peer.sends
    assert parts["faxNumber"][2] == b"+15551234567" and parts["callerId"][2] == b"13125550100"
    assert parts["coverPage"][2] == b"false"
    assert parts["attachments"][1] == "application/pdf" and parts["attachments"][2].startswith(b"%PDF")
    assert peer.requests[0][2]["Authorization"] == f"Basic {peer.api_key}"
    mid = next(iter(peer.faxes))
    assert done["provider_sid"] == mid and done["pages"] == 1
    assert [w[1] for w in peer.webhooks] == [200]


def test_webhook_bad_credentials_refused(peer, gateway):
    srv = gateway(peer)
    peer.plan(Plan(webhook=False, delay=0.0))
    job = send(srv)
    deadline = time.monotonic() + 20 * slow_factor()
    while not peer.faxes and time.monotonic() < deadline:
        time.sleep(0.05)
    fax = dict(next(iter(peer.faxes.values())))
    fax.update(status="success", resultCode="0", resultInfo="OK", pagesComplete=1)
    r = peer.post_webhook(fax, authorization=peer.basic(password="wrong"))
    assert r.status_code == 401 and "Basic" in r.json()["detail"]
    r = peer.post_webhook(fax, authorization="")
    assert r.status_code == 401
    assert get_job(srv, job["id"])["status"] == "in_progress"
    r = peer.post_webhook(fax)
    assert r.status_code == 200, r.text
    done, _ = wait_job(srv, job["id"], timeout=10)
    assert done["status"] == "SUCCESS"


def test_failure_mapped_with_documos_text(peer, gateway):
    srv = gateway(peer, FAX_MAX_ATTEMPTS="3")
    peer.plan(Plan(outcome=("failed", "3", "Number not in service")))
    job = send(srv)
    done, _ = wait_job(srv, job["id"], timeout=30)
    assert done["status"] == "FAILED" and done["failure_reason"] == "provider_error" and done["attempts"] == 1, done
    assert "Number not in service" in done["error"]


def test_503_is_retried(peer, gateway):
    srv = gateway(peer, FAX_MAX_ATTEMPTS="2")
    peer.plan(Plan(http=503), Plan())
    job = send(srv)
    done, _ = wait_job(srv, job["id"], timeout=40)
    assert done["status"] == "SUCCESS" and done["attempts"] == 2, done
    assert len(peer.sends) == 2


def test_rejected_key_is_final(peer, gateway):
    srv = gateway(peer, **{setting(PID, "api_key"): "wrong-key", "FAX_MAX_ATTEMPTS": "3"})
    job = send(srv)
    done, _ = wait_job(srv, job["id"], timeout=30)
    assert done["status"] == "FAILED" and done["attempts"] == 1, done
    assert "HTTP 401" in done["error"] and "Invalid API key" in done["error"]


def test_no_webhook_result_polled(peer, gateway):
    srv = gateway(peer, FAX_LEASE_SECONDS="2")
    peer.plan(Plan(webhook=False))
    job = send(srv)
    done, _ = wait_job(srv, job["id"], timeout=40)
    assert done["status"] == "SUCCESS", done
    mid = next(iter(peer.faxes))
    assert any(r[0] == "GET" and r[1] == f"/v1/fax/{mid}/info" for r in peer.requests)


def test_ready_names_missing_settings(peer, gateway):
    srv = gateway(peer, **{setting(PID, "api_key"): None})
    r = srv.get("/health/ready")
    body = r.json()
    assert r.status_code == 503, body
    assert setting(PID, "api_key") in str(body)


def test_diagnostics_ok_and_rejected(peer, gateway):
    srv = gateway(peer, API_KEY="documo-admin-key")
    d = srv.post("/admin/diagnostics/run", key="documo-admin-key").json()
    assert d["ok"] is True and d["checks"]["backend"]["credentials"] == "ok", d
    srv2 = gateway(peer, API_KEY="documo-admin-key", **{setting(PID, "api_key"): "nope"})
    d = srv2.post("/admin/diagnostics/run", key="documo-admin-key").json()
    b = d["checks"]["backend"]
    assert d["ok"] is False and b["credentials"] == "rejected" and "Invalid API key" in b["detail"], d
