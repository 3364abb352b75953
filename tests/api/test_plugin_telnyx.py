"""test_plugin_telnyx.py — black-box tests of the bundled http plugin faxbot-http-telnyx
(plugins/bundled/faxbot-http-telnyx/manifest.json) against a stand-in Telnyx Programmable
Fax API written from Telnyx's documentation (tests/peers/telnyx_peer.py): the send request
(JSON with our tokenized media_url, Bearer key), Ed25519-signed webhooks (good, bad, stale),
failure_reason mapping, a retry, polling when webhooks never come, inbound fax.received,
and a request to a host the manifest does not declare being refused."""

import json
import os
import sys
import tempfile
import time

import pytest
import requests

import conftest
from documents import pdf_pages
from helpers import create_job, get_job, run_cli, slow_factor, wait_job
from plugin_install import install, local_copy, setting

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
from telnyx_peer import Plan, TelnyxPeer  # noqa: E402

PDF = pdf_pages(["Telnyx plugin test page"])
PID = "test-telnyx"


@pytest.fixture
def peer():
    p = TelnyxPeer()
    yield p
    p.close()


@pytest.fixture
def gateway(tmp_path):
    started = []

    def make(peer, manifest=None, **env):
        workdir = tempfile.mkdtemp(prefix="gw-", dir=str(tmp_path))
        m = manifest or local_copy("faxbot-http-telnyx", PID, peer.url + "/v2")
        full = {"FAX_BACKEND": m["id"], setting(m["id"], "api_key"): peer.api_key,
                setting(m["id"], "connection_id"): peer.connection_id,
                setting(m["id"], "from_number"): "+13125550100",
                setting(m["id"], "public_key"): peer.public_key_b64, "FAX_RETRY_BASE_SECONDS": "1"}
        full.update(env)
        srv = conftest.Server(workdir, full)
        srv.env.setdefault("PUBLIC_API_URL", srv.url)
        install(srv.data_dir, m)
        started.append(srv)
        return srv.start()

    yield make
    conftest._stop_all(started)


def send(srv):
    return create_job(srv, content=PDF, filename="doc.pdf", content_type="application/pdf")


def hook_url(srv, job=None, attempt=1):
    u = srv.url + f"/plugin-hooks/{PID}/events"
    return u + (f"?job_id={job['id']}&attempt={attempt}" if job else "")


def test_send_delivered_end_to_end(peer, gateway):
    srv = gateway(peer)
    job = send(srv)
    done, _ = wait_job(srv, job["id"], timeout=30)
    assert done["status"] == "SUCCESS", done
    assert done["backend"] == PID
    (req,) = peer.sends()
    assert req[2]["Authorization"] == f"Bearer {peer.api_key}"
    body = json.loads(req[3])
    assert body["connection_id"] == peer.connection_id and body["to"] == "+15551234567"
    assert body["from"] == "+13125550100"
    assert body["media_url"].startswith(srv.url + f"/fax/{job['id']}/pdf?token=")
    assert body["webhook_url"] == hook_url(srv, job)
    # Telnyx downloaded the PDF through the tokenized URL
    assert peer.media_fetches[0][1] == 200 and peer.media_fetches[0][2].startswith(b"%PDF")
    fax_id = next(iter(peer.faxes))
    assert done["provider_sid"] == fax_id and done["pages"] == 1
    # every signed webhook was accepted
    assert [w[1] for w in peer.webhooks] == [200, 200, 200, 200], peer.webhooks


def test_webhook_bad_signature_refused_job_unchanged(peer, gateway):
    srv = gateway(peer)
    peer.plan(Plan(webhooks=False))
    job = send(srv)
    deadline = time.monotonic() + 20 * slow_factor()
    while not peer.faxes and time.monotonic() < deadline:
        time.sleep(0.05)
    fax = next(iter(peer.faxes.values()))
    payload = peer.fax_payload(fax, "delivered", page_count=1)
    body = peer.event("fax.delivered", payload)
    # signed with another key
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    r = peer.post_event(hook_url(srv, job), "fax.delivered", payload, headers=peer.sign(body, key=Ed25519PrivateKey.generate()), body=body)
    assert r.status_code == 401 and "signature" in r.json()["detail"].lower()
    # the right signature, but the body changed after signing
    h = peer.sign(body)
    r = peer.post_event(hook_url(srv, job), "fax.delivered", payload, headers=h, body=body.replace(b'"delivered"', b'"failed"'))
    assert r.status_code == 401
    # no signature at all
    r = peer.post_event(hook_url(srv, job), "fax.delivered", payload, headers={}, body=body)
    assert r.status_code == 401 and "telnyx-signature-ed25519" in r.json()["detail"]
    # a stale timestamp (replayed after 10 minutes)
    r = peer.post_event(hook_url(srv, job), "fax.delivered", payload, headers=peer.sign(body, timestamp=int(time.time()) - 600), body=body)
    assert r.status_code == 401 and "stale" in r.json()["detail"]
    assert get_job(srv, job["id"])["status"] == "in_progress"
    # the genuine one is applied, and its replay is harmless
    r = peer.post_event(hook_url(srv, job), "fax.delivered", payload, body=body)
    assert r.status_code == 200, r.text
    r = peer.post_event(hook_url(srv, job), "fax.delivered", payload, body=body)
    assert r.status_code == 200
    done, _ = wait_job(srv, job["id"], timeout=10)
    assert done["status"] == "SUCCESS" and done["provider_sid"] == fax["id"]


