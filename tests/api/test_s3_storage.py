"""test_s3_storage.py — STORAGE_BACKEND=s3 against tests/peers/s3_peer.py, an S3
stand-in that verifies every request's Signature V4 and body checksum as S3 does:
a fax's upload, normalized PDF, fax image and the inbound fax it became are stored
as objects under S3_PREFIX (with SSE-KMS when S3_KMS_KEY_ID is set) and served back
when the local copy is gone; an upload S3 refuses is not acknowledged; and two nodes
that share PostgreSQL and S3 but no directory complete each other's jobs."""

import os
import shutil

import jsonschema
import pytest

from helpers import PHONE, create_job, fetch, run_cli, send_fax, wait_job, wait_jobs
from s3_peer import S3Peer

KEY, SECRET = "AKIDFAXBOTTEST", "s3cret/with+chars"


@pytest.fixture
def s3():
    peer = S3Peer(KEY, SECRET).start()
    yield peer
    peer.stop()


def s3_env(peer, **extra):
    env = dict(STORAGE_BACKEND="s3", S3_BUCKET="faxes", S3_PREFIX="gw/", S3_ENDPOINT_URL=peer.url,
               AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET)
    env.update(extra)
    return env


def test_a_fax_and_its_inbound_copy_are_objects_in_s3(server, s3):
    srv = server(**s3_env(s3, S3_KMS_KEY_ID="alias/faxbot"))
    body = b"stored in S3\n"
    job = create_job(srv, to=PHONE, content=body, filename="s3.txt")
    final, _ = wait_job(srv, job["id"])
    assert final["status"] == "SUCCESS", final
    jid, iid = job["id"], final["inbound_id"]
    objs = {k for (b, k) in s3.objects if b == "faxes"}
    want = {f"gw/outbound/{jid}/original", f"gw/outbound/{jid}/document.pdf", f"gw/outbound/{jid}/fax.tiff",
            f"gw/inbound/{iid}/fax.tiff", f"gw/inbound/{iid}/fax.pdf"}
    assert want <= objs, objs
    assert s3.objects[("faxes", f"gw/outbound/{jid}/original")]["body"] == body
    assert all(o["sse"] == "aws:kms" and o["kms_key"] == "alias/faxbot" for o in s3.objects.values())
    assert all(verdict in ("ok", "NoSuchKey") for _, _, verdict in s3.requests), s3.requests
    # this node's copies gone: the files come back from S3
    shutil.rmtree(os.path.join(srv.data_dir, "outbound", jid))
    shutil.rmtree(os.path.join(srv.data_dir, "inbound", iid))
    tiff = fetch(srv, f"/fax/{jid}/tiff", ctype="image/tiff").content
    assert tiff == s3.objects[("faxes", f"gw/outbound/{jid}/fax.tiff")]["body"]
    pdf = fetch(srv, f"/inbound/{iid}/pdf").content
    assert pdf == s3.objects[("faxes", f"gw/inbound/{iid}/fax.pdf")]["body"]


def test_an_upload_s3_refuses_is_not_acknowledged(server, s3):
    srv = server(**s3_env(s3, AWS_SECRET_ACCESS_KEY="not-the-secret"))
    r = send_fax(srv, content=b"never stored\n")
    assert r.status_code == 503, r.text
    assert r.headers.get("Retry-After"), r.headers
    assert srv.get("/fax").json()["items"] == []
    assert any(v == "SignatureDoesNotMatch" for _, _, v in s3.requests), s3.requests
    assert "not-the-secret" not in srv.stderr_text()


def test_two_nodes_share_postgresql_and_s3_but_no_directory(server, s3, pg_cluster):
    url = pg_cluster.create_database()
    a = server(**s3_env(s3), DATABASE_URL=url, FAXBOT_NODE_ID="node-a", FAX_DISABLED="true",
               FAXBOT_KEY_PEPPER="a-pepper-both-nodes-share-0123")
    ids = [create_job(a, to=PHONE, content=f"made on node-a {i}\n".encode(), filename=f"a{i}.txt")["id"]
           for i in range(3)]
    # node-a sends nothing (FAX_DISABLED): node-b, with a data dir of its own, takes the jobs
    b = server(**s3_env(s3), DATABASE_URL=url, FAXBOT_NODE_ID="node-b",
               FAXBOT_KEY_PEPPER="a-pepper-both-nodes-share-0123")
    jobs = wait_jobs(b, ids, timeout=120)
    assert all(j["status"] == "SUCCESS" for j in jobs.values()), jobs
    fetched = {path for method, path, verdict in s3.requests if method == "GET"}
    for jid in ids:
        # node-b took the upload from S3 (node-a's directory is not its own) …
        assert f"/faxes/gw/outbound/{jid}/original" in fetched, fetched
        # … and node-a, which never converted it, serves the fax image node-b made
        tiff = fetch(a, f"/fax/{jid}/tiff", ctype="image/tiff").content
        assert tiff == s3.objects[("faxes", f"gw/outbound/{jid}/fax.tiff")]["body"]
    assert all(verdict in ("ok", "NoSuchKey") for _, _, verdict in s3.requests), s3.requests


