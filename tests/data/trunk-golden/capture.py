#!/usr/bin/env python3
"""capture.py FAXBOT_BIN — writes tests/data/trunk-golden/<case>/{asterisk,freeswitch}/… with
what FAXBOT_BIN renders for each case of tests/api/trunk_cases.py. Run once with the binary
of the commit before the trunk presets moved into plugins; the files are the golden output."""
import os
import shutil
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "api"))
import trunk_cases  # noqa: E402

binary = sys.argv[1]
env0 = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
for name, preset, env in trunk_cases.cases():
    for kind in ("asterisk", "freeswitch"):
        out = os.path.join(here, name, kind)
        shutil.rmtree(out, ignore_errors=True)
        e = dict(env0, **env)
        p = subprocess.run([binary, f"{kind}-config", "--out", out], env=e, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"{name} {kind}: {p.stdout}{p.stderr}")
        print(name, kind, "ok")
