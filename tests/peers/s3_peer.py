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
  POST   /bucket/key?uploads      CreateMultipartUpload → <UploadId>
  PUT    /bucket/key?partNumber=N&uploadId=U   UploadPart → ETag "<md5 of the part>"
  POST   /bucket/key?uploadId=U   CompleteMultipartUpload (XML list of PartNumber + ETag):
                                  parts ascending (InvalidPartOrder), each as uploaded
                                  (InvalidPart), all but the last >= 5 MiB (EntityTooSmall);
                                  the object's ETag "<md5 of the parts' binary MD5s>-<N>"
  DELETE /bucket/key?uploadId=U   AbortMultipartUpload (the parts are dropped)
Content-MD5, when sent, must be the body's MD5 (BadDigest). Under SSE-KMS ETags are
not MD5s (as on AWS). Only the buckets given exist (NoSuchBucket); keys in
`readonly_keys` may read but not write (AccessDenied); `fail_parts` (part numbers)
answer 500 InternalError once each, to test that an upload is aborted.

Every request must carry a valid Authorization (AWS4-HMAC-SHA256) header or a
presigned query (X-Amz-Signature): the signature is recomputed here from the
request as received — an independent implementation of AWS's canonical request —
and a mismatch is 403 SignatureDoesNotMatch, a wrong key 403 InvalidAccessKeyId,
as S3 answers. Every request is recorded (method, path, headers, verdict).

As a command: runs a command with the peer up (only bucket "faxbot-test", region
us-east-1) and FAXBOT_TEST_S3_URL, FAXBOT_TEST_S3_KEY, FAXBOT_TEST_S3_SECRET (and a
read-only pair FAXBOT_TEST_S3_RO_KEY, FAXBOT_TEST_S3_RO_SECRET) in its environment:
    tests/peers/s3_peer.py run -- build/tests/unit/store/test_s3_client
