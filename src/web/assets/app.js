/* Faxbot Admin Console — plain JavaScript, no framework. The API key is pasted
 * once and sent to POST /admin/ui/session; from then on an HttpOnly cookie stands
 * for it and the page only ever holds the session's CSRF token (in memory).
 * Every page asks the same API routes a script would. */
"use strict";

const S = { me: null, timers: [], blobs: [], unsubs: [] };
/* Pages defined in the other scripts (settings.js, wizard.js, diagnostics.js) register here. */
const PAGES = {};
const $ = (sel, root) => (root || document).querySelector(sel);

/* ---- DOM helpers: text is always set as text, never parsed as HTML ---- */
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat(Infinity)) if (kid != null && kid !== false) el.append(kid instanceof Node ? kid : String(kid));
  return el;
}
function toast(msg) {
  const t = $("#toast");
  t.textContent = msg;
  clearTimeout(toast.t);
  toast.t = setTimeout(() => { t.textContent = ""; }, 4000);
}

/* ---- formatting ---- */
function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
function fmtPhone(n) {
  if (!n) return "—";
  const m = /^\+1(\d{3})(\d{3})(\d{4})$/.exec(n);
  if (m) return `+1 (${m[1]}) ${m[2]}-${m[3]}`;
  const g = /^\+(\d{1,3})(\d+)$/.exec(n);
  if (!g) return n;
  return "+" + g[1] + " " + g[2].replace(/(\d{3,4})(?=\d{3,})/g, "$1 ");
}
function fmtBytes(b) {
  if (b == null) return "—";
  return b < 1024 ? b + " B" : b < 1048576 ? (b / 1024).toFixed(1) + " KB" : (b / 1048576).toFixed(1) + " MB";
}
const STATUS_CLASS = { SUCCESS: "ok", FAILED: "bad", cancelled: "warn", queued: "", in_progress: "", received: "ok" };
const STATUS_LABEL = { SUCCESS: "Sent", FAILED: "Failed", cancelled: "Cancelled", queued: "Queued", in_progress: "In progress" };
function badge(status) {
  return h("span", { class: "badge " + (STATUS_CLASS[status] || "") }, STATUS_LABEL[status] || status);
}

/* ---- scopes (as the server decides them: "*" is every scope but keys:manage) ---- */
function has(scope) {
  const me = S.me;
  if (!me) return false;
  if (me.bootstrap) return true;
  const sc = me.scopes || [];
  if (sc.includes(scope)) return true;
  return sc.includes("*") && scope !== "keys:manage" && scope !== "fax:all";
}
function needs(scope, what) {
  if (has(scope)) return null;
  return h("p", { class: "notice", role: "note" },
    `${what} is hidden: the key you signed in with (${S.me.key_id}) does not have the `,
    h("code", {}, scope), " scope. Sign in with a key that has it, or ask an administrator to create one.");
}

/* ---- API ---- */
class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}
async function api(path, opts = {}) {
  const o = { method: opts.method || "GET", credentials: "same-origin", headers: { Accept: "application/json" } };
  if (o.method !== "GET" && S.me) o.headers["X-CSRF-Token"] = S.me.csrf_token;
  if (opts.json !== undefined) { o.headers["Content-Type"] = "application/json"; o.body = JSON.stringify(opts.json); }
  const r = await fetch(path, o);
  if (opts.blob && r.ok) return r.blob();
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (!r.ok) {
    const detail = (body && body.detail) || `HTTP ${r.status}`;
    if (r.status === 401 && S.me && !opts.signin) { signedOut("Your session ended (signed out elsewhere, idle too long, or its key was revoked). Sign in again."); }
    throw new ApiError(r.status, detail);
  }
  return body;
}
function errorBox(e, what) {
  return h("p", { class: "notice error", role: "alert" }, `${what}: ${e.message}`);
}

/* ---- live events: GET /events (Server-Sent Events, the session cookie
   authenticates it) where the gateway has it; pages poll as well, so a gateway
   without the stream, or a dropped one, only makes updates slower ---- */
const live = { es: null, subs: new Set() };
const EVENT_TYPES = ["fax.queued", "fax.progress", "fax.retry_scheduled", "fax.succeeded", "fax.failed", "fax.cancelled", "inbound.received"];
function openLive() {
  if (live.es || !window.EventSource) return;
  const es = new EventSource("/events");
  live.es = es;
  es.onerror = () => { if (es.readyState === EventSource.CLOSED) live.es = null; };
  for (const t of EVENT_TYPES) es.addEventListener(t, (m) => {
    let ev;
    try { ev = JSON.parse(m.data); } catch (e) { return; }
    live.subs.forEach((fn) => fn(ev));
  });
}
function closeLive() { if (live.es) live.es.close(); live.es = null; }
function onLive(fn) { live.subs.add(fn); S.unsubs.push(() => live.subs.delete(fn)); }