def _big_pdf(size):
    """A one-page PDF carrying `size` bytes of an unreferenced stream (quick to convert)."""
    import documents as docs
    page = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << >> /Contents 4 0 R >>")
    return docs._pdf_from_objects([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                                   page, docs._pdf_stream(b"", b"0 g 72 100 468 6 re f"),
                                   docs._pdf_stream(b"", os.urandom(size))])


def test_a_large_upload_goes_up_in_parts_and_a_failed_part_aborts_it(server, s3):
    srv = server(**s3_env(s3, S3_MULTIPART_THRESHOLD_MB="5", S3_MULTIPART_PART_SIZE_MB="5"))
    big = _big_pdf(6 * 1024 * 1024)
    # part 2 fails once: the upload is aborted (no parts kept), nothing acknowledged
    s3.fail_parts = {2}
    r = send_fax(srv, content=big, filename="big.pdf")
    assert r.status_code == 503, r.text
    assert srv.get("/fax").json()["items"] == []
    assert s3.uploads == {}, s3.uploads
    assert not [k for (b, k) in s3.objects if k.endswith("/original")]
    aborted = [(m, p) for m, p, v in s3.requests if m == "DELETE" and "uploadId=" in p and v == "ok"]
    assert len(aborted) == 1, s3.requests
    # again: two parts, the object byte for byte, ETag "<md5 of MD5s>-2"
    job = create_job(srv, to=PHONE, content=big, filename="big.pdf")
    key = f"gw/outbound/{job['id']}/original"
    assert ("faxes", key, 2) in s3.completed, s3.completed
    obj = s3.objects[("faxes", key)]
    assert obj["body"] == big
    import hashlib
    md5s = hashlib.md5(big[:5 << 20]).digest() + hashlib.md5(big[5 << 20:]).digest()
    assert obj["etag"] == '"%s-2"' % hashlib.md5(md5s).hexdigest()
    puts = [p for m, p, v in s3.requests if m == "PUT" and key in p and v == "ok"]
    assert sorted(p.split("partNumber=")[1].split("&")[0] for p in puts) == ["1", "2"], puts
    final, _ = wait_job(srv, job["id"])
    assert final["status"] == "SUCCESS", final
    assert s3.uploads == {}


def test_credentials_come_from_the_shared_files_and_are_never_logged(server, s3, tmp_path):
    creds = tmp_path / "credentials"
    creds.write_text(f"[default]\naws_access_key_id = AKIDNOTTHISONE\naws_secret_access_key = nope\n\n"
                     f"[faxbot]\naws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\n")
    conf = tmp_path / "config"
    conf.write_text(f"[profile other]\naws_access_key_id={KEY}\naws_secret_access_key={SECRET}\n")
    env = s3_env(s3, AWS_ACCESS_KEY_ID="", AWS_SECRET_ACCESS_KEY="", AWS_PROFILE="faxbot",
                 AWS_SHARED_CREDENTIALS_FILE=str(creds), AWS_CONFIG_FILE=str(conf))
    srv = server(**env)
    job = create_job(srv, to=PHONE, content=b"creds from a profile\n", filename="p.txt")
    assert wait_job(srv, job["id"])[0]["status"] == "SUCCESS"
    # a profile only the config file has ([profile other])
    srv.restart(AWS_PROFILE="other")
    job = create_job(srv, to=PHONE, content=b"creds from the config file\n", filename="c.txt")
    assert wait_job(srv, job["id"])[0]["status"] == "SUCCESS"
    # the environment wins over the files
    srv.restart(AWS_PROFILE="default", AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET)
    job = create_job(srv, to=PHONE, content=b"creds from the environment\n", filename="e.txt")
    assert wait_job(srv, job["id"])[0]["status"] == "SUCCESS"
    assert all(v in ("ok", "NoSuchKey") for _, _, v in s3.requests), s3.requests
    log = srv.stderr_text()
    assert "credentials from profile 'faxbot' of " + str(creds) in log, log
    assert "credentials from profile 'other' of " + str(conf) in log, log
    assert SECRET not in log and "nope" not in log
    for path in ("/admin/settings", "/admin/config"):
        r = srv.get(path)
        assert SECRET not in r.text


