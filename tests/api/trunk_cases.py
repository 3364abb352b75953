"""The trunk rendering cases whose output must not change when the trunk presets moved
from C into bundled sip-trunk plugins (issue 13). tests/data/trunk-golden/ holds what
the gateway rendered for each case before the move (captured from main's binary with
tests/data/trunk-golden/capture.py); test_trunk_plugins.py renders again and compares
byte for byte."""

PRESETS = ["generic", "twilio", "telnyx", "bandwidth", "flowroute"]

IN_SECRET = "In-Secret-0123456789abcdef"

BASE = dict(ASTERISK_AMI_PASSWORD="Ami-Pass-777", ASTERISK_INBOUND_SECRET=IN_SECRET,
            ASTERISK_SPOOL_DIR="/var/spool/asterisk/fax", FAX_LOCAL_STATION_ID="+1 555 111 2222",
            FAX_HEADER="Acme Fax", PUBLIC_API_URL="http://10.0.0.5:8080",
            FREESWITCH_ESL_PASSWORD="Esl-Pass-55", FREESWITCH_SPOOL_DIR="/var/spool/fax",
            FAX_BACKEND="sip")

# the environment of each preset: credentials per its auth style
PRESET_ENV = {
    "generic": dict(SIP_SERVER="sip.example.net", SIP_USERNAME="trunkuser", SIP_PASSWORD="Trunk-Pass-99",
                    SIP_FROM_USER="+15551112222"),
    "twilio": dict(SIP_SERVER="acme.pstn.twilio.com", SIP_USERNAME="twuser", SIP_PASSWORD="Tw-Pass-12345",
                   SIP_FROM_USER="+15551112222"),
    "telnyx": dict(SIP_USERNAME="telnyxuser", SIP_PASSWORD="Tx-Pass-12345", SIP_FROM_USER="+15551112222"),
    "bandwidth": dict(SIP_SERVER="192.0.2.10", SIP_FROM_USER="+15551112222"),
    "flowroute": dict(SIP_TECH_PREFIX="12345678", SIP_FROM_USER="15551112222"),
}

# a second environment per preset: the other auth style, another transport and the NAT options
VARIANT_ENV = {
    "generic": dict(SIP_SERVER="sip.example.net:5080", SIP_TRANSPORT="tcp", SIP_CALLER_ID_NAME="Acme",
                    SIP_LOCAL_NET="192.168.0.0/16,10.0.0.0/8", SIP_EXTERNAL_MEDIA_ADDRESS="203.0.113.7",
                    SIP_EXTERNAL_SIGNALING_ADDRESS="203.0.113.7", SIP_IDENTIFY_MATCH="198.51.100.0/24"),
    "twilio": dict(SIP_SERVER="acme.pstn.twilio.com", SIP_FROM_USER="+15551112222",
                   SIP_IDENTIFY_MATCH="54.172.60.0/30,54.244.51.0/30", SIP_FROM_DOMAIN="acme.example.com"),
    "telnyx": dict(SIP_SERVER="sip.telnyx.com", SIP_FROM_USER="+15551112222", SIP_CALLER_ID_NAME="Fax Desk",
                   SIP_TRANSPORT="tls", SIP_TLS_CERT_FILE="/etc/asterisk/keys/fax.crt",
                   SIP_TLS_KEY_FILE="/etc/asterisk/keys/fax.key", SIP_TLS_CA_FILE="/etc/ssl/certs/ca.pem"),
    "bandwidth": dict(SIP_SERVER="192.0.2.10", SIP_USERNAME="bwuser", SIP_PASSWORD="Bw-Pass-12345",
                      SIP_FROM_USER="+15551112222", FREESWITCH_T38_ENABLE="false"),
    "flowroute": dict(SIP_USERNAME="fruser", SIP_PASSWORD="Fr-Pass-12345", SIP_FROM_USER="15551112222",
                      FREESWITCH_T38_ENABLE="true"),
}


def cases():
    """(name, preset, env) for every golden case."""
    out = []
    for p in PRESETS:
        out.append((f"{p}", p, dict(BASE, SIP_TRUNK_PRESET=p, **PRESET_ENV[p])))
        out.append((f"{p}-variant", p, dict(BASE, SIP_TRUNK_PRESET=p, **VARIANT_ENV[p])))
    return out
