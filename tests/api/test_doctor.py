"""test_doctor.py — `faxbot doctor` checks a machine's set-up without a server: the
default loopback set-up passes; a PBX that refuses our credentials (the stand-in
Asterisk and FreeSWITCH from tests/peers) is reported as a FAIL line naming the
problem, with exit status 1; a bad setting is reported, not crashed on."""

import os
import sys

from helpers import run_cli

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
from ami_peer import AmiPeer  # noqa: E402
from esl_peer import EslPeer  # noqa: E402


def _env(tmp_path, **kw):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "FAX_DATA_DIR": str(tmp_path / "data")}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    env.update(kw)
    return env


def test_doctor_default_setup_is_healthy(tmp_path):
    rc, out, err = run_cli(["doctor"], _env(tmp_path))
    assert rc == 0, out + err
    for check in ("config", "storage", "database", "ghostscript", "backend"):
        assert any(l.startswith("ok") and check in l for l in out.splitlines()), (check, out)
    assert "everything needed is in place" in out


def test_doctor_reports_rejected_ami_login(tmp_path):
    peer = AmiPeer(secret="the-right-secret")
    try:
        rc, out, err = run_cli(["doctor", "--wait", "3"], _env(
            tmp_path, FAX_BACKEND="sip", ASTERISK_AMI_HOST="127.0.0.1", ASTERISK_AMI_PORT=str(peer.port),
            ASTERISK_AMI_PASSWORD="a-wrong-secret"))
    finally:
        peer.close()
    assert rc == 1, out + err
    fails = [l for l in out.splitlines() if l.startswith("FAIL")]
    assert fails and any("backend" in l for l in fails), out
    assert "reject" in out.lower() or "authentication" in out.lower(), out
    assert "a-wrong-secret" not in out + err, "doctor printed a secret"


def test_doctor_accepts_working_ami(tmp_path):
    peer = AmiPeer(secret="the-right-secret")
    try:
        rc, out, err = run_cli(["doctor", "--wait", "5"], _env(
            tmp_path, FAX_BACKEND="sip", ASTERISK_AMI_HOST="127.0.0.1", ASTERISK_AMI_PORT=str(peer.port),
            ASTERISK_AMI_PASSWORD="the-right-secret"))
    finally:
        peer.close()
    backend = [l for l in out.splitlines() if " backend " in f" {l} "]
    assert backend and backend[0].startswith("ok"), out + err


def test_doctor_reports_wrong_esl_password(tmp_path):
    peer = EslPeer(password="ClueCon")
    try:
        rc, out, err = run_cli(["doctor", "--wait", "3"], _env(
            tmp_path, FAX_BACKEND="freeswitch", FREESWITCH_ESL_HOST="127.0.0.1",
            FREESWITCH_ESL_PORT=str(peer.port), FREESWITCH_ESL_PASSWORD="not-the-password"))
    finally:
        peer.close()
    assert rc == 1, out + err
    assert any(l.startswith("FAIL") and "backend" in l for l in out.splitlines()), out
    assert "not-the-password" not in out + err


def test_doctor_names_a_bad_setting(tmp_path):
    rc, out, err = run_cli(["doctor"], _env(tmp_path, MAX_FILE_SIZE_MB="lots"))
    assert rc == 1
    assert "MAX_FILE_SIZE_MB" in out
