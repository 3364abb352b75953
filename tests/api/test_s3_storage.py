"""test_s3_storage.py — STORAGE_BACKEND=s3 against tests/peers/s3_peer.py, an S3
stand-in that verifies every request's Signature V4 and body checksum as S3 does:
a fax's upload, normalized PDF, fax image and the inbound fax it became are stored
as objects under S3_PREFIX (with SSE-KMS when S3_KMS_KEY_ID is set) and served back
when the local copy is gone; an upload S3 refuses is not acknowledged; and two nodes
that share PostgreSQL and S3 but no directory complete each other's jobs."""

import os
import shutil

import pytest

from helpers import PHONE, create_job, fetch, send_fax, wait_job, wait_jobs
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
