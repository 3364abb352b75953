"""test_plugins.py — plugins (issue 13, the core and the sip-trunk kind): every bundled
manifest is valid against the published JSON Schema (docs/plugins/manifest.schema.json)
and the C validator; bad manifests are refused with a message naming the field; the
trunk presets that moved from C into bundled sip-trunk plugins render byte for byte what
main rendered before (tests/data/trunk-golden); the new bundled trunks render configs
that pass the Asterisk/FreeSWITCH structural checks; `faxbot plugins …` installs, checks
the local registry's sha256, removes, enables and disables; the plugin routes answer in
Faxbot's shapes, and the calls of Faxbot's Python SDK (FAXBOT.md §9) work against them."""

import base64
import copy
import glob
import hashlib
import json
import os
import shutil
import tarfile
import xml.etree.ElementTree as ET

import jsonschema
import pytest

import trunk_cases
from helpers import assert_detail, run_cli
from test_asterisk import PJSIP_OPTIONS, parse_conf

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCHEMA = os.path.join(REPO, "docs", "plugins", "manifest.schema.json")
BUNDLED = sorted(glob.glob(os.path.join(REPO, "plugins", "bundled", "*", "manifest.json")))
GOLDEN = os.path.join(REPO, "tests", "data", "trunk-golden")
ADMIN = "plugins-admin-key-0123456789"


def load(path):
    with open(path) as f:
        return json.load(f)


def validator():
    return jsonschema.Draft202012Validator(load(SCHEMA))


def bundled(kind=None):
    out = [load(p) for p in BUNDLED]
    return [m for m in out if kind is None or m["kind"] == kind]


def generic_manifest(pid="acme-trunk", short="acme"):
    m = copy.deepcopy(next(m for m in bundled("sip-trunk") if m["id"] == "faxbot-sip-generic"))
    m.update(id=pid, short_name=short, name="Acme trunk")
    return m


def write_manifest(dirpath, m):
    os.makedirs(dirpath, exist_ok=True)
    with open(os.path.join(dirpath, "manifest.json"), "w") as f:
        json.dump(m, f)
    return dirpath


def env_with(cli_env, tmp_path, **extra):
    e = dict(cli_env)
    e["FAX_DATA_DIR"] = str(tmp_path / "data")
    e.update(extra)
    return e


# ---------------------------------------------------------------- manifests

def test_every_bundled_manifest_is_valid_for_the_schema_and_the_gateway(tmp_path, cli_env):
    jsonschema.Draft202012Validator.check_schema(load(SCHEMA))
    v = validator()
    assert len(BUNDLED) >= 7, BUNDLED
    ids = set()
    for path in BUNDLED:
        m = load(path)
        v.validate(m)
        assert os.path.basename(os.path.dirname(path)) == m["id"], path
        ids.add(m["id"])
        code, out, err = run_cli(["plugins", "validate", path], env_with(cli_env, tmp_path))
        assert code == 0 and f"valid {m['kind']} plugin {m['id']}" in out, (path, out, err)
    assert {f"faxbot-sip-{p}" for p in trunk_cases.PRESETS + ["voxbone", "signalwire"]} <= ids
    code, out, err = run_cli(["plugins", "list", "--json"], env_with(cli_env, tmp_path))
    listed = {p["id"]: p for p in json.loads(out)["items"]}
    assert ids <= set(listed), listed.keys()
    assert listed["faxbot-sip-twilio"]["short_name"] == "twilio" and listed["faxbot-sip-twilio"]["source"] == "bundled"


def _mutate(m, path, value):
    """path like "categories.1" or "sip_trunk.t38.max_datagram"; value None deletes."""
    keys = path.split(".")
    node = m
    for k in keys[:-1]:
        node = node[int(k)] if isinstance(node, list) else node[k]
    last = keys[-1]
    if isinstance(node, list):
        if value is None:
            del node[int(last)]
        elif int(last) == len(node):
            node.append(value)
        else:
            node[int(last)] = value
    elif value is None:
        del node[last]
    else:
        node[last] = value


