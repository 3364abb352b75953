"""test_fsck.py — `faxbot fsck` against a real gateway's database and storage: a
clean installation after faxes went through the loopback is clean (exit 0); a
deleted file, an added orphan, a job left in an impossible state and a second
inbound fax for one job are each reported (exit 1, text and --json); with S3 the
objects of record are what is checked (tests/peers/s3_peer.py, on PostgreSQL)."""

import json
import os

import pytest

from conftest import on_s3
from helpers import PHONE, create_job, run_cli, send_fax, wait_for, wait_jobs
from s3_peer import S3Peer

KEY, SECRET = "AKIDFAXBOTFSCK", "fsck/s3cret+chars"


def fsck(srv, *args):
    code, out, err = run_cli(["fsck", *args], env=srv.env)
    return code, out, err


def fsck_json(srv):
    code, out, err = fsck(srv, "--json")
    assert code in (0, 1), (code, out, err)
    report = json.loads(out)
    assert report["ok"] == (code == 0), report
    return code, report


def kinds(report):
    return sorted((p["kind"], p["area"], p["id"], p["name"]) for p in report["problems"])


def _sent(srv, n):
    ids = [create_job(srv, to=PHONE, content=f"fsck job {i}\n".encode(), filename=f"f{i}.txt")["id"]
           for i in range(n)]
    jobs = wait_jobs(srv, ids, timeout=120)
    assert {j["status"] for j in jobs.values()} == {"SUCCESS"}, jobs
    return jobs


def test_clean_install_is_clean(server):
    srv = server()
    code, out, err = fsck(srv)            # nothing yet
    assert code == 0, (out, err)
    assert "clean" in out, out
    _sent(srv, 2)
    code, out, err = fsck(srv)
    assert code == 0, (out, err)
    assert "2 job(s), 2 inbound fax(es)" in out and "clean" in out, out
    code, report = fsck_json(srv)
    assert code == 0 and report["problems"] == [], report
    assert report["checked"]["jobs"] == 2 and report["checked"]["inbound"] == 2, report
    assert report["checked"]["objects"] >= 2 * 3 + 2 * 2, report        # original, PDF, TIFF; inbound TIFF, PDF
    assert report["storage"] == ("s3" if on_s3() else "local")        # as the suite runs the servers


def test_a_missing_file_and_an_orphan_are_reported(server):
    srv = server(STORAGE_BACKEND="local")      # the files under FAX_DATA_DIR are the record
    jobs = _sent(srv, 2)
    jid, job = next(iter(jobs.items()))
    os.remove(os.path.join(srv.data_dir, "outbound", jid, "fax.tiff"))
    orphan = "ab" * 16
    os.makedirs(os.path.join(srv.data_dir, "inbound", orphan))
    with open(os.path.join(srv.data_dir, "inbound", orphan, "fax.pdf"), "wb") as f:
        f.write(b"%PDF-1.4 nobody's\n")
    code, out, err = fsck(srv)
    assert code == 1, (out, err)
    assert f"missing_artifact   outbound/{jid}/fax.tiff" in out, out
    assert f"orphan_artifact    inbound/{orphan}/fax.pdf" in out, out
    assert "2 problem(s)" in out, out
    code, report = fsck_json(srv)
    assert code == 1
    assert kinds(report) == [("missing_artifact", "outbound", jid, "fax.tiff"),
                             ("orphan_artifact", "inbound", orphan, "fax.pdf")], report
    # the inbound fax's PDF gone too
    iid = job["inbound_id"]
    os.remove(os.path.join(srv.data_dir, "inbound", iid, "fax.pdf"))
    code, report = fsck_json(srv)
    assert ("missing_artifact", "inbound", iid, "fax.pdf") in kinds(report), report


@pytest.fixture
def s3():
    peer = S3Peer(KEY, SECRET).start()
    yield peer
    peer.stop()


