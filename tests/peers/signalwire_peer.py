"""signalwire_peer.py — a stand-in for SignalWire's Compatibility ("LaML") fax API on
127.0.0.1, for black-box tests (docs/internals/protocols.md §3).

POST /api/laml/2010-04-01/Accounts/{Project}/Faxes (form: To, From, MediaUrl, Quality,
StatusCallback, StatusCallbackMethod; HTTP Basic ProjectID:APIToken) answers 201 with
the Fax resource (sid, account_sid, direction, from, to, status, num_pages, quality,
media_url, media_sid, duration, price, price_unit, error_code, error_message, links);
GET …/Faxes/{Sid}; GET …/Faxes (filters To, DateCreatedAfter; PageSize; 2010-style
page {"faxes", "next_page_uri", …}). Errors are Twilio-style {code, message,
more_info, status}.

Like the real service it downloads MediaUrl (a failed download ends the fax as
failed with error 11200), plays the fax through queued → processing → sending →
<final>, and POSTs each status to StatusCallback as a form signed Twilio-style in
X-SignalWire-Signature (base64 HMAC-SHA1 of URL + sorted params, keyed by the
project's signing key)."""

import base64
import datetime
import hashlib
import hmac
import json
import queue
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests


def sign(key, url, params):
    """Twilio-style signature of url + params (dict or list of pairs)."""
    items = sorted(params.items() if isinstance(params, dict) else params)
    data = url + "".join(k + v for k, v in items)
    return base64.b64encode(hmac.new(key.encode(), data.encode(), hashlib.sha1).digest()).decode()


def rfc2822_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S +0000")


class Plan:
    """What the peer does with one send.

    http: status for the POST (201 = accept), error: (code, message) for errors.
    final: delivered | busy | no-answer | failed | canceled; error_code/error_message
    for failed. callbacks: which statuses are reported (default all); replays: extra
    deliveries of the final callback; delay: seconds between statuses."""

    def __init__(self, http=201, error=None, final="delivered", error_code=None, error_message=None,
                 callbacks=True, replays=0, delay=0.05, pages=1):
        self.http = http
        self.error = error
        self.final = final
        self.error_code = error_code
        self.error_message = error_message
        self.callbacks = callbacks
        self.replays = replays
        self.delay = delay
        self.pages = pages


