#!/usr/bin/python3
"""s3_peer.py — a stand-in for S3 that VERIFIES AWS Signature V4, as real S3 does
(s3rver, tried for this, accepts unsigned requests). Python 3 stdlib only; a real
HTTP server on 127.0.0.1, path-style (/bucket/key), objects kept in memory.

  PUT    /bucket/key              store (x-amz-content-sha256 must match the body,
                                  or be UNSIGNED-PAYLOAD); x-amz-server-side-encryption
                                  and …-aws-kms-key-id are recorded with the object
  GET    /bucket/key              the object (Range: bytes=a-b honoured)
  HEAD   /bucket/key              its length and ETag
  DELETE /bucket/key              204
  GET    /bucket?list-type=2&prefix=p   ListObjectsV2 (keys only)

Every request must carry a valid Authorization (AWS4-HMAC-SHA256) header or a
presigned query (X-Amz-Signature): the signature is recomputed here from the
request as received — an independent implementation of AWS's canonical request —
and a mismatch is 403 SignatureDoesNotMatch, a wrong key 403 InvalidAccessKeyId,
as S3 answers. Every request is recorded (method, path, headers, verdict).

As a command: runs a command with the peer up (bucket "faxbot-test", region
us-east-1) and FAXBOT_TEST_S3_URL, FAXBOT_TEST_S3_KEY, FAXBOT_TEST_S3_SECRET in its
environment:
    tests/peers/s3_peer.py run -- build/tests/unit/store/test_s3_client
"""

import datetime
import hashlib
import hmac
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _uri_encode(s, keep_slash):
    safe = "-_.~" + ("/" if keep_slash else "")
    return urllib.parse.quote(s, safe=safe)


def canonical_request(method, raw_path, query_pairs, headers, signed, payload_hash):
    """AWS's canonical request from the request as received (raw_path is encoded as sent)."""
    path = _uri_encode(urllib.parse.unquote(raw_path), True) or "/"
    q = sorted((_uri_encode(k, False), _uri_encode(v, False)) for k, v in query_pairs)
    canon_q = "&".join(f"{k}={v}" for k, v in q)
    lower = {}
    for k, v in headers.items():
        lower[k.lower()] = " ".join(v.strip().split())
    canon_h = "".join(f"{name}:{lower.get(name, '')}\n" for name in signed)
    return "\n".join([method, path, canon_q, canon_h, ";".join(signed), payload_hash])