BAD = [
    ("kind", "fax-machine", 'kind: "fax-machine" is not a plugin kind'),
    ("name", None, "name: missing"),
    ("id", None, "id: missing"),
    ("version", None, "version: missing"),
    ("categories", None, "categories: missing"),
    ("capabilities", None, "capabilities: missing"),
    ("categories.2", "messaging", 'categories[2]: "messaging" is not served by this gateway'),
    ("categories.0", "storage", 'categories[0]: "storage" is not served by this gateway'),
    ("capabilities.3", "send_message", 'capabilities[3]: "send_message" is not served by this gateway'),
    ("capabilities.0", "teleport", 'capabilities[0]: "teleport" is not a known capability'),
    ("id", "Bad_Id", 'id: "Bad_Id" must be'),
    ("version", "1.0", 'version: "1.0" is not a semantic version'),
    ("colour", "blue", "colour: not a manifest field"),
    ("sip_trunk", None, "sip_trunk: missing"),
    ("http", {}, 'http: a sip-trunk plugin has no "http" section'),
    ("sip_trunk.codecs.0", "g729", "sip_trunk.codecs[0]: must be \"ulaw\" or \"alaw\""),
    ("sip_trunk.t38.max_datagram", 20, "sip_trunk.t38.max_datagram"),
    ("sip_trunk.t38.error_correction", "magic", "sip_trunk.t38.error_correction"),
    ("sip_trunk.numbers.format", "national", "sip_trunk.numbers.format"),
    ("sip_trunk.sip_errors.0.code", 200, "sip_trunk.sip_errors[0].code"),
    ("sip_trunk.notes", "two\nlines", "sip_trunk.notes"),
    ("sip_trunk.termination.default_host", "evil;host", "sip_trunk.termination.default_host"),
    ("config_schema.fields.0.label", None, "config_schema.fields[0].label: missing"),
    ("config_schema.fields.0.type", "float", "config_schema.fields[0].type"),
    ("config_schema.fields.0.pattern", "([", "config_schema.fields[0].pattern: not a valid regular expression"),
    ("config_schema.fields.1.key", "server", 'config_schema.fields[1].key: "server" is used twice'),
]


@pytest.mark.parametrize("path,value,message", BAD, ids=[b[0] + "=" + str(b[1])[:12] for b in BAD])
def test_bad_manifests_are_refused_naming_the_field(tmp_path, cli_env, path, value, message):
    m = generic_manifest()
    _mutate(m, path, value)
    f = tmp_path / "manifest.json"
    f.write_text(json.dumps(m))
    code, out, err = run_cli(["plugins", "validate", str(f)], env_with(cli_env, tmp_path))
    assert code == 1 and message in err, (out, err)
    # the published schema refuses it too (semantic rules aside: duplicate keys, regex syntax)
    if path not in ("config_schema.fields.1.key", "config_schema.fields.0.pattern"):
        assert list(validator().iter_errors(m)), f"the schema accepts {path}={value!r}"
    # and it cannot be installed
    code, out, err = run_cli(["plugins", "install", str(f)], env_with(cli_env, tmp_path))
    assert code == 1 and message in err, (out, err)
    assert not os.path.exists(tmp_path / "data" / "plugins" / "acme-trunk")


def test_outbound_and_send_fax_go_together(tmp_path, cli_env):
    m = generic_manifest()
    m["capabilities"] = ["get_status", "receive_fax"]
    f = tmp_path / "manifest.json"
    f.write_text(json.dumps(m))
    code, out, err = run_cli(["plugins", "validate", str(f)], env_with(cli_env, tmp_path))
    assert code == 1 and 'capabilities: an "outbound" plugin must list "send_fax"' in err, err


# ---------------------------------------------------------------- sip-trunk rendering

@pytest.mark.parametrize("name,preset,env", trunk_cases.cases(), ids=[c[0] for c in trunk_cases.cases()])
def test_old_presets_render_byte_identical_to_before(tmp_path, cli_env, name, preset, env):
    """The golden files are what main rendered with the presets compiled into C (less the
    endpoint `callerid` and SendFAX `z`, dropped after the real-Asterisk interop tests)."""
    for kind in ("asterisk", "freeswitch"):
        out = tmp_path / kind
        e = dict(cli_env)
        e.update(env)
        e["FAX_DATA_DIR"] = str(tmp_path / "data")
        code, o, err = run_cli([f"{kind}-config", "--out", str(out)], e)
        assert code == 0, (kind, o, err)
        want_dir = os.path.join(GOLDEN, name, kind)
        want = sorted(os.path.relpath(os.path.join(d, f), want_dir) for d, _, fs in os.walk(want_dir) for f in fs)
        got = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs)
        assert got == want, (kind, got, want)
        for rel in want:
            with open(os.path.join(want_dir, rel), "rb") as a, open(out / rel, "rb") as b:
                assert a.read() == b.read(), f"{name}/{kind}/{rel} changed"


def render_asterisk(tmp_path, cli_env, preset, **extra):
    e = env_with(cli_env, tmp_path, SIP_TRUNK_PRESET=preset, **trunk_cases.BASE)
    e.update(extra)
    out = tmp_path / f"ast-{preset}"
    code, o, err = run_cli(["asterisk-config", "--out", str(out)], e)
    return code, o + err, out


