"""phaxio_peer.py — a stand-in for the Phaxio v2.1 API, for black-box tests of
FAX_BACKEND=phaxio.  Python 3 stdlib only.  A real HTTP server on 127.0.0.1 (port 0):

  POST /v2.1/faxes           multipart/form-data, HTTP Basic checked (401 in Phaxio's
                             {"success":false,"message":...} envelope); records every
                             request; answers {"success":true,"message":"Fax queued for
                             sending","data":{"id":N}}
  GET  /v2.1/faxes/{id}      {"success":true,...,"data":<fax object>}
  GET  /v2.1/faxes?tag[faxbot_job]=..&direction=sent   list (data array + paging)
  GET  /v2.1/account/status  {"success":true,...,"data":{"balance":...}}

After accepting a fax it behaves like Phaxio: it FETCHES the content_url (recording
status and bytes), then POSTs v2.1 webhooks to the fax's callback_url —
multipart/form-data with `event_type`, `fax` (the fax object as a JSON string) and,
for transmitting_page, `page` — signed with X-Phaxio-Signature exactly as
https://www.phaxio.com/docs/security/callbacks says: HMAC-SHA1 (hex) keyed with the
webhook token over URL + sorted fields (name+value) + sorted files (name + SHA-1 hex
of the contents).  Webhooks are retried on connection errors for a while (Phaxio
retries failed webhooks), so a gateway restart in between loses nothing.

The test scripts each POST /faxes in turn with `peer.script(...)` actions (the
default is a 1-page success):
  {"http": 500}                       answer 500, create nothing
  {"http": 422, "message": "..."}     answer 422 in the envelope, create nothing
  {"outcome": "success", "pages": 2}  accept; transmitting_page per page, then fax_completed
  {"outcome": "busy"}                 accept; fax_completed failure lineError 17 Busy
  {"outcome": "hold"}                 accept; send nothing until peer.release(fax_id)
  {"outcome": "silent"}               accept and deliver (status success) but post no
                                      webhook: only polling GET /faxes/{id} can tell
  {"order": "completed_first"}        (with success) the final webhook before the page one
  {"stall": True}                     accept and record, but hold the HTTP answer until
                                      peer.unstall(); then process as a success
  {"drop": True}                      read the request, record nothing, hold until
                                      peer.unstall(), then close without an answer
"""

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def phaxio_signature(token, url, fields, files=()):
    """fields: [(name, value str)], files: [(name, bytes)] -> lowercase hex HMAC-SHA1."""
    data = url
    for name, value in sorted(fields, key=lambda kv: kv[0]):
        data += name + value
    for name, content in sorted(files, key=lambda kv: kv[0]):
        data += name + hashlib.sha1(content).hexdigest()
    return hmac.new(token.encode(), data.encode(), hashlib.sha1).hexdigest()


def multipart_encode(fields, files=(), boundary="----PhaxioPeerBoundary4f1c"):
    """fields: [(name, str)], files: [(name, filename, bytes, ctype)] -> (body, content type)."""
    out = []
    for name, value in fields:
        out.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n".encode()
                   + value.encode() + b"\r\n")
    for name, filename, content, ctype in files:
        out.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; "
                   f"filename=\"{filename}\"\r\nContent-Type: {ctype}\r\n\r\n".encode() + content + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


def multipart_decode(body, content_type):
    """-> (fields {name: str}, files {name: (filename, bytes)})."""
    boundary = None
    for piece in content_type.split(";"):
        piece = piece.strip()
        if piece.lower().startswith("boundary="):
            boundary = piece[9:].strip('"')
    if not boundary:
        raise ValueError("no boundary")
    fields, files = {}, {}
    delim = b"--" + boundary.encode()
    for chunk in body.split(delim)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk
        head, _, content = chunk.partition(b"\r\n\r\n")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        name = filename = None
        for line in head.decode("latin-1").split("\r\n"):
            if line.lower().startswith("content-disposition:"):
                for attr in line.split(";")[1:]:
                    k, _, v = attr.strip().partition("=")
                    v = v.strip('"')
                    if k == "name":
                        name = v
                    elif k == "filename":
                        filename = v
        if name is None:
            continue
        if filename is not None:
            files[name] = (filename, content)
        else:
            fields[name] = content.decode("utf-8")
    return fields, files


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())


