"""sinch_peer.py — a stand-in for the Sinch Fax API v3 on 127.0.0.1, for black-box tests.

Follows Sinch's "Fax API 3.0" OpenAPI (docs/internals/protocols.md §2): POST /v3/projects/{p}/faxes
(multipart: to, file, from, headerText, callbackUrl, callbackUrlContentType,
labels[k], maxRetries) answered with the Fax object; GET .../faxes/{id};
GET .../faxes (filters labels[k], to, direction, createTime>; {"faxes":[...], page,
totalPages, pageSize, totalItems}); GET .../services; POST /oauth2/token (client
credentials, Basic key:secret). Auth: Basic key:secret or Bearer token; 401 has an
empty body as documented. Errors use the Error schema {code, status, message, details}.

After a send it plays the fax out on a thread and POSTs FAX_COMPLETED to the
callbackUrl — with the Basic credentials taken from the URL's userinfo, as Sinch does —
in the content type the request asked for (multipart/form-data with parts event,
eventTime, fax (application/json) and file (application/pdf); or JSON with files[]).
The test scripts each send with `plan(...)` and reads `requests`, `faxes`, `callbacks`.
"""

import base64
import datetime
import email.parser
import email.policy
import json
import os
import queue
import random
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

ULID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_fax_id():
    return "01" + "".join(random.choice(ULID_ALPHABET) for _ in range(24))


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_multipart(content_type, body):
    """multipart/form-data -> list of (name, filename, content_type, bytes)."""
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\nMIME-Version: 1.0\r\n\r\n" + body)
    parts = []
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_param("filename", header="content-disposition")
        parts.append((name, filename, part.get_content_type(), part.get_payload(decode=True) or b""))
    return parts