/* ---- page lifecycle ---- */
function clearPage() {
  S.unsubs.forEach((u) => u());
  S.unsubs = [];
  S.timers.forEach((t) => clearInterval(t));
  S.timers = [];
  S.blobs.forEach((u) => URL.revokeObjectURL(u));
  S.blobs = [];
}
function every(ms, fn) { S.timers.push(setInterval(fn, ms)); }
function mount(title, ...kids) {
  const v = $("#view");
  v.replaceChildren(h("h1", {}, title), ...kids);
  document.title = title + " · Faxbot";
}

/* ---- sign-in ---- */
function signedOut(message) {
  clearPage();
  closeLive();
  S.me = null;
  $("#nav").hidden = true;
  $("#sign-out").hidden = true;
  $("#who").hidden = true;
  renderSignIn(message);
}
function renderSignIn(message) {
  const input = h("input", { type: "password", id: "api-key", name: "api_key", autocomplete: "off", required: true, spellcheck: "false" });
  const status = h("div", { "aria-live": "polite" }, message ? h("p", { class: "notice" }, message) : null);
  const form = h("form", { class: "card signin", onsubmit: async (ev) => {
    ev.preventDefault();
    const btn = $("button", form);
    btn.disabled = true;
    try {
      S.me = await api("/admin/ui/session", { method: "POST", json: { api_key: input.value }, signin: true });
      input.value = "";
      start();
    } catch (e) {
      status.replaceChildren(h("p", { class: "notice error", role: "alert" },
        e.status === 429 ? "Too many failed sign-ins from here: wait a minute and try again." : `Sign-in refused: ${e.message}. Check the key and paste it again.`));
    } finally { btn.disabled = false; }
  } },
    h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, "Paste an API key. It is checked once by the gateway and never kept in this browser: a session cookie the page cannot read stands for it."),
    h("label", { for: "api-key" }, "API key", h("span", { class: "hint" }, "fbk_live_… (from the Keys page or faxbot keys create), or the gateway's API_KEY")),
    input, status, h("p", {}, h("button", { type: "submit" }, "Sign in")));
  $("#view").replaceChildren(form);
  document.title = "Sign in · Faxbot";
  input.focus();
}

/* ---- Dashboard ---- */
async function pageDashboard() {
  const health = h("section", { class: "card", "aria-labelledby": "h-health" }, h("h2", { id: "h-health" }, "Gateway"), h("p", { class: "muted" }, "Loading…"));
  const counts = h("section", { class: "card", "aria-labelledby": "h-counts" }, h("h2", { id: "h-counts" }, "Jobs by status"));
  const fails = h("section", { class: "card", "aria-labelledby": "h-fails" }, h("h2", { id: "h-fails" }, "Recent failures"));
  mount("Dashboard", h("div", { class: "grid" }, health, counts), fails);
  try {
    const r = await fetch("/health/ready", { credentials: "same-origin" });
    const hr = await r.json();
    const checks = Object.entries(hr.checks || {}).map(([k, ok]) =>
      h("li", {}, h("span", { class: "badge " + (ok ? "ok" : "bad") }, ok ? "OK" : "Problem"), " ", k.replace(/_/g, " ")));
    health.replaceChildren(h("h2", { id: "h-health" }, "Gateway"),
      h("p", {}, "Backend ", h("strong", {}, hr.backend), " · ", h("span", { class: "badge " + (hr.status === "ready" ? "ok" : "bad") }, hr.status === "ready" ? "Ready" : "Not ready")),
      h("ul", {}, checks),
      (hr.warnings || []).length ? h("div", {}, h("h2", {}, "Warnings"), (hr.warnings || []).map((w) => h("p", { class: "notice" }, w))) : h("p", { class: "muted" }, "No warnings."));
  } catch (e) { health.append(errorBox(e, "Could not read /health/ready")); }
  if (has("keys:manage")) {
    try {
      const hs = await api("/admin/health-status");
      health.append(h("dl", { class: "facts" },
        h("dt", {}, "Queue depth"), h("dd", {}, hs.queue_depth ?? "—"),
        h("dt", {}, "Workers busy"), h("dd", {}, hs.workers ? `${hs.workers.busy} of ${hs.workers.total}` : "—"),
        h("dt", {}, "Disk free"), h("dd", {}, fmtBytes(hs.disk_free_bytes))));
    } catch (e) { if (!(e.status === 404)) health.append(errorBox(e, "Could not read /admin/health-status")); }
  }
  const hidden = needs("fax:read", "Job counts and failures");
  if (hidden) { counts.append(hidden); fails.append(hidden.cloneNode(true)); return; }
  const statuses = ["queued", "in_progress", "SUCCESS", "FAILED", "cancelled"];
  try {
    const lists = await Promise.all(statuses.map((s) => api(`/fax?status=${s}&limit=500`)));
    counts.append(h("dl", { class: "facts" }, statuses.map((s, i) => [
      h("dt", {}, STATUS_LABEL[s]), h("dd", { class: "stat-sm" }, lists[i].items.length + (lists[i].next_cursor ? "+" : ""))])));
    const failed = lists[3].items.slice(0, 5);
    fails.append(failed.length ? h("ul", {}, failed.map((j) => h("li", {},
      h("a", { href: "#/jobs/" + j.id }, fmtPhone(j.to)), " · ", fmtTime(j.updated_at), " · ",
      h("span", {}, j.failure_reason || j.error || "no reason given")))) : h("p", { class: "muted" }, "No failed faxes. "));
  } catch (e) { counts.append(errorBox(e, "Could not list jobs")); }
}

