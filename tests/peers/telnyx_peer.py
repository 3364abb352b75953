"""telnyx_peer.py — a stand-in for the Telnyx Programmable Fax API v2 on 127.0.0.1, for
black-box tests of the bundled http plugin faxbot-http-telnyx.

Written from Telnyx's public documentation (developers.telnyx.com: "Send a fax",
"Receiving Webhooks for Programmable Fax", the fax.* callback references and the SDKs'
webhook verification):
- POST /v2/faxes, JSON {connection_id, media_url, to, from, webhook_url?}, header
  "Authorization: Bearer <API key>"; answers 202 with {"data": {record_type: "fax", id,
  connection_id, direction: "outbound", from, to, media_url, status: "queued", webhook_url, ...}}.
- GET /v2/faxes/{id} -> {"data": <fax>} (status, failure_reason, page_count); 404 for an unknown id.
- POST /v2/faxes/{id}/actions/cancel.
- Errors: {"errors": [{"code", "title", "detail"}]}; 401 without a valid key, 422 for bad parameters.
- The fax's PDF is downloaded from media_url (a 2xx is needed, no redirects), then webhooks go to
  webhook_url: fax.queued, fax.media.processed, fax.sending.started, then fax.delivered (page_count,
  call_duration_secs) or fax.failed (failure_reason). Each body is {"data": {event_type, id,
  occurred_at, record_type: "event", payload: {fax_id, connection_id, direction, from, to, status,
  ...}}, "meta": {attempt, delivered_to}}, signed with Ed25519: header telnyx-signature-ed25519 =
  base64(sign("<telnyx-timestamp>|<raw body>")), header telnyx-timestamp = Unix seconds.
- Inbound: fax.received with payload.media_url (served by this peer) and direction "inbound".
"""

import base64
import datetime
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Plan:
    """What the peer does with one send: http = status of the answer (202 accepts);
    outcome "delivered" or ("failed", failure_reason); webhooks False = never call back
    (the gateway must poll); pages = page_count."""

    def __init__(self, http=202, outcome="delivered", webhooks=True, pages=1, delay=0.2):
        self.http, self.outcome, self.webhooks, self.pages, self.delay = http, outcome, webhooks, pages, delay


