"""test_plugin_http_generic.py — the http plugin kind's generic features, with a manifest
written here against a made-up provider (tests/peers/generic_fax_peer.py): OAuth2 client
credentials (token fetched once, refreshed after a 401), a urlencoded send, webhooks signed
with an HMAC over URL + sorted form parameters and over the JSON body (good and bad), and
the dry run behind POST /admin/plugins/http/validate (rendered request, a real send through
the runtime, a manifest with an undeclared host refused naming the field)."""

import copy
import os
import sys
import tempfile
import time

import pytest

import conftest
from documents import pdf_pages
from helpers import create_job, wait_job
from plugin_install import install, setting

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
from generic_fax_peer import GenericFaxPeer  # noqa: E402

PID = "test-generic"
ADMIN = "generic-plugin-admin-key-5c9e"
PDF = pdf_pages(["Generic plugin page"])


def manifest(peer, style="form", auth="oauth"):
    verify = ({"scheme": "hmac", "algorithm": "sha256", "encoding": "base64", "over": "url_params",
               "header": "X-Example-Signature", "key": "{{config.webhook_secret}}"} if style == "form" else
              {"scheme": "hmac", "algorithm": "sha256", "encoding": "hex", "over": "body",
               "header": "X-Hub-Signature-256", "prefix": "sha256=", "key": "{{config.webhook_secret}}"})
    fields = "" if style == "form" else "fax."
    return {
        "id": PID, "name": "Example Fax", "version": "1.0.0", "kind": "http",
        "categories": ["outbound", "inbound"], "capabilities": ["send_fax", "get_status", "receive_fax", "webhook"],
        "config_schema": {"fields": [
            {"key": "client_id", "type": "string", "label": "Client id", "required": True},
            {"key": "client_secret", "type": "string", "label": "Client secret", "secret": True, "required": True},
            {"key": "webhook_secret", "type": "string", "label": "Webhook secret", "secret": True, "required": True}]},
        "http": {
            "base_url": peer.url + "/api",
            "allowed_hosts": ["127.0.0.1"],
            "auth": ({"scheme": "oauth2_client_credentials", "token_url": peer.url + "/oauth/token",
                      "client_id": "{{config.client_id}}", "client_secret": "{{config.client_secret}}"}
                     if auth == "oauth" else
                     {"scheme": "basic", "username": "{{config.client_id}}", "password": "{{config.client_secret}}"}),
            "send": {"path": "/faxes", "body": "form",
                     "fields": {"to": "{{fax.to}}", "document_url": "{{fax.pdf_url}}", "callback_url": "{{webhook.result}}"},
                     "response": {"id_path": "fax.id", "status_path": "fax.state", "message_path": "error.message"}},
            "status": {"path": "/faxes/{{fax.provider_sid}}",
                       "response": {"id_path": "fax.id", "status_path": "fax.state", "failure_path": "fax.error_code"}},
            "status_map": {"queued": "pending", "delivered": "delivered", "failed": "failed"},
            "failure_map": {"busy": {"reason": "busy", "transient": True}},
            "webhooks": [{"name": "inbound", "carries": "inbound", "format": "multipart", "data_field": "data",
                          "file_field": "document",
                          "verify": {"scheme": "hmac", "algorithm": "sha256", "encoding": "hex", "over": "body",
                                     "header": "X-Hub-Signature-256", "prefix": "sha256=",
                                     "key": "{{config.webhook_secret}}"},
                          "id_path": "fax.id", "from_path": "fax.from", "to_path": "fax.to"},
                         {"name": "result", "format": "json" if style == "json" else "form", "verify": verify,
                          "id_path": fields + "id", "status_path": fields + "state",
                          "failure_path": fields + "error_code", "pages_path": fields + "pages"}],
        },
    }


@pytest.fixture
def peer():
    p = GenericFaxPeer()
    yield p
    p.close()


@pytest.fixture
def gateway(tmp_path):
    started = []

    def make(peer, style="form", auth="oauth", **env):
        workdir = tempfile.mkdtemp(prefix="gw-", dir=str(tmp_path))
        full = {"FAX_BACKEND": PID, "API_KEY": ADMIN, setting(PID, "client_id"): peer.client_id,
                setting(PID, "client_secret"): peer.client_secret,
                setting(PID, "webhook_secret"): peer.webhook_secret}
        full.update(env)
        srv = conftest.Server(workdir, full)
        srv.env.setdefault("PUBLIC_API_URL", srv.url)
        install(srv.data_dir, manifest(peer, style, auth))
        started.append(srv)
        return srv.start()

    yield make
    conftest._stop_all(started)


def send(srv):
    return create_job(srv, key=ADMIN, content=PDF, filename="doc.pdf", content_type="application/pdf")


