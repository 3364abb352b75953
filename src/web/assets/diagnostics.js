/* diagnostics.js — the Diagnostics page: POST /admin/diagnostics/run (real round
 * trips: AMI login and ping, trunk registration and qualify, ESL, provider
 * credentials, Ghostscript, storage, database, UDPTL/RTP ranges) shown grouped as
 * Telephony, Provider, Conversion and Storage, each check with a fix in plain
 * words; a test fax (to the built-in receiver on the loopback engine, or any
 * number) with live progress; the report as a JSON file. Uses app.js's helpers. */
"use strict";

const CLOUD = ["phaxio", "sinch", "signalwire"];
function check(title, ok, detail, fix) { return { title, ok, detail: detail || "", fix: ok === false ? fix || "" : "" }; }

/* The server's report → groups of {title, ok (true/false/null = not applicable), detail, fix}. */
function diagGroups(d) {
  const c = d.checks || {}, b = c.backend || {};
  const be = d.backend;
  const tel = [], prov = [], conv = [], store = [];
  if (be === "loopback") {
    tel.push(check("Built-in fax engine (loopback)", c.backend_config, c.backend_message, "The loopback engine could not start: check FAX_DATA_DIR is writable and the LOOPBACK_* settings."));
  }
  if (be === "sip") {
    const ami = b.ami || {};
    tel.push(check("AMI connection to Asterisk", ami.login === "logged_in", ami.detail || ami.login,
      ami.login === "login_rejected" ? "Asterisk refused the login: ASTERISK_AMI_USERNAME and ASTERISK_AMI_PASSWORD must match a user in /etc/asterisk/manager.conf (the [name] and its secret =); fix them in the Setup Wizard."
        : "Asterisk's manager interface is not reachable: check ASTERISK_AMI_HOST and ASTERISK_AMI_PORT, that manager.conf has enabled = yes and permits this machine, and that no firewall blocks the port."));
    if (ami.ping_ms != null) tel.push(check("AMI answers (ping)", true, `${ami.ping_ms} ms`));
    if (b.trunk) {
      tel.push(check("Trunk registration", b.trunk.registration === "Registered" || b.trunk.registration === "none configured", String(b.trunk.registration),
        "The trunk is not registered: a 401/403 means SIP_USERNAME or SIP_PASSWORD is wrong, or this IP is not on the provider's access list; check SIP_SERVER is the termination address."));
      tel.push(check("Trunk answers (qualify)", /^(Reachable|Created)$/i.test(String(b.trunk.qualify)) ? true : b.trunk.qualify === "unknown" ? null : false,
        String(b.trunk.qualify) + (b.trunk.qualify_ms != null ? `, round trip ${Math.round(b.trunk.qualify_ms)} ms` : ""),
        "The trunk does not answer SIP OPTIONS: check SIP_SERVER, SIP_PORT and that the firewall lets SIP and the RTP/UDPTL ports through."));
    }
    if (b.modules) {
      const missing = Object.entries(b.modules).filter(([, v]) => !v).map(([k]) => k);
      tel.push(check("Fax modules loaded", !missing.length, missing.length ? "not loaded: " + missing.join(", ") : Object.keys(b.modules).join(", "),
        `Load the missing modules: add load = ${missing[0] || "res_fax"}.so (and the others) to /etc/asterisk/modules.conf, install them if needed, then restart Asterisk.`));
    }
  }
  if (be === "freeswitch") {
    tel.push(check("Event socket (ESL) connection", b.esl === "ok", b.esl === "ok" ? `connected to ${b.esl_address}` : `${b.esl || "unknown"} ${b.detail || ""}`,
      b.esl === "auth_rejected" ? "FreeSWITCH refused the password: FREESWITCH_ESL_PASSWORD must match the password in event_socket.conf.xml."
        : b.esl === "acl_refused" ? "FreeSWITCH's event socket ACL refuses this machine: add its address to apply-inbound-acl in event_socket.conf.xml."
          : "FreeSWITCH's event socket is not reachable: check FREESWITCH_ESL_HOST, FREESWITCH_ESL_PORT and listen-ip in event_socket.conf.xml."));
    if (b.mod_spandsp !== undefined) tel.push(check("Fax module (mod_spandsp)", b.mod_spandsp === true, b.mod_spandsp ? "loaded" : b.mod_spandsp_detail, "Load mod_spandsp: add it to modules.conf.xml and run `load mod_spandsp` in fs_cli."));
    if (b.gateway && typeof b.gateway === "object") {
      const g = b.gateway;
      tel.push(check("SIP gateway", g.ok !== false, Object.entries(g).filter(([k]) => k !== "ok").map(([k, v]) => `${k}: ${v}`).join(", "),
        "The gateway is not registered or not found: check FREESWITCH_GATEWAY_NAME matches <gateway name> in sip_profiles/external and its credentials."));
    }
  }
  if (c.port_ranges) {
    const p = c.port_ranges;
    tel.push(check("UDPTL (T.38) port range", p.udptl.ok, p.udptl.detail, "Set UDPTL_PORT_START below UDPTL_PORT_END (Settings → Network) and open the range in the firewall."));
    tel.push(check("RTP port range", p.rtp.ok && p.ok !== false, [p.rtp.detail].concat(p.advice || []).join("; "), (p.advice || [])[0] || "Set RTP_PORT_START below RTP_PORT_END (Settings → Network)."));
  }
  if (CLOUD.includes(be)) {
    const cred = b.credentials;
    prov.push(check(`${be} credentials`, cred === "ok" ? true : cred === "unknown" ? false : false,
      cred === "ok" ? `accepted${b.balance != null ? ` (balance ${b.balance})` : ""}` : `${cred || "not checked"}${b.detail ? ": " + b.detail : ""}`,
      cred === "rejected" ? "The provider refused the credentials: copy them again from its console into the Setup Wizard."
        : cred === "missing" ? "The credentials are not set: run the Setup Wizard." : "The provider's API did not answer: check this machine's internet access and the API address."));
  }
  if (be !== "loopback") {
    (CLOUD.includes(be) ? prov : tel).push(check("Backend ready to send", c.backend_config, c.backend_message, "Fix what the message names (the Setup Wizard checks each field)."));
  }
  if (!prov.length) prov.push(check("Cloud provider", null, `not used: faxes go through ${be}`));
  conv.push(check("Ghostscript (PDF to fax pages)", c.ghostscript, c.ghostscript ? `found (${c.ghostscript_path})` : `not found: ${c.ghostscript_path}`,
    "Install Ghostscript (apt-get install ghostscript) or set GHOSTSCRIPT_PATH to the gs program."));
  store.push(check("Database", c.db, c.db ? "answers" : "does not answer", "The database is not reachable or not writable: check FAX_DATA_DIR / DATABASE_URL and the disk."));
  store.push(check("Document storage", c.storage, c.storage_free_bytes != null ? `${fmtBytes(c.storage_free_bytes)} free` : "",
    "Storage is not writable or full: free disk space or check FAX_DATA_DIR's permissions."));
  if (c.storage && c.storage_free_bytes != null && c.storage_free_bytes < 512 * 1048576)
    store.push(check("Free disk space", false, `${fmtBytes(c.storage_free_bytes)} free`, "Less than 512 MB free: free disk space or lower ARTIFACT_TTL_DAYS."));
  return [["Telephony", tel], ["Provider", prov], ["Conversion", conv], ["Storage", store]];
}