def check_pjsip(text):
    pj = parse_conf(text)
    types = {}
    for name, opts in pj:
        t = dict(opts)["type"]
        types.setdefault(t, []).append(name)
        unknown = {k for k, _ in opts} - PJSIP_OPTIONS[t]
        assert not unknown, f"{name}: options Asterisk 22 does not document for {t}: {unknown}"
        for k, v in opts:
            assert v, f"{name}.{k} is empty"
    assert {"transport", "aor", "endpoint", "identify"} <= set(types), types
    return pj, types


NEW_TRUNKS = {
    "voxbone": dict(SIP_SERVER="sip.voxbone.example", SIP_FROM_USER="+15551112222"),
    "signalwire": dict(SIP_SERVER="acme.sip.signalwire.com", SIP_USERNAME="swuser", SIP_PASSWORD="Sw-Pass-12345",
                       SIP_FROM_USER="+15551112222"),
}


@pytest.mark.parametrize("preset", sorted(NEW_TRUNKS))
def test_new_bundled_trunks_render_configs_that_pass_the_structural_checks(tmp_path, cli_env, preset):
    code, text, out = render_asterisk(tmp_path, cli_env, preset, **NEW_TRUNKS[preset])
    assert code == 0, text
    pj, types = check_pjsip((out / "pjsip.conf").read_text())
    ep = dict(next(o for n, o in pj if dict(o)["type"] == "endpoint"))
    assert ep["allow"] == "ulaw,alaw" and ep["t38_udptl"] == "yes" and ep["from_user"] == "+15551112222"
    assert f"(preset {preset})" in (out / "pjsip.conf").read_text()
    ext = (out / "extensions.conf").read_text()
    assert "SendFAX(${FAXBOT_FILE},f)" in ext
    if preset == "signalwire":
        assert "registration" in types and ep.get("outbound_auth") == "faxbot-trunk-auth"
    else:
        assert "registration" not in types and ep.get("send_pai") == "yes"
    # FreeSWITCH: well-formed XML with the trunk's registration stance
    e = env_with(cli_env, tmp_path, SIP_TRUNK_PRESET=preset, **trunk_cases.BASE)
    e.update(NEW_TRUNKS[preset])
    fs = tmp_path / f"fs-{preset}"
    code, o, err = run_cli(["freeswitch-config", "--out", str(fs)], e)
    assert code == 0, (o, err)
    gw = ET.parse(fs / "sip_profiles" / "external" / "faxbot_gateway.xml").getroot()
    params = {p.get("name"): p.get("value") for p in gw.iter("param")}
    assert params["register"] == ("true" if preset == "signalwire" else "false"), params
    for f in fs.rglob("*.xml"):
        ET.parse(f)


@pytest.mark.parametrize("preset,extra,message", [
    ("signalwire", {"SIP_SERVER": "sip.example.com"}, "<space>.sip.signalwire.com"),
    ("signalwire", {"SIP_USERNAME": "", "SIP_PASSWORD": ""}, "digest authentication only"),
    ("voxbone", {"SIP_FROM_USER": "5551112222"}, "SIP_FROM_USER must be a number of your account in E.164"),
    ("nosuch", {}, "SIP_TRUNK_PRESET 'nosuch' is not known; choose one of: "),
])
def test_trunk_rules_come_from_the_plugin(tmp_path, cli_env, preset, extra, message):
    env = dict(NEW_TRUNKS.get(preset, {}))
    env.update(extra)
    code, text, _ = render_asterisk(tmp_path, cli_env, preset, **env)
    assert code != 0 and message in text, text
    if preset == "nosuch":
        assert "voxbone" in text and "signalwire" in text and "twilio" in text


def test_an_installed_trunk_plugin_is_a_preset_by_its_short_name(tmp_path, cli_env):
    m = generic_manifest("acme-trunk", "acme")
    m["sip_trunk"]["codecs"] = ["alaw"]
    m["sip_trunk"]["t38"].update(error_correction="fec", max_datagram=300, reinvite=False)
    m["sip_trunk"]["numbers"]["plus"] = False
    m["sip_trunk"]["nat"]["rewrite_contact"] = False
    env = env_with(cli_env, tmp_path)
    code, out, err = run_cli(["plugins", "install", write_manifest(str(tmp_path / "pkg"), m)], env)
    assert code == 0 and "installed acme-trunk" in out, (out, err)
    for name in ("acme", "acme-trunk"):
        code, text, out_dir = render_asterisk(tmp_path, cli_env, name, **trunk_cases.PRESET_ENV["generic"])
        assert code == 0, text
        pj, _ = check_pjsip((out_dir / "pjsip.conf").read_text())
        ep = dict(next(o for n, o in pj if dict(o)["type"] == "endpoint"))
        assert ep["allow"] == "alaw" and ep["t38_udptl_ec"] == "fec" and ep["t38_udptl_maxdatagram"] == "300"
        assert ep["rewrite_contact"] == "no"
        assert "SendFAX(${FAXBOT_FILE},f)" in (out_dir / "extensions.conf").read_text()


