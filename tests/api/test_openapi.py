"""test_openapi.py — the API describes itself (issue 17): GET /openapi.json is the OpenAPI
3.1 document in src/api/openapi.json and validates against the official OpenAPI 3.1
schema (tests/data); the document and the route table agree in both directions — the
routes are read from the sources (every http_route and every backend webhook), so a
route someone adds without documenting it fails here; GET /docs renders it with nothing
from another origin; and real responses of a running gateway validate against the
document's schema for their route and status."""

import json
import os
import re

import jsonschema
import pytest

import documents as docs
from helpers import create_job, wait_job

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOC_PATH = os.path.join(REPO, "src", "api", "openapi.json")
SCHEMA_PATH = os.path.join(REPO, "tests", "data", "openapi-3.1-schema.json")
ADMIN = "openapi-admin-key-0123456789"
ROUTE_RE = re.compile(r'(?:\.method\s*=\s*)?"(GET|POST|PUT|PATCH|DELETE)"\s*,\s*(?:\.(?:pattern|path)\s*=\s*)?"(/[^"]*)"')


def load_doc():
    with open(DOC_PATH) as f:
        return json.load(f)


# Routes whose path is a setting: `.pattern = cfg->x` takes the setting's default from
# config.c; any other variable must be named here (a new one fails the test until it is).
VAR_ROUTE_RE = re.compile(r'\.method\s*=\s*"(GET|POST|PUT|PATCH|DELETE)"\s*,\s*\.pattern\s*=\s*([A-Za-z_][\w>\-.]*)')
COMPUTED_PATHS = {"g_metadata_path": "/.well-known/oauth-protected-resource/mcp"}


def setting_defaults():
    """config field -> default path: config.c copies a setting into a field, and the
    settings table (settings_core.c) holds its default."""
    with open(os.path.join(REPO, "src", "config", "config.c")) as f:
        fields = {m.group(2): m.group(1) for m in re.finditer(r'env_copy\(&ev, "([A-Z_]+)", c->(\w+)', f.read())}
    with open(os.path.join(REPO, "src", "config", "settings_core.c")) as f:
        dflt = {m.group(1): m.group(2) for m in re.finditer(r'S\("([A-Z_]+)", "(/[^"]*)"', f.read())}
    return {field: dflt[var] for field, var in fields.items() if var in dflt}


def source_routes():
    """(METHOD, path) of every route in the sources: the API's route tables and every
    backend's webhook table."""
    found, defaults = set(), setting_defaults()
    for sub in ("api", "backend"):
        d = os.path.join(REPO, "src", sub)
        for name in sorted(os.listdir(d)):
            if name.endswith(".c"):
                with open(os.path.join(d, name)) as f:
                    text = f.read()
                for m in ROUTE_RE.finditer(text):
                    found.add((m.group(1), m.group(2)))
                for m in VAR_ROUTE_RE.finditer(text):
                    var = m.group(2)
                    field = var.split("->")[-1]
                    path = defaults.get(field) if var.startswith("cfg->") else COMPUTED_PATHS.get(var)
                    assert path, f"{name}: route {m.group(1)} {var}: a path this test cannot resolve; add it to COMPUTED_PATHS"
                    found.add((m.group(1), path))
    return found


def doc_routes(doc):
    return {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops
            if m in ("get", "post", "put", "patch", "delete")}


def test_document_is_valid_openapi_3_1():
    with open(SCHEMA_PATH) as f:
        schema = json.load(f)
    doc = load_doc()
    assert doc["openapi"].startswith("3.1")
    jsonschema.Draft202012Validator(schema).validate(doc)
    schemes = doc["components"]["securitySchemes"]
    for name in ("ApiKey", "InternalSecret", "PhaxioSignature", "SinchSignature", "SignalWireSignature", "WebhookBasic",
                 "PdfToken"):
        assert name in schemes, name
    for p, ops in doc["paths"].items():
        for m, op in ops.items():
            assert op.get("summary") and op.get("responses"), (m, p)
            errors = [c for c in op["responses"] if c[0] in "45"]
            for c in errors:
                r = op["responses"][c]
                if "$ref" in r:
                    r = doc["components"]["responses"][r["$ref"].split("/")[-1]]
                assert r["content"]["application/json"]["schema"], (m, p, c)


def test_document_and_route_table_agree_both_ways():
    src, documented = source_routes(), doc_routes(load_doc())
    assert len(src) > 20, src
    missing = sorted(src - documented)
    stale = sorted(documented - src)
    assert not missing, f"routes without a description in src/api/openapi.json: {missing}"
    assert not stale, f"described in src/api/openapi.json but no such route: {stale}"


def test_served_document_and_docs_page(server):
    srv = server(API_KEY=ADMIN)
    r = srv.get("/openapi.json")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    assert r.json() == load_doc()
    page = srv.get("/docs")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    html = page.text
    assert "openapi.json" in html and "<script>" in html
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', html), "the page loads something from elsewhere"
    assert "connect-src 'self'" in page.headers["Content-Security-Policy"]