/* ---- Send ---- */
const STEPS = [["queued", "Queued"], ["converting", "Converting"], ["in_progress", "Dialing / sending"], ["SUCCESS", "Sent"]];
function progressView(job, progress) {
  const order = ["queued", "in_progress", "SUCCESS"];
  const at = job.status === "FAILED" || job.status === "cancelled" ? -1 : order.indexOf(job.status);
  const items = STEPS.filter((s) => s[0] !== "converting").map(([k, label], i) =>
    h("li", { class: at > i || job.status === "SUCCESS" ? "done" : at === i ? "now" : "" }, label));
  if (job.status === "FAILED" || job.status === "cancelled") items.push(h("li", { class: "failed" }, STATUS_LABEL[job.status]));
  const sent = progress && progress.pages_sent != null ? progress.pages_sent : job.pages_sent;
  const total = (progress && progress.pages) || job.pages;
  const stage = progress && progress.stage && job.status === "in_progress" ? ` — ${progress.stage}` : "";
  const pages = stage + (sent != null && total && job.status === "in_progress" ? ` — page ${sent} of ${total}` : total ? ` — ${total} page(s)` : "");
  return h("div", {}, h("ol", { class: "steps", "aria-label": "Progress" }, items),
    h("p", {}, badge(job.status), pages,
      job.status === "FAILED" ? h("span", {}, " — " + (job.failure_reason || job.error || "")) : null),
    h("p", {}, h("a", { href: "#/jobs/" + job.id }, "Open the job's details")));
}
function pageSend() {
  const hidden = needs("fax:send", "Sending");
  if (hidden) { mount("Send a fax", hidden); return; }
  let file = null;
  const to = h("input", { type: "tel", id: "to", name: "to", autocomplete: "off", required: true, placeholder: "+1 555 123 4567" });
  const fileInput = h("input", { type: "file", id: "file", name: "file", accept: ".pdf,.txt,.png,.jpg,.jpeg,.tif,.tiff,application/pdf,text/plain,image/*" });
  const chosen = h("p", { class: "muted", "aria-live": "polite" }, "No file chosen.");
  const pick = (f) => { file = f; chosen.textContent = f ? `${f.name} (${fmtBytes(f.size)})` : "No file chosen."; };
  fileInput.addEventListener("change", () => pick(fileInput.files[0] || null));
  const drop = h("div", { class: "drop" }, "Drop a PDF, text or image file here, or ", h("label", { for: "file", class: "inline" }, "choose one:"), fileInput);
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); if (e.dataTransfer.files[0]) pick(e.dataTransfer.files[0]); });
  const resolution = h("select", { id: "resolution", name: "resolution" }, h("option", { value: "" }, "Gateway default"), h("option", { value: "fine" }, "Fine"), h("option", { value: "standard" }, "Standard"));
  const header = h("input", { type: "text", id: "header_text", name: "header_text", autocomplete: "off", maxlength: "50" });
  const callerId = h("input", { type: "tel", id: "caller_id", name: "caller_id", autocomplete: "off" });
  const bar = h("progress", { max: 100, value: 0, hidden: true, "aria-label": "Upload progress" });
  const out = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "card", onsubmit: (ev) => {
    ev.preventDefault();
    if (!file) { out.replaceChildren(h("p", { class: "notice error", role: "alert" }, "Choose a file to send first.")); return; }
    const fd = new FormData();
    fd.append("to", to.value.trim());
    if (resolution.value) fd.append("resolution", resolution.value);
    if (header.value.trim()) fd.append("header_text", header.value.trim());
    if (callerId.value.trim()) fd.append("caller_id", callerId.value.trim());
    fd.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/fax");
    xhr.setRequestHeader("X-CSRF-Token", S.me.csrf_token);
    xhr.setRequestHeader("Accept", "application/json");
    bar.hidden = false; bar.value = 0;
    $("button", form).disabled = true;
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100); };
    xhr.onload = () => {
      $("button", form).disabled = false;
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      if (xhr.status !== 202 && xhr.status !== 200) {
        out.replaceChildren(h("p", { class: "notice error", role: "alert" }, `Not sent: ${(body && body.detail) || "HTTP " + xhr.status}`));
        return;
      }
      bar.value = 100;
      out.replaceChildren(progressView(body));
      watchJob(body.id, out);
    };
    xhr.onerror = () => { $("button", form).disabled = false; out.replaceChildren(h("p", { class: "notice error", role: "alert" }, "The upload did not reach the gateway: check the connection and try again.")); };
    xhr.send(fd);
  } },
    h("label", { for: "to" }, "Fax number", h("span", { class: "hint" }, "International form (+1…) or a national number of the gateway's default country")),
    to, drop, chosen,
    h("label", { for: "resolution" }, "Resolution"), resolution,
    h("label", { for: "header_text" }, "Page header (optional)", h("span", { class: "hint" }, "Printed at the top of every page; the gateway's default when blank")), header,
    h("label", { for: "caller_id" }, "Caller ID (optional)", h("span", { class: "hint" }, "The number the recipient sees, if the line allows it")), callerId,
    h("p", {}, h("button", { type: "submit" }, "Send fax")), bar);
  mount("Send a fax", form, out);
}
function watchJob(id, out) {
  onLive((ev) => { if (ev.data && ev.data.id === id) out.replaceChildren(progressView(ev.data, ev.progress)); });
  const t = setInterval(async () => {
    try {
      const j = await api("/fax/" + id);
      out.replaceChildren(progressView(j));
      if (["SUCCESS", "FAILED", "cancelled"].includes(j.status)) clearInterval(t);
    } catch (e) { clearInterval(t); out.append(errorBox(e, "Lost track of the job")); }
  }, 1000);
  S.timers.push(t);
}

