"""plugin_install.py — puts a plugin into a test server's $FAX_DATA_DIR/plugins/<id>/ the
way an install does, and derives the test copy of a bundled http manifest: the same
manifest with its base URL and allowed hosts moved to a stand-in on 127.0.0.1 (an
http plugin may only call the hosts it declares)."""

import copy
import json
import os
import shutil

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def bundled(plugin_id):
    with open(os.path.join(REPO_ROOT, "plugins", "bundled", plugin_id, "manifest.json")) as f:
        return json.load(f)


def local_copy(plugin_id, new_id, base_url):
    """The bundled manifest with its API at base_url (hosts: 127.0.0.1 only)."""
    m = copy.deepcopy(bundled(plugin_id))
    m["id"] = new_id
    m.pop("short_name", None)
    m["http"]["base_url"] = base_url
    m["http"]["allowed_hosts"] = ["127.0.0.1"]
    return m


def install(data_dir, manifest, files=()):
    d = os.path.join(data_dir, "plugins", manifest["id"])
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump(manifest, f)
    for src, name in files:
        shutil.copy(src, os.path.join(d, name))
    return d


def setting(plugin_id, key):
    return "PLUGIN_" + plugin_id.upper().replace("-", "_") + "_" + key.upper()
