"""test_sip_stack_asterisk.py — the gateway's own SIP stack (src/sip) against a real
Asterisk 22.10.1 (PJSIP) on 127.0.0.1, signalling only (the media side is not wired yet).

The stack is driven through build/tests/unit/sip/sip_probe (a test-only front end that
registers or places one call and prints one line per event). One Asterisk plays the
trunk: a PJSIP registrar and endpoint that demands Digest for REGISTER and INVITE, and a
dialplan that answers busy, rejects (403, 603), does not know the number, answers then
hangs up, and answers with ReceiveFAX, whose channel switches to T.38 by re-INVITE —
Asterisk's own, or ours when we ask first.

The build comes from ../shared/peers/asterisk or $FAXBOT_ASTERISK_PEER_DIR; without it
every test is skipped and says so: "SKIPPED: real Asterisk not found at …"."""

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import ast_real  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
PASSWORD = "interop-secret-1"

DIALPLAN = """[from-faxbot]
exten => 486,1,Busy(5)
exten => 404,1,Hangup(1)
exten => 403,1,Hangup(21)
exten => 603,1,PJSIPHangup(603)
exten => 100,1,Answer()
 same => n,Wait(2)
 same => n,Hangup()
exten => 300,1,Answer()
 same => n,Wait(20)
 same => n,Hangup()
exten => 200,1,Answer()
 same => n,ReceiveFAX(@T@/rx.tif)
 same => n,Hangup()
"""


def probe_path():
    b = os.environ.get("FAXBOT_BIN")
    build = os.path.dirname(b) if b else os.path.join(REPO, "build")
    p = os.path.join(build, "tests", "unit", "sip", "sip_probe")
    if not os.access(p, os.X_OK):
        pytest.fail(f"{p} is missing: `make build` builds it", pytrace=False)
    return p