def encode_multipart(fields):
    """fields: list of (name, value bytes, content_type or None, filename or None)."""
    boundary = "----sinchpeer" + "".join(random.choice("0123456789abcdef") for _ in range(16))
    out = []
    for name, value, ctype, filename in fields:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out.append(f"--{boundary}\r\nContent-Disposition: {disp}\r\n".encode())
        if ctype:
            out.append(f"Content-Type: {ctype}\r\n".encode())
        out.append(b"\r\n" + value + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


class Plan:
    """What the peer does with one send request.

    http: status to answer the POST with (200 = accept). error_body: body for errors.
    outcome: "COMPLETED" or ("FAILURE", errorCode, errorType, errorMessage).
    callback: False = never call back (the gateway must poll). delay: seconds before
    the result. replays: extra deliveries of the same webhook. pages: numberOfPages."""

    def __init__(self, http=200, error_body=None, outcome="COMPLETED", callback=True, delay=0.3,
                 replays=0, pages=1, hang_up=False, stall=0.0):
        self.http = http
        self.error_body = error_body
        self.outcome = outcome
        self.callback = callback
        self.delay = delay
        self.replays = replays
        self.pages = pages
        self.hang_up = hang_up   # create the fax, then drop the connection without answering
        self.stall = stall       # create the fax, then wait this long before answering


class SinchPeer:
    def __init__(self, project_id="proj-123", key="key-id", secret="key-secret", token_ttl=3600):
        self.project_id = project_id
        self.key = key
        self.secret = secret
        self.token_ttl = token_ttl
        self.tokens = {}            # token -> expiry (monotonic)
        self.token_requests = 0
        self.requests = []          # dicts: method, path, query, headers, fields/json
        self.faxes = {}             # id -> Fax object (dict)
        self.files = {}             # id -> uploaded bytes
        self.callbacks = []         # (url without creds, status code, event json) delivered
        self.plans = queue.Queue()
        self.default_plan = Plan()
        self.lock = threading.Lock()
        self.deny_all = False       # every API call -> 401 (rejected credentials)
        self.fail_list = False      # GET .../faxes -> 500
        self.threads = []
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _body(self):
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _send(self, code, obj=None, raw=None, ctype="application/json"):
                data = raw if raw is not None else (b"" if obj is None else json.dumps(obj).encode())
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                peer._handle(self, "POST")

            def do_GET(self):
                peer._handle(self, "GET")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.base_url = self.url + "/v3"
        self.auth_url = self.url + "/oauth2/token"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    # -- test controls -------------------------------------------------------
    def plan(self, *plans):
        for p in plans:
            self.plans.put(p)

    def expire_tokens(self):
        with self.lock:
            self.tokens.clear()

    def sends(self):
        return [r for r in self.requests if r["method"] == "POST" and r["path"].endswith("/faxes")]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        for t in self.threads:
            t.join(timeout=5)

    # -- auth ------------------------------------------------------------------
    def _authorized(self, h):
        if self.deny_all:
            return False
        auth = h.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            except Exception:
                return False
            return user == self.key and pw == self.secret
        if auth.startswith("Bearer "):
            with self.lock:
                exp = self.tokens.get(auth[7:])
            return exp is not None and time.monotonic() < exp
        return False

    # -- routing -----------------------------------------------------------------
    def _handle(self, h, method):
        split = urllib.parse.urlsplit(h.path)
        path = split.path
        query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        body = self._read(h)
        rec = {"method": method, "path": path, "query": query, "headers": dict(h.headers.items())}
        with self.lock:
            self.requests.append(rec)
        if path == "/oauth2/token" and method == "POST":
            return self._token(h, body)
        prefix = f"/v3/projects/{self.project_id}"
        if not path.startswith("/v3/projects/"):
            return h._send(404, {"code": 404, "status": "NOT_FOUND", "message": "Not found"})
        if not self._authorized(h):
            return h._send(401, raw=b"")
        if not path.startswith(prefix + "/") and path != prefix:
            return h._send(404, {"code": 404, "status": "NOT_FOUND",
                                 "message": "The resource is not found, not available, or does not exist."})
        rest = path[len(prefix):]
        if rest == "/faxes" and method == "POST":
            return self._send_fax(h, body, rec)
        if rest == "/faxes" and method == "GET":
            return self._list(h, query)
        if rest.startswith("/faxes/") and method == "GET":
            fax = self.faxes.get(rest[len("/faxes/"):])
            if fax is None:
                return h._send(404, {"code": 404, "status": "NOT_FOUND",
                                     "message": "The resource is not found, not available, or does not exist."})
            return h._send(200, self._public(fax))
        if rest == "/services" and method == "GET":
            return h._send(200, {"services": [{"id": "01GVRB50KEQFFE1SGMPFRNBG6J", "name": "Default service",
                                               "projectId": self.project_id, "defaultForProject": True}],
                                 "page": 1, "totalPages": 1, "pageSize": 1, "totalItems": 1})
        return h._send(404, {"code": 404, "status": "NOT_FOUND", "message": "Not found"})

    @staticmethod
    def _read(h):
        n = int(h.headers.get("Content-Length") or 0)
        return h.rfile.read(n) if n else b""

    def _token(self, h, body):
        with self.lock:
            self.token_requests += 1
        form = urllib.parse.parse_qs(body.decode())
        auth = h.headers.get("Authorization", "")
        ok = False
        if auth.startswith("Basic "):
            user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            ok = user == self.key and pw == self.secret
        if not ok or self.deny_all:
            return h._send(401, {"error": "invalid_client", "error_description": "Bad credentials"})
        if form.get("grant_type") != ["client_credentials"]:
            return h._send(400, {"error": "unsupported_grant_type"})
        tok = base64.urlsafe_b64encode(os.urandom(24)).decode()
        with self.lock:
            self.tokens[tok] = time.monotonic() + self.token_ttl
        return h._send(200, {"access_token": tok, "expires_in": self.token_ttl, "scope": "", "token_type": "bearer"})

    @staticmethod
    def _public(fax):
        return {k: v for k, v in fax.items() if not k.startswith("_")}

    def _send_fax(self, h, body, rec):
        ctype = h.headers.get("Content-Type", "")
        if not ctype.startswith("multipart/form-data"):
            return h._send(400, {"code": 400, "status": "INVALID_ARGUMENT", "message": "expected multipart/form-data"})
        parts = parse_multipart(ctype, body)
        fields = {}
        file_bytes = None
        for name, filename, pctype, data in parts:
            if name == "file":
                file_bytes = data
                rec["file_name"] = filename
                rec["file_type"] = pctype
            else:
                fields[name] = data.decode()
        rec["fields"] = fields
        rec["file"] = file_bytes
        try:
            plan = self.plans.get_nowait()
        except queue.Empty:
            plan = self.default_plan
        if plan.http != 200:
            if plan.stall:
                time.sleep(plan.stall)
            return h._send(plan.http, plan.error_body if plan.error_body is not None else
                           {"code": plan.http, "status": "INTERNAL" if plan.http >= 500 else "INVALID_ARGUMENT",
                            "message": "Internal service error" if plan.http >= 500 else "Bad request."})
        to = fields.get("to", "")
        if not to.startswith("+") or not to[1:].isdigit() or file_bytes is None or not file_bytes.startswith(b"%PDF"):
            return h._send(422, {"code": 422, "status": "INVALID_ARGUMENT", "message": "Invalid parameters",
                                 "details": [{"type": "BadRequest", "fieldViolations": [
                                     {"field": "to" if file_bytes else "file",
                                      "description": f"The ({to}) is not a valid phone number"}]}]})
        labels = {k[len("labels["):-1]: v for k, v in fields.items() if k.startswith("labels[") and k.endswith("]")}
        cb = fields.get("callbackUrl")
        masked_cb = None
        if cb:
            s = urllib.parse.urlsplit(cb)
            masked_cb = cb.replace(s.netloc, "***:***@" + s.hostname + (f":{s.port}" if s.port else "")) \
                if s.username else cb
        fax = {"id": new_fax_id(), "direction": "OUTBOUND", "to": to, "from": fields.get("from", "+14155550000"),
               "status": "IN_PROGRESS", "headerText": fields.get("headerText", ""), "headerPageNumbers": True,
               "headerTimeZone": "America/New_York", "retryDelaySeconds": 60,
               "maxRetries": int(fields.get("maxRetries", "3")), "labels": labels,
               "callbackUrl": masked_cb, "callbackUrlContentType": fields.get("callbackUrlContentType",
                                                                               "multipart/form-data"),
               "imageConversionMethod": "HALFTONE", "projectId": self.project_id,
               "serviceId": "01GVRB50KEQFFE1SGMPFRNBG6J", "createTime": now_iso(), "hasFile": True,
               "_callback": cb}
        with self.lock:
            self.faxes[fax["id"]] = fax
            self.files[fax["id"]] = file_bytes
        t = threading.Thread(target=self._play, args=(fax, plan), daemon=True)
        self.threads.append(t)
        t.start()
        if plan.stall:
            time.sleep(plan.stall)
        if plan.hang_up:
            h.close_connection = True
            h.connection.shutdown(2)
            return None
        try:
            return h._send(200, self._public(fax))
        except OSError:   # the client went away meanwhile (a crashed gateway)
            return None

    def _list(self, h, q):
        if self.fail_list:
            return h._send(500, {"code": 500, "status": "INTERNAL", "message": "Internal service error"})
        labels = {k[len("labels["):-1]: v[0] for k, v in q.items() if k.startswith("labels[") and k.endswith("]")}
        with self.lock:
            faxes = list(self.faxes.values())
        out = []
        for f in faxes:
            if "to" in q and not f["to"].startswith(q["to"][0]):
                continue
            if "direction" in q and f["direction"] != q["direction"][0]:
                continue
            if "createTime>" in q and f["createTime"][:len(q["createTime>"][0])] < q["createTime>"][0]:
                continue
            if any(f["labels"].get(k) != v for k, v in labels.items()):
                continue
            out.append(self._public(f))
        size = int(q.get("pageSize", ["100"])[0])
        return h._send(200, {"faxes": out[:size], "page": 1, "totalPages": 1, "pageSize": size,
                             "totalItems": len(out)})

    # -- the fax plays out, then FAX_COMPLETED --------------------------------
    def _play(self, fax, plan):
        time.sleep(plan.delay)
        with self.lock:
            if plan.outcome == "COMPLETED":
                fax.update(status="COMPLETED", numberOfPages=plan.pages, pagesSentSuccessfully=plan.pages,
                           completedTime=now_iso(), price={"amount": "0.07", "currencyCode": "USD"})
            else:
                _, code, etype, msg = plan.outcome
                fax.update(status="FAILURE", errorCode=code, errorType=etype, errorMessage=msg,
                           numberOfPages=plan.pages, completedTime=now_iso())
        if not plan.callback or not fax.get("_callback"):
            return
        for _ in range(1 + plan.replays):
            self.deliver_completed(fax)

    def deliver_completed(self, fax, user=None, password=None):
        """POSTs the FAX_COMPLETED event of fax to its callbackUrl (credentials from the URL
        unless given). Returns the HTTP status."""
        cb = fax["_callback"]
        s = urllib.parse.urlsplit(cb)
        user = urllib.parse.unquote(s.username) if user is None and s.username else user
        password = urllib.parse.unquote(s.password or "") if password is None and s.username else password
        netloc = s.hostname + (f":{s.port}" if s.port else "")
        url = urllib.parse.urlunsplit((s.scheme, netloc, s.path, s.query, s.fragment))
        event = {"event": "FAX_COMPLETED", "eventTime": now_iso(), "fax": self._public(fax)}
        pdf = self.files.get(fax["id"], b"%PDF-1.4\n%%EOF\n")
        if fax["callbackUrlContentType"] == "application/json":
            body = dict(event, files=[{"file": base64.b64encode(pdf).decode(), "fileType": "PDF"}])
            data, ctype = json.dumps(body).encode(), "application/json"
        else:
            data, ctype = encode_multipart([
                ("event", b"FAX_COMPLETED", None, None),
                ("eventTime", event["eventTime"].encode(), None, None),
                ("fax", json.dumps(event["fax"]).encode(), "application/json", None),
                ("file", pdf, "application/pdf", f"{fax['id']}.pdf")])
        auth = (user, password) if user is not None else None
        try:
            r = requests.post(url, data=data, headers={"Content-Type": ctype}, auth=auth, timeout=30,
                              proxies={"http": None, "https": None})
            code = r.status_code
        except requests.RequestException:
            code = 0
        with self.lock:
            self.callbacks.append((url, code, event))
        return code

    def send_inbound(self, url, user, password, pdf, form="multipart", fax_id=None, frm="+14155552222",
                     to="+14155553333"):
        """An INCOMING_FAX webhook as Sinch sends it to a service's incomingWebhookUrl."""
        fax = {"id": fax_id or new_fax_id(), "direction": "INBOUND", "from": frm, "to": to, "numberOfPages": 1,
               "status": "COMPLETED", "price": {"amount": "0.00", "currencyCode": "USD"}, "createTime": now_iso(),
               "completedTime": now_iso(), "projectId": self.project_id, "serviceId": "01GVRB50KEQFFE1SGMPFRNBG6J"}
        if form == "json":
            data = json.dumps({"event": "INCOMING_FAX", "eventTime": now_iso(), "fax": fax,
                               "file": base64.b64encode(pdf).decode(), "fileType": "PDF"}).encode()
            ctype = "application/json"
        else:
            data, ctype = encode_multipart([
                ("event", b"INCOMING_FAX", None, None),
                ("eventTime", now_iso().encode(), None, None),
                ("fax", json.dumps(fax).encode(), "application/json", None),
                ("file", pdf, "application/pdf", f"{fax['id']}.pdf")])
        auth = (user, password) if user is not None else None
        r = requests.post(url, data=data, headers={"Content-Type": ctype}, auth=auth, timeout=60,
                          proxies={"http": None, "https": None})
        return r, fax
