"""esl_peer.py — a stand-in FreeSWITCH that speaks the Event Socket (inbound mode)
over TCP on 127.0.0.1, for the black-box tests of FAX_BACKEND=freeswitch.

Wire format as mod_event_socket sends it (LF framing, Content-Length bodies):
  * on connect:        "Content-Type: auth/request\n\n"
  * auth ok / bad:     "Content-Type: command/reply\nReply-Text: +OK accepted\n\n" /
                       "... Reply-Text: -ERR invalid\n\n" then a text/disconnect-notice and close
  * event plain ...:   "+OK event listener enabled plain"
  * api <cmd>:         "Content-Type: api/response\nContent-Length: N\n\n<body>"
                       (module_exists, sofia status gateway, uuid_exists)
  * bgapi <cmd>:       "Content-Type: command/reply\nReply-Text: +OK Job-UUID: <u>\nJob-UUID: <u>\n\n"
  * events:            "Content-Length: N\nContent-Type: text/event-plain\n\n" + a body of
                       "Name: url-encoded value" lines, a blank line, and for BACKGROUND_JOB
                       its own Content-Length body ("+OK <uuid>\n" or "-ERR USER_BUSY\n").

Each originate is simulated by the "plan" for the dialled number (or peer.default_plan):
  success, t38, busy, no_answer, fax_fail, hold (answer, then wait for the test),
  drop_alive (answer, drop the socket; the call goes on and completes after the
  client reconnects and asks uuid_exists), drop_lost (answer, drop the socket; the
  call ends unseen, uuid_exists says false).
Everything the client sends is recorded (peer.commands, peer.originates).

Checked against a real FreeSWITCH 1.10.12 (tests/interop/test_freeswitch_real.py and
../shared/peers/freeswitch/README.md), and kept to what it really does:
  * `{}` originate variables whose value holds "${" are refused, not set (FreeSWITCH logs
    "Invalid data (${name} contains a variable)"): they are left out of the call's
    variables and listed in peer.refused_vars;
  * event headers with an empty value are left out (no fax-remote-station-id when
    nothing was negotiated);
  * fax-image-resolution is in pixels per metre ("8040x7700" = 204x196 dpi);
    fax-t38-status is "negotiated", or "refused" when T.38 was asked for and not had,
    or "off"; a fax that never started: code 49 "The call dropped prematurely",
    ECM off, 0 pages, resolution 0x0;
  * BACKGROUND_JOB "+OK <uuid>" comes at answer, long before the fax result; a busy
    call's CHANNEL_HANGUP_COMPLETE comes before its "-ERR USER_BUSY", a ring timeout's
    "-ERR NO_ANSWER" before its hangup; an unknown gateway is "-ERR INVALID_GATEWAY"
    with no channel at all."""

import re
import socket
import socketserver
import threading
import time
import urllib.parse

DISCONNECT_BODY = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


def fs_split(s, sep):
    """Splits like FreeSWITCH's switch_separate_string: separators inside single
    quotes do not split; the quotes are removed."""
    out, cur, quoted = [], [], False
    for ch in s:
        if ch == "'":
            quoted = not quoted
            continue
        if ch == sep and not quoted:
            out.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur))
    return out


def parse_originate(args):
    """`{a=b,c='d e'}sofia/gateway/GW/NUM &txfax(PATH)` -> dict or None."""
    if not args.startswith("{"):
        return None
    # the variable list ends at the first '}' outside quotes
    quoted = False
    end = -1
    for i, ch in enumerate(args):
        if ch == "'":
            quoted = not quoted
        elif ch == "}" and not quoted:
            end = i
            break
    if end < 0:
        return None
    var_text = args[1:end]
    rest = args[end + 1:]
    parts = fs_split(rest, " ")
    variables = {}
    refused = []
    raw_items = fs_split(var_text, ",")
    for item in raw_items:
        if "=" not in item:
            variables.setdefault("__malformed__", []).append(item)
            continue
        k, v = item.split("=", 1)
        if "${" in v:
            refused.append(k)   # switch_channel_set_variable refuses it: never set on the channel
            continue
        variables[k] = v
    return {"vars": variables, "var_text": var_text, "var_items": raw_items, "refused_vars": refused,
            "dial": parts[0] if parts else "", "app": parts[1] if len(parts) > 1 else "",
            "extra_args": parts[2:]}


