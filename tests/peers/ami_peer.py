"""ami_peer.py — a stand-in Asterisk speaking the Manager Interface (AMI) over TCP on
127.0.0.1, for the black-box tests of FAX_BACKEND=sip (tests/api/test_asterisk.py).

Wire format as Asterisk 22 writes it (docs/internals/protocols.md §4.2–4.7): the banner
"Asterisk Call Manager/11.0.0", CRLF "Key: Value" blocks ended by an empty line,
Login answered "Authentication accepted" or (after Asterisk's one-second pause)
"Authentication failed" followed by a closed socket, "Permission denied" for
actions before a login, Ping/Pong, async Originate acked "Originate successfully
queued" and followed by Newchannel / OriginateResponse / SendFAX / Hangup and the
FaxResult UserEvent that the rendered dialplan's hangup handler emits, in scripted
orders. Variable headers are split exactly as Asterisk does (commas, with "..." and
backslash escapes removed), so a test sees what the dialplan would see.

Driven by the test:  peer = AmiPeer(secret="..."); peer.script("+15550001", kind="busy")
Scenario kinds: success, busy, noanswer, congestion, rejected, nochannel, t38,
file_error, drop (the socket is dropped mid-call and the call ends meanwhile),
hold (the call stays up until peer.finish(uid, kind)).
Also: peer.drop_all(), peer.actions (every action received, parsed),
peer.originates(), peer.channels (calls up now), peer.deliver_inbound(...) (the
POST the fax-inbound dialplan makes). Python 3 stdlib only.
"""

import os
import socket
import socketserver
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

BANNER = b"Asterisk Call Manager/11.0.0\r\n"

CAUSE_TXT = {16: "Normal Clearing", 17: "User busy", 19: "No answer", 21: "Call Rejected",
             34: "Circuit/channel congestion", 1: "Unallocated (unassigned) number"}


def separate_args(buf, delim=","):
    """Asterisk's __ast_app_separate_args(buf, delim, remove_chars=1)."""
    args, cur = [], []
    paren = bracket = 0
    quote = False
    i = 0
    while i < len(buf):
        c = buf[i]
        if c == "[":
            bracket += 1
            cur.append(c)
        elif c == "]":
            bracket = max(0, bracket - 1)
            cur.append(c)
        elif c == "(":
            paren += 1
            cur.append(c)
        elif c == ")":
            paren = max(0, paren - 1)
            cur.append(c)
        elif c == '"':
            quote = not quote
        elif c == "\\":
            i += 1
            if i < len(buf):
                cur.append(buf[i])
        elif c == delim and not paren and not quote and not bracket:
            args.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    args.append("".join(cur))
    return args


def variables_of(headers):
    """The channel variables an Originate sets (manager.c man_do_variable_value)."""
    out = []
    for k, v in headers:
        if k.lower() != "variable":
            continue
        for item in separate_args(v.lstrip()):
            if "=" not in item:
                continue
            name, val = item.split("=", 1)
            if name:
                out.append((name, val))
    return out


