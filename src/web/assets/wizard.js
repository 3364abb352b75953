/* wizard.js — the Setup Wizard: choose a backend, fill in its fields (explained in
 * plain words, with where to find each value), check them as typed (type and range
 * from the settings model), then for real with "Test connection"
 * (POST /admin/settings/validate: a dry run that logs in to the provider, AMI or ESL
 * and names the wrong field), review exactly what changes (old → new, secrets
 * masked), Apply (PUT /admin/settings, applied live) and see the outcome
 * (POST /admin/diagnostics/run), with the FreeSWITCH hooks or the Phaxio callback
 * set-up to paste. Uses app.js's helpers and settings.js's settingControl.
 * Plugins (GET /plugins): the trunk provider list of the SIP paths comes from the
 * sip-trunk plugins (with each trunk's rules), and every enabled outbound http plugin
 * gets a path whose form is its config_schema (GET /plugins/{id}/config fields). */
"use strict";

const isUrl = (v) => (/^https?:\/\/[^\s/]+/.test(v) ? "" : "Must be a full address starting with http:// or https://, e.g. https://fax.example.com");
const isHost = (v) => (/^[A-Za-z0-9.\-:[\]]+$/.test(v) ? "" : "Only a host name or IP address, without http:// or a path.");
const isE164 = (v) => (/^\+[1-9]\d{6,14}$/.test(v.replace(/[\s()-]/g, "")) ? "" : "A full number in international form, e.g. +15551234567.");
/* a plugin field's pattern (from its manifest), checked as typed */
const patternCheck = (f) => (v) => {
  let re = null;
  try { re = f.pattern ? new RegExp(f.pattern) : null; } catch (e) { re = null; }
  return !re || re.test(v) ? "" : `Not in the form ${f.label} takes${f.help ? ` (${f.help})` : ""}.`;
};
const maxLen = (n) => (v) => (v.length <= n ? "" : `At most ${n} characters (this is ${v.length}).`);
const PUBLIC_URL = { name: "PUBLIC_API_URL", label: "This gateway's public address", check: isUrl,
  where: "The https address at which the provider reaches this gateway from the internet (your reverse proxy or tunnel), e.g. https://fax.example.com. The provider fetches documents and posts results there." };

/* The trunk provider: a choice among the sip-trunk plugins (filled in by pageWizard). */
const TRUNK_FIELD = { name: "SIP_TRUNK_PRESET", label: "Trunk provider", where: "Fills in what your provider needs (codecs, T.38, dial format, caller ID); the list is the trunk plugins installed and enabled (Plugins page). Generic for any other." };
const TRUNKS = { list: [], chosen: null };
const trunkOf = (v) => TRUNKS.list.find((p) => p.short_name === v || p.id === v) || TRUNKS.list.find((p) => p.short_name === "generic") || null;
/* the chosen trunk plugin's termination host rule, checked as the address is typed */
function trunkHostRule(v) {
  const r = TRUNKS.chosen && TRUNKS.chosen.sip_trunk && TRUNKS.chosen.sip_trunk.termination && TRUNKS.chosen.sip_trunk.termination.host_rule;
  if (!r || !v) return "";
  const host = v.replace(/:\d+$/, "").toLowerCase();
  const bad = (r.suffix && !host.endsWith(r.suffix.toLowerCase())) || (r.contains && !host.includes(r.contains.toLowerCase()));
  return bad ? r.message || `Must end in ${r.suffix}` : "";
}
/* The chosen trunk's rules in plain words, from its plugin manifest. */
function trunkHints(p) {
  if (!p) return [];
  const t = p.sip_trunk || {}, term = t.termination || {}, cid = t.caller_id || {}, num = t.numbers || {};
  const lines = [];
  if (term.host_rule && term.host_rule.message) lines.push(["Trunk address", term.host_rule.message]);
  else if (term.default_host) lines.push(["Trunk address", `Usually ${term.default_host} (the provider's server).`]);
  if (cid.message) lines.push(["Caller ID", cid.message]);
  else if (cid.require_e164) lines.push(["Caller ID", "Must be a number of your account in E.164 (+15551234567)."]);
  if (num.format) lines.push(["Numbers dialled", `${num.format === "e164" ? "E.164" : num.format}${num.plus === false ? " without the +" : num.plus ? " with the +" : ""}${num.tech_prefix ? `, after a ${num.tech_prefix.digits}-digit tech prefix` : ""}.`]);
  const a = t.auth || {}, ways = [a.digest && (a.registration ? "user and password, with registration" : "user and password"), a.ip_auth && "by your IP address (leave user and password empty)"].filter(Boolean);
  if (ways.length) lines.push(["Authentication", ways.join("; or ")]);
  return [h("p", {}, h("strong", {}, p.name), p.version ? ` ${p.version}` : "", p.description ? " — " + p.description : ""),
    lines.length ? h("dl", { class: "facts" }, lines.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])) : null];
}