"""

import base64
import datetime
import hashlib
import hmac
import sys
import threading
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
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
    MIN_PART_SIZE = 5 * 1024 * 1024

    def __init__(self, access_key, secret, region="us-east-1", buckets=None, readonly_keys=None, keep_requests=True):
        self.access_key, self.secret, self.region = access_key, secret, region
        self.keys = {access_key: secret}
        self.keys.update(readonly_keys or {})
        self.readonly = set(readonly_keys or {})
        self.buckets = set(buckets) if buckets else None   # None: any bucket exists
        self.objects = {}            # (bucket, key) -> {"body", "sse", "kms_key", "content_type", "etag"}
        self.uploads = {}            # upload id -> {"bucket", "key", "sse", "kms_key", "parts": {n: (body, etag)}}
        self.completed = []          # (bucket, key, number of parts) of every completed multipart upload
        self.fail_parts = set()
        self.clock_skew = 0          # seconds this "server's" clock is ahead (to expire presigned URLs)
        self.requests = []           # (method, path, verdict); failures only unless keep_requests
        self.keep_requests = keep_requests
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
                    md5 = self.headers.get("Content-MD5")
                    if md5 is not None:
                        try:
                            given = base64.b64decode(md5, validate=True)
                        except ValueError:
                            given = b""
                        if len(given) != 16:
                            return 400, "InvalidDigest", "The Content-MD5 you specified was invalid."
                        if given != hashlib.md5(body).digest():
                            return 400, "BadDigest", "The Content-MD5 you specified did not match what we received."
                    qpairs = pairs
                elif "X-Amz-Signature" in qd:
                    cred, signed, sig = qd.get("X-Amz-Credential", ""), qd.get("X-Amz-SignedHeaders", ""), qd["X-Amz-Signature"]
                    amz_date, payload = qd.get("X-Amz-Date", ""), "UNSIGNED-PAYLOAD"
                    qpairs = [(k, v) for k, v in pairs if k != "X-Amz-Signature"]
                    try:
                        t = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
                        now = datetime.datetime.utcnow() + datetime.timedelta(seconds=peer.clock_skew)
                        if now > t + datetime.timedelta(seconds=int(qd.get("X-Amz-Expires", "0"))):
                            return 403, "AccessDenied", "Request has expired"
                    except ValueError:
                        return 403, "AccessDenied", "bad X-Amz-Date"
                else:
                    return 403, "AccessDenied", "Anonymous access is forbidden"
                parts = cred.split("/")
                if len(parts) != 5 or parts[0] not in peer.keys:
                    return 403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
                if parts[1] != amz_date[:8] or parts[2] != peer.region or parts[3] != "s3" or parts[4] != "aws4_request":
                    return 403, "SignatureDoesNotMatch", "bad credential scope"
                names = signed.split(";") if signed else []
                if "host" not in names:
                    return 403, "SignatureDoesNotMatch", "host must be signed"
                canon = canonical_request(self.command, url.path, qpairs, dict(self.headers.items()), names, payload)
                want = signature(peer.keys[parts[0]], amz_date, peer.region, "s3", canon)
                if not hmac.compare_digest(want, sig):
                    return 403, "SignatureDoesNotMatch", ("The request signature we calculated does not match "
                                                          "the signature you provided.")
                self.access_key_used = parts[0]
                return None

            def _etag(self, body, kms):
                """S3's ETag: the body's MD5, but not under SSE-KMS (then an opaque value)."""
                return '"%s"' % (uuid.uuid4().hex if kms else hashlib.md5(body).hexdigest())

            def _multipart(self, bucket, key, q, body):
                """CreateMultipartUpload, UploadPart, CompleteMultipartUpload, AbortMultipartUpload."""
                if self.command == "POST" and "uploads" in q:
                    uid = uuid.uuid4().hex
                    peer.uploads[uid] = {"bucket": bucket, "key": key, "parts": {},
                                         "sse": self.headers.get("x-amz-server-side-encryption"),
                                         "kms_key": self.headers.get("x-amz-server-side-encryption-aws-kms-key-id")}
                    return self._answer(200, ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><InitiateMultipartUploadResult "
                                              "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                                              f"<Bucket>{bucket}</Bucket><Key>{key}</Key><UploadId>{uid}</UploadId>"
                                              "</InitiateMultipartUploadResult>").encode())
                up = peer.uploads.get(q.get("uploadId"))
                if up is None or (up["bucket"], up["key"]) != (bucket, key):
                    return self._error(404, "NoSuchUpload", "The specified multipart upload does not exist.")
                if self.command == "PUT" and "partNumber" in q:
                    n = int(q["partNumber"]) if q["partNumber"].isdigit() else 0
                    if not 1 <= n <= 10000:
                        return self._error(400, "InvalidArgument", "Part number must be an integer between 1 and 10000")
                    if n in peer.fail_parts:
                        peer.fail_parts.discard(n)
                        return self._error(500, "InternalError", "We encountered an internal error. Please try again.")
                    etag = self._etag(body, up["sse"] == "aws:kms")
                    up["parts"][n] = (body, etag)
                    return self._answer(200, extra={"ETag": etag})
                if self.command == "DELETE":
                    del peer.uploads[q["uploadId"]]
                    return self._answer(204)
                if self.command == "POST":
                    try:
                        root = ET.fromstring(body)
                        listed = [(int(p.findtext("{*}PartNumber", p.findtext("PartNumber"))),
                                   p.findtext("{*}ETag", p.findtext("ETag")))
                                  for p in root.iter() if p.tag.split("}")[-1] == "Part"]
                    except (ET.ParseError, TypeError, ValueError):
                        return self._error(400, "MalformedXML", "The XML you provided was not well-formed")
                    if not listed:
                        return self._error(400, "MalformedXML", "The XML you provided was not well-formed")
                    numbers = [n for n, _ in listed]
                    if numbers != sorted(set(numbers)):
                        return self._error(400, "InvalidPartOrder", "The list of parts was not in ascending order.")
                    for i, (n, etag) in enumerate(listed):
                        have = up["parts"].get(n)
                        if have is None or have[1] != etag:
                            return self._error(400, "InvalidPart", "One or more of the specified parts could not be found.")
                        if i < len(listed) - 1 and len(have[0]) < peer.MIN_PART_SIZE:
                            return self._error(400, "EntityTooSmall", "Your proposed upload is smaller than the "
                                                                      "minimum allowed object size.")
                    data = b"".join(up["parts"][n][0] for n in numbers)
                    if up["sse"] == "aws:kms":
                        etag = '"%s-%d"' % (uuid.uuid4().hex, len(numbers))
                    else:
                        md5s = b"".join(hashlib.md5(up["parts"][n][0]).digest() for n in numbers)
                        etag = '"%s-%d"' % (hashlib.md5(md5s).hexdigest(), len(numbers))
                    peer.objects[(bucket, key)] = {"body": data, "sse": up["sse"], "kms_key": up["kms_key"],
                                                   "content_type": None, "etag": etag}
                    peer.completed.append((bucket, key, len(numbers)))
                    del peer.uploads[q["uploadId"]]
                    quoted = etag.replace('"', "&quot;")
                    return self._answer(200, ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><CompleteMultipartUploadResult "
                                              "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                                              f"<Location>{peer.url}/{bucket}/{key}</Location><Bucket>{bucket}</Bucket>"
                                              f"<Key>{key}</Key><ETag>{quoted}</ETag>"
                                              "</CompleteMultipartUploadResult>").encode())
                return self._error(400, "NotImplemented", "not supported by this stand-in")

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
                    if peer.buckets is not None and bucket not in peer.buckets:
                        return self._error(404, "NoSuchBucket", "The specified bucket does not exist")
                    writes = self.command in ("PUT", "POST", "DELETE")
                    if writes and self.access_key_used in peer.readonly:
                        return self._error(403, "AccessDenied", "Access Denied")
                    if peer.keep_requests:
                        peer.requests.append((self.command, self.path, "ok"))
                    if key and ("uploads" in q or "uploadId" in q):
                        return self._multipart(bucket, key, q, body)
                    if self.command == "PUT" and key:
                        sse = self.headers.get("x-amz-server-side-encryption")
                        etag = self._etag(body, sse == "aws:kms")
                        peer.objects[(bucket, key)] = {
                            "body": body, "sse": sse,
                            "kms_key": self.headers.get("x-amz-server-side-encryption-aws-kms-key-id"),
                            "content_type": self.headers.get("Content-Type"), "etag": etag}
                        return self._answer(200, extra={"ETag": etag})
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
                        return self._answer(200, data, "application/octet-stream", {"ETag": obj["etag"]})
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

    def drop_prefix(self, bucket, prefix):
        """Forgets the objects under prefix (a test suite's finished server)."""
        with self.lock:
            for k in [k for k in self.objects if k[0] == bucket and k[1].startswith(prefix)]:
                del self.objects[k]

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
    ro_key, ro_secret = "AKIDRO" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30)
    peer = S3Peer(key, secret, buckets={"faxbot-test"}, readonly_keys={ro_key: ro_secret}).start()
    try:
        env = dict(os.environ, FAXBOT_TEST_S3_URL=peer.url, FAXBOT_TEST_S3_KEY=key, FAXBOT_TEST_S3_SECRET=secret,
                   FAXBOT_TEST_S3_RO_KEY=ro_key, FAXBOT_TEST_S3_RO_SECRET=ro_secret)
        return subprocess.run(argv[argv.index("--") + 1:], env=env).returncode
    finally:
        peer.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