@pytest.mark.parametrize("reason,ours,attempts", [
    ("destination_invalid", "invalid_number", 1),
    ("file_size_limit_exceeded", "file_error", 1),
    ("account_disabled", "provider_error", 1),
    ("some_new_reason", "provider_error", 1),
])
def test_final_failure_reasons_mapped(peer, gateway, reason, ours, attempts):
    srv = gateway(peer, FAX_MAX_ATTEMPTS="3")
    peer.plan(Plan(outcome=("failed", reason)))
    job = send(srv)
    done, _ = wait_job(srv, job["id"], timeout=30)
    assert done["status"] == "FAILED" and done["failure_reason"] == ours and done["attempts"] == attempts, done
    assert reason in done["error"]


def test_busy_is_retried_then_delivered(peer, gateway):
    srv = gateway(peer, FAX_MAX_ATTEMPTS="3")
    peer.plan(Plan(outcome=("failed", "user_busy")), Plan())
    job = send(srv)
    done, _ = wait_job(srv, job["id"], timeout=40)
    assert done["status"] == "SUCCESS" and done["attempts"] == 2, done
    urls = [json.loads(s[3])["webhook_url"] for s in peer.sends()]
    assert urls[0].endswith("attempt=1") and urls[1].endswith("attempt=2")


def test_http_503_is_retried(peer, gateway):
    srv = gateway(peer, FAX_MAX_ATTEMPTS="2")
    peer.plan(Plan(http=503), Plan())
    job = send(srv)
    done, _ = wait_job(srv, job["id"], timeout=40)
    assert done["status"] == "SUCCESS" and done["attempts"] == 2, done


def test_422_is_final_with_the_providers_message(peer, gateway):
    srv = gateway(peer, FAX_MAX_ATTEMPTS="3")
    peer.plan(Plan(http=422))
    job = send(srv)
    done, _ = wait_job(srv, job["id"], timeout=30)
    assert done["status"] == "FAILED" and done["attempts"] == 1 and done["failure_reason"] == "provider_error", done
    assert "HTTP 422" in done["error"] and "planned HTTP 422" in done["error"]


def test_no_webhooks_result_polled(peer, gateway):
    srv = gateway(peer, FAX_LEASE_SECONDS="2")
    peer.plan(Plan(webhooks=False))
    job = send(srv)
    done, _ = wait_job(srv, job["id"], timeout=40)
    assert done["status"] == "SUCCESS", done
    fax_id = next(iter(peer.faxes))
    assert any(r[0] == "GET" and r[1] == f"/v2/faxes/{fax_id}" for r in peer.requests)


def test_inbound_fax_received(peer, gateway):
    srv = gateway(peer, INBOUND_ENABLED="true")
    r, fax_id = peer.send_inbound(hook_url(srv), PDF)
    assert r.status_code == 200, r.text
    inbound_id = r.json()["inbound_id"]
    assert any(f[0] == "GET" and f[1].startswith("/media/") for f in peer.requests)
    # the same event again is stored once
    r2 = peer.post_event(hook_url(srv), "fax.received", None,
                         body=peer.event("fax.received", {"fax_id": fax_id, "direction": "inbound", "from": "+13125550001",
                                                          "to": "+13125550002", "status": "received",
                                                          "media_url": peer.url + f"/media/{fax_id}.pdf"}))
    assert r2.status_code == 200


def test_media_url_on_an_undeclared_host_is_not_fetched(peer, gateway):
    srv = gateway(peer, INBOUND_ENABLED="true")
    other = TelnyxPeer()
    try:
        path = "/media/x.pdf"
        other.media[path] = PDF
        body = peer.event("fax.received", {"fax_id": "abc", "direction": "inbound", "from": "+1", "to": "+2",
                                           "status": "received",
                                           "media_url": other.url.replace("127.0.0.1", "localhost") + path})
        r = peer.post_event(hook_url(srv), "fax.received", None, body=body)
        assert r.status_code == 400 and "allowed_hosts" in r.json()["detail"]
        assert other.requests == []
    finally:
        other.close()


def test_undeclared_api_host_refused(peer, tmp_path):
    """A manifest whose request goes to a host it does not declare is refused, naming the field."""
    m = local_copy("faxbot-http-telnyx", PID, peer.url + "/v2")
    m["http"]["allowed_hosts"] = ["localhost"]
    m["http"]["base_url"] = peer.url.replace("127.0.0.1", "localhost") + "/v2"
    m["http"]["status"]["path"] = peer.url + "/v2/faxes/{{fax.provider_sid}}"   # 127.0.0.1: not declared
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(m))
    env = conftest.base_env()
    env["FAX_DATA_DIR"] = str(tmp_path / "data")
    rc, out, err = run_cli(["plugins", "validate", str(path)], env)
    assert rc != 0 and "http.status.path" in out + err and "not one of http.allowed_hosts" in out + err, (out, err)
    assert peer.requests == []


def test_diagnostics_ok_and_rejected(peer, gateway):
    srv = gateway(peer, API_KEY="telnyx-admin-key")
    d = srv.post("/admin/diagnostics/run", key="telnyx-admin-key").json()
    assert d["ok"] is True and d["checks"]["backend"]["credentials"] == "ok", d
    assert d["checks"]["backend"]["http_status"] == 404     # a fax id nobody has: reachable, key accepted
    srv2 = gateway(peer, API_KEY="telnyx-admin-key", **{setting(PID, "api_key"): "KEYwrong"})
    d = srv2.post("/admin/diagnostics/run", key="telnyx-admin-key").json()
    b = d["checks"]["backend"]
    assert d["ok"] is False and b["credentials"] == "rejected" and b["http_status"] == 401, d
    assert "Authentication failed" in b["detail"] or "invalid" in b["detail"]