/* Per backend: what it is, and its fields in the order a person fills them in. */
const WIZARD = {
  loopback: { title: "Built-in test line (loopback)",
    about: "Faxes go through this gateway's own fax engine to a built-in receiver: a real fax call in software, nothing leaves the machine. Use it to try the gateway out; received copies appear in the Inbox.",
    fields: [
      { name: "LOOPBACK_TRANSPORT", label: "How the test call carries the fax", where: "audio is a fax over a voice line (like a phone line); t38 is fax over IP as SIP trunks do it." },
      { name: "LOOPBACK_ECM", label: "Error correction (ECM)", where: "Leave on: both fax machines resend damaged lines." },
      { name: "LOOPBACK_IMPAIRMENT", label: "Simulated bad line (optional)", where: "Empty for a clean line. For audio a noise level in dBm0 (e.g. -30), for t38 a packet loss in percent." },
      { name: "FAX_LOCAL_STATION_ID", label: "Station ID (your fax number as the other machine shows it)", check: maxLen(20), where: "Printed in the other machine's log; up to 20 characters, usually your fax number." },
      { name: "FAX_HEADER", label: "Page header", check: maxLen(50), where: "The line printed at the top of every page, e.g. your company name." },
    ] },
  phaxio: { title: "Phaxio (cloud)",
    about: "Phaxio sends the faxes; this gateway hands them over through Phaxio's API and learns the outcome from Phaxio's callback.",
    fields: [
      { name: "PHAXIO_API_KEY", label: "API key", where: "Phaxio console (console.phaxio.com) → API Keys: the \"API Key\" of a live key." },
      { name: "PHAXIO_API_SECRET", label: "API secret", where: "Same page, next to the key: the \"API Secret\" (shown in full only when the key is created; create a new key if you did not keep it)." },
      { name: "PHAXIO_CALLBACK_TOKEN", label: "Callback (webhook) token", where: "Phaxio console → Settings → Webhooks: the \"Webhook Token\". Phaxio signs every callback with it; it is not the API secret." },
      PUBLIC_URL,
      { name: "PHAXIO_VERIFY_SIGNATURE", label: "Check Phaxio's signature on callbacks", where: "Leave on: callbacks not signed with the token above are refused." },
      { name: "PHAXIO_UPLOAD", label: "Upload the document instead of letting Phaxio fetch it", where: "Turn on when Phaxio cannot reach this gateway to fetch the PDF." },
    ] },
  sinch: { title: "Sinch (cloud)",
    about: "Sinch's Fax API sends the faxes (Phaxio's successor at Sinch).",
    fields: [
      { name: "SINCH_PROJECT_ID", label: "Project ID", where: "Sinch Customer Dashboard (dashboard.sinch.com) → the project switcher or Settings → Projects: the Project ID." },
      { name: "SINCH_API_KEY", label: "Access key ID", where: "Dashboard → Settings → Access Keys: the Key ID of an access key." },
      { name: "SINCH_API_SECRET", label: "Access key secret", where: "Shown once when the access key is created; create a new access key if you did not keep it." },
      { name: "SINCH_BASE_URL", label: "Region address (optional)", check: isUrl, where: "Empty for the default region; otherwise your region's Fax API address from Sinch's documentation." },
      PUBLIC_URL,
      { name: "SINCH_WEBHOOK_USER", label: "User for Sinch's callbacks", where: "A name you choose; enter the same in Sinch's fax service settings so its callbacks authenticate." },
      { name: "SINCH_WEBHOOK_PASSWORD", label: "Password for Sinch's callbacks", where: "A long random password you choose; the same goes into Sinch's callback settings." },
    ] },
  signalwire: { title: "SignalWire (cloud)",
    about: "SignalWire's Compatibility Fax API sends the faxes from one of your SignalWire numbers.",
    fields: [
      { name: "SIGNALWIRE_SPACE_URL", label: "Space address", where: "The host name of your SignalWire dashboard, e.g. example.signalwire.com.",
        check: (v) => (/^(https?:\/\/)?[A-Za-z0-9.-]+(:\d+)?\/?$/.test(v) ? "" : "Only the space's address, e.g. example.signalwire.com (no path).") },
      { name: "SIGNALWIRE_PROJECT_ID", label: "Project ID", where: "Dashboard → API: the Project ID (a UUID)." },
      { name: "SIGNALWIRE_API_TOKEN", label: "API token", where: "Dashboard → API → API Tokens: create a token with the Fax scope and copy it." },
      { name: "SIGNALWIRE_FAX_FROM_E164", label: "Sending number", check: isE164, where: "One of your space's fax-capable numbers (Dashboard → Phone Numbers), in +1… form." },
      { name: "SIGNALWIRE_WEBHOOK_SIGNING_KEY", label: "Signing key", where: "Dashboard → API: the Signing Key; status callbacks not signed with it are refused." },
      PUBLIC_URL,
    ] },
  sip: { title: "SIP trunk via Asterisk",
    about: "Your Asterisk places the fax calls over a SIP trunk (Twilio, Telnyx, Bandwidth, Flowroute or any other); this gateway drives it through the Asterisk Manager Interface (AMI).",
    fields: [
      { name: "ASTERISK_AMI_HOST", label: "Asterisk host", check: isHost, where: "The name or IP address of the machine running Asterisk (127.0.0.1 when it is this machine)." },
      { name: "ASTERISK_AMI_PORT", label: "AMI port", where: "5038 unless /etc/asterisk/manager.conf says otherwise (the port = line under [general])." },
      { name: "ASTERISK_AMI_USERNAME", label: "AMI user", where: "The name in brackets of the user in /etc/asterisk/manager.conf, e.g. [faxbot]." },
      { name: "ASTERISK_AMI_PASSWORD", label: "AMI password", where: "The secret = line of that user in manager.conf." },
      TRUNK_FIELD,
      { name: "SIP_SERVER", label: "Trunk address", where: "Twilio: the Termination URI of your Elastic SIP Trunk, <name>.pstn.twilio.com (Elastic SIP Trunking → your trunk → Termination), not the SIP domain <name>.sip.twilio.com, which is for calls into Twilio. Others: the SIP server or proxy host name from the provider's portal.",
        check: (v) => (/\.sip\.twilio\.com$/i.test(v) ? "That is a Twilio SIP domain (for calls into Twilio). Faxes out need the Termination URI: <name>.pstn.twilio.com." : isHost(v) || trunkHostRule(v)) },
      { name: "SIP_USERNAME", label: "Trunk user", where: "From the trunk's credentials (Twilio: Termination → Authentication → Credential Lists). Empty when the provider trusts your IP address instead." },
      { name: "SIP_PASSWORD", label: "Trunk password", where: "The password of that credential." },
      { name: "FAX_LOCAL_STATION_ID", label: "Station ID / caller ID", check: maxLen(20), where: "Your fax number as the other machine shows it (up to 20 characters)." },
      { name: "FAX_HEADER", label: "Page header", check: maxLen(50), where: "Printed at the top of every page, e.g. your company name." },
      { name: "SIP_EXTERNAL_MEDIA_ADDRESS", label: "Public IP address (behind NAT)", where: "The internet address of the router Asterisk sits behind (whatismyip from that network); empty when Asterisk has a public address itself." },
      { name: "SIP_EXTERNAL_SIGNALING_ADDRESS", label: "Public IP for SIP signalling (behind NAT)", where: "Usually the same as the public IP above." },
      { name: "ASTERISK_INBOUND_SECRET", label: "Secret for received faxes", where: "A long random string you choose; Asterisk's dialplan sends it when it hands a received fax to this gateway." },
    ] },
  freeswitch: { title: "FreeSWITCH",
    about: "Your FreeSWITCH places the fax calls through one of its SIP gateways; this gateway drives it through the event socket (ESL), and two dialplan hooks report results back.",
    fields: [
      { name: "FREESWITCH_ESL_HOST", label: "FreeSWITCH host", check: isHost, where: "The name or IP address of the machine running FreeSWITCH." },
      { name: "FREESWITCH_ESL_PORT", label: "Event socket port", where: "8021 unless autoload_configs/event_socket.conf.xml says otherwise (listen-port)." },
      { name: "FREESWITCH_ESL_PASSWORD", label: "Event socket password", where: "The password param in event_socket.conf.xml (ClueCon out of the box — change it there and here)." },
      { name: "FREESWITCH_GATEWAY_NAME", label: "SIP gateway name", where: "The name of the <gateway name=\"…\"> in sip_profiles/external/*.xml that reaches your trunk." },
      TRUNK_FIELD,
      { name: "FREESWITCH_CALLER_ID_NUMBER", label: "Caller ID number", where: "The number the recipient sees, if the trunk allows it." },
      { name: "FREESWITCH_INBOUND_SECRET", label: "Secret for the dialplan hooks", where: "A long random string you choose. After Apply the wizard shows the exact hooks (with this secret) to paste into the dialplan." },
      { name: "FREESWITCH_HOOK_URL", label: "Address FreeSWITCH posts results to (optional)", check: isUrl, where: "This gateway's address as FreeSWITCH reaches it, e.g. http://10.0.0.5:8080; empty means PUBLIC_API_URL." },
      { name: "FREESWITCH_T38_ENABLE", label: "Use T.38", where: "On when the trunk supports T.38 (fax over IP); most do." },
      { name: "FAX_LOCAL_STATION_ID", label: "Station ID", check: maxLen(20), where: "Your fax number as the other machine shows it (up to 20 characters)." },
      { name: "FAX_HEADER", label: "Page header", check: maxLen(50), where: "Printed at the top of every page." },
    ] },
};
const WIZARD_ORDER = ["loopback", "sip", "freeswitch", "phaxio", "sinch", "signalwire"];
/* Besides a backend's own rows, the shared rows it reads (shown under "More options"). */
const WIZARD_SHARED = { sip: ["trunk", "network"], freeswitch: ["trunk", "network"] };

