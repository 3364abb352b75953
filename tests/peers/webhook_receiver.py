"""webhook_receiver.py — a client's webhook receiver, for black-box tests of the
gateway's outgoing webhooks.  Python 3 stdlib only: a real HTTP server on
127.0.0.1 (port 0) that records every POST (path, headers, raw body, time) and
answers from a per-path script:

    rx = WebhookReceiver().start()
    rx.script("/flaky", [500, 500, 500, 200])   # then the last answer repeats
    rx.script("/gone", [410])
    rx.script("/slow", [("hang", 30), 200])     # hold the first answer 30 s (or until rx.release())
    url = rx.url("/flaky")
    rx.wait(lambda reqs: len(reqs) >= 4, timeout=20)
    rx.stop()

Paths without a script answer 200.  verify(req, secret) checks a request's
Standard Webhooks signature with Python's own hmac (an implementation
independent of the gateway's): HMAC-SHA256 keyed with the base64 after
"whsec_", over "<webhook-id>.<webhook-timestamp>.<raw body>", as
"v1,<base64>" in webhook-signature (several may be space-separated).
"""

import base64
import hashlib
import hmac
import http.server
import json
import threading
import time


def verify(req, secret):
    """True if req (a recorded request dict) carries a valid v1 signature under secret."""
    key = base64.b64decode(secret[len("whsec_"):]) if secret.startswith("whsec_") else secret.encode()
    wid = req["headers"].get("webhook-id")
    ts = req["headers"].get("webhook-timestamp")
    sig = req["headers"].get("webhook-signature") or ""
    if not wid or not ts:
        return False
    signed = f"{wid}.{ts}.".encode() + req["body"]
    want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for part in sig.split(" "):
        version, _, value = part.partition(",")
        if version == "v1" and hmac.compare_digest(value, want):
            return True
    return False


class WebhookReceiver:
    def __init__(self):
        self.requests = []
        self.scripts = {}
        self.lock = threading.Condition()
        self.released = threading.Event()
        self.httpd = None

    def script(self, path, answers):
        with self.lock:
            self.scripts[path] = list(answers)

    def release(self):
        self.released.set()

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def start(self):
        rx = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with rx.lock:
                    answers = rx.scripts.get(self.path)
                    answer = 200
                    if answers:
                        answer = answers.pop(0) if len(answers) > 1 else answers[0]
                    rec = {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                           "body": body, "at": time.time(), "answer": answer}
                    try:
                        rec["json"] = json.loads(body)
                    except ValueError:
                        rec["json"] = None
                    rx.requests.append(rec)
                    rx.lock.notify_all()
                if isinstance(answer, tuple) and answer[0] == "hang":
                    rx.released.wait(answer[1])
                    self.close_connection = True
                    return
                self.send_response(answer)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.released.set()
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()

    def of(self, path=None):
        with self.lock:
            return [r for r in self.requests if path is None or r["path"] == path]

    def wait(self, pred, timeout=30.0, path=None):
        """Waits until pred(requests for path) is true; returns those requests."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                reqs = [r for r in self.requests if path is None or r["path"] == path]
                if pred(reqs):
                    return reqs
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"webhook receiver: condition not met in {timeout:.0f} s; "
                                         f"got {[(r['path'], r['answer'], (r['json'] or {}).get('type')) for r in reqs]}")
                self.lock.wait(min(left, 0.5))