# ---------------------------------------------------------------- CLI management

def test_install_remove_enable_disable(tmp_path, cli_env):
    env = env_with(cli_env, tmp_path)
    pkg = write_manifest(str(tmp_path / "acme"), generic_manifest())
    code, out, err = run_cli(["plugins", "install", pkg], env)
    assert code == 0, err
    code, out, err = run_cli(["plugins", "install", pkg], env)
    assert code == 1 and "already installed" in err
    assert run_cli(["plugins", "install", pkg, "--replace"], env)[0] == 0
    code, out, err = run_cli(["plugins", "show", "acme"], env)
    assert code == 0 and "acme-trunk (acme)" in out and "SIP_SERVER" in out
    # a bundled id cannot be taken, nor removed
    m = generic_manifest("faxbot-sip-twilio", "twilio2")
    code, out, err = run_cli(["plugins", "install", write_manifest(str(tmp_path / "t"), m)], env)
    assert code == 1 and "bundled plugin" in err
    code, out, err = run_cli(["plugins", "remove", "faxbot-sip-twilio"], env)
    assert code == 1 and "cannot be removed; disable it" in err
    # disabled: listed as such, and no longer a preset
    assert run_cli(["plugins", "disable", "twilio"], env)[0] == 0
    listed = {p["id"]: p for p in json.loads(run_cli(["plugins", "list", "--json"], env)[1])["items"]}
    assert listed["faxbot-sip-twilio"]["enabled"] is False and listed["acme-trunk"]["enabled"] is True
    code, text, _ = render_asterisk(tmp_path, cli_env, "twilio", **trunk_cases.PRESET_ENV["twilio"])
    assert code != 0 and "which is disabled (faxbot plugins enable faxbot-sip-twilio)" in text, text
    assert run_cli(["plugins", "enable", "faxbot-sip-twilio"], env)[0] == 0
    assert render_asterisk(tmp_path, cli_env, "twilio", **trunk_cases.PRESET_ENV["twilio"])[0] == 0
    code, out, err = run_cli(["plugins", "remove", "acme-trunk"], env)
    assert code == 0 and not os.path.exists(tmp_path / "data" / "plugins" / "acme-trunk")
    assert run_cli(["plugins", "remove", "acme-trunk"], env)[0] == 1


def make_tarball(tmp_path, m, name="acme.tar.gz", extra=None):
    src = tmp_path / "tar-src" / m["id"]
    write_manifest(str(src), m)
    (src / "README.md").write_text("Acme trunk\n")
    path = tmp_path / name
    with tarfile.open(path, "w:gz") as t:
        t.add(src, arcname=m["id"])
        if extra:
            extra(t)
    return path


def test_tarballs_install_and_links_are_refused(tmp_path, cli_env):
    env = env_with(cli_env, tmp_path)
    good = make_tarball(tmp_path, generic_manifest())
    code, out, err = run_cli(["plugins", "install", str(good)], env)
    assert code == 0, err
    assert (tmp_path / "data" / "plugins" / "acme-trunk" / "README.md").exists()

    def add_link(t):
        info = tarfile.TarInfo("acme-trunk/passwd")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        t.addfile(info)

    m = generic_manifest("evil-trunk", "evil")
    bad = make_tarball(tmp_path, m, "evil.tar.gz", add_link)
    code, out, err = run_cli(["plugins", "install", str(bad)], env)
    assert code == 1 and "link or special file" in err, err
    assert not (tmp_path / "data" / "plugins" / "evil-trunk").exists()
    leftovers = [n for n in os.listdir(tmp_path / "data" / "plugins") if n.startswith(".")]
    assert not leftovers, leftovers


def write_registry(tmp_path, items):
    reg = tmp_path / "data" / "plugins" / "registry.json"
    reg.parent.mkdir(parents=True, exist_ok=True)
    reg.write_text(json.dumps({"items": items}))
    return reg