/* ---- Jobs ---- */
async function pageJobs(q) {
  const hidden = needs("fax:read", "The job list");
  if (hidden) { mount("Jobs", hidden); return; }
  const status = h("select", { id: "f-status", name: "status" }, h("option", { value: "" }, "Any status"),
    Object.entries(STATUS_LABEL).map(([k, v]) => h("option", { value: k, selected: q.status === k }, v)));
  const number = h("input", { type: "tel", id: "f-to", name: "to", value: q.to || "", autocomplete: "off" });
  const form = h("form", { class: "card row", role: "search", onsubmit: (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    if (status.value) p.set("status", status.value);
    if (number.value.trim()) p.set("to", number.value.trim());
    location.hash = "#/jobs" + (p.toString() ? "?" + p : "");
  } },
    h("div", {}, h("label", { for: "f-status" }, "Status"), status),
    h("div", {}, h("label", { for: "f-to" }, "Number"), number),
    h("div", {}, h("button", { type: "submit" }, "Filter")));
  const list = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  mount("Jobs", form, list);
  const p = new URLSearchParams({ limit: "25" });
  if (q.status) p.set("status", q.status);
  if (q.to) p.set("to", q.to);
  if (q.cursor) p.set("cursor", q.cursor);
  let last = "";
  /* the first page refreshes itself; the table is redrawn only when something changed,
     so focus and scrolling stay put */
  const load = async () => {
    const page = await api("/fax?" + p);
    const sig = JSON.stringify(page);
    if (sig === last) return;
    last = sig;
    if (!page.items.length) { list.replaceChildren(h("p", { class: "card muted" }, q.status || q.to ? "No jobs match these filters." : "No faxes yet. Send one from the Send page.")); return; }
    const rows = page.items.map((j) => h("tr", {},
      h("td", { class: "phone" }, h("a", { href: "#/jobs/" + j.id }, fmtPhone(j.to))),
      h("td", {}, badge(j.status)),
      h("td", { class: "num" }, j.pages ?? "—"),
      h("td", { class: "hide-narrow" }, j.backend),
      h("td", { class: "num" }, fmtTime(j.created_at)),
      h("td", { class: "hide-narrow" }, j.failure_reason || "")));
    const nav = h("p", { class: "row" });
    if (q.cursor) nav.append(h("a", { class: "button ghost", href: "#/jobs" + qs(q, null) }, "First page"));
    if (page.next_cursor) nav.append(h("a", { class: "button ghost", href: "#/jobs" + qs(q, page.next_cursor) }, "Next page"));
    list.replaceChildren(h("div", { class: "table-wrap" }, h("table", {},
      h("caption", { class: "muted" }, "Newest first"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "To"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Pages"),
        h("th", { scope: "col", class: "hide-narrow" }, "Backend"), h("th", { scope: "col" }, "Created"), h("th", { scope: "col", class: "hide-narrow" }, "Reason"))),
      h("tbody", {}, rows))), nav);
  };
  try { await load(); } catch (e) { list.replaceChildren(errorBox(e, "Could not list jobs")); return; }
  if (!q.cursor) {
    every(5000, () => load().catch(() => {}));
    onLive((ev) => { if (ev.type.startsWith("fax.")) load().catch(() => {}); });
  }
}
function qs(q, cursor) {
  const p = new URLSearchParams();
  if (q.status) p.set("status", q.status);
  if (q.to) p.set("to", q.to);
  if (cursor) p.set("cursor", cursor);
  return p.toString() ? "?" + p : "";
}
async function showPdf(path, where, title) {
  try {
    const blob = await api(path, { blob: true });
    const url = URL.createObjectURL(blob);
    S.blobs.push(url);
    where.replaceChildren(h("iframe", { class: "pdf", src: url, title }),
      h("p", {}, h("a", { class: "button ghost", href: url, download: title.replace(/\W+/g, "-") + ".pdf" }, "Download PDF")));
  } catch (e) {
    where.replaceChildren(e.status === 404 && path.startsWith("/admin/fax-jobs/") && !/PDF/.test(e.message)
      ? h("p", { class: "notice" }, "This gateway does not serve outbound PDFs to the console yet (GET /admin/fax-jobs/{id}/pdf comes with the settings and admin API).")
      : errorBox(e, "The PDF is not available"));
  }
}
async function pageJob(id) {
  const hidden = needs("fax:read", "Job details");
  if (hidden) { mount("Job", hidden); return; }
  const facts = h("section", { class: "card", "aria-labelledby": "h-facts" }, h("p", { class: "muted" }, "Loading…"));
  const pdf = h("section", { class: "card", "aria-labelledby": "h-pdf" }, h("h2", { id: "h-pdf" }, "Outbound document"), h("p", { class: "muted" }, "Loading…"));
  mount("Job", h("p", {}, h("a", { href: "#/jobs" }, "← All jobs")), facts, pdf);
  let shownPdf = false;
  const draw = async () => {
    let j;
    try { j = await api("/fax/" + id); } catch (e) { facts.replaceChildren(errorBox(e, "Could not load the job")); return true; }
    const done = ["SUCCESS", "FAILED", "cancelled"].includes(j.status);
    const cancel = !done && has("fax:send") ? h("button", { type: "button", class: "danger", onclick: async () => {
      try { await api(`/fax/${id}/cancel`, { method: "POST" }); toast("Job cancelled."); draw(); } catch (e) { toast("Not cancelled: " + e.message); }
    } }, "Cancel this fax") : null;
    const attempts = h("div", { "aria-live": "polite" });
    /* retry of a FAILED job is the admin API's (issue 10): POST /admin/fax-jobs/{id}/retry */
    const retry = j.status === "FAILED" && has("keys:manage") ? h("button", { type: "button", onclick: async () => {
      try { await api(`/admin/fax-jobs/${id}/retry`, { method: "POST" }); toast("Queued again as a new attempt."); draw(); }
      catch (e) { toast(e.status === 404 && e.message === "Not Found" ? "This gateway cannot retry from the console yet (needs the admin API)." : "Not retried: " + e.message); }
    } }, "Retry this fax") : null;
    const f = [["Status", badge(j.status)], ["To", fmtPhone(j.to)], ["Pages", j.pages_sent != null && j.pages ? `${j.pages_sent} of ${j.pages}` : j.pages ?? "—"],
      ["Backend", j.backend], ["Provider id", j.provider_sid || "—"], ["Attempts", `${j.attempts} of ${j.max_attempts}`],
      ["Created", fmtTime(j.created_at)], ["Updated", fmtTime(j.updated_at)], ["Next attempt", fmtTime(j.next_attempt_at)],
      ["Failure reason", j.failure_reason || "—"], ["Duration", j.duration_s != null ? j.duration_s + " s" : "—"],
      ["Remote station", j.remote_station_id || "—"], ["File", j.file_name || "—"], ["Warning", j.warning || "—"], ["Job id", h("code", {}, j.id)]];
    facts.replaceChildren(...[h("h2", { id: "h-facts" }, "Fax to " + fmtPhone(j.to)),
      h("dl", { class: "facts" }, f.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
      attempts,
      cancel && h("p", {}, cancel), retry && h("p", {}, retry)].filter(Boolean));
    loadAttempts(id, attempts);
    if (!shownPdf) {
      shownPdf = true;
      const head = h("h2", { id: "h-pdf" }, "Outbound document");
      if (j.artifacts_deleted_at) pdf.replaceChildren(head, h("p", { class: "muted" }, "The document was deleted by the retention policy on " + fmtTime(j.artifacts_deleted_at) + "."));
      else if (!has("keys:manage")) pdf.replaceChildren(head, h("p", { class: "notice" }, "The document is hidden: it is served to keys with the ", h("code", {}, "keys:manage"), " scope (GET /admin/fax-jobs/{id}/pdf), and the key you signed in with does not have it."));
      else showPdf(`/admin/fax-jobs/${id}/pdf`, pdf, "Outbound fax " + id.slice(0, 8)).then(() => pdf.prepend(head));
    }
    return done;
  };
  if (!(await draw())) { const t = setInterval(async () => { if (await draw()) clearInterval(t); }, 2000); S.timers.push(t); }
}

/* The attempts timeline comes from the admin job route (keys:manage); a gateway
   without it (before the settings/admin API) says so instead. */
async function loadAttempts(id, where) {
  if (!has("keys:manage")) {
    where.replaceChildren(h("p", { class: "muted" }, "The attempts timeline is hidden: it needs the keys:manage scope."));
    return;
  }
  try {
    const d = await api("/admin/fax-jobs/" + id);
    const hist = d.attempt_history || [];
    where.replaceChildren(h("h2", {}, "Attempts"), hist.length ? h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, ["#", "Started", "Ended", "Outcome", "Reason", "Pages", "Provider id"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, hist.map((a) => h("tr", {}, h("td", { class: "num" }, a.attempt), h("td", { class: "num" }, fmtTime(a.started_at)),
        h("td", { class: "num" }, fmtTime(a.ended_at)), h("td", {}, a.outcome || "running"), h("td", {}, a.reason || a.message || "—"),
        h("td", { class: "num" }, a.pages ?? "—"), h("td", {}, a.provider_sid || "—")))))) : h("p", { class: "muted" }, "No attempt has started yet."));
  } catch (e) {
    where.replaceChildren(e.status === 404 && e.message === "Not Found"
      ? h("p", { class: "muted" }, "This gateway has no attempts timeline yet (GET /admin/fax-jobs/{id} comes with the settings and admin API).")
      : errorBox(e, "Could not load the attempts"));
  }
}