def test_a_profile_that_is_nowhere_stops_the_start_with_a_clear_message(s3, tmp_path):
    from conftest import Server
    srv = Server(str(tmp_path / "d"), s3_env(s3, AWS_ACCESS_KEY_ID="", AWS_SECRET_ACCESS_KEY="", AWS_PROFILE="ghost",
                                              AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
                                              AWS_CONFIG_FILE=str(tmp_path / "none2")))
    try:
        srv.start(expect_ready=False)
        assert srv.proc.wait(timeout=20) != 0
        text = srv.stderr_text()
        assert "no credentials for profile 'ghost'" in text and "AWS_ACCESS_KEY_ID" in text, text
    finally:
        srv.stop()


ADMIN = "s3-admin-key-5f1e0c77"


def _schema(name):
    import json
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "api", "openapi.json")) as f:
        return json.load(f)["components"]["schemas"][name]


def test_health_ready_and_doctor_check_the_bucket(server, s3):
    srv = server(**s3_env(s3, API_KEY=ADMIN))
    r = srv.get("/health/ready")
    assert r.status_code == 200 and r.json()["checks"]["s3"] is True, r.text
    probes = [p for m, p, v in s3.requests if ".faxbot-probe/" in p]
    assert [m for m, p, v in s3.requests if ".faxbot-probe/" in p] == ["PUT", "GET", "DELETE"], s3.requests
    assert not [k for (b, k) in s3.objects if ".faxbot-probe" in k]
    d = srv.post("/admin/diagnostics/run", key=ADMIN).json()
    assert d["checks"]["s3"]["ok"] is True, d
    st = srv.get("/admin/settings", key=ADMIN).json()["storage"]
    assert st == {"backend": "s3", "s3_bucket": "faxes", "s3_kms_enabled": False}, st
    rc, out, err = run_cli(["doctor"], srv.env)
    assert "ok    s3" in out and "credentials from AWS_ACCESS_KEY_ID" in out, out
    assert probes
    for secret, code, advice in (("not-the-secret", "SignatureDoesNotMatch", "AWS_SECRET_ACCESS_KEY"),):
        bad = server(**s3_env(s3, AWS_SECRET_ACCESS_KEY=secret, API_KEY=ADMIN))
        r = bad.get("/health/ready")
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["checks"]["s3"] is False and body["s3_error"] == code, body
        jsonschema.Draft202012Validator(_schema("Ready")).validate(body)      # as the API document says
        msg = " ".join(body["warnings"])
        assert "faxes" in msg and s3.url in msg and code in msg and advice in msg, msg
        assert secret not in r.text
        d = bad.post("/admin/diagnostics/run", key=ADMIN).json()
        assert d["ok"] is False and d["checks"]["s3"]["error"] == code, d
        rc, out, err = run_cli(["doctor"], bad.env)
        assert rc != 0
        assert "FAIL  s3" in out and code in out and advice in out, out
        assert secret not in out + err + bad.stderr_text()
    nobucket = server(**s3_env(s3, S3_BUCKET="not-there"))
    s3.buckets = {"faxes"}
    try:
        body = nobucket.get("/health/ready").json()
        assert body["s3_error"] == "NoSuchBucket", body
        assert "not-there" in " ".join(body["warnings"])
    finally:
        s3.buckets = None