@pytest.mark.parametrize("style", ["form", "json"])
def test_oauth_form_send_and_signed_webhook(peer, gateway, style):
    peer.webhook_style = style
    srv = gateway(peer, style=style)
    job = send(srv)
    done, _ = wait_job(srv, job["id"], key=ADMIN, timeout=30)
    assert done["status"] == "SUCCESS", done
    # the peer records the webhook's answer after the gateway has already applied it
    deadline = time.time() + 10
    while not peer.webhooks and time.time() < deadline:
        time.sleep(0.05)
    assert [w[1] for w in peer.webhooks] == [200], peer.webhooks
    (tok,) = peer.tokens
    send_req = [r for r in peer.requests if r[1] == "/api/faxes"][0]
    assert send_req[2]["Authorization"] == f"Bearer {tok}"
    assert send_req[2]["Content-Type"] == "application/x-www-form-urlencoded"
    # a badly signed result is refused
    fax = next(iter(peer.faxes.values()))
    r = peer.post_result(srv.url + f"/plugin-hooks/{PID}/result?job_id={job['id']}&attempt=1", fax, good=False)
    assert r.status_code == 401 and "HMAC" in r.json()["detail"], r.text


def test_token_reused_then_refreshed_after_a_401(peer, gateway):
    srv = gateway(peer)
    for _ in range(2):
        done, _ = wait_job(srv, send(srv)["id"], key=ADMIN, timeout=30)
        assert done["status"] == "SUCCESS", done
    assert len(peer.tokens) == 1
    peer.revoked.add(peer.tokens[0])
    done, _ = wait_job(srv, send(srv)["id"], key=ADMIN, timeout=30)
    assert done["status"] == "SUCCESS", done
    assert len(peer.tokens) == 2


def test_busy_maps_and_retries(peer, gateway):
    peer.outcome = ("failed", "busy")
    srv = gateway(peer, FAX_MAX_ATTEMPTS="2")
    done, _ = wait_job(srv, send(srv)["id"], key=ADMIN, timeout=40)
    assert done["status"] == "FAILED" and done["failure_reason"] == "busy" and done["attempts"] == 2, done


def test_dry_run_validate_route(peer, gateway):
    srv = gateway(peer)
    m = manifest(peer)
    creds = {"client_id": peer.client_id, "client_secret": peer.client_secret, "webhook_secret": "x"}
    r = srv.post("/admin/plugins/http/validate", key=ADMIN, json={"manifest": m, "credentials": creds,
                                                                  "to": "+15550001111",
                                                                  "file_url": peer.url + "/doc.pdf"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == PID and "send_fax" in body["actions"] and body["allowed_domains"] == ["127.0.0.1"]
    (req,) = body["requests"]
    assert req["url"] == peer.url + "/api/faxes" and "to=%2B15550001111" in req["body"]
    sends_before = len(peer.faxes)
    # render_only=false really sends through the runtime and answers the normalized result
    r = srv.post("/admin/plugins/http/validate", key=ADMIN, json={"manifest": m, "credentials": creds,
                                                                  "render_only": False, "to": "+15550001111",
                                                                  "file_url": peer.url + "/doc.pdf"})
    assert r.status_code == 200, r.text
    norm = r.json()["normalized"]
    assert norm["status"] == "in_progress" and norm["provider_id"] in peer.faxes
    assert len(peer.faxes) == sends_before + 1
    # wrong credentials: the provider's refusal comes back, normalized
    r = srv.post("/admin/plugins/http/validate", key=ADMIN, json={"manifest": m, "render_only": False,
                                                                  "credentials": dict(creds, client_secret="no")})
    assert r.status_code == 200 and r.json()["normalized"]["status"] == "FAILED", r.text
    assert "token endpoint answered HTTP 401" in r.json()["normalized"]["error"]
    # a manifest calling an undeclared host is refused before anything is sent
    bad = copy.deepcopy(m)
    bad["http"]["send"]["path"] = "http://localhost:9/api/faxes"
    r = srv.post("/admin/plugins/http/validate", key=ADMIN, json={"manifest": bad})
    assert r.status_code == 400 and "http.send.path" in r.json()["detail"], r.text


def test_basic_auth_send(peer, gateway):
    srv = gateway(peer, auth="basic")
    done, _ = wait_job(srv, send(srv)["id"], key=ADMIN, timeout=30)
    assert done["status"] == "SUCCESS", done
    assert peer.tokens == []
    send_req = [r for r in peer.requests if r[1] == "/api/faxes"][0]
    assert send_req[2]["Authorization"].startswith("Basic ")


def test_inbound_multipart_upload(peer, gateway):
    srv = gateway(peer, INBOUND_ENABLED="true")
    url = srv.url + f"/plugin-hooks/{PID}/inbound"
    r = peer.post_inbound(url, PDF, good=False)
    assert r.status_code == 401, r.text
    r = peer.post_inbound(url, PDF)
    assert r.status_code == 200, r.text
    inbound_id = r.json()["inbound_id"]
    items = srv.get("/inbound", key=ADMIN).json()
    assert [i["id"] for i in items] == [inbound_id]
    # the same delivery again is stored once; a body that is no fax document is refused
    r = peer.post_inbound(url, PDF)
    assert r.status_code == 200 and len(srv.get("/inbound", key=ADMIN).json()) == 1
    r = peer.post_inbound(url, b"hello", fax_id="in-2")
    assert r.status_code == 400 and "neither a PDF nor a TIFF" in r.json()["detail"]