/* ---- Inbox ---- */
async function pageInbox() {
  const hidden = needs("inbound:list", "The inbox");
  if (hidden) { mount("Inbox", hidden); return; }
  const list = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const preview = h("section", { class: "card", "aria-labelledby": "h-preview", hidden: true });
  mount("Inbox", list, preview);
  let last = "";
  const load = async () => {
    const page = { items: await api("/inbound?limit=50") };   /* a plain array; X-Next-Cursor pages it */
    const sig = JSON.stringify(page.items);
    if (sig === last) return;                                 /* redrawn only when something changed */
    last = sig;
    if (!page.items.length) { list.replaceChildren(h("p", { class: "card muted" }, "No faxes received yet. New ones appear here by themselves.")); return; }
    list.replaceChildren(h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "From"), h("th", { scope: "col" }, "To"), h("th", { scope: "col" }, "Pages"),
        h("th", { scope: "col" }, "Received"), h("th", { scope: "col", class: "hide-narrow" }, "Size"), h("th", { scope: "col" }, "Open"))),
      h("tbody", {}, page.items.map((f) => h("tr", {},
        h("td", { class: "phone" }, f.fr ? fmtPhone(f.fr) : h("span", { class: "muted" }, "Unknown")), h("td", { class: "phone" }, fmtPhone(f.to)), h("td", { class: "num" }, f.pages ?? "—"),
        h("td", { class: "num" }, fmtTime(f.received_at || f.created_at)), h("td", { class: "num hide-narrow" }, fmtBytes(f.size_bytes)),
        h("td", {}, f.status === "deleted" ? h("span", { class: "muted" }, "Deleted") : has("inbound:read")
          ? h("button", { type: "button", class: "ghost", "aria-label": `Preview fax from ${f.fr ? fmtPhone(f.fr) : "unknown sender"} received ${fmtTime(f.received_at || f.created_at)}`, onclick: () => {
            preview.hidden = false;
            preview.replaceChildren(h("h2", { id: "h-preview" }, (f.fr ? "Fax from " + fmtPhone(f.fr) : "Fax") + " received " + fmtTime(f.received_at || f.created_at)), h("p", { class: "muted" }, "Loading…"));
            const body = h("div");
            preview.append(body);
            showPdf(`/inbound/${f.id}/pdf`, body, "Inbound fax " + f.id.slice(0, 8)).then(() => preview.children[1].remove());
            preview.scrollIntoView();
          } }, "Preview") : h("span", { class: "muted", title: "needs inbound:read" }, "Needs inbound:read"))))))));
  };
  try { await load(); } catch (e) { list.replaceChildren(errorBox(e, "Could not list received faxes")); return; }
  every(5000, () => load().catch(() => {}));
  onLive((ev) => { if (ev.type === "inbound.received") load().catch(() => {}); });
}