def registry_item(tmp_path, m, sha=None):
    archive = make_tarball(tmp_path, m, f"{m['id']}.tar.gz")
    dest = tmp_path / "data" / "plugins" / "archives"
    dest.mkdir(parents=True, exist_ok=True)
    shutil.move(str(archive), dest / archive.name)
    digest = hashlib.sha256((dest / archive.name).read_bytes()).hexdigest()
    return {"id": m["id"], "name": m["name"], "version": m["version"], "categories": m["categories"],
            "capabilities": m["capabilities"], "description": "test", "archive": f"archives/{archive.name}",
            "sha256": sha or digest}


def test_registry_install_checks_the_sha256(tmp_path, cli_env):
    env = env_with(cli_env, tmp_path)
    good = registry_item(tmp_path, generic_manifest("acme-trunk", "acme"))
    bad = registry_item(tmp_path, generic_manifest("bad-trunk", "badt"), sha="0" * 64)
    write_registry(tmp_path, [good, bad])
    code, out, err = run_cli(["plugins", "registry"], env)
    assert code == 0 and "acme-trunk" in out and "bad-trunk" in out
    code, out, err = run_cli(["plugins", "install", "bad-trunk"], env)
    assert code == 1 and "does not match the registry's" in err, err
    assert not (tmp_path / "data" / "plugins" / "bad-trunk").exists()
    code, out, err = run_cli(["plugins", "install", "acme-trunk"], env)
    assert code == 0 and "installed acme-trunk" in out, err
    code, out, err = run_cli(["plugins", "install", "nope"], env)
    assert code == 1 and "not in the local plugin registry" in err
    # the registry's archives/ folder (the documented layout) is not mistaken for a broken plugin
    code, out, err = run_cli(["plugins", "list"], env)
    assert code == 0 and "acme-trunk" in out and "archives" not in err, err


def test_a_broken_installed_plugin_is_skipped_with_its_reason(tmp_path, cli_env):
    env = env_with(cli_env, tmp_path)
    d = tmp_path / "data" / "plugins" / "broken"
    d.mkdir(parents=True)
    (d / "manifest.json").write_text('{"id": "broken", "kind": "sip-trunk"}')
    code, out, err = run_cli(["plugins", "list"], env)
    assert code == 0 and "faxbot-sip-generic" in out
    assert "broken/manifest.json: name: missing" in err, err


# ---------------------------------------------------------------- routes

class SdkPlugins:
    """The plugin calls of Faxbot's Python SDK (FAXBOT.md §9): X-API-Key, raise_for_status."""

    def __init__(self, srv, key):
        import requests
        self.base = srv.url
        self.s = requests.Session()
        self.s.trust_env = False
        self.h = {"X-API-Key": key}
        r = self.s.get(f"{self.base}/plugins", headers=self.h, timeout=5)
        self.enabled = r.status_code == 200

    def list_plugins(self):
        r = self.s.get(f"{self.base}/plugins", headers=self.h, timeout=30)
        r.raise_for_status()
        return r.json()

    def get_plugin_config(self, plugin_id):
        r = self.s.get(f"{self.base}/plugins/{plugin_id}/config", headers=self.h, timeout=30)
        r.raise_for_status()
        return r.json()

    def update_plugin_config(self, plugin_id, cfg):
        r = self.s.put(f"{self.base}/plugins/{plugin_id}/config", headers=self.h, json=cfg, timeout=30)
        r.raise_for_status()
        return r.json()

    def install_plugin(self, plugin_id):
        r = self.s.post(f"{self.base}/plugins/install", headers=self.h, json={"plugin_id": plugin_id}, timeout=30)
        r.raise_for_status()
        return r.json()


def make_key(srv, scopes):
    r = srv.post("/admin/api-keys", key=ADMIN, json={"name": "k", "owner": "tests", "scopes": scopes})
    assert r.status_code == 200, r.text
    return r.json()["token"]