def block(pairs):
    return ("".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n").encode()


class Call:
    def __init__(self, uid, chan, action_id, vars_, number, scenario):
        self.uid = uid
        self.chan = chan
        self.action_id = action_id
        self.vars = dict(vars_)
        self.number = number
        self.scenario = scenario


class AmiPeer:
    def __init__(self, username="faxbot", secret="ami-secret-123", fail_logins=False):
        self.username = username
        self.secret = secret
        self.lock = threading.Lock()
        self.actions = []          # dicts: name, headers, raw, session
        self.scenarios = {}
        self.default = {"kind": "success"}
        self.channels = {}         # uid -> Call
        self.handlers = []
        self.sessions = 0
        self.logins_ok = 0
        self.logins_failed = 0
        self.modules = {"res_fax", "res_fax_spandsp", "chan_pjsip", "res_pjsip_t38", "func_curl"}
        self.chan_seq = 0
        peer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                peer._serve(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    # -- control ------------------------------------------------------------------
    def close(self):
        self.drop_all()
        self.server.shutdown()
        self.server.server_close()

    def script(self, number, **scenario):
        self.scenarios[number] = scenario

    def drop_all(self):
        with self.lock:
            hs = list(self.handlers)
        for h in hs:
            h.close()

    def connected(self):
        with self.lock:
            return sum(1 for h in self.handlers if h.authed and not h.closed)

    def originates(self):
        with self.lock:
            return [a for a in self.actions if a["name"].lower() == "originate"]

    def reloads(self):
        """The Module of every Reload action, in order."""
        with self.lock:
            acts = [a for a in self.actions if a["name"].lower() == "reload"]
        return [next((v for k, v in a["headers"] if k.lower() == "module"), "") for a in acts]

    def action_names(self):
        with self.lock:
            return [a["name"] for a in self.actions]

    def wait(self, pred, timeout=15.0, what="condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return True
            time.sleep(0.05)
        raise AssertionError(f"AMI peer: timed out waiting for {what}")

    def finish(self, uid, kind="success", **extra):
        """Ends a held call now (events go to every logged-in connection)."""
        with self.lock:
            call = self.channels.get(uid)
        assert call, f"no call {uid} is up"
        sc = dict(call.scenario)
        sc.update(kind=kind, **extra)
        call.scenario = sc
        self._end_call(call, answered_already=True)

    # -- events -------------------------------------------------------------------
    def broadcast(self, data):
        with self.lock:
            hs = [h for h in self.handlers if h.authed and h.events and not h.closed]
        for h in hs:
            h.send(data)

    def _chan_fields(self, call, state="Up"):
        return [("Channel", call.chan), ("ChannelState", "6" if state == "Up" else "0"),
                ("ChannelStateDesc", state), ("CallerIDNum", call.number),
                ("CallerIDName", "<unknown>"), ("ConnectedLineNum", "<unknown>"),
                ("ConnectedLineName", "<unknown>"), ("Language", "en"), ("AccountCode", ""),
                ("Context", "faxout"), ("Exten", "send"), ("Priority", "1"),
                ("Uniqueid", call.uid), ("Linkedid", call.uid)]

    def _fax_result(self, call, status, error, status_string, cause, sip, answered, **fax):
        v = call.vars
        fields = [("Event", "UserEvent"), ("Privilege", "user,all")] + self._chan_fields(call) + [
            ("UserEvent", "FaxResult"),
            ("RemoteStationID", fax.get("remote", "")), ("SipCause", sip),
            ("FaxStatusString", status_string), ("FaxError", error), ("FaxStatus", status),
            ("FaxPages", str(fax.get("pages", "")) if status else ""),
            ("FaxBitrate", str(fax.get("bitrate", "")) if status else ""),
            ("FaxResolution", fax.get("resolution", "") if status else ""),
            ("FaxMode", fax.get("mode", "") if status else ""),
            ("Ecm", "yes"), ("HangupCause", str(cause)), ("Answered", "1" if answered else ""),
            ("Attempt", v.get("FAXBOT_ATTEMPT", "")), ("JobID", v.get("FAXBOT_JOBID", ""))]
        return block(fields)

    def _orig_response(self, call, ok, reason):
        return block([("Event", "OriginateResponse"), ("Privilege", "call,all"),
                      ("ActionID", call.action_id), ("Response", "Success" if ok else "Failure"),
                      ("Channel", call.chan), ("Context", "faxout"), ("Exten", "send"),
                      ("Reason", str(reason)), ("Uniqueid", call.uid if ok or reason else "<null>"),
                      ("CallerIDNum", "<unknown>"), ("CallerIDName", "<unknown>")])

    def _hangup(self, call, cause):
        return block([("Event", "Hangup"), ("Privilege", "call,all")] + self._chan_fields(call) +
                     [("Cause", str(cause)), ("Cause-txt", CAUSE_TXT.get(cause, "Unknown"))])

    def _sendfax(self, call, sc):
        return block([("Event", "SendFAX"), ("Privilege", "call,all")] + self._chan_fields(call) +
                     [("LocalStationID", call.vars.get("FAXOPT(localstationid)", "")),
                      ("RemoteStationID", sc.get("remote", "")),
                      ("PagesTransferred", str(sc.get("pages", 1))),
                      ("Resolution", sc.get("resolution", "8031x7700")),
                      ("TransferRate", str(sc.get("bitrate", 14400))),
                      ("FileName", call.vars.get("FAXBOT_FILE", ""))])

    def _start_call(self, call):
        sc = call.scenario
        kind = sc.get("kind", "success")
        delay = sc.get("delay", 0.05)
        time.sleep(delay)
        if kind == "nochannel":
            self.broadcast(self._orig_response(call, False, 0))
            return
        with self.lock:
            self.channels[call.uid] = call
        self.broadcast(block([("Event", "Newchannel"), ("Privilege", "call,all")] +
                             self._chan_fields(call, "Down")))
        time.sleep(delay)
        if kind in ("hold", "drop"):
            self.broadcast(self._orig_response(call, True, 4))
            if kind == "drop":
                time.sleep(delay)
                self.drop_all()
                time.sleep(sc.get("gone_after", 0.3))
                with self.lock:        # the call ended while nobody was listening
                    self.channels.pop(call.uid, None)
            return
        self._end_call(call, answered_already=False)

    def _end_call(self, call, answered_already):
        sc = call.scenario
        kind = sc.get("kind", "success")
        fax = {k: sc[k] for k in ("pages", "bitrate", "mode", "remote", "resolution") if k in sc}
        if kind in ("success", "t38"):
            fax.setdefault("pages", 1)
            fax.setdefault("bitrate", 14400)
            fax.setdefault("mode", "T38" if kind == "t38" else "audio")
            fax.setdefault("remote", "+1 555 000 1111")
            fax.setdefault("resolution", "8031x7700")
            events = {"OriginateResponse": self._orig_response(call, True, 4),
                      "SendFAX": self._sendfax(call, dict(sc, **fax)),
                      "UserEvent": self._fax_result(call, "SUCCESS", "HANGUP", "OK", 16, "", True, **fax),
                      "Hangup": self._hangup(call, 16)}
            order = sc.get("order", ["OriginateResponse", "SendFAX", "UserEvent", "Hangup"])
        elif kind == "file_error":
            events = {"OriginateResponse": self._orig_response(call, True, 4),
                      "UserEvent": self._fax_result(call, "FAILED", "FILE_ERROR", "File error", 16, "",
                                                    True),
                      "Hangup": self._hangup(call, 16)}
            order = sc.get("order", ["OriginateResponse", "UserEvent", "Hangup"])
        else:
            cause, reason, sip = {"busy": (17, 0, "SIP 486 Busy Here"),
                                  "noanswer": (19, 3, ""),
                                  "congestion": (34, 8, "SIP 503 Service Unavailable"),
                                  "rejected": (21, 0, "SIP 403 Forbidden")}[kind]
            events = {"OriginateResponse": self._orig_response(call, False, reason),
                      "UserEvent": self._fax_result(call, "", "", "", cause, sip, False),
                      "Hangup": self._hangup(call, cause)}
            order = sc.get("order", ["UserEvent", "Hangup", "OriginateResponse"])
        if answered_already:
            order = [e for e in order if e != "OriginateResponse"]
        for name in order:
            if name == "UserEvent" and sc.get("no_result"):
                continue
            time.sleep(sc.get("delay", 0.05))
            self.broadcast(events[name])
        with self.lock:
            self.channels.pop(call.uid, None)

    # -- inbound ------------------------------------------------------------------
    def deliver_inbound(self, gateway_url, secret, tiff_path, caller, exten, station, uniqueid):
        """The POST of the rendered fax-inbound dialplan (CURLOPT httpheader + CURL)."""
        enc = urllib.parse.quote
        body = (f"tiff_path={enc(tiff_path, safe='')}&from={enc(caller, safe='')}&to={enc(exten, safe='')}"
                f"&station_id={enc(station, safe='')}&uniqueid={enc(uniqueid, safe='')}").encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if secret is not None:
            headers["X-Internal-Secret"] = secret
        req = urllib.request.Request(gateway_url + "/_internal/asterisk/inbound", data=body,
                                     headers=headers, method="POST")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    # -- one connection -----------------------------------------------------------
    def _serve(self, sock):
        conn = _Conn(self, sock)
        with self.lock:
            self.handlers.append(conn)
        try:
            conn.run()
        finally:
            conn.close()
            with self.lock:
                if conn in self.handlers:
                    self.handlers.remove(conn)


class _Conn:
    def __init__(self, peer, sock):
        self.peer = peer
        self.sock = sock
        self.wlock = threading.Lock()
        self.authed = False
        self.events = False
        self.closed = False

    def send(self, data):
        with self.wlock:
            if self.closed:
                return
            try:
                self.sock.sendall(data)
            except OSError:
                self.closed = True

    def close(self):
        with self.wlock:
            if self.closed:
                return
            self.closed = True
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()

    def run(self):
        self.send(BANNER)
        buf = b""
        while not self.closed:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            while b"\r\n\r\n" in buf:
                raw, buf = buf.split(b"\r\n\r\n", 1)
                headers = []
                for line in raw.decode("utf-8", "replace").split("\r\n"):
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers.append((k.strip(), v.strip()))
                if headers:
                    self.action(headers, raw)

    def action(self, headers, raw):
        peer = self.peer
        h = {}
        for k, v in headers:
            h.setdefault(k.lower(), v)
        name = h.get("action", "")
        aid = h.get("actionid")
        with peer.lock:
            peer.actions.append({"name": name, "headers": headers, "raw": raw, "authed": self.authed})

        def reply(pairs):
            head = [("Response", pairs[0][1])]
            if aid is not None:
                head.append(("ActionID", aid))
            self.send(block(head + pairs[1:]))

        lname = name.lower()
        if lname == "login":
            if h.get("username") == peer.username and h.get("secret") == peer.secret:
                self.authed = True
                self.events = h.get("events", "on").lower() != "off"
                with peer.lock:
                    peer.logins_ok += 1
                    peer.sessions += 1
                reply([("Response", "Success"), ("Message", "Authentication accepted")])
                self.send(block([("Event", "FullyBooted"), ("Privilege", "system,all"),
                                 ("Uptime", "12"), ("LastReload", "12"), ("Status", "Fully Booted")]))
            else:
                with peer.lock:
                    peer.logins_failed += 1
                time.sleep(1)          # manager.c: sleep(1) before "Authentication failed"
                reply([("Response", "Error"), ("Message", "Authentication failed")])
                self.close()
            return
        if not self.authed:
            reply([("Response", "Error"), ("Message", "Permission denied")])
            return
        if lname == "ping":
            reply([("Response", "Success"), ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")])
        elif lname == "logoff":
            reply([("Response", "Goodbye"), ("Message", "Thanks for all the fish.")])
            self.close()
        elif lname == "originate":
            self.originate(h, headers, reply)
        elif lname == "coreshowchannels":
            reply([("Response", "Success"), ("EventList", "start"), ("Message", "Channels will follow")])
            with peer.lock:
                calls = list(peer.channels.values())
            for c in calls:
                self.send(block([("Event", "CoreShowChannel"), ("ActionID", aid or "")] +
                                peer._chan_fields(c) + [("Application", "SendFAX"),
                                                        ("ApplicationData", c.vars.get("FAXBOT_FILE", "")),
                                                        ("Duration", "00:00:05"), ("BridgeId", "")]))
            self.send(block([("Event", "CoreShowChannelsComplete"), ("ActionID", aid or ""),
                             ("EventList", "Complete"), ("ListItems", str(len(calls)))]))
        elif lname == "modulecheck":
            mod = h.get("module", "").replace(".so", "")
            if mod in peer.modules:
                reply([("Response", "Success"), ("Version", "")])
            else:
                reply([("Response", "Error"), ("Message", "Module not loaded")])
        elif lname == "pjsipshowregistrationsoutbound":
            reply([("Response", "Success"), ("EventList", "start"),
                   ("Message", "Following are Events for each Outbound registration")])
            self.send(block([("Event", "OutboundRegistrationDetail"), ("ActionID", aid or ""),
                             ("ObjectType", "registration"), ("ObjectName", "faxbot-trunk-registration"),
                             ("Status", "Registered")]))
            self.send(block([("Event", "OutboundRegistrationDetailComplete"), ("ActionID", aid or ""),
                             ("EventList", "Complete"), ("Registered", "1"), ("NotRegistered", "0")]))
        elif lname == "reload":
            # manager.c: Response Success, "Module Reloaded." (or an error for an unknown module)
            reply([("Response", "Success"), ("Message", "Module Reloaded.")])
        elif lname == "pjsipshowendpoint":
            reply([("Response", "Success"), ("EventList", "start"),
                   ("Message", "Following are Events for each object associated with the Endpoint")])
            self.send(block([("Event", "ContactStatusDetail"), ("ActionID", aid or ""),
                             ("AOR", "faxbot-trunk"), ("Status", "Reachable"), ("RoundtripUsec", "21000")]))
            self.send(block([("Event", "EndpointDetailComplete"), ("ActionID", aid or ""),
                             ("EventList", "Complete"), ("ListItems", "1")]))
        else:
            reply([("Response", "Error"), ("Message", "Invalid/unknown command")])

    def originate(self, h, headers, reply):
        peer = self.peer
        chan = h.get("channel", "")
        if not chan.startswith("PJSIP/") or "@" not in chan:
            reply([("Response", "Error"), ("Message", "Originate failed")])
            return
        number = chan[len("PJSIP/"):].split("@", 1)[0]
        vars_ = variables_of(headers)
        with peer.lock:
            peer.chan_seq += 1
            chan_name = f"PJSIP/faxbot-trunk-{peer.chan_seq:08x}"
        uid = h.get("channelid") or f"{time.time():.0f}.{peer.chan_seq}"
        sc = peer.scenarios.get(number, peer.default)
        call = Call(uid, chan_name, h.get("actionid", ""), vars_, number, sc)
        reply([("Response", "Success"), ("Message", "Originate successfully queued")])
        threading.Thread(target=peer._start_call, args=(call,), daemon=True).start()


if __name__ == "__main__":   # manual use: python3 ami_peer.py
    p = AmiPeer(secret=os.environ.get("SECRET", "ami-secret-123"))
    print(f"AMI peer on 127.0.0.1:{p.port}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        p.close()