def signature(secret, amz_date, region, service, canon):
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canon.encode()).hexdigest()])
    k = hmac.new(("AWS4" + secret).encode(), amz_date[:8].encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()


class S3Peer:
    def __init__(self, access_key, secret, region="us-east-1"):
        self.access_key, self.secret, self.region = access_key, secret, region
        self.objects = {}            # (bucket, key) -> {"body", "sse", "kms_key", "content_type"}
        self.requests = []           # (method, path, verdict)
        self.lock = threading.RLock()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _answer(self, status, body=b"", ctype="application/xml", extra=None):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _error(self, status, code, msg):
                with peer.lock:
                    peer.requests.append((self.command, self.path, code))
                body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code>"
                        f"<Message>{msg}</Message></Error>").encode()
                self._answer(status, body)

            def _verify(self, body):
                """None when the signature holds, else (status, code, message)."""
                url = urllib.parse.urlsplit(self.path)
                pairs = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
                qd = dict(pairs)
                auth = self.headers.get("Authorization", "")
                if auth.startswith("AWS4-HMAC-SHA256 "):
                    fields = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
                    cred, signed, sig = fields.get("Credential", ""), fields.get("SignedHeaders", ""), fields.get("Signature", "")
                    amz_date = self.headers.get("x-amz-date", "")
                    payload = self.headers.get("x-amz-content-sha256", "")
                    if not payload:
                        return 400, "InvalidRequest", "Missing required header x-amz-content-sha256"
                    if payload != "UNSIGNED-PAYLOAD" and payload != hashlib.sha256(body).hexdigest():
                        return 400, "XAmzContentSHA256Mismatch", "The provided x-amz-content-sha256 does not match"
                    qpairs = pairs
                elif "X-Amz-Signature" in qd:
                    cred, signed, sig = qd.get("X-Amz-Credential", ""), qd.get("X-Amz-SignedHeaders", ""), qd["X-Amz-Signature"]
                    amz_date, payload = qd.get("X-Amz-Date", ""), "UNSIGNED-PAYLOAD"
                    qpairs = [(k, v) for k, v in pairs if k != "X-Amz-Signature"]
                    try:
                        t = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
                        if datetime.datetime.utcnow() > t + datetime.timedelta(seconds=int(qd.get("X-Amz-Expires", "0"))):
                            return 403, "AccessDenied", "Request has expired"
                    except ValueError:
                        return 403, "AccessDenied", "bad X-Amz-Date"
                else:
                    return 403, "AccessDenied", "Anonymous access is forbidden"
                parts = cred.split("/")
                if len(parts) != 5 or parts[0] != peer.access_key:
                    return 403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
                if parts[1] != amz_date[:8] or parts[2] != peer.region or parts[3] != "s3" or parts[4] != "aws4_request":
                    return 403, "SignatureDoesNotMatch", "bad credential scope"
                names = signed.split(";") if signed else []
                if "host" not in names:
                    return 403, "SignatureDoesNotMatch", "host must be signed"
                canon = canonical_request(self.command, url.path, qpairs, dict(self.headers.items()), names, payload)
                want = signature(peer.secret, amz_date, peer.region, "s3", canon)
                if not hmac.compare_digest(want, sig):
                    return 403, "SignatureDoesNotMatch", ("The request signature we calculated does not match "
                                                          "the signature you provided.")
                return None

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                bad = self._verify(body)
                if bad:
                    return self._error(*bad)
                url = urllib.parse.urlsplit(self.path)
                segs = urllib.parse.unquote(url.path).lstrip("/").split("/", 1)
                bucket, key = segs[0], (segs[1] if len(segs) > 1 else "")
                q = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
                with peer.lock:
                    peer.requests.append((self.command, self.path, "ok"))
                    if self.command == "PUT" and key:
                        peer.objects[(bucket, key)] = {
                            "body": body, "sse": self.headers.get("x-amz-server-side-encryption"),
                            "kms_key": self.headers.get("x-amz-server-side-encryption-aws-kms-key-id"),
                            "content_type": self.headers.get("Content-Type")}
                        return self._answer(200, extra={"ETag": '"%s"' % hashlib.md5(body).hexdigest()})
                    if self.command in ("GET", "HEAD") and key:
                        obj = peer.objects.get((bucket, key))
                        if obj is None:
                            return self._error(404, "NoSuchKey", "The specified key does not exist.")
                        data = obj["body"]
                        rng = self.headers.get("Range", "")
                        if rng.startswith("bytes="):
                            a, b = rng[6:].split("-")
                            data = data[int(a):int(b) + 1 if b else None]
                            return self._answer(206, data, "application/octet-stream")
                        return self._answer(200, data, "application/octet-stream",
                                            {"ETag": '"%s"' % hashlib.md5(obj["body"]).hexdigest()})
                    if self.command == "DELETE" and key:
                        peer.objects.pop((bucket, key), None)
                        return self._answer(204)
                    if self.command == "GET" and not key and q.get("list-type") == "2":
                        prefix = q.get("prefix", "")
                        keys = sorted(k for (bk, k) in peer.objects if bk == bucket and k.startswith(prefix))
                        xml = "".join(f"<Contents><Key>{k}</Key></Contents>" for k in keys)
                        return self._answer(200, ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult>"
                                                  f"<Name>{bucket}</Name><KeyCount>{len(keys)}</KeyCount>{xml}"
                                                  "</ListBucketResult>").encode())
                return self._error(400, "NotImplemented", "not supported by this stand-in")

            do_GET = do_PUT = do_DELETE = do_HEAD = do_POST = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"


def main(argv):
    if len(argv) < 3 or argv[1] != "run" or "--" not in argv:
        print(__doc__, file=sys.stderr)
        return 2
    import os
    import secrets
    import subprocess
    key, secret = "AKID" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30)
    peer = S3Peer(key, secret).start()
    try:
        env = dict(os.environ, FAXBOT_TEST_S3_URL=peer.url, FAXBOT_TEST_S3_KEY=key, FAXBOT_TEST_S3_SECRET=secret)
        return subprocess.run(argv[argv.index("--") + 1:], env=env).returncode
    finally:
        peer.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
