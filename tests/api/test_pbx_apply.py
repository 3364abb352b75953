"""test_pbx_apply.py — a settings change regenerates Asterisk's configuration: the
files in ASTERISK_CONFIG_DIR are rendered by the same renderer as `faxbot
asterisk-config`, only the modules whose files changed are reloaded over AMI (the
stand-in in tests/peers records every Reload), the trunk's registration and qualify
result come back, and a gateway killed (kill -9) at any step of writing the files
leaves the old set or the new one, never a mix. Network settings of the SIP guide
(public addresses, local nets, transport with TLS files, UDPTL and RTP ranges) land
in pjsip.conf, udptl.conf and rtp.conf."""

import os
import re
import sys
import tempfile
import threading
import time

import pytest

from conftest import Server, _stop_all
from helpers import run_cli

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
from ami_peer import AmiPeer  # noqa: E402

ADMIN = "pbx-admin-key-93c1f0"
AMI_SECRET = "ami-secret-123"
IN_SECRET = "inbound-secret-0123456789abcdef"
FILES = ("pjsip.conf", "extensions.conf", "manager.conf", "udptl.conf", "res_fax.conf", "modules.conf", "rtp.conf")


@pytest.fixture
def peer():
    p = AmiPeer(secret=AMI_SECRET)
    yield p
    p.close()


@pytest.fixture
def sip(tmp_path, peer):
    started = []

    def make(**env):
        conf = tmp_path / f"asterisk-{len(started)}"
        base = {"API_KEY": ADMIN, "FAX_BACKEND": "sip", "ASTERISK_AMI_HOST": "127.0.0.1",
                "ASTERISK_AMI_PORT": str(peer.port), "ASTERISK_AMI_PASSWORD": AMI_SECRET,
                "ASTERISK_INBOUND_SECRET": IN_SECRET, "ASTERISK_SPOOL_DIR": str(tmp_path),
                "ASTERISK_CONFIG_DIR": str(conf), "SIP_SERVER": "sip.example.net", "SIP_USERNAME": "trunkuser",
                "SIP_PASSWORD": "Trunk-Pass-99", "SIP_FROM_USER": "+15551112222",
                "FAX_LOCAL_STATION_ID": "+1 555 111 2222", "ASTERISK_AMI_PING_MS": "500"}
        base.update(env)
        srv = Server(tempfile.mkdtemp(prefix="pbx-", dir=str(tmp_path)), base)
        started.append(srv)
        srv.conf = str(conf)
        return srv.start()

    yield make
    _stop_all(started)