class PhaxioPeer:
    def __init__(self, api_key="test-api-key", api_secret="test-api-secret",
                 callback_token="test-webhook-token", balance=8325):
        self.api_key = api_key
        self.api_secret = api_secret
        self.callback_token = callback_token
        self.balance = balance
        self.lock = threading.Lock()
        self.sends = []        # every POST /faxes: {"fields", "files", "auth_ok", "answer"}
        self.faxes = {}        # id -> fax object (dict), plus private "_callback_url"
        self.fetches = []      # {"fax_id", "url", "status", "body"}
        self.callbacks = []    # {"fax_id", "url", "fields", "headers", "body", "ctype", "status"}
        self.requests = []     # (method, path) of every API request
        self._script = []
        self._holds = {}       # fax id -> Event (outcome "hold")
        self._stall = threading.Event()
        self.stalled = threading.Event()   # set when a stall/drop request has arrived
        self._next_id = 323034811
        self._threads = []
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                peer._handle_get(self)

            def do_POST(self):
                peer._handle_post(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v2.1"
        self._serve = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._serve.start()

    # -- control from the tests ------------------------------------------------
    def script(self, *actions):
        with self.lock:
            self._script.extend(actions)

    def release(self, fax_id, outcome="success", pages=1):
        ev = self._holds.get(str(fax_id))
        assert ev is not None, f"fax {fax_id} is not held"
        ev.outcome = (outcome, pages)
        ev.set()

    def unstall(self):
        self._stall.set()

    def close(self):
        self._stall.set()
        for ev in list(self._holds.values()):
            ev.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def created(self):
        """The faxes Phaxio created (ids, in order)."""
        with self.lock:
            return list(self.faxes.keys())

    def wait_for(self, cond, timeout=30.0, what="condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            time.sleep(0.05)
        raise AssertionError(f"phaxio peer: timed out waiting for {what}")

    # -- webhooks --------------------------------------------------------------
    def sign(self, url, fields, files=(), token=None):
        return phaxio_signature(self.callback_token if token is None else token, url, fields, files)

    def post_webhook(self, url, fields, files=(), token=None, signature=None, retry_s=0.0):
        """POSTs a signed multipart webhook; returns (status, body bytes)."""
        body, ctype = multipart_encode(fields, [(n, fn, c, t) for n, fn, c, t in files])
        sig = signature if signature is not None else \
            self.sign(url, fields, [(n, c) for n, _, c, _ in files], token)
        headers = {"Content-Type": ctype, "X-Phaxio-Signature": sig}
        deadline = time.monotonic() + retry_s
        while True:
            req = urllib.request.Request(url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    return r.status, r.read()
            except urllib.error.HTTPError as e:
                return e.code, e.read()
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() >= deadline:
                    return None, b""
                time.sleep(0.2)

    def send_inbound(self, url, pdf, fax_id, from_number="+14155550123", to_number="+15558675309",
                     token=None, signature=None, pages=1):
        fax = {"id": int(fax_id), "direction": "received", "num_pages": pages, "status": "success",
               "is_test": False, "created_at": _now(), "caller_id": None,
               "from_number": from_number, "to_number": to_number, "completed_at": _now(),
               "cost": 7, "tags": {}, "recipients": None, "error_id": None, "error_type": None,
               "error_message": None}
        fields = [("event_type", "fax_received"), ("fax", json.dumps(fax))]
        return self.post_webhook(url, fields, [("file", f"Fax-{fax_id}.pdf", pdf, "application/pdf")],
                                 token=token, signature=signature)

    def _fax_callback(self, fax_id, event_type, extra=()):
        with self.lock:
            fax = dict(self.faxes[fax_id])
        url = fax.pop("_callback_url", None)
        if not url:
            return
        fields = [("event_type", event_type), ("fax", json.dumps(fax))] + list(extra)
        status, body = self.post_webhook(url, fields, retry_s=40.0)
        with self.lock:
            self.callbacks.append({"fax_id": fax_id, "url": url, "fields": fields, "status": status,
                                   "body": body, "event_type": event_type})

    # -- processing a fax like Phaxio -----------------------------------------
    def _set(self, fax_id, **kw):
        with self.lock:
            self.faxes[fax_id].update(kw)

    def _fetch(self, fax_id, url):
        deadline = time.monotonic() + 40
        while True:
            try:
                with urllib.request.urlopen(url, timeout=30) as r:
                    status, body = r.status, r.read()
                break
            except urllib.error.HTTPError as e:
                status, body = e.code, e.read()
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() >= deadline:
                    status, body = None, b""
                    break
                time.sleep(0.2)
        with self.lock:
            self.fetches.append({"fax_id": fax_id, "url": url, "status": status, "body": body})
        return status, body

    def _process(self, fax_id, action, content_url):
        outcome = action.get("outcome", "success")
        pages = int(action.get("pages", 1))
        if outcome == "hold":
            ev = threading.Event()
            ev.outcome = ("success", pages)
            self._holds[fax_id] = ev
            ev.wait(120)
            outcome, pages = ev.outcome
        if content_url:
            status, body = self._fetch(fax_id, content_url)
            if status != 200 or not body.startswith(b"%PDF"):
                outcome = "conversion"
        self._set(fax_id, status="inprogress")
        if outcome == "silent":
            self._set(fax_id, status="success", num_pages=pages, completed_at=_now())
            return
        if outcome == "success":
            page_events = [("transmitting_page", [("page", str(p)), ("recipient_phone_number",
                                                                      self.faxes[fax_id]["to_number"])])
                           for p in range(1, pages + 1)]
            if action.get("order") == "completed_first":
                self._set(fax_id, status="success", num_pages=pages, completed_at=_now())
                self.faxes[fax_id]["recipients"][0].update(status="success", bitrate=14400)
                self._fax_callback(fax_id, "fax_completed")
                for ev, extra in page_events:
                    self._fax_callback(fax_id, ev, extra)
            else:
                for ev, extra in page_events:
                    self._fax_callback(fax_id, ev, extra)
                self._set(fax_id, status="success", num_pages=pages, completed_at=_now())
                self.faxes[fax_id]["recipients"][0].update(status="success", bitrate=14400)
                self._fax_callback(fax_id, "fax_completed")
        else:
            err = {"busy": ("lineError", 17, "Busy"),
                   "no_answer": ("lineError", 16, "Ring Timeout"),
                   "conversion": ("documentConversionError", 54, "Could not access the url you provided."),
                   }.get(outcome, ("faxError", 6, "There was an error communicating with the far side."))
            if outcome == "busy" and action.get("retry_scheduled"):
                self._fax_callback(fax_id, "retry_scheduled", [("retry_count", "1")])
            self._set(fax_id, status="failure", num_pages=0, completed_at=_now(),
                      error_type=err[0], error_id=err[1], error_message=err[2])
            self.faxes[fax_id]["recipients"][0].update(status="failure", error_type=err[0],
                                                       error_id=err[1], error_message=err[2],
                                                       error_code=err[2])
            self._fax_callback(fax_id, "fax_completed")

    # -- HTTP ------------------------------------------------------------------
    def _auth_ok(self, h):
        want = base64.b64encode(f"{self.api_key}:{self.api_secret}".encode()).decode()
        return h.headers.get("Authorization", "") == f"Basic {want}"

    @staticmethod
    def _reply(h, status, obj):
        body = json.dumps(obj).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _handle_get(self, h):
        u = urllib.parse.urlsplit(h.path)
        with self.lock:
            self.requests.append(("GET", h.path))
        if not self._auth_ok(h):
            return self._reply(h, 401, {"success": False, "message": "Invalid API credentials"})
        if u.path == "/v2.1/account/status":
            return self._reply(h, 200, {"success": True, "message": "Account status retrieved successfully",
                                        "data": {"balance": self.balance,
                                                 "faxes_today": {"sent": len(self.faxes), "received": 0},
                                                 "faxes_this_month": {"sent": len(self.faxes), "received": 0}}})
        if u.path == "/v2.1/faxes":
            q = urllib.parse.parse_qs(u.query)
            tags = {k[4:-1]: v[0] for k, v in q.items() if k.startswith("tag[") and k.endswith("]")}
            direction = q.get("direction", [None])[0]
            with self.lock:
                found = [self._public(f) for f in self.faxes.values()
                         if all(f["tags"].get(k) == v for k, v in tags.items())
                         and (direction is None or f["direction"] == direction)]
            found.reverse()   # newest first, like Phaxio
            return self._reply(h, 200, {"success": True, "message": "Retrieved faxes successfully",
                                        "data": found,
                                        "paging": {"total": len(found), "per_page": 20, "page": 1}})
        if u.path.startswith("/v2.1/faxes/"):
            fid = u.path.rsplit("/", 1)[1]
            with self.lock:
                f = self.faxes.get(fid)
                f = self._public(f) if f else None
            if not f:
                return self._reply(h, 404, {"success": False, "message": "Fax not found"})
            return self._reply(h, 200, {"success": True, "message": "Retrieved fax successfully", "data": f})
        return self._reply(h, 404, {"success": False, "message": "Not found"})

    @staticmethod
    def _public(f):
        return {k: v for k, v in f.items() if not k.startswith("_")}

    def _handle_post(self, h):
        length = int(h.headers.get("Content-Length", "0") or 0)
        body = h.rfile.read(length) if length else b""
        with self.lock:
            self.requests.append(("POST", h.path))
        if h.path != "/v2.1/faxes":
            return self._reply(h, 404, {"success": False, "message": "Not found"})
        try:
            fields, files = multipart_decode(body, h.headers.get("Content-Type", ""))
        except ValueError:
            return self._reply(h, 400, {"success": False, "message": "Expected multipart/form-data"})
        auth_ok = self._auth_ok(h)
        with self.lock:
            action = self._script.pop(0) if (auth_ok and self._script) else {}
        if action.get("drop"):
            self.stalled.set()
            self._stall.wait(120)
            h.close_connection = True
            try:
                h.connection.shutdown(2)
            except OSError:
                pass
            return
        record = {"fields": fields, "files": files, "auth_ok": auth_ok, "answer": None}
        with self.lock:
            self.sends.append(record)
        if not auth_ok:
            record["answer"] = 401
            return self._reply(h, 401, {"success": False, "message": "Invalid API credentials"})
        if "http" in action:
            record["answer"] = action["http"]
            return self._reply(h, action["http"], {"success": False,
                                                   "message": action.get("message", "Internal server error")})
        if "to" not in fields or not ("content_url" in fields or "file" in files):
            record["answer"] = 422
            return self._reply(h, 422, {"success": False,
                                        "message": "You must provide a 'to' and a file or content_url"})
        with self.lock:
            fid = str(self._next_id)
            self._next_id += 1
            tags = {k[4:-1]: v for k, v in fields.items() if k.startswith("tag[") and k.endswith("]")}
            self.faxes[fid] = {
                "id": int(fid), "direction": "sent", "num_pages": 0, "status": "queued", "is_test": True,
                "created_at": _now(), "caller_id": fields.get("caller_id"), "from_number": None,
                "completed_at": None, "caller_name": None, "cost": 7, "tags": tags,
                "recipients": [{"phone_number": fields["to"], "status": "queued", "retry_count": 0,
                                "completed_at": None, "bitrate": None, "resolution": None,
                                "error_type": None, "error_id": None, "error_message": None}],
                "to_number": fields["to"], "error_id": None, "error_type": None, "error_message": None,
                "barcodes": [], "_callback_url": fields.get("callback_url"),
            }
        record["answer"] = 200
        record["fax_id"] = fid
        if action.get("stall"):
            self.stalled.set()
            self._stall.wait(120)
        try:
            self._reply(h, 200, {"success": True, "message": "Fax queued for sending", "data": {"id": int(fid)}})
        except OSError:
            pass   # the client died while we stalled: Phaxio keeps the fax anyway
        t = threading.Thread(target=self._process, args=(fid, action, fields.get("content_url")), daemon=True)
        t.start()
        self._threads.append(t)


if __name__ == "__main__":   # manual use and the browser tests: python3 phaxio_peer.py
    import os
    p = PhaxioPeer(api_key=os.environ.get("API_KEY", "test-api-key"), api_secret=os.environ.get("API_SECRET", "test-api-secret"),
                   callback_token=os.environ.get("CALLBACK_TOKEN", "test-webhook-token"))
    print(f"Phaxio peer on 127.0.0.1:{p.port} ({p.url})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