def test_sdk_calls_and_route_shapes(server):
    srv = server(API_KEY=ADMIN, FAX_BACKEND="loopback", FAXBOT_CONFIG_KEY=base64.b64encode(bytes(range(32))).decode())
    sdk = SdkPlugins(srv, ADMIN)
    assert sdk.enabled
    listed = sdk.list_plugins()
    assert isinstance(listed, dict) and isinstance(listed["items"], list)
    for it in listed["items"]:
        assert {"id", "name", "version", "categories", "capabilities", "enabled", "configurable"} <= set(it), it
    by = {it["id"]: it for it in listed["items"]}
    assert by["loopback"]["enabled"] is True and by["phaxio"]["enabled"] is False
    assert by["faxbot-sip-twilio"]["categories"] == ["outbound", "inbound"]
    assert by["faxbot-sip-twilio"]["capabilities"] == ["send_fax", "get_status", "receive_fax"]
    assert by["faxbot-sip-twilio"]["configurable"] is True and by["faxbot-sip-twilio"]["kind"] == "sip-trunk"
    # what the Setup Wizard shows when a trunk provider is chosen: description and the trunk's rules
    tw = by["faxbot-sip-twilio"]
    assert "pstn.twilio.com" in tw["description"]
    assert tw["sip_trunk"]["termination"]["host_rule"]["suffix"] == ".twilio.com"
    assert "E.164" in tw["sip_trunk"]["caller_id"]["message"] and tw["sip_trunk"]["numbers"]["format"] == "e164"
    assert "sip_trunk" not in by["faxbot-http-telnyx"] and by["faxbot-http-telnyx"]["description"]

    cfg = sdk.get_plugin_config("faxbot-sip-twilio")
    assert cfg["enabled"] is True and set(cfg["settings"]) >= {"server", "username", "password", "from_user"}
    assert {f["key"]: f for f in cfg["fields"]}["password"]["secret"] is True

    done = sdk.update_plugin_config("faxbot-sip-twilio", {"settings": {"server": "acme.pstn.twilio.com",
                                                                      "password": "Tw-Secret-123456"}})
    assert done["ok"] is True and done["path"].endswith("faxbot.config.json"), done
    cfg = sdk.get_plugin_config("faxbot-sip-twilio")
    assert cfg["settings"]["server"] == "acme.pstn.twilio.com"
    assert cfg["settings"]["password"] != "Tw-Secret-123456" and cfg["settings"]["password"].endswith("3456")
    # the masked value sent back keeps the secret
    sdk.update_plugin_config("faxbot-sip-twilio", {"settings": {"password": cfg["settings"]["password"]}})
    r = srv.get("/admin/settings", key=ADMIN)
    assert "Tw-Secret-123456" not in r.text
    with open(os.path.join(srv.data_dir, "config", "faxbot.config.json")) as f:
        stored = json.load(f)
    assert "Tw-Secret-123456" not in json.dumps(stored), "the secret is stored encrypted like every other"
    assert stored["settings"]["SIP_SERVER"] == "acme.pstn.twilio.com", stored

    # a built-in backend: its settings rows, enabled = it is FAX_BACKEND
    ph = sdk.get_plugin_config("phaxio")
    assert ph["enabled"] is False and "phaxio_api_key" in ph["settings"]

    # the install route the SDKs call: from the local registry
    item = registry_item_for_server(srv, generic_manifest("acme-trunk", "acme"))
    with open(os.path.join(srv.data_dir, "plugins", "registry.json"), "w") as f:
        json.dump({"items": [item]}, f)
    got = sdk.install_plugin("acme-trunk")
    assert got["ok"] is True and got["id"] == "acme-trunk" and got["path"].endswith("/plugins/acme-trunk")
    assert "acme-trunk" in {it["id"] for it in sdk.list_plugins()["items"]}


