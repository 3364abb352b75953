#!/usr/bin/python3
"""gen-manpage.py — writes faxbot(1) from docs/faxbot.1.in, filling @SETTINGS@ with
every row of the gateway's settings table, so the man page cannot drift from the code.

    gen-manpage.py SRCDIR FAXBOT_BINARY OUT.1     write the man page
    gen-manpage.py SRCDIR FAXBOT_BINARY --list    print the setting names, one a line

The rows come from the built binary itself (`faxbot config table`: the core rows and
every backend's, with default, range or choices and help), run with an empty
environment so nothing local changes what it prints."""
import json
import os
import subprocess
import sys


def settings(binary):
    """[(name, default, range, help)] in the table's order (core first, then backends)."""
    env = {"PATH": "/usr/bin:/bin", "FAXBOT_LOG_LEVEL": "error"}
    binary = os.path.abspath(binary)
    out = subprocess.run([binary, "config", "table"], env=env, check=True, capture_output=True,
                         text=True, cwd=os.path.dirname(os.path.abspath(binary))).stdout
    rows = []
    for r in json.loads(out):
        rng = f"{r['min']}..{r['max']}" if r.get("type") == "int" and "min" in r else r.get("choices", "")
        help_ = r.get("help", "")
        if r.get("secret"):
            help_ = (help_ + "; " if help_ else "") + "secret: masked everywhere, encrypted in the settings file"
        if r.get("apply") == "restart":
            help_ += "; takes effect after a restart"
        elif r.get("apply") == "env only":
            help_ += "; environment only"
        rows.append((r["name"], r.get("default", ""), rng, help_.lstrip("; ")))
    return rows


def roff(text):
    """Table text to roff: backticks off, backslashes and leading dots escaped."""
    text = text.replace("\\", "\\e").replace("`", "")
    return ("\\&" + text) if text.startswith((".", "'")) else text


def render_settings(rows):
    out = []
    for name, dflt, rng, help_ in rows:
        out.append(".TP")
        out.append(f".B {name}")
        line = roff(help_) if help_ else "see README.md and docs/settings.md"
        if dflt:
            line += f" (default: {roff(dflt)})"
        if rng:
            line += f" [{roff(rng)}]"
        out.append(line)
    return "\n".join(out)


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: gen-manpage.py SRCDIR FAXBOT_BINARY OUT.1 | --list")
    srcdir, binary, out = sys.argv[1:]
    rows = settings(binary)
    if out == "--list":
        print("\n".join(r[0] for r in rows))
        return
    template = open(os.path.join(srcdir, "docs", "faxbot.1.in"), encoding="utf-8").read()
    page = template.replace("@SETTINGS@", render_settings(rows))
    with open(out, "w", encoding="utf-8") as f:
        f.write(page)


if __name__ == "__main__":
    main()