class Checker:
    """Validates responses against the document: the status must be documented for the
    route, and a JSON body must match that response's schema."""

    def __init__(self, doc):
        self.doc = doc
        self.resolver = jsonschema.RefResolver.from_schema(doc)
        self.templates = [(re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", p) + "$"), p) for p in doc["paths"]]
        self.seen = set()

    def check(self, method, path, r):
        path = path.split("?")[0]
        tmpl = next(p for rx, p in self.templates if rx.match(path))
        op = self.doc["paths"][tmpl][method.lower()]
        code = str(r.status_code)
        assert code in op["responses"], f"{method} {tmpl} answered {code}, not documented: {r.text[:300]}"
        resp = op["responses"][code]
        if "$ref" in resp:
            resp = self.doc["components"]["responses"][resp["$ref"].split("/")[-1]]
        ctype = r.headers.get("Content-Type", "").split(";")[0]
        content = resp.get("content", {})
        if ctype == "application/json":
            assert "application/json" in content, (method, tmpl, code)
            schema = content["application/json"]["schema"]
            jsonschema.Draft202012Validator(schema, resolver=self.resolver).validate(r.json())
        elif content:
            assert ctype in content, (method, tmpl, code, ctype)
        self.seen.add((method, tmpl, code))


def test_responses_validate_against_the_document(server):
    srv = server(API_KEY=ADMIN)
    c = Checker(load_doc())

    def call(method, path, key=ADMIN, **kw):
        r = srv.request(method, path, key=key, **kw)
        c.check(method, path, r)
        return r

    call("GET", "/health", key=None)
    call("GET", "/health/ready", key=None)
    call("GET", "/metrics", key=None)
    call("GET", "/openapi.json", key=None)
    call("GET", "/docs", key=None)
    call("GET", "/fax", key=None)                                   # 401
    call("GET", "/fax", key="wrong-key")                            # 401
    call("GET", "/fax/" + "0" * 32)                                  # 404
    call("GET", "/fax?limit=0")                                     # 400
    job = create_job(srv, key=ADMIN, content=docs.pdf_pages(["openapi"]), filename="d.pdf",
                     content_type="application/pdf")
    done, _ = wait_job(srv, job["id"], key=ADMIN, timeout=60)
    call("GET", f"/fax/{job['id']}")
    call("GET", "/fax?limit=5")
    call("POST", f"/fax/{job['id']}/cancel")                        # 409: already finished
    call("GET", f"/fax/{job['id']}/tiff")
    call("GET", f"/fax/{job['id']}/pdf")                            # 422: no token
    call("GET", f"/fax/{job['id']}/pdf?token=nope")                 # 403
    call("GET", "/inbound")
    call("GET", f"/inbound/{done['inbound_id']}")
    one = srv.get(f"/inbound/{done['inbound_id']}", key=ADMIN).json()
    call("GET", one["pdf_url"][one["pdf_url"].index("/inbound/"):], key=None)
    call("GET", f"/inbound/{done['inbound_id']}/tiff")
    created = call("POST", "/admin/api-keys", json={"name": "ci", "scopes": ["fax:read"]}).json()
    call("GET", "/admin/api-keys")
    call("GET", "/admin/api-keys", key=created["token"])             # 403: scope
    call("POST", f"/admin/api-keys/{created['key_id']}/rotate")
    call("DELETE", f"/admin/api-keys/{created['key_id']}")
    call("DELETE", "/admin/api-keys/nosuchkey")                      # 404
    call("POST", "/admin/diagnostics/run")
    call("GET", "/admin/inbound/callbacks")
    assert len(c.seen) >= 25, c.seen


def test_provider_and_pbx_hook_replies_validate_against_the_document(server, tmp_path):
    """The hooks' answers (accepted, refused, malformed) are what the document says."""
    secret = "hook-secret-0123456789abcdef"
    srv = server(API_KEY=ADMIN, SINCH_INBOUND_BASIC_USER="u", SINCH_INBOUND_BASIC_PASS="p",
                 ASTERISK_INBOUND_SECRET=secret, ASTERISK_SPOOL_DIR=str(tmp_path),
                 FREESWITCH_INBOUND_SECRET=secret, FREESWITCH_SPOOL_DIR=str(tmp_path))
    c = Checker(load_doc())
    incoming = json.dumps({"event": "INCOMING_FAX", "fax": {"id": "01HZ0000000000000000000001", "from": "+14155552222"},
                           "file": "JVBERi0xLjQK", "fileType": "PDF"}).encode()
    cases = [
        ("/sinch-inbound", incoming, {}, None),                                      # 401
        ("/sinch-inbound", b"not json", {}, ("u", "p")),                              # 400
        ("/_internal/asterisk/inbound", b'{"tiff_path":"/etc/passwd","uniqueid":"1.2"}', {}, None),   # 401
        ("/_internal/asterisk/inbound", b'{"tiff_path":"/etc/passwd","uniqueid":"1.2"}',
         {"X-Internal-Secret": secret}, None),                                          # 403 outside the spool
        ("/_internal/asterisk/inbound", b'{"tiff_path":"/x"}', {"X-Internal-Secret": secret}, None),  # 400
        ("/_internal/freeswitch/inbound", b'{"tiff_path":"/x"}', {"X-Internal-Secret": secret}, None),  # 400
    ]
    for path, body, headers, auth in cases:
        h = {"Content-Type": "application/json", **headers}
        r = srv.session.post(srv.url + path, data=body, headers=h, auth=auth, timeout=30)
        c.check("POST", path, r)
    assert {code for _, _, code in c.seen} >= {"400", "401", "403"}, c.seen