class SignalWirePeer:
    def __init__(self, project="b6a9c1f0-1111-4222-8333-444455556666", token="PT0123456789abcdef",
                 signing_key="PSK_signing_key_0123"):
        self.project = project
        self.token = token
        self.signing_key = signing_key
        self.requests = []
        self.faxes = {}             # sid -> resource (dict); "_callback" keeps the StatusCallback
        self.media_fetches = []     # (url, status, first bytes)
        self.callbacks = []         # (status sent, http code)
        self.plans = queue.Queue()
        self.default_plan = Plan()
        self.deny_all = False
        self.lock = threading.Lock()
        self.threads = []
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                peer._handle(self, "POST")

            def do_GET(self):
                peer._handle(self, "GET")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    # -- controls ------------------------------------------------------------
    def plan(self, *plans):
        for p in plans:
            self.plans.put(p)

    def sends(self):
        return [r for r in self.requests if r["method"] == "POST"]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        for t in self.threads:
            t.join(timeout=5)

    # -- HTTP ------------------------------------------------------------------
    @staticmethod
    def _send(h, code, obj):
        data = json.dumps(obj).encode()
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _error(self, h, status, code, message):
        self._send(h, status, {"code": code, "message": message,
                               "more_info": f"https://developer.signalwire.com/compatibility-api/reference/error-codes#{code}",
                               "status": status})

    def _handle(self, h, method):
        split = urllib.parse.urlsplit(h.path)
        n = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(n) if n else b""
        form = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)) if method == "POST" else {}
        query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        rec = {"method": method, "path": split.path, "query": query, "form": form,
               "headers": dict(h.headers.items())}
        with self.lock:
            self.requests.append(rec)
        auth = h.headers.get("Authorization", "")
        ok = False
        if auth.startswith("Basic "):
            user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            ok = user == self.project and pw == self.token
        if not ok or self.deny_all:
            return self._error(h, 401, 20003, "Authentication Error - invalid username")
        base = f"/api/laml/2010-04-01/Accounts/{self.project}/Faxes"
        path = split.path[:-5] if split.path.endswith(".json") else split.path
        if path == base and method == "POST":
            return self._create(h, form)
        if path == base and method == "GET":
            return self._list(h, query)
        if path.startswith(base + "/") and method == "GET":
            fax = self.faxes.get(path[len(base) + 1:])
            if not fax:
                return self._error(h, 404, 20404, f"The requested resource {split.path} was not found")
            return self._send(h, 200, self._public(fax))
        return self._error(h, 404, 20404, f"The requested resource {split.path} was not found")

    @staticmethod
    def _public(fax):
        return {k: v for k, v in fax.items() if not k.startswith("_")}

    def _create(self, h, form):
        try:
            plan = self.plans.get_nowait()
        except queue.Empty:
            plan = self.default_plan
        if plan.http != 201:
            code, message = plan.error or ((20500, "Internal Server Error") if plan.http >= 500 else
                                           (21211, f"The 'To' number {form.get('To')} is not a valid phone number."))
            return self._error(h, plan.http, code, message)
        if "MediaUrl" not in form or "To" not in form:
            return self._error(h, 400, 21604 if "To" not in form else 21620, "A required parameter is missing")
        sid = str(uuid.uuid4())
        now = rfc2822_now()
        fax = {"account_sid": self.project, "api_version": "v1", "date_created": now, "date_updated": now,
               "direction": "outbound", "from": form.get("From", "+15550009999"), "media_url": form["MediaUrl"],
               "media_sid": None, "num_pages": None, "price": None, "price_unit": "USD",
               "quality": form.get("Quality", "fine"), "sid": sid, "status": "queued", "to": form["To"],
               "duration": None, "error_code": None, "error_message": None,
               "url": f"/api/laml/2010-04-01/Accounts/{self.project}/Faxes/{sid}",
               "links": {"media": f"/api/laml/2010-04-01/Accounts/{self.project}/Faxes/{sid}/Media"},
               "_callback": form.get("StatusCallback"), "_created": time.time()}
        with self.lock:
            self.faxes[sid] = fax
        t = threading.Thread(target=self._play, args=(fax, plan), daemon=True)
        self.threads.append(t)
        t.start()
        return self._send(h, 201, self._public(fax))

    def _list(self, h, q):
        with self.lock:
            faxes = sorted(self.faxes.values(), key=lambda f: f["_created"])
        out = []
        after = q.get("DateCreatedAfter")
        after_ts = datetime.datetime.fromisoformat(after.replace("Z", "+00:00")).timestamp() if after else None
        for f in faxes:
            if "To" in q and f["to"] != q["To"]:
                continue
            if after_ts is not None and f["_created"] < after_ts:
                continue
            out.append(self._public(f))
        size = int(q.get("PageSize", "50"))
        page = int(q.get("Page", "0"))
        chunk = out[page * size:(page + 1) * size]
        base = f"/api/laml/2010-04-01/Accounts/{self.project}/Faxes"
        nxt = None
        if (page + 1) * size < len(out):
            qq = dict(q, Page=str(page + 1))
            nxt = base + "?" + urllib.parse.urlencode(qq)
        return self._send(h, 200, {"faxes": chunk, "page": page, "page_size": size, "first_page_uri": base,
                                   "next_page_uri": nxt, "previous_page_uri": None, "uri": base})

    # -- playing the fax ---------------------------------------------------------
    def _play(self, fax, plan):
        try:
            r = requests.get(fax["media_url"], timeout=30, proxies={"http": None, "https": None})
            got = r.content
            with self.lock:
                self.media_fetches.append((fax["media_url"], r.status_code, got[:8]))
            fetched = r.status_code == 200 and got.startswith(b"%PDF")
        except requests.RequestException:
            fetched = False
        statuses = ["queued", "processing", "sending"]
        final = plan.final if fetched else "failed"
        for st in statuses:
            time.sleep(plan.delay)
            self._set(fax, status=st)
            if plan.callbacks is True:
                self.deliver(fax)
        time.sleep(plan.delay)
        upd = {"status": final}
        if final == "delivered":
            upd.update(num_pages=plan.pages, duration=12, price="-0.0105")
        elif final == "failed":
            upd.update(error_code=plan.error_code if fetched else 11200,
                       error_message=plan.error_message if fetched else "HTTP retrieval failure")
        self._set(fax, **upd)
        if plan.callbacks:
            for _ in range(1 + plan.replays):
                self.deliver(fax)

    def _set(self, fax, **kw):
        with self.lock:
            fax.update(kw, date_updated=rfc2822_now())

    def callback_params(self, fax):
        p = {"AccountSid": self.project, "ApiVersion": "v1", "FaxSid": fax["sid"], "FaxStatus": fax["status"],
             "From": fax["from"], "To": fax["to"], "Direction": "outbound",
             "OriginalMediaUrl": fax["media_url"], "RemoteStationId": "REMOTE CSID 42"}
        if fax["num_pages"] is not None:
            p["NumPages"] = str(fax["num_pages"])
            p["MediaUrl"] = self.url + fax["links"]["media"]
            p["MediaSid"] = "ME" + fax["sid"].replace("-", "")[:32]
        if fax["error_code"] is not None:
            p["ErrorCode"] = str(fax["error_code"])
        if fax["error_message"]:
            p["ErrorMessage"] = fax["error_message"]
        return p

    def deliver(self, fax, key=None, signature=None, params=None, header="X-SignalWire-Signature"):
        """POSTs fax's current status to its StatusCallback, signed (or with the given signature)."""
        url = fax["_callback"]
        if not url:
            return None
        params = params or self.callback_params(fax)
        sig = signature if signature is not None else sign(key or self.signing_key, url, params)
        headers = {header: sig} if sig else {}
        try:
            r = requests.post(url, data=params, headers=headers, timeout=30, proxies={"http": None, "https": None})
            code = r.status_code
        except requests.RequestException:
            code = 0
        with self.lock:
            self.callbacks.append((params.get("FaxStatus"), code))
        return code


if __name__ == "__main__":   # manual use and the browser tests: python3 signalwire_peer.py
    import os
    p = SignalWirePeer(project=os.environ.get("PROJECT", "b6a9c1f0-1111-4222-8333-444455556666"),
                       token=os.environ.get("TOKEN", "PT0123456789abcdef"))
    print(f"SignalWire peer on 127.0.0.1:{p.port} ({p.url})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