def registry_item_for_server(srv, m):
    base = os.path.join(srv.data_dir, "plugins")
    os.makedirs(os.path.join(base, "archives"), exist_ok=True)
    src = os.path.join(srv.workdir, "pkg", m["id"])
    write_manifest(src, m)
    archive = os.path.join(base, "archives", m["id"] + ".tar.gz")
    with tarfile.open(archive, "w:gz") as t:
        t.add(src, arcname=m["id"])
    with open(archive, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return {"id": m["id"], "name": m["name"], "version": m["version"], "categories": m["categories"],
            "capabilities": m["capabilities"], "archive": "archives/" + os.path.basename(archive), "sha256": digest}


def test_route_errors_and_scopes(server):
    srv = server(API_KEY=ADMIN, FAX_BACKEND="loopback")
    reader = make_key(srv, ["fax:read"])
    # admin for everything but the registry
    for method, path, body in [("GET", "/plugins", None), ("GET", "/plugins/faxbot-sip-twilio/config", None),
                               ("PUT", "/plugins/faxbot-sip-twilio/config", {"enabled": True}),
                               ("POST", "/plugins/install", {"plugin_id": "x"}),
                               ("POST", "/admin/plugins/http/validate", {"manifest": {}}),
                               ("POST", "/admin/plugins/http/install", {"manifest": {}}),
                               ("POST", "/admin/plugins/http/import-manifests", {"items": []})]:
        r = srv.request(method, path, key=reader, json=body)
        assert r.status_code in (401, 403), (method, path, r.status_code, r.text)
        r = srv.request(method, path, json=body)
        assert r.status_code == 401, (method, path, r.status_code)
    r = srv.get("/plugin-registry", key=reader)
    assert r.status_code == 200 and r.json()["items"] == [], r.text
    assert srv.get("/plugin-registry").status_code == 401

    assert_detail(srv.get("/plugins/nope/config", key=ADMIN), 404, "Plugin not found")
    assert_detail(srv.request("PUT", "/plugins/nope/config", key=ADMIN, json={}), 404, "Plugin not found")
    assert_detail(srv.request("PUT", "/plugins/faxbot-sip-twilio/config", key=ADMIN,
                              json={"settings": {"from_user": "not a number"}}), 400, "settings.from_user")
    assert_detail(srv.request("PUT", "/plugins/faxbot-sip-twilio/config", key=ADMIN,
                              json={"settings": {"colour": "x"}}), 400, "settings.colour")
    assert_detail(srv.request("PUT", "/plugins/faxbot-sip-twilio/config", key=ADMIN,
                              json={"enabled": "yes"}), 400, "enabled")
    assert_detail(srv.request("PUT", "/plugins/loopback/config", key=ADMIN, json={"enabled": False}), 409)
    assert_detail(srv.post("/plugins/install", key=ADMIN, json={}), 400, "plugin_id")
    assert_detail(srv.post("/plugins/install", key=ADMIN, json={"plugin_id": "nope"}), 404, "registry")

    # switching a trunk profile off and on through the API
    r = srv.request("PUT", "/plugins/faxbot-sip-telnyx/config", key=ADMIN, json={"enabled": False})
    assert r.status_code == 200 and r.json()["enabled"] is False, r.text
    by = {it["id"]: it for it in srv.get("/plugins", key=ADMIN).json()["items"]}
    assert by["faxbot-sip-telnyx"]["enabled"] is False
    diag = srv.post("/admin/diagnostics/run", key=ADMIN).json()["checks"]["plugins"]
    assert diag["bundled"] >= 7 and diag["disabled"] == ["faxbot-sip-telnyx"] and diag["errors"] == [], diag
    r = srv.request("PUT", "/plugins/faxbot-sip-telnyx/config", key=ADMIN, json={"enabled": True})
    assert r.status_code == 200 and r.json()["enabled"] is True

    # the HTTP-manifest admin routes refuse what is not an http manifest, naming the field
    assert_detail(srv.post("/admin/plugins/http/validate", key=ADMIN, json={}), 400, "manifest: missing")
    assert_detail(srv.post("/admin/plugins/http/validate", key=ADMIN, json={"manifest": generic_manifest()}), 400,
                  'kind: "sip-trunk" is not "http"')
    bad = generic_manifest()
    bad["categories"].append("messaging")
    assert_detail(srv.post("/admin/plugins/http/install", key=ADMIN, json={"manifest": bad}), 400,
                  '"messaging" is not served by this gateway')
    assert_detail(srv.post("/admin/plugins/http/import-manifests", key=ADMIN, json={}), 400,
                  "No manifest candidates provided")
    assert_detail(srv.post("/admin/plugins/http/import-manifests", key=ADMIN, json={"source": "repo_scrape"}), 404)
    md = "Two:\n```json\n" + json.dumps(generic_manifest()) + "\n```\nand\n```\n{\"id\": \"x\"}\n```\n"
    r = srv.post("/admin/plugins/http/import-manifests", key=ADMIN, json={"markdown": md})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["ok"] is True and out["imported"] == [] and len(out["errors"]) == 2, out
    assert "only \"http\"" in out["errors"][0]["error"] and "id" in out["errors"][1]["data_keys"]


def test_http_manifest_routes_through_the_http_kind(server):
    """validate (render only, then a real dry run against the Telnyx stand-in), install and
    import go through the http kind's hooks; installed http plugins are listed."""
    import sys
    sys.path.insert(0, os.path.join(REPO, "tests", "peers"))
    from plugin_install import local_copy
    from telnyx_peer import TelnyxPeer
    peer = TelnyxPeer()
    try:
        srv = server(API_KEY=ADMIN, FAX_BACKEND="loopback")
        m = local_copy("faxbot-http-telnyx", "acme-telnyx", peer.url + "/v2")
        r = srv.post("/admin/plugins/http/validate", key=ADMIN, json={"manifest": m})
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["id"] == "acme-telnyx" and "send_fax" in out["actions"] and out["allowed_domains"] == ["127.0.0.1"]
        assert not peer.sends(), "render_only must not call the provider"
        creds = {"api_key": peer.api_key, "connection_id": peer.connection_id, "from_number": "+13125550100",
                 "public_key": peer.public_key_b64}
        r = srv.post("/admin/plugins/http/validate", key=ADMIN,
                     json={"manifest": m, "credentials": creds, "render_only": False,
                           "file_url": "https://example.com/doc.pdf", "to": "+15551234567"})
        assert r.status_code == 200 and "normalized" in r.json(), r.text
        assert len(peer.sends()) == 1, r.text
        bad = copy.deepcopy(m)
        bad["http"]["base_url"] = "https://api.elsewhere.example/v2"
        assert_detail(srv.post("/admin/plugins/http/validate", key=ADMIN, json={"manifest": bad}), 400, "http.")

        r = srv.post("/admin/plugins/http/install", key=ADMIN, json={"manifest": m})
        assert r.status_code == 200 and r.json()["id"] == "acme-telnyx", r.text
        assert r.json()["restart_required"] is False   # its fields became settings at once
        assert_detail(srv.post("/admin/plugins/http/install", key=ADMIN, json={"manifest": m}), 409, "already installed")
        m2 = local_copy("faxbot-http-telnyx", "acme-telnyx-two", peer.url + "/v2")
        r = srv.post("/admin/plugins/http/import-manifests", key=ADMIN, json={"items": [m2, {"id": "junk"}]})
        assert r.status_code == 200, r.text
        assert [i["id"] for i in r.json()["imported"]] == ["acme-telnyx-two"] and len(r.json()["errors"]) == 1
        by = {it["id"]: it for it in srv.get("/plugins", key=ADMIN).json()["items"]}
        assert by["acme-telnyx"]["kind"] == "http" and by["acme-telnyx"]["source"] == "installed"
        assert set(by["acme-telnyx"]["categories"]) == set(m["categories"])
        r = srv.request("PUT", "/plugins/acme-telnyx/config", key=ADMIN, json={"settings": {"api_key": "KEY-now-5678"}})
        assert r.status_code == 200, r.text
        assert srv.get("/plugins/acme-telnyx/config", key=ADMIN).json()["settings"]["api_key"].endswith("5678")
        # and they are still settings after a restart
        srv.restart()
        r = srv.request("PUT", "/plugins/acme-telnyx/config", key=ADMIN, json={"settings": {"api_key": "KEY-abcdef-1234"}})
        assert r.status_code == 200, r.text
        cfg = srv.get("/plugins/acme-telnyx/config", key=ADMIN).json()
        assert cfg["settings"]["api_key"].endswith("1234") and "abcdef" not in cfg["settings"]["api_key"]
        # removed while its settings stay in the file: the gateway still starts
        srv.stop()
        code, out, err = run_cli(["plugins", "remove", "acme-telnyx"], srv.env)
        assert code == 0, err
        srv.start()
        assert "acme-telnyx" not in {it["id"] for it in srv.get("/plugins", key=ADMIN).json()["items"]}
    finally:
        peer.close()


@pytest.mark.parametrize("backend,message", [
    ("faxbot-sip-twilio", "is a SIP trunk profile: use FAX_BACKEND=sip (Asterisk) or freeswitch with SIP_TRUNK_PRESET=twilio"),
    ("nosuch-provider", "or an enabled outbound plugin's id (faxbot plugins list)"),
])
def test_fax_backend_names_what_a_plugin_id_cannot_do(tmp_path, cli_env, backend, message):
    code, out, err = run_cli(["doctor"], env_with(cli_env, tmp_path, FAX_BACKEND=backend))
    assert code != 0 and message in out + err, out + err


def test_a_plugin_field_cannot_reach_other_settings(tmp_path):
    import tempfile
    import conftest
    m = generic_manifest("sneaky-trunk", "sneaky")
    m["config_schema"]["fields"].append({"key": "admin_key", "type": "string", "label": "x", "setting": "API_KEY"})
    srv = conftest.Server(tempfile.mkdtemp(prefix="sn-", dir=str(tmp_path)), {"API_KEY": ADMIN})
    write_manifest(os.path.join(srv.data_dir, "plugins", "sneaky-trunk"), m)
    try:
        srv.start()
        cfg = srv.get("/plugins/sneaky-trunk/config", key=ADMIN).json()
        assert ADMIN not in json.dumps(cfg), "a secret row is shown masked"
        assert_detail(srv.request("PUT", "/plugins/sneaky-trunk/config", key=ADMIN,
                                  json={"settings": {"admin_key": "new-admin-key-1234567890"}}), 403, "API_KEY")
        r = srv.request("PUT", "/plugins/sneaky-trunk/config", key=ADMIN, json={"settings": {"server": "sip.example.net"}})
        assert r.status_code == 200, r.text
    finally:
        conftest._stop_all([srv])