/* ---- Keys ---- */
const SCOPES = [["fax:send", "Send faxes"], ["fax:read", "Read jobs and their documents"], ["inbound:list", "List received faxes"],
  ["inbound:read", "Open received faxes"], ["fax:all", "See every owner's work"], ["keys:manage", "Administer keys and settings"]];
async function pageKeys() {
  const hidden = needs("keys:manage", "Key management");
  if (hidden) { mount("API keys", hidden); return; }
  const shown = h("div", { "aria-live": "polite" });
  const name = h("input", { type: "text", id: "k-name", name: "name", required: true, autocomplete: "off" });
  const owner = h("input", { type: "text", id: "k-owner", name: "owner", autocomplete: "off" });
  const expiry = h("input", { type: "date", id: "k-expires", name: "expires" });
  const boxes = SCOPES.map(([s, label]) => h("label", { class: "check" },
    h("input", { type: "checkbox", name: "scope", value: s, checked: s === "fax:send" || s === "fax:read" }), h("span", {}, h("code", {}, s), " — " + label)));
  const list = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const form = h("form", { class: "card", onsubmit: async (ev) => {
    ev.preventDefault();
    const scopes = boxes.map((b) => $("input", b)).filter((i) => i.checked).map((i) => i.value);
    if (!scopes.length) { shown.replaceChildren(h("p", { class: "notice error", role: "alert" }, "Tick at least one scope.")); return; }
    const body = { name: name.value.trim(), owner: owner.value.trim() || undefined, scopes };
    if (expiry.value) body.expires_at = new Date(expiry.value + "T23:59:59").toISOString().replace(/\.\d+Z$/, "Z");
    try {
      const k = await api("/admin/api-keys", { method: "POST", json: body });
      showToken(k.key_id, k.token, "created");
      form.reset();
      await loadKeys();
    } catch (e) { shown.replaceChildren(errorBox(e, "Key not created")); }
  } },
    h("h2", {}, "Create a key"),
    h("label", { for: "k-name" }, "Name", h("span", { class: "hint" }, "Who or what uses it, e.g. \"billing scanner\"")), name,
    h("label", { for: "k-owner" }, "Owner", h("span", { class: "hint" }, "Keys of one owner see each other's faxes; blank means the key is its own owner")), owner,
    h("fieldset", {}, h("legend", {}, "Scopes"), boxes),
    h("label", { for: "k-expires" }, "Expires", h("span", { class: "hint" }, "Optional; the key stops working at the end of that day")), expiry,
    h("p", {}, h("button", { type: "submit" }, "Create key")));
  const showToken = (keyId, token, what) => {
    const copy = h("button", { type: "button", onclick: async () => {
      try { await navigator.clipboard.writeText(token); toast("Token copied."); } catch (e) { toast("Copy failed: select the token and copy it by hand."); }
    } }, "Copy token");
    shown.replaceChildren(h("div", { class: "card notice good" }, h("h2", {}, `Key ${keyId} ${what}`),
      h("p", {}, "Copy the token now: it is shown only this once and the gateway keeps only a hash of it."),
      h("code", { class: "token", id: "new-token" }, token), copy));
    shown.scrollIntoView();
  };
  const loadKeys = async () => {
    const keys = await api("/admin/api-keys");
    list.replaceChildren(keys.length ? h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, ["Key", "Name", "Scopes", "Last used", "State", "Action"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, keys.map((k) => h("tr", {},
        h("td", {}, h("code", {}, k.key_id)), h("td", {}, k.name || "—"), h("td", {}, k.scopes.join(", ")),
        h("td", { class: "num" }, fmtTime(k.last_used_at)),
        h("td", {}, k.revoked_at ? h("span", { class: "badge bad" }, "Revoked") : k.expires_at && new Date(k.expires_at) < new Date()
          ? h("span", { class: "badge warn" }, "Expired") : h("span", { class: "badge ok" }, k.expires_at ? "Active until " + fmtTime(k.expires_at) : "Active")),
        h("td", {}, h("div", { class: "actions" }, k.revoked_at ? "" : h("button", { type: "button", class: "ghost", "aria-label": `Rotate key ${k.key_id}`, onclick: async () => {
          if (!confirm(`Rotate key ${k.key_id}? The old token stops working at once; the new one is shown here once.`)) return;
          try {
            const r = await api(`/admin/api-keys/${k.key_id}/rotate`, { method: "POST" });
            showToken(r.key_id, r.token, "rotated");
            await loadKeys();
          } catch (e) { toast("Not rotated: " + e.message); }
        } }, "Rotate"), k.revoked_at ? "" : h("button", { type: "button", class: "danger", "aria-label": `Revoke key ${k.key_id}`, onclick: async () => {
          if (!confirm(`Revoke key ${k.key_id}? Anything using it stops working at once.`)) return;
          try { await api("/admin/api-keys/" + k.key_id, { method: "DELETE" }); toast(`Key ${k.key_id} revoked.`); await loadKeys(); } catch (e) { toast("Not revoked: " + e.message); }
        } }, "Revoke")))))))) : h("p", { class: "muted" }, "No keys in the database yet."));
  };
  mount("API keys", shown, form, h("section", { class: "card", "aria-labelledby": "h-keys" }, h("h2", { id: "h-keys" }, "Keys"), list));
  try { await loadKeys(); } catch (e) { list.replaceChildren(errorBox(e, "Could not list keys")); }
}