def test_s3_objects_impossible_states_and_duplicate_inbound_on_postgresql(server, s3, pg_cluster):
    url = pg_cluster.create_database()
    db = url.split("///", 1)[1].split("?", 1)[0]
    srv = server(DATABASE_URL=url, STORAGE_BACKEND="s3", S3_BUCKET="faxes", S3_PREFIX="gw/",
                 S3_ENDPOINT_URL=s3.url, AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET)
    jobs = _sent(srv, 3)
    code, report = fsck_json(srv)
    assert code == 0, report
    assert report["storage"] == "s3" and report["database"] == "postgresql", report
    assert report["checked"]["objects"] == 3 * 3 + 3 * 2, report
    j1, j2, j3 = sorted(jobs)
    # the object of record is gone (the local cache still has the file: S3 is what counts)
    del s3.objects[("faxes", f"gw/outbound/{j1}/document.pdf")]
    # an object no row names
    s3.objects[("faxes", "gw/outbound/" + "cd" * 16 + "/original")] = {"body": b"x", "sse": None, "kms_key": None,
                                                                       "content_type": None}
    # a job in progress with no lease, and one whose lease ran out an hour ago
    pg_cluster.sql(f"UPDATE fax_jobs SET status = 'in_progress', lease_until = 0 WHERE id = '{j2}'", db=db)
    pg_cluster.sql(f"UPDATE fax_jobs SET status = 'in_progress', lease_until = 1000, lease_node = 'gone'"
                   f" WHERE id = '{j3}'", db=db)
    # a second inbound fax for j1
    iid = jobs[j1]["inbound_id"]
    cols = [r[0] for r in pg_cluster.sql("SELECT column_name FROM information_schema.columns WHERE"
                                         " table_name = 'inbound_faxes' AND column_name NOT IN ('id', 'provider_sid')",
                                         db=db)]
    dup = "ef" * 16
    pg_cluster.sql(f"INSERT INTO inbound_faxes (id, provider_sid, {', '.join(cols)}) SELECT '{dup}', 'dup-sid',"
                   f" {', '.join(cols)} FROM inbound_faxes WHERE id = '{iid}'", db=db)
    code, report = fsck_json(srv)
    assert code == 1, report
    got = kinds(report)
    assert ("missing_artifact", "outbound", j1, "document.pdf") in got, got
    assert ("orphan_artifact", "outbound", "cd" * 16, "original") in got, got
    assert ("impossible_state", "outbound", j2, "") in got, got
    assert ("impossible_state", "outbound", j3, "") in got, got
    # the copy has no objects of its own either
    assert ("duplicate_inbound", "inbound", dup, "") in got or ("duplicate_inbound", "inbound", iid, "") in got, got
    details = {p["id"]: p["detail"] for p in report["problems"] if p["kind"] == "impossible_state"}
    assert "without a lease" in details[j2] and "node 'gone'" in details[j3], details


def test_an_idempotent_replay_on_s3_leaves_no_object_behind(server, s3):
    """The replay's own upload is stored before the key is found taken: it must go
    again (fsck found these orphans after a kill -9 soak, where clients re-send)."""
    srv = server(STORAGE_BACKEND="s3", S3_BUCKET="faxes", S3_PREFIX="idem/", S3_ENDPOINT_URL=s3.url,
                 AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET, FAX_DISABLED="true")
    first = send_fax(srv, headers={"Idempotency-Key": "replay-1"}, content=b"once\n")
    again = send_fax(srv, headers={"Idempotency-Key": "replay-1"}, content=b"once\n")
    assert first.status_code == again.status_code == 202, (first.text, again.text)
    assert first.json()["id"] == again.json()["id"]
    other = send_fax(srv, headers={"Idempotency-Key": "replay-1"}, content=b"something else\n")
    assert other.status_code == 422, other.text

    def ids():
        return {k.split("/")[2] for (b, k) in list(s3.objects) if b == "faxes" and k.startswith("idem/outbound/")}
    # the refused uploads' objects go when their requests end (just after the answers)
    wait_for(lambda: ids() == {first.json()["id"]}, f"only the job's object in S3 (have {ids()})", 10)
    code, report = fsck_json(srv)
    assert code == 0, report