@pytest.fixture(scope="module")
def trunk(tmp_path_factory):
    d = ast_real.locate_build()
    if d is None:
        msg = (f"SKIPPED: real Asterisk not found at {ast_real.build_dir()} "
               f"(needs unpack.sh and {ast_real.TARBALL}; or set FAXBOT_ASTERISK_PEER_DIR)")
        sys.stderr.write(msg + "\n")
        pytest.skip(msg)
    binary = ast_real.unpack(d)
    sip = ast_real.free_udp_port()
    tls = ast_real.free_tcp_port()
    work = tmp_path_factory.mktemp("sipstack")
    cert, key = str(work / "cert.pem"), str(work / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "1", "-subj", "/CN=trunk.test", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    rtp = ast_real.port_range()
    udptl = ast_real.port_range()
    files = {
        "modules.conf": "[modules]\nautoload = yes\nnoload => chan_iax2.so\n",
        "pjsip.conf": f"""[transport-udp]
type = transport
protocol = udp
bind = 127.0.0.1:{sip}

[transport-tcp]
type = transport
protocol = tcp
bind = 127.0.0.1:{sip}

[transport-tls]
type = transport
protocol = tls
bind = 127.0.0.1:{tls}
cert_file = {cert}
priv_key_file = {key}
method = tlsv1_2

[faxbot]
type = auth
auth_type = userpass
username = faxbot
password = {PASSWORD}

[faxbot]
type = aor
max_contacts = 1
remove_existing = yes
minimum_expiration = 60

[faxbot]
type = endpoint
context = from-faxbot
disallow = all
allow = ulaw,alaw
auth = faxbot
aors = faxbot
direct_media = no
rtp_symmetric = yes
t38_udptl = yes
t38_udptl_ec = redundancy
t38_udptl_maxdatagram = 400
""",
        "extensions.conf": DIALPLAN,
        "res_fax.conf": "[general]\nminrate = 2400\nmaxrate = 14400\necm = yes\nt38timeout = 5000\n",
        "rtp.conf": f"[general]\nrtpstart = {rtp[0]}\nrtpend = {rtp[1]}\n",
        "udptl.conf": f"[general]\nudptlstart = {udptl[0]}\nudptlend = {udptl[1]}\n",
    }
    ast = ast_real.AstInstance(binary, str(work), "trunk", files)
    ast.start()
    ast.tls_port, ast.cert = tls, cert
    yield ast, sip
    ast.stop()


def run_probe(*args, timeout=60, ca=None):
    env = dict(os.environ)
    if ca:
        env["SIP_PROBE_CA"] = ca
    p = subprocess.run([probe_path(), *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr


def events(out):
    """'key=value …' lines → list of (event, dict); ladder= (last on its line) keeps its spaces"""
    res = []
    for line in out.splitlines():
        head, _, rest = line.partition(" ")
        fields = {}
        if " ladder=" in " " + rest:
            rest, _, ladder = (" " + rest).partition(" ladder=")
            fields["ladder"] = ladder
            rest = rest.strip()
        for part in rest.split(" "):
            k, eq, v = part.partition("=")
            if eq:
                fields[k] = v
        res.append((head, fields))
    return res


def test_register_with_digest(trunk):
    ast, sip = trunk
    code, out, err = run_probe("register", "127.0.0.1", sip, "127.0.0.1", "faxbot", PASSWORD, "udp")
    assert code == 0, out + err + ast.log_text()[-2000:]
    assert "state=registered status=200" in out
    contacts = ast.rx("pjsip show contacts")
    assert "faxbot/sip:faxbot@127.0.0.1:" in contacts, contacts
    # over TCP too
    code, out, err = run_probe("register", "127.0.0.1", sip, "127.0.0.1", "faxbot", PASSWORD, "tcp")
    assert code == 0 and "state=registered status=200" in out, out + err


def test_register_wrong_password_says_so(trunk):
    ast, sip = trunk
    code, out, err = run_probe("register", "127.0.0.1", sip, "127.0.0.1", "faxbot", "wrong-password", "udp")
    assert code == 3, out + err
    assert "state=failed status=401" in out
    assert "password" in out


@pytest.mark.parametrize("number,reason,status", [("486", "busy", "486"), ("404", "invalid_number", "404"),
                                                  ("403", "declined", "403"), ("603", "declined", "603")])
def test_failures_map_to_reasons(trunk, number, reason, status):
    ast, sip = trunk
    code, out, err = run_probe("call", "127.0.0.1", sip, number, "faxbot", PASSWORD, "audio", 1)
    ev = events(out)
    ended = [f for e, f in ev if e == "ended"]
    assert ended, out + err
    assert ended[0]["reason"] == reason and ended[0]["status"] == status, out
    steps = [s.split(" ", 1)[1] for s in ended[0]["ladder"].split("|") if " " in s]
    assert steps[:3] == ["> INVITE", "< 401", "> INVITE"], steps    # Digest on INVITE, then the refusal
    assert steps[-1] == "< " + status, steps


def test_answered_then_far_end_hangs_up(trunk):
    ast, sip = trunk
    code, out, err = run_probe("call", "127.0.0.1", sip, "100", "faxbot", PASSWORD, "audio", 20)
    ev = events(out)
    answered = [f for e, f in ev if e == "answered"]
    ended = [f for e, f in ev if e == "ended"]
    assert answered and answered[0]["kind"] == "audio" and answered[0]["pt"] in ("0", "8"), out + err
    assert ended and ended[0]["reason"] == "hangup_remote", out
    # Digest on INVITE: challenged (401), answered, then 200
    ladder = ended[0]["ladder"].split("|")
    steps = [s.split(" ", 1)[1] for s in ladder if " " in s]
    assert "< 401" in steps and steps.count("> INVITE") == 2 and "< 200" in steps and "< BYE" in steps, steps


def test_asterisk_switches_to_t38(trunk):
    ast, sip = trunk
    code, out, err = run_probe("call", "127.0.0.1", sip, "200", "faxbot", PASSWORD, "audio", 6)
    ev = events(out)
    media = [f for e, f in ev if e == "media"]
    ended = [f for e, f in ev if e == "ended"]
    assert media, out + err + ast.log_text()[-3000:]
    assert media[0]["kind"] == "t38" and int(media[0]["port"]) > 0, out
    assert int(media[0]["maxdatagram"]) > 0 and media[0]["ec"] == "1", out    # redundancy, as configured
    steps = [s.split(" ", 1)[1] for s in ended[0]["ladder"].split("|") if " " in s]
    assert steps[steps.index("< INVITE"):steps.index("< INVITE") + 3] == ["< INVITE", "> 200", "< ACK"], steps
    assert ended, out


def test_we_switch_to_t38(trunk):
    """Our re-INVITE to T.38, sent half a second after the answer (before Asterisk's own
    request), is accepted by ReceiveFAX's channel."""
    ast, sip = trunk
    code, out, err = run_probe("call", "127.0.0.1", sip, "200", "faxbot", PASSWORD, "audio+t38", 3)
    ev = events(out)
    media = [f for e, f in ev if e == "media"]
    ended = [f for e, f in ev if e == "ended"]
    assert media and media[0]["kind"] == "t38", out + err + ast.log_text()[-3000:]
    steps = [s.split(" ", 1)[1] for s in ended[0]["ladder"].split("|") if " " in s]
    i = steps.index("> ACK")
    assert steps[i + 1:i + 4] == ["> INVITE", "< 200", "> ACK"], steps     # ours, accepted, ACKed


def test_tls_register_and_call(trunk):
    """Over TLS (Asterisk's certificate, made for 127.0.0.1, trusted through a CA file):
    registration, and a call we answer-and-hang-up (our BYE goes over our connection)."""
    ast, sip = trunk
    code, out, err = run_probe("register", "127.0.0.1", ast.tls_port, "127.0.0.1", "faxbot", PASSWORD, "tls", ca=ast.cert)
    assert code == 0 and "state=registered status=200" in out, out + err + ast.log_text()[-2000:]
    code, out, err = run_probe("call", "127.0.0.1", ast.tls_port, "300", "faxbot", PASSWORD, "audio", 1, "tls", ca=ast.cert)
    ev = events(out)
    assert [f for e, f in ev if e == "answered"], out + err + ast.log_text()[-2000:]
    ended = [f for e, f in ev if e == "ended"]
    assert ended and ended[0]["reason"] == "hangup_local" and ended[0]["status"] == "200", out
    # without the CA the certificate is not trusted: refused at once, with advice
    code, out, err = run_probe("register", "127.0.0.1", ast.tls_port, "127.0.0.1", "faxbot", PASSWORD, "tls")
    assert code == 3 and "status=503" in out and "certificate" in out, out + err