/* ---- Settings, Setup Wizard, Diagnostics: settings.js, wizard.js, diagnostics.js (PAGES) ---- */

/* ---- router ---- */
function route() {
  if (!S.me) return;
  clearPage();
  const [path, query] = (location.hash.slice(1) || "/dashboard").split("?");
  const q = Object.fromEntries(new URLSearchParams(query || ""));
  const parts = path.split("/").filter(Boolean);
  const page = parts[0] || "dashboard";
  document.querySelectorAll("#nav a").forEach((a) => {
    if (a.dataset.page === page) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  });
  const pages = { dashboard: pageDashboard, send: pageSend, jobs: () => (parts[1] ? pageJob(parts[1]) : pageJobs(q)), inbox: pageInbox, keys: pageKeys };
  (PAGES[page] || pages[page] || pageDashboard)(parts, q);
  $("#view").focus({ preventScroll: true });
}
function start() {
  openLive();
  $("#nav").hidden = false;
  $("#sign-out").hidden = false;
  const who = $("#who");
  who.hidden = false;
  who.textContent = `Key ${S.me.key_id}` + (S.me.bootstrap ? " (bootstrap)" : "");
  route();
}

/* ---- theme: the system's unless the person picked one here ---- */
function applyTheme(t) {
  const root = document.documentElement;
  if (t) root.dataset.theme = t; else delete root.dataset.theme;
  const dark = t ? t === "dark" : matchMedia("(prefers-color-scheme: dark)").matches;
  const b = $("#theme-toggle");
  b.textContent = dark ? "Light theme" : "Dark theme";
  b.setAttribute("aria-pressed", String(dark));
}

document.addEventListener("DOMContentLoaded", async () => {
  applyTheme(localStorage.getItem("faxbot-theme"));
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => applyTheme(localStorage.getItem("faxbot-theme")));
  $("#theme-toggle").addEventListener("click", () => {
    const dark = document.documentElement.dataset.theme ? document.documentElement.dataset.theme === "dark" : matchMedia("(prefers-color-scheme: dark)").matches;
    const t = dark ? "light" : "dark";
    localStorage.setItem("faxbot-theme", t);
    applyTheme(t);
  });
  $("#sign-out").addEventListener("click", async () => {
    try { await api("/admin/ui/session", { method: "DELETE" }); } catch (e) { /* already gone */ }
    signedOut("Signed out.");
  });
  window.addEventListener("hashchange", route);
  try { S.me = await api("/admin/ui/session", { signin: true }); start(); } catch (e) { signedOut(null); }
});
