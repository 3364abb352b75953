"""generic_fax_peer.py — a small, made-up cloud fax API on 127.0.0.1 for the http plugin
kind's generic features that the bundled providers do not use: OAuth2 client credentials
(RFC 6749 §4.4; HTTP Basic client_id:client_secret is also accepted on the API: POST /oauth/token with HTTP Basic client_id:client_secret and
grant_type=client_credentials -> {access_token, token_type, expires_in}; a revoked token
answers 401), a urlencoded send (to, document_url, callback_url) answered 201
{"fax": {"id", "state"}}, GET /api/faxes/{id}, and result webhooks either as a form signed
like Twilio/SignalWire (base64 HMAC-SHA256 over the URL + sorted parameters, header
X-Example-Signature) or as JSON signed "sha256=<hex HMAC of the body>" (X-Hub-Signature-256).
"""

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests


class GenericFaxPeer:
    def __init__(self, client_id="cid", client_secret="csecret", webhook_secret="whsecret"):
        self.client_id, self.client_secret, self.webhook_secret = client_id, client_secret, webhook_secret
        self.tokens = []               # issued, newest last
        self.revoked = set()
        self.requests = []
        self.faxes = {}
        self.webhooks = []
        self.webhook_style = "form"    # "form" (URL + params HMAC) or "json" (body HMAC)
        self.outcome = ("delivered", "")
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
        self._threads = []
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        for t in self._threads:
            t.join(timeout=10)
        self.httpd.shutdown()
        self.httpd.server_close()

    def sign_form(self, url, params):
        text = url + "".join(k + v for k, v in sorted(params.items()))
        return base64.b64encode(hmac.new(self.webhook_secret.encode(), text.encode(), hashlib.sha256).digest()).decode()

    def sign_json(self, body):
        return "sha256=" + hmac.new(self.webhook_secret.encode(), body, hashlib.sha256).hexdigest()

    def post_result(self, url, fax, good=True):
        params = {"id": fax["id"], "state": fax["state"], "error_code": fax.get("error_code", ""),
                  "pages": str(fax.get("pages", 1))}
        if self.webhook_style == "form":
            sig = self.sign_form(url, params) if good else self.sign_form(url + "x", params)
            r = requests.post(url, data=params, headers={"X-Example-Signature": sig}, timeout=30)
        else:
            body = json.dumps({"fax": params}).encode()
            sig = self.sign_json(body) if good else self.sign_json(body + b" ")
            r = requests.post(url, data=body, headers={"Content-Type": "application/json", "X-Hub-Signature-256": sig},
                              timeout=30)
        self.webhooks.append((fax["state"], r.status_code, r.text))
        return r

    def post_inbound(self, url, pdf, fax_id="in-1", from_number="+13125550001", good=True):
        """A received fax as multipart/form-data: a `data` field holding the JSON event and
        the document in the part `document` (Phaxio-style), signed over the raw body."""
        boundary = "genericpeer" + uuid.uuid4().hex
        data = json.dumps({"event": "fax.received", "fax": {"id": fax_id, "from": from_number, "to": "+13125550002"}})
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n{data}\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"document\"; filename=\"fax.pdf\"\r\n"
                f"Content-Type: application/pdf\r\n\r\n").encode() + pdf + f"\r\n--{boundary}--\r\n".encode()
        sig = self.sign_json(body if good else body + b"x")
        return requests.post(url, data=body, timeout=30, headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}", "X-Hub-Signature-256": sig})

    def _handle(self, h, method):
        n = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(n) if n else b""
        path = h.path.split("?")[0]
        self.requests.append((method, path, dict(h.headers), body))
        if method == "POST" and path == "/oauth/token":
            want = "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            form = dict(urllib.parse.parse_qsl(body.decode()))
            if h.headers.get("Authorization") != want:
                return h._send(401, {"error": "invalid_client"})
            if form.get("grant_type") != "client_credentials":
                return h._send(400, {"error": "unsupported_grant_type"})
            tok = uuid.uuid4().hex
            self.tokens.append(tok)
            return h._send(200, {"access_token": tok, "token_type": "bearer", "expires_in": 3600})
        auth = h.headers.get("Authorization", "")
        tok = auth[7:] if auth.startswith("Bearer ") else ""
        basic = "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if auth != basic and (tok not in self.tokens or tok in self.revoked):
            return h._send(401, {"error": {"message": "invalid or expired token"}})
        if method == "POST" and path == "/api/faxes":
            form = dict(urllib.parse.parse_qsl(body.decode()))
            if not form.get("to") or not form.get("document_url"):
                return h._send(422, {"error": {"message": "to and document_url are required"}})
            fax = {"id": uuid.uuid4().hex[:12], "state": "queued", "to": form["to"], "pages": 1,
                   "callback_url": form.get("callback_url", "")}
            self.faxes[fax["id"]] = fax
            h._send(201, {"fax": fax})
            t = threading.Thread(target=self._play, args=(fax,), daemon=True)
            self._threads.append(t)
            t.start()
            return None
        if method == "GET" and path.startswith("/api/faxes/"):
            fax = self.faxes.get(path.rsplit("/", 1)[1])
            return h._send(200, {"fax": fax}) if fax else h._send(404, {"error": {"message": "no such fax"}})
        return h._send(404, {"error": {"message": "no such route"}})

    def _play(self, fax):
        time.sleep(0.2)
        fax["state"], fax["error_code"] = self.outcome
        if fax["callback_url"]:
            try:
                self.post_result(fax["callback_url"], fax)
            except requests.RequestException:
                self.webhooks.append((fax["state"], 0, ""))