def put(srv, body):
    r = srv.request("PUT", "/admin/settings", key=ADMIN, json=body, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()["_meta"]


def read_set(conf):
    return {n: open(os.path.join(conf, n)).read() for n in FILES if os.path.exists(os.path.join(conf, n))}


def test_apply_renders_files_and_reloads_only_what_changed(sip, peer):
    srv = sip()
    meta = put(srv, {"sip_external_media_address": "203.0.113.7", "sip_external_signaling_address": "203.0.113.7"})
    pbx = meta["pbx"]
    assert pbx["ok"] is True and pbx["pbx"] == "asterisk", pbx
    assert sorted(pbx["files_written"]) == sorted(FILES), pbx
    files = read_set(srv.conf)
    assert "external_media_address = 203.0.113.7" in files["pjsip.conf"]
    assert "external_signaling_address = 203.0.113.7" in files["pjsip.conf"]
    assert "udptlstart = 4000" in files["udptl.conf"] and "udptlend = 4999" in files["udptl.conf"]
    assert "rtpstart = 10000" in files["rtp.conf"]
    for n in FILES:
        assert oct(os.stat(os.path.join(srv.conf, n)).st_mode & 0o777) == "0o600", n
    assert sorted(peer.reloads()) == sorted(["res_pjsip.so", "pbx_config.so", "manager", "res_udptl.so", "res_fax.so",
                                              "res_rtp_asterisk.so"]), peer.reloads()
    assert pbx["asterisk_restart_needed"] is True, "modules.conf is only read at Asterisk's start"
    assert pbx["trunk"]["registration"] == "Registered" and pbx["trunk"]["qualify"] == "Reachable", pbx
    # the same files as `faxbot asterisk-config` renders from the same settings
    out = os.path.join(os.path.dirname(srv.conf), "rendered-by-cli")
    env = {k: v for k, v in srv.env.items()}
    env.update(SIP_EXTERNAL_MEDIA_ADDRESS="203.0.113.7", SIP_EXTERNAL_SIGNALING_ADDRESS="203.0.113.7",
               PUBLIC_API_URL="")
    code, o, e = run_cli(["asterisk-config", "--out", out], env)
    assert code == 0, o + e
    for n in FILES:
        assert open(os.path.join(out, n)).read() == files[n], n

    before = len(peer.reloads())
    meta = put(srv, {"udptl_port_start": 4100, "udptl_port_end": 4200})
    assert meta["pbx"]["files_written"] == ["udptl.conf"], meta["pbx"]
    assert peer.reloads()[before:] == ["res_udptl.so"], peer.reloads()
    assert "udptlstart = 4100" in read_set(srv.conf)["udptl.conf"]

    before = len(peer.reloads())
    meta = put(srv, {"fax_max_attempts": 2})
    assert meta["pbx"]["files_written"] == [] and peer.reloads()[before:] == [], meta["pbx"]

    before = len(peer.reloads())
    meta = put(srv, {"sip_local_net": "192.168.0.0/16,10.0.0.0/8"})
    assert meta["pbx"]["files_written"] == ["pjsip.conf"] and peer.reloads()[before:] == ["res_pjsip.so"], meta["pbx"]
    pj = read_set(srv.conf)["pjsip.conf"]
    assert "local_net = 192.168.0.0/16\nlocal_net = 10.0.0.0/8\n" in pj, pj
    assert IN_SECRET not in str(meta) and "Trunk-Pass-99" not in str(meta)
    # a value Asterisk could not take is refused before anything is written
    r = srv.request("PUT", "/admin/settings", key=ADMIN, json={"udptl_port_start": 5000, "udptl_port_end": 4500})
    assert r.status_code == 400 and "UDPTL_PORT_START" in r.json()["detail"], r.text
    assert "udptlstart = 4100" in read_set(srv.conf)["udptl.conf"]


def _state(conf):
    """'old', 'new' or a description of a mix, from two files' markers."""
    files = read_set(conf)
    udptl_new = "udptlstart = 4321" in files.get("udptl.conf", "")
    pjsip_new = "external_media_address = 198.51.100.4" in files.get("pjsip.conf", "")
    left = [n for n in os.listdir(conf) if n.endswith(".faxbot-new") or n == ".faxbot-apply"]
    if left:
        return f"leftovers {left}"
    if len(files) != len(FILES):
        return f"incomplete set {sorted(files)}"
    if udptl_new and pjsip_new:
        return "new"
    if not udptl_new and not pjsip_new:
        return "old"
    return f"mix (udptl new={udptl_new}, pjsip new={pjsip_new})"


@pytest.mark.parametrize("kill_when", ["first_new_file", "journal_written", "after_first_rename"])
def test_apply_killed_at_any_step_leaves_old_or_new_set(sip, kill_when):
    srv = sip(FAXBOT_APPLY_STEP_DELAY_MS="200")
    put(srv, {"sip_external_media_address": "192.0.2.1"})          # the old set, written in full
    assert _state(srv.conf) == "old"
    conf = srv.conf

    def phase():
        names = os.listdir(conf)
        new = [n for n in names if n.endswith(".faxbot-new")]
        journal = ".faxbot-apply" in names
        if kill_when == "first_new_file":
            return bool(new) and not journal
        if kill_when == "journal_written":
            return journal and len(new) == 2
        return journal and len(new) == 1

    t = threading.Thread(target=lambda: _quiet_put(srv, {"sip_external_media_address": "198.51.100.4",
                                                          "udptl_port_start": 4321}), daemon=True)
    t.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not phase():
        time.sleep(0.005)
    assert phase(), f"never saw phase {kill_when}: {os.listdir(conf)}"
    srv.kill9()
    t.join(10)
    srv.start()                      # the sip backend finishes or drops the interrupted write first
    expected = "old" if kill_when == "first_new_file" else "new"
    assert _state(conf) == expected, srv.stderr_text()[-2000:]


def _quiet_put(srv, body):
    try:
        srv.request("PUT", "/admin/settings", key=ADMIN, json=body, timeout=60)
    except Exception:   # the server is killed under it
        pass


def test_network_settings_render_into_pjsip(tmp_path, cli_env):
    env = dict(cli_env)
    env.update(ASTERISK_AMI_PASSWORD="Ami-Pass-777", ASTERISK_INBOUND_SECRET=IN_SECRET, SIP_SERVER="sip.example.net",
               SIP_USERNAME="u1", SIP_PASSWORD="p-12345", SIP_FROM_USER="+15551112222", SIP_TRANSPORT="tls",
               SIP_BIND="0.0.0.0:5061", SIP_TLS_CERT_FILE="/etc/asterisk/keys/faxbot.pem",
               SIP_TLS_KEY_FILE="/etc/asterisk/keys/faxbot.key", SIP_TLS_CA_FILE="/etc/ssl/certs/ca.pem",
               SIP_EXTERNAL_MEDIA_ADDRESS="203.0.113.5", SIP_LOCAL_NET="10.0.0.0/8", RTP_PORT_START="12000",
               RTP_PORT_END="12999", PUBLIC_API_URL="http://10.0.0.5:8080")
    out = tmp_path / "tls"
    code, o, e = run_cli(["asterisk-config", "--out", str(out)], env)
    assert code == 0, o + e
    pj = (out / "pjsip.conf").read_text()
    assert "[transport-tls]\ntype = transport\nprotocol = tls\nbind = 0.0.0.0:5061\n" in pj, pj
    assert "cert_file = /etc/asterisk/keys/faxbot.pem\npriv_key_file = /etc/asterisk/keys/faxbot.key\n" in pj
    assert "ca_list_file = /etc/ssl/certs/ca.pem" in pj and "local_net = 10.0.0.0/8" in pj
    assert re.search(r"\[faxbot-trunk\]\ntype = endpoint\ntransport = transport-tls\n", pj), pj
    assert "contact = sip:sip.example.net:5060;transport=tls" in pj
    assert "rtpstart = 12000\nrtpend = 12999" in (out / "rtp.conf").read_text()
    env.pop("SIP_TLS_KEY_FILE")
    code, o, e = run_cli(["asterisk-config", "--out", str(tmp_path / "bad")], env)
    assert code == 1 and "SIP_TLS_KEY_FILE" in o + e, o + e


# ---- FreeSWITCH -------------------------------------------------------------------

def test_freeswitch_apply_writes_xml_reloadxml_and_rescans_only_for_the_gateway(tmp_path):
    from esl_peer import EslPeer
    peer = EslPeer(gateway="gw_fax")
    started = []
    try:
        conf = tmp_path / "freeswitch"
        srv = Server(tempfile.mkdtemp(prefix="fsapply-", dir=str(tmp_path)),
                     {"API_KEY": ADMIN, "FAX_BACKEND": "freeswitch", "FREESWITCH_ESL_HOST": "127.0.0.1",
                      "FREESWITCH_ESL_PORT": str(peer.port), "FREESWITCH_ESL_PASSWORD": peer.password,
                      "FREESWITCH_GATEWAY_NAME": "gw_fax", "FREESWITCH_CONFIG_DIR": str(conf),
                      "FREESWITCH_INBOUND_SECRET": "fs-secret-0123456789", "SIP_SERVER": "sip.example.net",
                      "PUBLIC_API_URL": "http://10.0.0.5:8080"})
        started.append(srv)
        srv.start()
        meta = put(srv, {"sip_username": "faxuser", "sip_password": "Sip-Pass-4242"})
        pbx = meta["pbx"]
        assert pbx["ok"] is True and pbx["pbx"] == "freeswitch", pbx
        assert len(pbx["files_written"]) == 5, pbx
        cmds = [c["command"] for c in pbx["commands"]]
        assert cmds == ["reloadxml", "sofia profile external killgw gw_fax", "sofia profile external rescan"], cmds
        assert pbx["gateway"]["state"] == "REGED" and pbx["gateway"]["ok"] is True, pbx
        gw = (conf / "sip_profiles" / "external" / "faxbot_gateway.xml").read_text()
        assert 'value="faxuser"' in gw and "Sip-Pass-4242" in gw, gw
        assert oct((conf / "sip_profiles" / "external" / "faxbot_gateway.xml").stat().st_mode & 0o777) == "0o600"
        assert "Sip-Pass-4242" not in str(meta) and "fs-secret" not in str(meta)
        # the same text as `faxbot freeswitch-config`
        out = tmp_path / "cli"
        env = dict(srv.env)
        env.update(SIP_USERNAME="faxuser", SIP_PASSWORD="Sip-Pass-4242")
        code, o, e = run_cli(["freeswitch-config", "--out", str(out)], env)
        assert code == 0, o + e
        assert (out / "sip_profiles" / "external" / "faxbot_gateway.xml").read_text() == gw
        # a dialplan-only change: reloadxml, no gateway restart
        before = len(peer.apis())
        meta = put(srv, {"freeswitch_inbound_number": "+15557654321"})
        assert meta["pbx"]["files_written"] == ["dialplan/public/faxbot_inbound.xml"], meta["pbx"]
        assert peer.apis()[before:].count("reloadxml") == 1
        assert not any("rescan" in a or "killgw" in a for a in peer.apis()[before:]), peer.apis()[before:]
        # nothing FreeSWITCH reads: nothing sent
        before = len(peer.apis())
        meta = put(srv, {"fax_max_attempts": 2})
        assert meta["pbx"]["files_written"] == [] and "reloadxml" not in peer.apis()[before:]
    finally:
        _stop_all(started)
        peer.close()
