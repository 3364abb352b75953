"""documo_peer.py — a stand-in for the Documo mFax REST API v1 on 127.0.0.1, for black-box
tests of the bundled http plugin faxbot-http-documo.

Written from Documo's public documentation (docs.documo.com, help.documo.com "Webhooks"):
- Authentication: "Authorization: Basic <API key>" (the key itself, not base64 user:pass).
- POST /v1/faxes, multipart/form-data: faxNumber (required), attachments (the file(s)),
  callerId, coverPage, subject, notes, ... Answer: the fax message as JSON with messageId
  and status ("processing").
- GET /v1/fax/{messageId}/info -> {messageId, status (processing | transmitting | scheduled |
  success | failed | cancelled), resultCode, resultInfo, pagesComplete, pagesCount, faxNumber,
  duration, ...}.
- Webhooks are configured on the account (not per fax): a JSON POST of the fax object to the
  configured URL, with "Use Basic Auth" credentials in the Authorization header; fax.v1.outbound.*
  events. Retries on a non-2xx answer.
The error body's shape is not documented where we could read it; this peer answers
{"error": {"message": ...}}.
"""

import base64
import datetime
import email.parser
import email.policy
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests


def parse_multipart(content_type, body):
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\nMIME-Version: 1.0\r\n\r\n" + body)
    parts = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_param("filename", header="content-disposition")
        parts[name] = (filename, part.get_content_type(), part.get_payload(decode=True) or b"")
    return parts


class Plan:
    """http: status of the send's answer (200 accepts); outcome "success" or ("failed",
    resultCode, resultInfo); webhook False = none (the gateway polls)."""

    def __init__(self, http=200, outcome="success", webhook=True, pages=1, delay=0.2):
        self.http, self.outcome, self.webhook, self.pages, self.delay = http, outcome, webhook, pages, delay


class DocumoPeer:
    def __init__(self, api_key="documo-key-123", webhook_user="hookuser", webhook_password="hookpass"):
        self.api_key = api_key
        self.webhook_user, self.webhook_password = webhook_user, webhook_password
        self.webhook_url = None        # the account's webhook (set by the test, like the Documo console)
        self.requests = []
        self.sends = []                # parsed multipart parts of each send
        self.faxes = {}
        self.webhooks = []             # (status, gateway's answer status, body)
        self._plans = []
        self._threads = []
        self._lock = threading.Lock()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _send(self, code, obj):
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                peer._handle(self, "POST")

            def do_GET(self):
                peer._handle(self, "GET")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def plan(self, *plans):
        with self._lock:
            self._plans.extend(plans)

    def close(self):
        for t in self._threads:
            t.join(timeout=10)
        self.httpd.shutdown()
        self.httpd.server_close()

    def basic(self, user=None, password=None):
        u = self.webhook_user if user is None else user
        p = self.webhook_password if password is None else password
        return "Basic " + base64.b64encode(f"{u}:{p}".encode()).decode()

    def post_webhook(self, fax, authorization=None):
        h = {"Content-Type": "application/json"}
        auth = self.basic() if authorization is None else authorization
        if auth:
            h["Authorization"] = auth
        r = requests.post(self.webhook_url, data=json.dumps(fax), headers=h, timeout=30)
        self.webhooks.append((fax["status"], r.status_code, r.text))
        return r

    def _handle(self, h, method):
        n = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(n) if n else b""
        path = h.path.split("?")[0]
        self.requests.append((method, path, dict(h.headers), body))
        if h.headers.get("Authorization") != f"Basic {self.api_key}":
            return h._send(401, {"error": {"name": "UnauthorizedError", "message": "Invalid API key"}})
        if method == "POST" and path == "/v1/faxes":
            parts = parse_multipart(h.headers.get("Content-Type", ""), body)
            self.sends.append(parts)
            if "faxNumber" not in parts or "attachments" not in parts:
                return h._send(400, {"error": {"name": "ValidationError", "message": "faxNumber and attachments are required"}})
            with self._lock:
                plan = self._plans.pop(0) if self._plans else Plan()
            if plan.http != 200:
                return h._send(plan.http, {"error": {"name": "Error", "message": f"planned HTTP {plan.http}"}})
            mid = str(uuid.uuid4())
            fax = {"messageId": mid, "messageNumber": str(len(self.faxes) + 1436823), "deliveryId": "",
                   "status": "processing", "resultCode": None, "resultInfo": None, "pagesCount": plan.pages,
                   "pagesComplete": 0, "faxNumber": parts["faxNumber"][2].decode(),
                   "faxCallerId": parts.get("callerId", (None, None, b""))[2].decode(), "direction": "outbound",
                   "createdAt": datetime.datetime.now(datetime.timezone.utc).isoformat()}
            self.faxes[mid] = fax
            h._send(200, fax)
            t = threading.Thread(target=self._play, args=(fax, plan), daemon=True)
            self._threads.append(t)
            t.start()
            return None
        parts = path.strip("/").split("/")
        if method == "GET" and len(parts) == 4 and parts[:2] == ["v1", "fax"] and parts[3] == "info":
            fax = self.faxes.get(parts[2])
            if not fax:
                return h._send(404, {"error": {"name": "NotFoundError", "message": "Fax not found"}})
            return h._send(200, fax)
        return h._send(404, {"error": {"name": "NotFoundError", "message": "No such route"}})

    def _play(self, fax, plan):
        time.sleep(plan.delay)
        fax["status"] = "transmitting"
        time.sleep(0.05)
        if plan.outcome == "success":
            fax.update(status="success", resultCode="0", resultInfo="OK", pagesComplete=plan.pages, duration=86318)
        else:
            fax.update(status="failed", resultCode=plan.outcome[1], resultInfo=plan.outcome[2], pagesComplete=0)
        if plan.webhook and self.webhook_url:
            try:
                self.post_webhook(dict(fax))
            except requests.RequestException:
                self.webhooks.append((fax["status"], 0, ""))