function copyButton(text, label) {
  return h("button", { type: "button", class: "ghost", onclick: async () => {
    try { await navigator.clipboard.writeText(text); toast("Copied"); } catch (e) { toast("Copy failed: select the text and copy it"); }
  } }, label || "Copy");
}

/* A verdict's detail in words (the trunk's verdict comes as JSON). */
function verdictText(detail) {
  if (!detail || detail[0] !== "{") return detail || "";
  try {
    const t = JSON.parse(detail);
    return Object.entries(t).map(([k, v]) => `${k}: ${v}`).join(", ");
  } catch (e) { return detail; }
}

async function pageWizard(parts) {
  const hidden = needs("keys:manage", "The Setup Wizard");
  if (hidden) { mount("Setup Wizard", hidden); return; }
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  mount("Setup Wizard", body);
  let view;
  try { view = await api("/admin/settings"); } catch (e) { body.replaceChildren(errorBox(e, "Could not read the settings")); return; }
  const rows = Object.fromEntries((view.items || []).map((r) => [r.name, r]));
  const current = view.backend && view.backend.type;
  let plugins = [];
  try { plugins = (await api("/plugins")).items || []; } catch (e) { /* the SIP paths fall back to a text field */ }
  TRUNKS.list = plugins.filter((p) => p.kind === "sip-trunk" && p.enabled);
  const httpPlugins = plugins.filter((p) => p.kind === "http" && p.enabled && (p.categories || []).includes("outbound"));
  const pluginOf = (b) => httpPlugins.find((p) => p.id === b);
  const order = WIZARD_ORDER.concat(httpPlugins.map((p) => p.id));
  const specOf = (b) => WIZARD[b] || { title: `${pluginOf(b).name} (plugin)`, about: pluginOf(b).description || `The ${pluginOf(b).name} plugin sends the faxes through the provider's API.`, fields: [] };
  const W = { backend: parts[1] && (WIZARD[parts[1]] || pluginOf(parts[1])) ? parts[1] : null, controls: [], tested: null, plugin: null };
  const steps = ["Backend", "Details", "Review", "Done"];
  const stepper = (at) => h("ol", { class: "steps wizard-steps", "aria-label": "Wizard steps" },
    steps.map((s, i) => h("li", { class: i < at ? "done" : i === at ? "now" : "", "aria-current": i === at ? "step" : null }, `${i + 1}. ${s}`)));
  const show = (at, ...kids) => { body.replaceChildren(stepper(at), ...kids); const f = body.querySelector("h2"); if (f) { f.tabIndex = -1; f.focus(); } };

  /* The trunk provider as a choice among the trunk plugins, with the chosen trunk's rules. */
  const trunkControl = (row, f) => {
    if (!TRUNKS.list.length) return settingControl(row, "w-", f);
    const names = TRUNKS.list.map((p) => p.short_name || p.id);
    const known = row.value && TRUNKS.list.find((p) => p.short_name === row.value || p.id === row.value);
    const c = settingControl(Object.assign({}, row, { type: "choice", choices: names }, known ? { value: known.short_name || known.id } : {}), "w-", f);
    for (const o of c.input.options) { const p = o.value && trunkOf(o.value); if (p) o.textContent = p.name; }
    const hints = h("div", { class: "trunk-hints hint", id: "w-trunk-hints", "aria-live": "polite" });
    const draw = () => {
      TRUNKS.chosen = trunkOf(c.input.value || valueText(row.default) || "generic");
      hints.replaceChildren(...trunkHints(TRUNKS.chosen).filter(Boolean));
      const server = W.controls.find((x) => x.row.name === "SIP_SERVER");
      if (server) server.mark(server.check());
    };
    c.input.addEventListener("change", draw);
    c.el.querySelector(".field-body").append(hints);
    setTimeout(draw, 0);
    return c;
  };
  /* An http plugin's form: its config_schema fields, each on its settings row
   * (PLUGIN_<ID>_<KEY>), with the field's label, help, pattern and required. */
  const pluginControls = async (p) => {
    const cfg = await api(`/plugins/${encodeURIComponent(p.id)}/config`);
    W.pluginFields = {};
    return (cfg.fields || []).filter((f) => rows[f.setting]).map((f) => {
      W.pluginFields[f.setting] = f;
      const c = settingControl(rows[f.setting], "w-", { label: f.label, where: f.help || null, check: patternCheck(f) });
      const base = c.check;
      c.check = () => {
        const r = rows[f.setting];
        if (f.required && !c.input.value.trim() && !(r.secret ? r.is_set : valueText(r.value))) return `${f.label} is required.`;
        return base();
      };
      c.input.addEventListener("input", () => c.mark(c.check()));
      return c;
    });
  };

  /* ---- 1: choose ---- */
  const choose = () => {
    const pin = rows.FAX_BACKEND && rows.FAX_BACKEND.pinned_by;
    const radios = order.map((b) => h("label", { class: "choice" },
      h("input", { type: "radio", name: "backend", value: b, checked: (W.backend || current) === b }),
      h("span", {}, h("strong", {}, specOf(b).title), b === current ? h("span", { class: "badge ok" }, "in use") : null,
        pluginOf(b) ? h("span", { class: "badge" }, "plugin") : null,
        h("span", { class: "hint" }, specOf(b).about))));
    const form = h("form", { class: "card", onsubmit: (ev) => {
      ev.preventDefault();
      const picked = form.querySelector("input[name=backend]:checked");
      if (!picked) return;
      W.backend = picked.value;
      details();
    } },
      h("h2", {}, "Which way should faxes go out?"),
      pin && current ? h("p", { class: "notice", role: "note" }, `The backend is set by the environment variable ${pin} (${current}): the wizard can check and change ${current}'s own settings, but not switch to another backend. Change ${pin} where the gateway is started to switch.`) : null,
      h("fieldset", {}, h("legend", {}, "Backend"), radios),
      h("p", { class: "actions" }, h("button", { type: "submit" }, "Next: details")));
    if (pin) form.querySelectorAll("input[name=backend]").forEach((r) => { if (r.value !== current) r.disabled = true; });
    show(0, form);
  };

  /* ---- 2: details, checked as typed and then for real ---- */
  const details = async () => {
    W.plugin = pluginOf(W.backend) || null;
    const spec = specOf(W.backend);
    let main = spec.fields.filter((f) => rows[f.name]).map((f) => f === TRUNK_FIELD ? trunkControl(rows[f.name], f) : settingControl(rows[f.name], "w-", f));
    let pluginNote = null;
    if (W.plugin) {
      try { main = await pluginControls(W.plugin); } catch (e) { pluginNote = errorBox(e, `Could not read ${W.plugin.id}'s settings`); main = []; }
      if (rows.PUBLIC_API_URL) main.push(settingControl(rows.PUBLIC_API_URL, "w-", PUBLIC_URL));
    }
    const named = new Set(spec.fields.map((f) => f.name));
    const shared = WIZARD_SHARED[W.backend] || [];
    const more = (view.items || []).filter((r) => !named.has(r.name) && r.apply !== "env_only" &&
      (r.backend === W.backend || shared.includes(r.group))).map((r) => settingControl(r, "w-"));
    W.controls = main.concat(more);
    /* back from the review step: what was typed for this backend is put back */
    if (W.draft && W.draft.backend === W.backend)
      for (const c of W.controls) {
        const v = W.draft.values[c.row.name];
        if (v === undefined || c.input.disabled || c.input.value === v) continue;
        c.input.value = v;
        c.input.dispatchEvent(new Event("change"));
      }
    const result = h("div", { "aria-live": "polite", id: "w-result" });
    const test = h("button", { type: "button", class: "ghost", id: "w-test", onclick: () => testConnection(result, test) }, "Test connection");
    const form = h("form", { class: "card", novalidate: true, onsubmit: (ev) => {
      ev.preventDefault();
      if (!checkAll(result)) return;
      review();
    } },
      h("h2", {}, spec.title),
      h("p", {}, spec.about),
      pluginNote,
      W.backend !== current ? h("p", { class: "notice", role: "note" }, `Now in use: ${current}. Nothing changes until you apply on the review step; faxes already queued are kept and sent through the new backend, calls in progress finish on the old one.`) : null,
      main.map((c) => c.el),
      more.length && !W.plugin ? h("details", { class: "more" }, h("summary", {}, `More ${W.backend} options (${more.length})`), more.map((c) => c.el)) : null,
      result,
      h("p", { class: "actions" }, h("button", { type: "button", class: "ghost", onclick: choose }, "Back"), test, h("button", { type: "submit" }, "Next: review")));
    show(1, form);
  };
  const changes = () => {
    const ch = {};
    if (W.backend !== current) ch.FAX_BACKEND = W.backend;
    for (const c of W.controls) if (c.changed()) ch[c.row.name] = c.value();
    return ch;
  };
  const checkAll = (out) => {
    let first = null;
    for (const c of W.controls) { const m = c.check(); c.mark(m); if (m && !first) first = c; }
    if (first) {
      out.replaceChildren(h("p", { class: "notice error", role: "alert" }, `Fix ${first.row.name} first: ${first.check()}`));
      const d = first.el.closest("details");
      if (d) d.open = true;
      first.input.focus();
      return false;
    }
    return true;
  };
  const testConnection = async (out, btn) => {
    if (!checkAll(out)) return;
    btn.disabled = true;
    out.replaceChildren(h("p", { class: "muted" }, "Testing: logging in with these values (a dry run; nothing is changed)…"));
    let v;
    try { v = await api("/admin/settings/validate", { method: "POST", json: Object.assign({ FAX_BACKEND: W.backend }, changes()) }); if (W.plugin) pluginVerdicts(v); } catch (e) {
      btn.disabled = false;
      const c = W.controls.find((x) => e.message.includes(x.row.name));
      if (c) c.mark(e.message);
      out.replaceChildren(errorBox(e, "The values were refused"));
      return;
    }
    btn.disabled = false;
    W.tested = v;
    const fields = v.fields || {};
    for (const c of W.controls) {
      const f = fields[c.row.name];
      c.mark(f ? (f.ok ? "✓ " : "") + verdictText(f.detail) : "", f && f.ok);
    }
    const bad = Object.entries(fields).filter(([, f]) => !f.ok);
    const shownHere = (n) => W.controls.some((c) => c.row.name === n);
    const list = h("ul", {}, Object.entries(fields).map(([n, f]) => h("li", { class: f.ok ? "ok-line" : "bad-line" },
      h("strong", {}, f.ok ? "OK " : "Wrong "), h("code", {}, n), ": ", verdictText(f.detail), shownHere(n) ? null : h("span", { class: "hint" }, "(not on this page: see Settings)"))));
    const msg = v.checks && v.checks.backend_message;
    out.replaceChildren(h("div", { class: "notice " + (v.ok ? "good" : "error"), role: v.ok ? "status" : "alert" },
      h("p", {}, h("strong", {}, v.ok ? "Connection test passed." : `Connection test failed: ${bad.length ? bad.map(([n]) => n).join(", ") : "see below"}.`)),
      Object.keys(fields).length ? list : null,
      !v.ok && msg && !bad.length ? h("p", {}, msg) : null));
    const firstBad = W.controls.find((c) => fields[c.row.name] && !fields[c.row.name].ok);
    if (firstBad) { const d = firstBad.el.closest("details"); if (d) d.open = true; }
  };

  /* ---- 3: review: exactly what changes ---- */
  const review = () => {
    W.draft = { backend: W.backend, values: Object.fromEntries(W.controls.map((c) => [c.row.name, c.input.value])) };
    const ch = changes();
    const names = Object.keys(ch);
    const was = (n) => {
      const r = rows[n];
      if (n === "FAX_BACKEND") return current;
      if (r.secret) return r.is_set ? "set (hidden)" : "not set";
      return r.value == null || r.value === "" ? "not set" : valueText(r.value);
    };
    const now = (n) => (rows[n].secret ? (ch[n] ? "new value (hidden)" : "removed") : ch[n] === "" ? "not set (default)" : ch[n]);
    const out = h("div", { "aria-live": "polite" });
    const apply = h("button", { type: "button", id: "w-apply", onclick: () => doApply(ch, out, apply) }, "Apply");
    const tested = W.tested && W.tested.ok ? h("p", { class: "notice good" }, "The connection test passed with these values.")
      : h("p", { class: "notice", role: "note" }, W.tested ? "The last connection test failed: applying anyway may leave faxes waiting until it is fixed." : "Not tested yet: go back and use Test connection to check the values for real first (or apply anyway).");
    show(2, h("section", { class: "card", "aria-labelledby": "w-review" },
      h("h2", { id: "w-review" }, "Review the changes"),
      tested,
      names.length ? h("p", { class: "muted" }, "These values will be written to the settings file and applied:") : null,
      names.length ? h("table", { class: "review" },
        h("thead", {}, h("tr", {}, ["Setting", "Now", "After", "Takes effect"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, names.map((n) => h("tr", {}, h("td", { "data-label": "Setting" }, h("code", {}, n)), h("td", { "data-label": "Now" }, was(n)),
          h("td", { "data-label": "After" }, h("strong", {}, now(n))),
          h("td", { "data-label": "Takes effect" }, rows[n].apply === "restart" ? "after a restart" : "at once"))))) : h("p", {}, "Nothing changes: every value is already in effect."),
      h("p", { class: "actions" }, h("button", { type: "button", class: "ghost", onclick: details }, "Back"), names.length ? apply : null),
      out));
  };
  /* A plugin's credentials are checked as a whole by the provider: a refusal marks
   * the plugin's secret fields (the ones its auth sends). */
  const pluginVerdicts = (v) => {
    const b = (v.checks && v.checks.backend) || {};
    v.fields = v.fields || {};
    const said = /HTTP \d+: (.*?)\.?(?: \(the credentials|$)/.exec(b.detail || "");
    if (b.credentials === "rejected" || b.credentials === "ok")
      for (const [name, f] of Object.entries(W.pluginFields || {}))
        if (f.secret) v.fields[name] = { ok: b.credentials === "ok", detail: b.credentials === "ok" ? "accepted by the provider" : `${f.label}: refused by the provider${b.http_status ? ` (HTTP ${b.http_status}${said ? ": " + said[1] : ""})` : ""}. Check it and test again.` };
    if (b.credentials === "rejected") { v.ok = false; if (Object.values(W.pluginFields || {}).some((f) => f.secret)) delete v.fields.FAX_BACKEND; }
  };
  const doApply = async (ch, out, btn) => {
    btn.disabled = true;
    out.replaceChildren(h("p", { class: "muted" }, "Applying…"));
    let nv;
    const mine = {}, saved = [];
    if (W.plugin) {
      /* the plugin's own fields through PUT /plugins/{id}/config, then FAX_BACKEND */
      for (const [n, v] of Object.entries(ch)) if (W.pluginFields[n]) { mine[W.pluginFields[n].key] = v; saved.push(n); delete ch[n]; }
      try { if (Object.keys(mine).length) await api(`/plugins/${encodeURIComponent(W.plugin.id)}/config`, { method: "PUT", json: { settings: mine } }); } catch (e) {
        btn.disabled = false;
        out.replaceChildren(errorBox(e, `${W.plugin.name}'s settings were not saved`));
        return;
      }
    }
    try { nv = Object.keys(ch).length ? await api("/admin/settings", { method: "PUT", json: ch }) : Object.assign(await api("/admin/settings"), { _meta: {} }); } catch (e) {
      btn.disabled = false;
      out.replaceChildren(errorBox(e, "Not applied (nothing was changed)"));
      return;
    }
    if (saved.length) { nv._meta = nv._meta || {}; nv._meta.applied = saved.concat(nv._meta.applied || []); }
    W.draft = null;
    done(nv);
  };

  /* ---- 4: the outcome ---- */
  const done = async (nv) => {
    const meta = nv._meta || {};
    const status = h("div", { "aria-live": "polite", id: "w-outcome" }, h("p", { class: "muted" }, "Checking the new backend…"));
    const extra = h("div", {});
    show(3, h("section", { class: "card", "aria-labelledby": "w-done" },
      h("h2", { id: "w-done" }, "Applied"), appliedNote(meta), status, extra,
      h("p", { class: "actions" }, h("a", { class: "button ghost", href: "#/diagnostics" }, "Open Diagnostics"),
        h("a", { class: "button ghost", href: "#/send" }, "Send a fax"), h("button", { type: "button", class: "ghost", onclick: () => { W.tested = null; view = null; pageWizard([]); } }, "Run the wizard again"))));
    outcome(status);
    if (W.backend === "freeswitch") fsHooks(extra);
    if (W.backend === "phaxio" || W.backend === "sinch" || W.backend === "signalwire" || W.plugin) providerCallbacks(extra, W.plugin);
  };
  if (W.backend) details(); else choose();
}

/* The new backend's state in plain words; connection-based backends log in in the
 * background, so this asks again for a few seconds until the answer is definite. */
async function outcome(where) {
  let d = null;
  for (let i = 0; i < 12; i++) {
    try { d = await api("/admin/diagnostics/run", { method: "POST" }); } catch (e) { where.replaceChildren(errorBox(e, "Could not check the backend")); return; }
    const b = (d.checks && d.checks.backend) || {};
    const pending = (b.credentials === "unknown") || (b.esl === "unreachable" && i < 6) || (!d.checks.backend_config && i < 6);
    if (!pending) break;
    await new Promise((r) => setTimeout(r, 500));
    if (!where.isConnected) return;
  }
  const c = d.checks || {}, b = c.backend || {};
  const facts = [["Backend in use", d.backend], ["Ready to send", c.backend_config ? "Yes" : "No — " + (c.backend_message || "")]];
  if (b.credentials) facts.push(["Credentials accepted", b.credentials === "ok" ? "Yes" : b.credentials === "rejected" ? "No — rejected" : b.credentials]);
  if (b.ami) facts.push(["AMI logged in", b.ami.login === "logged_in" ? `Yes, as ${b.ami.user} at ${b.ami.host}:${b.ami.port}` : `No — ${b.ami.detail || b.ami.login}`]);
  if (b.trunk) facts.push(["Trunk registered", b.trunk.registration === "Registered" ? "Yes" : String(b.trunk.registration)], ["Trunk answers (qualify)", String(b.trunk.qualify) + (b.trunk.qualify_ms != null ? `, round trip ${Math.round(b.trunk.qualify_ms)} ms` : "")]);
  if (b.esl) facts.push(["Event socket (ESL)", b.esl === "ok" ? `Connected to ${b.esl_address}` : `No — ${b.esl} ${b.detail || ""}`]);
  if (b.gateway && typeof b.gateway === "object") facts.push(["SIP gateway", Object.entries(b.gateway).map(([k, v]) => `${k}: ${v}`).join(", ")]);
  where.replaceChildren(h("div", { class: "notice " + (d.ok ? "good" : "error"), role: d.ok ? "status" : "alert" },
    h("p", {}, h("strong", {}, d.ok ? "The new backend is ready." : "The settings are applied, but the backend is not ready yet:")),
    h("dl", { class: "facts outcome" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    (b.advice || []).length ? h("ul", {}, b.advice.map((a) => h("li", {}, a))) : null));
}

/* FreeSWITCH: the two dialplan hooks, exactly as the gateway renders them. */
async function fsHooks(where) {
  const draw = (cb, revealed) => {
    const hooks = (cb.callbacks || []).filter((c) => c.hook);
    where.replaceChildren(h("div", {}, h("h3", {}, "Paste into FreeSWITCH's dialplan"),
      h("p", {}, "Two hooks report results to this gateway: add the first to the outbound fax extension (after txfax) and the second to the inbound one (after rxfax). ",
        "They carry the secret FREESWITCH_INBOUND_SECRET as the X-Internal-Secret header", revealed ? "." : " (masked here; show it to copy the real text)."),
      hooks.map((c) => h("div", { class: "hook" }, h("p", {}, h("strong", {}, c.path.endsWith("outbound_result") ? "After sending (outbound result)" : "After receiving (inbound fax)"), " → ", h("code", {}, c.url)),
        h("pre", { class: "token" }, c.hook), revealed ? copyButton(c.hook, "Copy hook") : null)),
      cb.secret ? h("p", {}, "Secret: ", h("code", {}, cb.secret), " ", revealed ? copyButton(cb.secret, "Copy secret") : null) : null,
      revealed ? null : h("p", {}, h("button", { type: "button", class: "ghost", onclick: async () => {
        try { draw(await api("/admin/inbound/callbacks?include_secrets=true"), true); } catch (e) { where.append(errorBox(e, "Could not show the secret")); }
      } }, "Show with the secret (audited)"))));
  };
  try { draw(await api("/admin/inbound/callbacks"), false); } catch (e) { where.replaceChildren(errorBox(e, "Could not read the hooks")); }
}

/* Cloud providers: the addresses to enter in their consoles. */
async function providerCallbacks(where, plugin) {
  let cb;
  try { cb = await api("/admin/inbound/callbacks"); } catch (e) { where.replaceChildren(errorBox(e, "Could not read the callback addresses")); return; }
  const be = cb.backend;
  const mine = (cb.callbacks || []).filter((c) => c.backend === be);
  const tell = {
    phaxio: ["In the Phaxio console: Settings → Webhooks. The \"Webhook Token\" shown there is what PHAXIO_CALLBACK_TOKEN holds (Phaxio signs each callback with it). For received faxes, set the number's callback URL (Phone Numbers → your number) to the inbound address below."],
    sinch: ["In the Sinch dashboard's fax service settings, enter the addresses below as the callback URLs, with the webhook user and password from this wizard."],
    signalwire: ["In the SignalWire dashboard: Phone Numbers → your number → \"When a fax comes in\": the inbound address below. Status callbacks are sent by the gateway with each fax."],
  }[be] || (plugin ? [`In ${plugin.name}'s console (its webhook or callback settings), enter the address below so the provider reports results and received faxes to this gateway; the gateway checks each call's signature with the values you entered.`] : []);
  where.replaceChildren(h("div", {}, h("h3", {}, "Tell the provider where this gateway is"),
    tell.map((t) => h("p", {}, t)),
    !cb.public_api_url ? h("p", { class: "notice error" }, "PUBLIC_API_URL is not set: the provider cannot reach this gateway. Set it in the wizard or on the Settings page.") : null,
    mine.length ? h("ul", { class: "callbacks" }, mine.map((c) => h("li", {}, h("strong", {}, c.name || c.path), ` (${c.kind}): `, h("code", {}, c.url || c.path), " ",
      c.url ? copyButton(c.url, "Copy address") : null, c.notes ? h("span", { class: "hint" }, c.notes) : null))) : null));
}

EXTRA_PAGES.wizard = pageWizard;