/* A one-page PDF (text, Helvetica) built here, so a test fax needs no file. */
function testPdf(lines) {
  const esc = (s) => s.replace(/[\\()]/g, (m) => "\\" + m);
  const text = "BT /F1 20 Tf 72 700 Td " + lines.map((l, i) => (i ? "0 -32 Td " : "") + `(${esc(l)}) Tj`).join(" ") + " ET";
  const objs = ["<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
    `<< /Length ${text.length} >>\nstream\n${text}\nendstream`, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"];
  let out = "%PDF-1.4\n";
  const at = [];
  objs.forEach((o, i) => { at.push(out.length); out += `${i + 1} 0 obj\n${o}\nendobj\n`; });
  const xref = out.length;
  out += `xref\n0 ${objs.length + 1}\n0000000000 65535 f \n` + at.map((n) => String(n).padStart(10, "0") + " 00000 n \n").join("");
  out += `trailer\n<< /Size ${objs.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return new Blob([out], { type: "application/pdf" });
}

async function pageDiagnostics() {
  const hidden = needs("keys:manage", "Diagnostics");
  if (hidden) { mount("Diagnostics", hidden); return; }
  let report = null;
  const results = h("div", { "aria-live": "polite", "aria-busy": "true" }, h("p", { class: "muted" }, "Running the checks…"));
  const dl = h("button", { type: "button", class: "ghost", id: "d-download", disabled: true, onclick: () => {
    const blob = new Blob([JSON.stringify(report, null, 2) + "\n"], { type: "application/json" });
    const a = h("a", { href: URL.createObjectURL(blob), download: `faxbot-diagnostics-${(report.checked_at || new Date().toISOString()).replace(/[:.]/g, "-")}.json` });
    S.blobs.push(a.href);
    document.body.append(a);
    a.click();
    a.remove();
  } }, "Download report");
  const rerun = h("button", { type: "button", class: "ghost", id: "d-rerun", onclick: () => run() }, "Run the checks again");
  const run = async () => {
    rerun.disabled = true;
    results.setAttribute("aria-busy", "true");
    let d;
    try { d = await api("/admin/diagnostics/run", { method: "POST" }); } catch (e) {
      rerun.disabled = false;
      results.replaceChildren(errorBox(e, "The checks could not run"));
      return;
    }
    rerun.disabled = false;
    const groups = diagGroups(d);
    report = { gateway: location.origin, backend: d.backend, ok: d.ok, checked_at: d.checked_at,
      groups: Object.fromEntries(groups.map(([g, list]) => [g, list])), raw: d };
    dl.disabled = false;
    results.removeAttribute("aria-busy");
    const bad = groups.reduce((n, [, l]) => n + l.filter((x) => x.ok === false).length, 0);
    results.replaceChildren(
      h("p", { class: "notice " + (bad ? "error" : "good"), role: "status" }, bad ? `${bad} check${bad > 1 ? "s" : ""} failed: the fix is under each one.` : `Every check passed (backend ${d.backend}).`,
        " ", h("span", { class: "muted" }, "Checked " + fmtTime(d.checked_at))),
      ...groups.map(([g, list]) => h("section", { class: "card diag-group", "aria-labelledby": "d-" + g },
        h("h2", { id: "d-" + g }, g),
        h("ul", { class: "checks" }, list.map((x) => h("li", { class: "diag " + (x.ok === true ? "pass" : x.ok === false ? "fail" : "na") },
          h("span", { class: "badge " + (x.ok === true ? "ok" : x.ok === false ? "bad" : "") }, x.ok === true ? "OK" : x.ok === false ? "Problem" : "n/a"),
          h("span", { class: "diag-text" }, h("strong", {}, x.title), x.detail ? h("span", { class: "hint" }, x.detail) : null,
            x.fix ? h("span", { class: "fix" }, h("strong", {}, "Fix: "), x.fix) : null)))))));
  };

  /* ---- test fax ---- */
  const loop = () => report && report.backend === "loopback";
  const num = h("input", { type: "tel", id: "d-number", name: "number", autocomplete: "off", placeholder: "+1 555 123 4567", disabled: true });
  const toBuiltIn = h("input", { type: "radio", name: "d-to", id: "d-to-builtin", value: "builtin", checked: true, onchange: () => { num.disabled = true; } });
  const toNumber = h("input", { type: "radio", name: "d-to", id: "d-to-number", value: "number", onchange: () => { num.disabled = false; num.focus(); } });
  const progress = h("div", { "aria-live": "polite", id: "d-progress" });
  const form = h("form", { class: "card", "aria-labelledby": "d-testfax", onsubmit: async (ev) => {
    ev.preventDefault();
    if (!has("fax:send")) { progress.replaceChildren(needs("fax:send", "Sending a test fax")); return; }
    let to = num.value.trim();
    if (toBuiltIn.checked) {
      if (report && !loop()) { progress.replaceChildren(h("p", { class: "notice error", role: "alert" }, `The built-in receiver answers only while the loopback backend is in use (now: ${report.backend}). Choose a number, e.g. a fax machine you can check.`)); return; }
      to = "+15550100199";
    } else if (!to) { num.focus(); progress.replaceChildren(h("p", { class: "notice error", role: "alert" }, "Enter the number to send the test fax to.")); return; }
    const fd = new FormData();
    fd.append("to", to);
    fd.append("file", testPdf(["Faxbot test fax", "Sent from the Admin Console's Diagnostics page", new Date().toString()]), "faxbot-test.pdf");
    const btn = $("button[type=submit]", form);
    btn.disabled = true;
    progress.replaceChildren(h("p", { class: "muted" }, "Sending…"));
    try {
      const r = await fetch("/fax", { method: "POST", body: fd, credentials: "same-origin", headers: { "X-CSRF-Token": S.me.csrf_token, Accept: "application/json" } });
      const j = await r.json().catch(() => ({}));
      if (!r.ok) throw new ApiError(r.status, j.detail || `HTTP ${r.status}`);
      progress.replaceChildren(progressView(j));
      watchJob(j.id, progress);
    } catch (e) { progress.replaceChildren(errorBox(e, "The test fax was not accepted")); }
    btn.disabled = false;
  } },
    h("h2", { id: "d-testfax" }, "Send a test fax"),
    h("p", { class: "muted" }, "A one-page fax made here, sent through the backend in use; its progress shows below."),
    h("fieldset", {}, h("legend", {}, "Send to"),
      h("label", { class: "check", for: "d-to-builtin" }, toBuiltIn, "The built-in test receiver (loopback engine: a real fax call in software; the copy arrives in the Inbox)"),
      h("label", { class: "check", for: "d-to-number" }, toNumber, "A fax number:"),
      num),
    h("p", { class: "actions" }, h("button", { type: "submit", id: "d-send" }, "Send test fax")),
    progress);
  mount("Diagnostics", h("p", { class: "actions" }, rerun, dl), results, form);
  await run();
  if (report && !loop()) { toNumber.checked = true; num.disabled = false; }
}

EXTRA_PAGES.diagnostics = pageDiagnostics;