def event_text(headers, body=None):
    """One text/event-plain message as FreeSWITCH frames it."""
    lines = []
    for k, v in headers:
        if str(v) == "":
            continue            # FreeSWITCH leaves out headers with empty values
        lines.append(f"{k}: {urllib.parse.quote(str(v), safe='')}\n")
    inner = "".join(lines)
    if body is not None:
        b = body.encode()
        inner += f"Content-Length: {len(b)}\n\n"
        inner_bytes = inner.encode() + b
    else:
        inner_bytes = (inner + "\n").encode()
    return f"Content-Length: {len(inner_bytes)}\nContent-Type: text/event-plain\n\n".encode() + inner_bytes


class Call:
    def __init__(self, job_uuid, chan_uuid, number, parsed):
        self.job_uuid = job_uuid
        self.uuid = chan_uuid
        self.number = number
        self.parsed = parsed
        self.alive = True
        self.ended = threading.Event()


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        peer = self.server.peer
        sock = self.request
        sess = {"sock": sock, "authed": False, "events": False, "lock": threading.Lock()}
        with peer.lock:
            peer.sessions.append(sess)
            peer.connections += 1
        try:
            if peer.acl_reject:
                body = "Access Denied, go away.\n"
                self._send(sess, f"Content-Type: text/rude-rejection\nContent-Length: {len(body)}\n\n{body}".encode())
                return
            self._send(sess, b"Content-Type: auth/request\n\n")
            buf = b""
            while True:
                try:
                    data = sock.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buf += data
                while b"\n\n" in buf:
                    raw, buf = buf.split(b"\n\n", 1)
                    if not raw.strip(b"\n"):
                        continue
                    if not self._command(sess, raw.decode("utf-8", "replace")):
                        return
        finally:
            with peer.lock:
                if sess in peer.sessions:
                    peer.sessions.remove(sess)
            try:
                sock.close()
            except OSError:
                pass

    def _send(self, sess, data):
        with sess["lock"]:
            try:
                sess["sock"].sendall(data)
            except OSError:
                pass

    def _reply(self, sess, text, extra=""):
        self._send(sess, f"Content-Type: command/reply\nReply-Text: {text}\n{extra}\n".encode())

    def _api(self, sess, body):
        b = body.encode()
        self._send(sess, f"Content-Type: api/response\nContent-Length: {len(b)}\n\n".encode() + b)

    def _command(self, sess, raw):
        peer = self.server.peer
        lines = raw.strip("\n").split("\n")
        cmd = lines[0]
        headers = {}
        for ln in lines[1:]:
            if ":" in ln:
                k, v = ln.split(":", 1)
                headers[k.strip()] = v.strip()
        with peer.lock:
            peer.commands.append({"cmd": cmd, "headers": headers, "raw": raw})
        if not sess["authed"]:
            if cmd.startswith("auth "):
                if cmd[5:] == peer.password:
                    sess["authed"] = True
                    self._reply(sess, "+OK accepted")
                    return True
                with peer.lock:
                    peer.auth_failures += 1
                self._reply(sess, "-ERR invalid")
                self._send(sess, f"Content-Type: text/disconnect-notice\nContent-Length: {len(DISCONNECT_BODY)}\n\n"
                                 f"{DISCONNECT_BODY}".encode())
                return False
            self._reply(sess, "-ERR command not found")
            return True
        if cmd.startswith("event plain"):
            sess["events"] = True
            with peer.lock:
                peer.subscriptions.append(cmd)
            self._reply(sess, "+OK event listener enabled plain")
            return True
        if cmd.startswith("api "):
            self._api(sess, peer.api(cmd[4:]))
            return True
        if cmd.startswith("bgapi "):
            job_uuid = headers.get("Job-UUID") or peer.new_uuid()
            self._reply(sess, f"+OK Job-UUID: {job_uuid}", f"Job-UUID: {job_uuid}\n")
            peer.bgapi(cmd[6:], job_uuid)
            return True
        if cmd == "exit":
            self._reply(sess, "+OK bye")
            return False
        self._reply(sess, "-ERR command not found")
        return True


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class EslPeer:
    def __init__(self, password="ClueCon", gateway="gw_test", gateway_state="REGED",
                 mod_spandsp=True, default_plan="success"):
        self.password = password
        self.gateway = gateway
        self.gateway_state = gateway_state
        self.mod_spandsp = mod_spandsp
        self.default_plan = default_plan
        self.plans = {}
        self.acl_reject = False
        self.lock = threading.RLock()
        self.sessions = []
        self.commands = []
        self.subscriptions = []
        self.originates = []
        self.calls = {}
        self.auth_failures = 0
        self.connections = 0
        self.uuid_exists_asked = []
        self.refused_vars = []
        self.event_delay = 0.05
        self._n = 0
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.peer = self
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    # -- control -------------------------------------------------------------
    def close(self):
        self.server.shutdown()
        self.drop_all()
        self.server.server_close()

    def drop_all(self):
        """Drops every client socket (as when FreeSWITCH restarts its event socket)."""
        with self.lock:
            sessions = list(self.sessions)
        for s in sessions:
            try:
                s["sock"].shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def new_uuid(self):
        with self.lock:
            self._n += 1
            n = self._n
        return f"{n:08x}-0000-4000-8000-{n:012x}"

    def bgapis(self):
        with self.lock:
            return [c for c in self.commands if c["cmd"].startswith("bgapi ")]

    def apis(self):
        """The `api` commands received (without the "api " prefix), in order."""
        with self.lock:
            return [c["cmd"][4:] for c in self.commands if c["cmd"].startswith("api ")]

    def wait_for(self, pred, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return True
            time.sleep(0.02)
        return False

    def connected_sessions(self):
        with self.lock:
            return sum(1 for s in self.sessions if s["events"])

    def broadcast(self, data):
        with self.lock:
            sessions = [s for s in self.sessions if s["events"]]
        for s in sessions:
            with s["lock"]:
                try:
                    s["sock"].sendall(data)
                except OSError:
                    pass

    # -- api -----------------------------------------------------------------
    def api(self, args):
        if args.startswith("module_exists "):
            return "true" if (args.split()[1] == "mod_spandsp" and self.mod_spandsp) else "false"
        m = re.match(r"sofia status gateway (\S+)$", args)
        if m:
            if m.group(1) != self.gateway:
                return "Invalid Gateway!\n"
            return ("=" * 79 + "\n"
                    f"Name    \t{self.gateway}\nProfile \texternal\nScheme  \tDigest\n"
                    "Realm   \tsip.example.net\nUsername\tfaxuser\nPassword\tyes\n"
                    "From    \t<sip:faxuser@sip.example.net>\nContact \t<sip:gw+gw@127.0.0.1:5080>\n"
                    "Exten   \tfaxuser\nTo      \tsip:faxuser@sip.example.net\nProxy   \tsip:sip.example.net\n"
                    "Context \tpublic\nExpires \t600\nFreq    \t600\nPing    \t0\nPingFreq\t0\n"
                    f"PingState\t0/0/0\nState   \t{self.gateway_state}\n"
                    f"Status  \t{'UP' if self.gateway_state in ('REGED', 'NOREG') else 'DOWN'}\n"
                    "Uptime  \t120s\nCallsIN \t0\nCallsOUT\t0\nFailedCallsIN\t0\nFailedCallsOUT\t0\n"
                    + "=" * 79 + "\n")
        if args == "reloadxml":
            return "+OK [Success]\n"
        m = re.match(r"sofia profile (\S+) (rescan|killgw \S+)$", args)
        if m:
            if m.group(2).startswith("killgw"):
                gw = m.group(2).split()[1]
                return "+OK gateway marked for deletion.\n" if gw == self.gateway else "-ERR no such gateway.\n"
            return "+OK scan complete\n"
        m = re.match(r"uuid_exists (\S+)$", args)
        if m:
            with self.lock:
                self.uuid_exists_asked.append(m.group(1))
                c = self.calls.get(m.group(1))
            return "true" if (c and c.alive) else "false"
        return "-ERR " + args.split()[0] + " Command not found!\n"

    # -- calls ---------------------------------------------------------------
    def bgapi(self, args, job_uuid):
        if not args.startswith("originate "):
            self._later(0.01, lambda: self.broadcast(self._bg_event(job_uuid, args, "-ERR unsupported\n")))
            return
        parsed = parse_originate(args[len("originate "):])
        with self.lock:
            self.originates.append({"job_uuid": job_uuid, "args": args, "parsed": parsed})
            if parsed:
                self.refused_vars.extend(parsed["refused_vars"])
        if not parsed:
            self._later(0.01, lambda: self.broadcast(self._bg_event(job_uuid, args, "-ERR INVALID_ARGS\n")))
            return
        chan = parsed["vars"].get("origination_uuid") or self.new_uuid()
        number = parsed["dial"].rsplit("/", 1)[-1]
        call = Call(job_uuid, chan, number, parsed)
        with self.lock:
            self.calls[chan] = call
        plan = self.plans.get(number, self.default_plan)
        threading.Thread(target=self._run_call, args=(call, plan, args), daemon=True).start()

    def _later(self, delay, fn):
        t = threading.Timer(delay, fn)
        t.daemon = True
        t.start()

    def _bg_event(self, job_uuid, args, body):
        return event_text([("Job-UUID", job_uuid), ("Job-Command", "originate"),
                           ("Job-Command-Arg", args[len("originate "):] if args.startswith("originate ") else args),
                           ("Event-Name", "BACKGROUND_JOB"), ("Core-UUID", "c0re0000-0000-4000-8000-000000000000"),
                           ("FreeSWITCH-Hostname", "fs-test"), ("Event-Calling-Function", "api_exec")], body)

    def _channel_headers(self, call, name):
        return [("Event-Name", name), ("Core-UUID", "c0re0000-0000-4000-8000-000000000000"),
                ("Unique-ID", call.uuid), ("Channel-Name", f"sofia/external/{call.number}"),
                ("Caller-Destination-Number", call.number), ("variable_uuid", call.uuid),
                ("variable_faxbot_job_id", call.parsed["vars"].get("faxbot_job_id", ""))]

    def fax_result(self, call, success=True, pages=1, code=None, text=None, t38=False):
        asked = call.parsed["vars"].get("fax_enable_t38_request") == "true"
        fields = {
            "success": "1" if success else "0",
            "result-code": str(0 if success else (code if code is not None else 49)),
            "result-text": text or ("OK" if success else "The call dropped prematurely"),
            "document-transferred-pages": str(pages if success else 0),
            "document-total-pages": str(pages if success else 0),
            # pixels per metre: 8040x7700 is 204x196 dpi
            "image-resolution": "8040x7700" if success else "0x0", "image-size": "40960" if success else "0",
            "bad-rows": "0",
            "transfer-rate": "14400",
            "ecm-used": "on" if success else "off",
            "t38-status": "negotiated" if t38 else ("refused" if asked else "off"),
            "local-station-id": call.parsed["vars"].get("fax_ident", ""),
            "remote-station-id": "+1 555 0100 REMOTE" if success else "",
        }
        return fields

    def send_txfaxresult(self, call, fields):
        hdrs = self._channel_headers(call, "CUSTOM") + [("Event-Subclass", "spandsp::txfaxresult")]
        hdrs += [(f"fax-{k}", v) for k, v in fields.items()]
        self.broadcast(event_text(hdrs))

    def send_hangup(self, call, cause, fields=None, sip_status=None):
        hdrs = self._channel_headers(call, "CHANNEL_HANGUP_COMPLETE")
        hdrs += [("Hangup-Cause", cause), ("Channel-State", "CS_REPORTING"), ("Answer-State", "hangup"),
                 ("variable_hangup_cause", cause)]
        if sip_status:   # the trunk's final response, as sofia sets it on a failed outbound leg
            hdrs.append(("variable_sip_term_status", str(sip_status)))
        for k, v in (fields or {}).items():
            hdrs.append((f"variable_fax_{k.replace('-', '_')}", v))
        self.broadcast(event_text(hdrs))
        with self.lock:
            call.alive = False
        call.ended.set()

    def send_txfaxpageresult(self, call, page, total):
        hdrs = self._channel_headers(call, "CUSTOM") + [("Event-Subclass", "spandsp::txfaxpageresult")]
        hdrs += [("fax-document-transferred-pages", str(page)), ("fax-document-total-pages", str(total)),
                 ("fax-image-resolution", "204x196"), ("fax-bad-rows", "0")]
        self.broadcast(event_text(hdrs))

    def complete(self, call, success=True, t38=None):
        """Finishes a call the way mod_spandsp does: a txfaxpageresult per page sent,
        txfaxresult, then hangup."""
        if t38 is None:
            t38 = call.parsed["vars"].get("fax_enable_t38") == "true"
        f = self.fax_result(call, success=success, t38=t38)
        if success:
            for page in range(1, int(f["document-transferred-pages"]) + 1):
                self.send_txfaxpageresult(call, page, int(f["document-total-pages"]))
                time.sleep(self.event_delay)
        self.send_txfaxresult(call, f)
        time.sleep(self.event_delay)
        self.send_hangup(call, "NORMAL_CLEARING", f)

    def _run_call(self, call, plan, args):
        d = self.event_delay
        time.sleep(d)
        if plan == "busy":
            # the channel's hangup often arrives before the originate's BACKGROUND_JOB
            self.send_hangup(call, "USER_BUSY")
            time.sleep(d)
            self.broadcast(self._bg_event(call.job_uuid, args, "-ERR USER_BUSY\n"))
            return
        if plan == "forbidden":
            # the trunk answers 403: sofia maps it to CALL_REJECTED
            self.send_hangup(call, "CALL_REJECTED", sip_status=403)
            time.sleep(d)
            self.broadcast(self._bg_event(call.job_uuid, args, "-ERR CALL_REJECTED\n"))
            return
        if plan == "no_answer":
            self.broadcast(self._bg_event(call.job_uuid, args, "-ERR NO_ANSWER\n"))
            time.sleep(d)
            self.send_hangup(call, "NO_ANSWER")
            return
        if plan == "rejected_gateway":
            self.broadcast(self._bg_event(call.job_uuid, args, "-ERR INVALID_GATEWAY\n"))
            with self.lock:
                call.alive = False
            return
        self.broadcast(self._bg_event(call.job_uuid, args, f"+OK {call.uuid}\n"))
        time.sleep(d)
        if plan in ("success", "t38"):
            self.complete(call, success=True, t38=(plan == "t38") or None)
        elif plan == "fax_fail":
            self.complete(call, success=False)
        elif plan == "hold":
            return
        elif plan == "drop_alive":
            self.drop_all()
            # the call goes on; it completes once a client is back and asked about it
            ok = self.wait_for(lambda: call.uuid in self.uuid_exists_asked and self.connected_sessions() > 0, 20)
            if ok:
                time.sleep(d)
                self.complete(call, success=True)
        elif plan == "drop_lost":
            self.drop_all()
            with self.lock:
                call.alive = False   # ended while nobody listened: its events are gone
            call.ended.set()

    def call_for_job(self, job_id):
        with self.lock:
            for c in self.calls.values():
                if c.parsed["vars"].get("faxbot_job_id") == job_id:
                    return c
        return None


if __name__ == "__main__":   # manual use and the browser tests: python3 esl_peer.py
    import os
    p = EslPeer(password=os.environ.get("PASSWORD", "ClueCon"))
    print(f"ESL peer on 127.0.0.1:{p.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
