#!/usr/bin/python3
"""gen-manpage.py — writes faxbot(1) from docs/faxbot.1.in, filling @SETTINGS@ with
every setting the gateway reads, so the man page cannot drift from the code.

    gen-manpage.py SRCDIR OUT.1       write the man page
    gen-manpage.py SRCDIR --list      print the setting names, one a line

The settings come from `settings(srcdir)`, the one place that knows where the
settings are declared. Today (no central table in main yet) that is the reading
calls in src/ (env_*(&ev, "NAME", default, lo, hi) in src/config/config.c,
config_env_*("NAME", ...) / getenv("NAME") and the backends' env helpers); it
also understands the rows of a settings table (S("NAME", "default", ...),
SETTING_ROW_*(b, "NAME", ...)) so that it keeps working when src/config grows one.
The help text of a setting is its row's help, else its line in the settings
tables of README.md / docs/*.md. Operating-system variables are not settings."""
import glob
import os
import re
import sys

OS_VARS = {"PATH", "TMPDIR", "TZ", "HOME", "LC_ALL", "LC_CTYPE", "FONTCONFIG_FILE", "FONTCONFIG_PATH"}

# a reading call: env_int(&ev, "NAME", 30, 1, 3600 …), config_env_str("NAME", "dflt" …), getenv("NAME")
CALL = re.compile(r'\b(\w*env\w*)\(\s*(?:&ev,\s*)?"([A-Z][A-Z0-9_]+)"\s*(?:,\s*("(?:[^"\\]|\\.)*"|[-\w.* ]+))?'
                  r'(?:,\s*([-\w.* ]+),\s*([-\w.* ]+))?')
# a table row: S("NAME", "dflt", …) / I("NAME", "dflt", lo, hi, …) / SETTING_ROW_STR(b, "NAME", "dflt", …)
ROW = re.compile(r'\b(?:S|SECRET|I|B|E|SETTING_ROW_\w+)\(\s*(?:(?:\w+|"[a-z0-9_]+"),\s*)?"([A-Z][A-Z0-9_]+)"\s*(?:,\s*"((?:[^"\\]|\\.)*)")?'
                 r'(?:,\s*(-?\d+)L?,\s*(-?[\d *]+)L?)?')
# or a row written out: {.name = "NAME", .type = …, .dflt = "dflt", …
ROW = re.compile(ROW.pattern + r'|\{\s*\.name\s*=\s*"([A-Z][A-Z0-9_]+)"[^}]*?\.dflt\s*=\s*"((?:[^"\\]|\\.)*)"()()')
ROW_HELP = re.compile(r'"((?:[^"\\]|\\.)*)"\s*\)\s*,?\s*$')
DOC_ROW = re.compile(r'^\|\s*`([A-Z][A-Z0-9_]+)`[^|]*\|([^|]*)\|([^|]*)\|?')


def settings(srcdir):
    """[(name, default, range, help)] in a stable order (core first, then backends)."""
    found = {}
    files = sorted(glob.glob(os.path.join(srcdir, "src", "**", "*.c"), recursive=True))
    files.sort(key=lambda f: (0 if "/config/" in f else 1, f))
    for path in files:
        text = open(path, encoding="utf-8").read()
        for m in CALL.finditer(text):
            fn, name, dflt, lo, hi = m.groups()
            if name in OS_VARS or name in found or not ("env" in fn):
                continue
            d = (dflt or "").strip()
            if d.startswith('"'):
                d = d[1:-1]
            elif not re.fullmatch(r"-?\d+|true|false", d):
                d = ""            # computed at run time (e.g. from the core count)
            rng = f"{lo.strip()}..{hi.strip()}" if lo and hi and fn.endswith("int") else ""
            found[name] = [d, rng, ""]
        for line in text.splitlines():
            m = ROW.search(line)
            if not m:
                continue
            g = m.groups()
            name, dflt, lo, hi = g[:4] if g[0] else g[4:]
            if name in OS_VARS:
                continue
            h = ROW_HELP.search(line)
            entry = found.setdefault(name, ["", "", ""])
            entry[0] = entry[0] or (dflt or "")
            entry[1] = entry[1] or (f"{lo}..{hi.strip()}" if lo and hi else "")
            entry[2] = entry[2] or (h.group(1) if h and h.group(1) != dflt else "")
    docs = [os.path.join(srcdir, "README.md")] + sorted(glob.glob(os.path.join(srcdir, "docs", "*.md")))
    for path in docs:
        for line in open(path, encoding="utf-8"):
            m = DOC_ROW.match(line)
            if m and m.group(1) in found:
                entry = found[m.group(1)]
                if not entry[2]:
                    entry[2] = m.group(3).strip() or m.group(2).strip()
                if not entry[0]:
                    d = m.group(2).strip().strip("`")
                    entry[0] = "" if d in ("—", "-") else d
    return [(n, *v) for n, v in found.items()]


def roff(text):
    """Markdown-ish table text to roff: backticks off, backslashes and leading dots escaped."""
    text = text.replace("\\", "\\e").replace("`", "")
    return ("\\&" + text) if text.startswith((".", "'")) else text


def render_settings(rows):
    out = []
    for name, dflt, rng, help_ in rows:
        out.append(".TP")
        out.append(f".B {name}")
        line = roff(help_) if help_ else "see README.md and docs/backends.md"
        if dflt:
            line += f" (default: {roff(dflt)})"
        if rng:
            line += f" [{rng}]"
        out.append(line)
    return "\n".join(out)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: gen-manpage.py SRCDIR OUT.1 | --list")
    srcdir, out = sys.argv[1], sys.argv[2]
    rows = settings(srcdir)
    if out == "--list":
        print("\n".join(r[0] for r in rows))
        return
    template = open(os.path.join(srcdir, "docs", "faxbot.1.in"), encoding="utf-8").read()
    page = template.replace("@SETTINGS@", render_settings(rows))
    with open(out, "w", encoding="utf-8") as f:
        f.write(page)


if __name__ == "__main__":
    main()