class TelnyxPeer:
    def __init__(self, api_key="KEYtest123", connection_id="1234567890"):
        self.api_key = api_key
        self.connection_id = connection_id
        self.private_key = Ed25519PrivateKey.generate()
        raw = self.private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.public_key_b64 = base64.b64encode(raw).decode()
        self.requests = []          # (method, path, headers, body bytes)
        self.faxes = {}             # id -> fax dict
        self.webhooks = []          # (event_type, http status from the gateway, response body)
        self.media_fetches = []     # (url, status, first bytes)
        self.media = {}             # inbound documents served: path -> bytes
        self.cancels = []
        self._plans = []
        self._lock = threading.Lock()
        self._threads = []
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _send(self, code, obj=None, raw=None, ctype="application/json"):
                data = raw if raw is not None else (json.dumps(obj).encode() if obj is not None else b"")
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                peer._handle(self, "POST")

            def do_GET(self):
                peer._handle(self, "GET")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    # ---- test controls ----
    def plan(self, *plans):
        with self._lock:
            self._plans.extend(plans)

    def sends(self):
        return [r for r in self.requests if r[0] == "POST" and r[1] == "/v2/faxes"]

    def close(self):
        for t in self._threads:
            t.join(timeout=10)
        self.httpd.shutdown()
        self.httpd.server_close()

    def sign(self, body, timestamp=None, key=None):
        ts = str(int(time.time()) if timestamp is None else timestamp)
        sig = (key or self.private_key).sign(ts.encode() + b"|" + body)
        return {"telnyx-signature-ed25519": base64.b64encode(sig).decode(), "telnyx-timestamp": ts}

    def event(self, event_type, payload):
        return json.dumps({"data": {"event_type": event_type, "id": str(uuid.uuid4()), "occurred_at": now_iso(),
                                    "record_type": "event", "payload": payload},
                           "meta": {"attempt": 1, "delivered_to": ""}}).encode()

    def post_event(self, url, event_type, payload, headers=None, body=None):
        body = body if body is not None else self.event(event_type, payload)
        h = {"Content-Type": "application/json"}
        h.update(headers if headers is not None else self.sign(body))
        r = requests.post(url, data=body, headers=h, timeout=30)
        self.webhooks.append((event_type, r.status_code, r.text))
        return r

    def fax_payload(self, fax, status, **extra):
        p = {"fax_id": fax["id"], "connection_id": fax["connection_id"], "direction": fax["direction"],
             "from": fax["from"], "to": fax["to"], "original_media_url": fax.get("media_url", ""),
             "status": status, "user_id": "19a75cea-02c6-4b9a-84fa-c9bc8341feb8"}
        p.update(extra)
        return p

    def send_inbound(self, gateway_url, pdf, from_number="+13125550001", to_number="+13125550002"):
        fax_id = str(uuid.uuid4())
        path = f"/media/{fax_id}.pdf"
        self.media[path] = pdf
        payload = {"fax_id": fax_id, "connection_id": self.connection_id, "direction": "inbound",
                   "from": from_number, "to": to_number, "media_url": self.url + path, "page_count": 1,
                   "status": "received", "user_id": "19a75cea-02c6-4b9a-84fa-c9bc8341feb8"}
        return self.post_event(gateway_url, "fax.received", payload), fax_id

    # ---- the API ----
    def _error(self, h, code, title, detail):
        h._send(code, {"errors": [{"code": str(10000 + code), "title": title, "detail": detail}]})

    def _handle(self, h, method):
        n = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(n) if n else b""
        path = h.path.split("?")[0]
        self.requests.append((method, path, dict(h.headers), body))
        if method == "GET" and path in self.media:
            return h._send(200, raw=self.media[path], ctype="application/pdf")
        if h.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._error(h, 401, "Authentication failed", "The API key in the request is missing or invalid.")
        if method == "POST" and path == "/v2/faxes":
            return self._send_fax(h, body)
        parts = path.strip("/").split("/")
        if len(parts) >= 3 and parts[:2] == ["v2", "faxes"]:
            fax = self.faxes.get(parts[2])
            if not fax:
                return self._error(h, 404, "Resource not found", "The requested fax does not exist.")
            if method == "GET" and len(parts) == 3:
                return h._send(200, {"data": fax})
            if method == "POST" and parts[3:] == ["actions", "cancel"]:
                self.cancels.append(fax["id"])
                if fax["status"] in ("delivered", "failed"):
                    return self._error(h, 422, "Invalid parameter", "Only queued faxes can be cancelled.")
                fax["status"] = "cancelled"
                return h._send(200, {"data": fax})
        return self._error(h, 404, "Resource not found", "No such route.")

    def _send_fax(self, h, body):
        try:
            req = json.loads(body)
        except ValueError:
            return self._error(h, 422, "Invalid parameter", "The body is not JSON.")
        for k in ("connection_id", "media_url", "to", "from"):
            if not isinstance(req.get(k), str) or not req[k]:
                return self._error(h, 422, "Invalid parameter", f"{k} is required")
        with self._lock:
            plan = self._plans.pop(0) if self._plans else Plan()
        if plan.http != 202:
            return self._error(h, plan.http, "Service unavailable" if plan.http >= 500 else "Invalid parameter",
                               f"planned HTTP {plan.http}")
        now = now_iso()
        fax = {"record_type": "fax", "id": str(uuid.uuid4()), "connection_id": req["connection_id"],
               "direction": "outbound", "from": req["from"], "to": req["to"], "media_url": req["media_url"],
               "store_media": False, "quality": "high", "webhook_url": req.get("webhook_url", ""),
               "webhook_failover_url": "", "status": "queued", "created_at": now, "updated_at": now}
        self.faxes[fax["id"]] = fax
        h._send(202, {"data": fax})
        t = threading.Thread(target=self._play, args=(fax, plan), daemon=True)
        self._threads.append(t)
        t.start()

    def _play(self, fax, plan):
        time.sleep(plan.delay)
        try:
            r = requests.get(fax["media_url"], timeout=30, allow_redirects=False)
            self.media_fetches.append((fax["media_url"], r.status_code, r.content[:8]))
            ok_media = r.status_code // 100 == 2 and r.content.startswith(b"%PDF")
        except requests.RequestException:
            self.media_fetches.append((fax["media_url"], 0, b""))
            ok_media = False
        url = fax.get("webhook_url")
        steps = [("fax.queued", "queued", {})]
        if ok_media:
            steps += [("fax.media.processed", "media.processed", {}), ("fax.sending.started", "sending", {})]
            if plan.outcome == "delivered":
                steps.append(("fax.delivered", "delivered", {"page_count": plan.pages, "call_duration_secs": 25}))
            else:
                steps.append(("fax.failed", "failed", {"failure_reason": plan.outcome[1]}))
        else:
            steps.append(("fax.failed", "failed", {"failure_reason": "file_download_failed"}))
        for event_type, status, extra in steps:
            fax["status"] = status
            fax.update(extra)
            if plan.webhooks and url:
                try:
                    self.post_event(url, event_type, self.fax_payload(fax, status, **extra))
                except requests.RequestException:
                    self.webhooks.append((event_type, 0, ""))
            time.sleep(0.05)


if __name__ == "__main__":   # manual use and the browser tests: python3 telnyx_peer.py
    import os
    import sys
    p = TelnyxPeer(api_key=os.environ.get("API_KEY", "KEYtest123"), connection_id=os.environ.get("CONNECTION_ID", "1234567890"))
    print(f"public_key {p.public_key_b64}", flush=True)
    print(f"Telnyx peer on 127.0.0.1:{p.port} ({p.url})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sys.exit(0)
