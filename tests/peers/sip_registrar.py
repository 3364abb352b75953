#!/usr/bin/env python3
"""A SIP registrar (and trunk) stand-in for tests: real SIP over UDP (or TCP with --tcp) on 127.0.0.1, Digest auth
(MD5, qop=auth) checked against one user and password, a granted expiry capped at
--max-expires so refreshes come quickly. Prints "port N" on start, then one line per
REGISTER it handled: "REGISTER <status> <contact> expires=<n>". As a trunk it
challenges every INVITE with 407 and answers an authorized one with 486 Busy Here
(enough to prove a user agent's Digest answer to an INVITE): "INVITE <status>".
Stops on SIGTERM."""
import argparse, hashlib, os, re, socket, sys, threading

def md5(s):
    return hashlib.md5(s.encode()).hexdigest()

def headers(msg):
    head = msg.split("\r\n\r\n", 1)[0]
    lines = head.split("\r\n")
    out = []
    for ln in lines[1:]:
        if ln[:1] in (" ", "\t") and out:
            out[-1] = (out[-1][0], out[-1][1] + " " + ln.strip())
            continue
        name, _, value = ln.partition(":")
        out.append((name.strip(), value.strip()))
    return lines[0], out

def get(hs, *names):
    names = [n.lower() for n in names]
    return [v for n, v in hs if n.lower() in names]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--realm", default="faxbot.test")
    ap.add_argument("--max-expires", type=int, default=3600)
    ap.add_argument("--forbid", action="store_true", help="answer every REGISTER with 403")
    ap.add_argument("--tcp", action="store_true", help="listen on TCP instead of UDP")
    a = ap.parse_args()
    nonces = set()
    if a.tcp:
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.bind(("127.0.0.1", 0))
        ls.listen(8)
        print("port", ls.getsockname()[1], flush=True)
        while True:
            conn, src = ls.accept()
            threading.Thread(target=serve_tcp, args=(a, nonces, conn, src), daemon=True).start()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    print("port", s.getsockname()[1], flush=True)
    while True:
        data, src = s.recvfrom(65535)
        handle(a, nonces, data, src, lambda b, src=src: s.sendto(b, src))

def serve_tcp(a, nonces, conn, src):
    buf = b""
    while True:
        d = conn.recv(65535)
        if not d:
            return
        buf += d
        while b"\r\n\r\n" in buf:
            head, rest = buf.split(b"\r\n\r\n", 1)
            m = re.search(rb"\r\n(?:Content-Length|l)\s*:\s*(\d+)", head, re.I)
            n = int(m.group(1)) if m else 0
            if len(rest) < n:
                break
            handle(a, nonces, head + b"\r\n\r\n" + rest[:n], src, conn.sendall)
            buf = rest[n:]

def handle(a, nonces, data, src, send):
    if True:
        msg = data.decode("utf-8", "replace")
        start, hs = headers(msg)
        method = start.split(" ", 1)[0]
        if method not in ("REGISTER", "INVITE"):
            return
        via = get(hs, "via", "v")[0]
        via = via.replace(";rport", ";rport=%d;received=%s" % (src[1], src[0]), 1) if ";rport" in via and ";rport=" not in via else via
        to = get(hs, "to", "t")[0]
        if ";tag=" not in to:
            to += ";tag=reg1"
        base = ["Via: " + via, "From: " + get(hs, "from", "f")[0], "To: " + to,
                "Call-ID: " + get(hs, "call-id", "i")[0], "CSeq: " + get(hs, "cseq")[0]]
        contact = (get(hs, "contact", "m") or [""])[0]
        def reply(code, reason, extra=()):
            body = "\r\n".join(["SIP/2.0 %d %s" % (code, reason)] + base + list(extra) + ["Content-Length: 0", "", ""])
            send(body.encode())
        if method == "INVITE":
            pa = get(hs, "proxy-authorization")
            ok = False
            if pa:
                p = dict((k, v.strip('"')) for k, v in re.findall(r'(\w+)=("[^"]*"|[^,\s]+)', pa[0]))
                ha1 = md5("%s:%s:%s" % (a.user, a.realm, a.password))
                ha2 = md5("INVITE:%s" % p.get("uri", ""))
                want = md5("%s:%s:%s:%s:%s:%s" % (ha1, p.get("nonce"), p.get("nc"), p.get("cnonce"), p.get("qop"), ha2))
                ok = p.get("username") == a.user and p.get("nonce") in nonces and p.get("response") == want
            if ok:
                reply(486, "Busy Here")
                print("INVITE 486", flush=True)
            else:
                nonce = os.urandom(8).hex()
                nonces.add(nonce)
                reply(407, "Proxy Authentication Required",
                      ['Proxy-Authenticate: Digest realm="%s", nonce="%s", algorithm=MD5, qop="auth"' % (a.realm, nonce)])
                print("INVITE 407", flush=True)
            return
        if a.forbid:
            reply(403, "Forbidden")
            print("REGISTER 403", contact, flush=True)
            return
        auth = get(hs, "authorization")
        ok = False
        if auth:
            p = dict((k, v.strip('"')) for k, v in re.findall(r'(\w+)=("[^"]*"|[^,\s]+)', auth[0]))
            ha1 = md5("%s:%s:%s" % (a.user, a.realm, a.password))
            ha2 = md5("REGISTER:%s" % p.get("uri", ""))
            want = md5("%s:%s:%s:%s:%s:%s" % (ha1, p.get("nonce"), p.get("nc"), p.get("cnonce"), p.get("qop"), ha2))
            ok = p.get("username") == a.user and p.get("nonce") in nonces and p.get("response") == want
        if not ok:
            nonce = os.urandom(8).hex()
            nonces.add(nonce)
            reply(401, "Unauthorized", ['WWW-Authenticate: Digest realm="%s", nonce="%s", algorithm=MD5, qop="auth"' % (a.realm, nonce)])
            print("REGISTER 401", contact, flush=True)
            return
        asked = int((get(hs, "expires") or ["3600"])[0])
        granted = min(asked, a.max_expires)
        reply(200, "OK", ["Contact: %s;expires=%d" % (contact, granted)])
        print("REGISTER 200", contact, "expires=%d" % granted, flush=True)

if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