def test_providers_fetch_the_pdf_through_a_presigned_url(tmp_path, s3):
    import sys
    import tempfile
    import urllib.parse
    import requests
    import documents as docs
    from conftest import Server, _stop_all
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
    from phaxio_peer import PhaxioPeer
    peer = PhaxioPeer()
    srv = Server(tempfile.mkdtemp(prefix="phx-", dir=str(tmp_path)),
                 s3_env(s3, FAX_BACKEND="phaxio", PHAXIO_API_KEY=peer.api_key, PHAXIO_API_SECRET=peer.api_secret,
                        PHAXIO_API_URL=peer.url, PHAXIO_CALLBACK_TOKEN=peer.callback_token,
                        S3_PRESIGNED_URLS="true", S3_PRESIGNED_URL_TTL_SECONDS="120"))
    try:
        srv.env["PUBLIC_API_URL"] = srv.url
        srv.start()
        if srv.url != srv.env["PUBLIC_API_URL"]:
            srv.restart(PUBLIC_API_URL=srv.url)
        job = create_job(srv, content=docs.pdf_pages(["presigned"]), filename="p.pdf")
        final, _ = wait_job(srv, job["id"])
        assert final["status"] == "SUCCESS", final
        url = peer.sends[0]["fields"]["content_url"]
        # the provider was given S3's presigned URL of the normalized PDF, and S3 served it
        assert url.startswith(f"{s3.url}/faxes/gw/outbound/{job['id']}/document.pdf?"), url
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        assert q["X-Amz-Expires"] == "120" and q["attempt"] == "1" and q["X-Amz-SignedHeaders"] == "host", q
        assert len(peer.fetches) == 1 and peer.fetches[0]["status"] == 200, peer.fetches
        assert peer.fetches[0]["body"] == s3.objects[("faxes", f"gw/outbound/{job['id']}/document.pdf")]["body"]
        assert not [f for f in peer.fetches if f["url"].startswith(srv.url)]
        s = requests.Session()
        s.trust_env = False
        assert s.get(url, timeout=10).status_code == 200
        # tampered: another signature, another attempt, another object — refused as S3 does
        sig = q["X-Amz-Signature"]
        for bad in (url.replace(sig, sig[:-1] + ("0" if sig[-1] != "0" else "1")),
                    url.replace("attempt=1", "attempt=2"),
                    url.replace("/document.pdf?", "/original?")):
            r = s.get(bad, timeout=10)
            assert r.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in r.text, (bad, r.text)
        # expired: the store's clock past X-Amz-Expires
        s3.clock_skew = 121
        r = s.get(url, timeout=10)
        assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text and "expired" in r.text, r.text
        s3.clock_skew = 0
        assert SECRET not in srv.stderr_text()
    finally:
        _stop_all([srv])
        peer.close()


def test_signalwire_fetches_each_attempts_presigned_url(tmp_path, s3):
    import sys
    import tempfile
    import urllib.parse
    import documents as docs
    from conftest import Server, _stop_all
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
    from signalwire_peer import Plan, SignalWirePeer
    peer = SignalWirePeer()
    srv = Server(tempfile.mkdtemp(prefix="sw-", dir=str(tmp_path)),
                 s3_env(s3, FAX_BACKEND="signalwire", SIGNALWIRE_SPACE_URL=peer.url,
                        SIGNALWIRE_PROJECT_ID=peer.project, SIGNALWIRE_API_TOKEN=peer.token,
                        SIGNALWIRE_WEBHOOK_SIGNING_KEY=peer.signing_key, SIGNALWIRE_FAX_FROM_E164="+15550009999",
                        FAX_RETRY_BASE_SECONDS="1", FAX_MAX_ATTEMPTS="3", S3_PRESIGNED_URLS="true"))
    try:
        srv.env.setdefault("PUBLIC_API_URL", srv.url)
        srv.start()
        # busy, then a 5xx (SignalWire's fax list is searched for the presigned URL), then delivered
        peer.plan(Plan(final="busy"), Plan(http=500), Plan())
        job = create_job(srv, content=docs.pdf_pages(["presigned for SignalWire"]), filename="s.pdf")
        done, _ = wait_job(srv, job["id"], timeout=60)
        assert done["status"] == "SUCCESS" and done["attempts"] == 3, done
        urls = [s["form"]["MediaUrl"] for s in peer.sends()]
        assert len(urls) == 3, urls
        for n, url in enumerate(urls, 1):
            assert url.startswith(f"{s3.url}/faxes/gw/outbound/{job['id']}/document.pdf?"), url
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
            assert q["attempt"] == [str(n)] and "X-Amz-Signature" in q, q   # one attempt=, signed in
        fetched = [(u, st) for u, st, _ in peer.media_fetches]
        assert fetched and all(st == 200 for _, st in fetched), fetched
        assert all(b.startswith(b"%PDF") for _, _, b in peer.media_fetches)
        assert not [v for _, _, v in s3.requests if v not in ("ok", "NoSuchKey")], s3.requests
    finally:
        _stop_all([srv])
        peer.close()
