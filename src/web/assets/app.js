/* Faxbot Admin Console — plain JavaScript, no framework. The API key is pasted
 * once and sent to POST /admin/ui/session; from then on an HttpOnly cookie stands
 * for it and the page only ever holds the session's CSRF token (in memory).
 * Every page asks the same API routes a script would. */
"use strict";

const S = { me: null, timers: [], blobs: [], unsubs: [] };
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
  return b < 1024 ? b + " B" : b < 1048576 ? (b / 1024).toFixed(1) + " KB" : b < 1073741824 ? (b / 1048576).toFixed(1) + " MB"
    : (b / 1073741824).toFixed(1) + " GB";
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

/* ---- live events: GET /events (Server-Sent Events; the session cookie
   authenticates it, EventSource resumes with Last-Event-ID after a drop). Pages
   subscribe with onLive; only while the stream is down do they poll, slowly
   (whenOffline), so an open console costs the gateway one idle connection. ---- */
const live = { es: null, state: "off", subs: new Set(), retry: null, recent: [] };
const EVENT_TYPES = ["fax.queued", "fax.progress", "fax.retry_scheduled", "fax.succeeded", "fax.failed", "fax.cancelled", "inbound.received"];
function liveState(state) {
  const was = live.state;
  live.state = state;
  const el = $("#live-state");
  if (el) {
    el.hidden = state === "off";
    el.className = "live " + state;
    el.textContent = state === "open" ? "Live" : state === "connecting" ? "Reconnecting…" : "Live updates off";
    el.title = state === "open" ? "Updates arrive as they happen (GET /events)"
      : state === "connecting" ? "The event stream dropped; the browser is reconnecting" : "No event stream: pages refresh every 15 s";
  }
  /* back after a gap: pages reload what they show (resync), in case they missed something */
  if (state === "open" && was !== "open") live.subs.forEach((fn) => fn({ type: "resync" }));
}
function openLive() {
  if (live.es || !window.EventSource || !S.me) return;
  clearTimeout(live.retry);
  const es = new EventSource("/events");
  live.es = es;
  liveState("connecting");
  es.onopen = () => liveState("open");
  es.onerror = () => {
    if (es.readyState !== EventSource.CLOSED) { liveState("connecting"); return; }
    /* refused (no scope for any event, too many streams) or gone: poll, try again later */
    live.es = null;
    liveState("down");
    live.retry = setTimeout(openLive, 30000);
  };
  for (const t of EVENT_TYPES) es.addEventListener(t, (m) => {
    let ev;
    try { ev = JSON.parse(m.data); } catch (e) { return; }
    live.recent.push(ev);                        /* for a page that learns a job's id just after */
    if (live.recent.length > 50) live.recent.shift();
    live.subs.forEach((fn) => fn(ev));
  });
}
function closeLive() { clearTimeout(live.retry); if (live.es) live.es.close(); live.es = null; liveState("off"); }
function onLive(fn) { live.subs.add(fn); S.unsubs.push(() => live.subs.delete(fn)); }
/* fn at most once per ms (the last call wins): a burst of events is one reload */
function debounce(ms, fn) {
  let t = null;
  const d = () => { clearTimeout(t); t = setTimeout(fn, ms); };
  S.unsubs.push(() => clearTimeout(t));
  return d;
}
function whenOffline(ms, fn) { every(ms, () => { if (live.state !== "open") fn(); }); }

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
  setUnread(0);
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
  /* today's jobs by status (since local midnight), redrawn when a job changes */
  const load = async () => {
    const midnight = new Date();
    midnight.setHours(0, 0, 0, 0);
    const since = encodeURIComponent(midnight.toISOString());
    try {
      const lists = await Promise.all(statuses.map((s) => api(`/fax?status=${s}&since=${since}&limit=500`)));
      const failed = await api("/fax?status=FAILED&limit=5");
      counts.replaceChildren(h("h2", { id: "h-counts" }, "Jobs by status today"), h("dl", { class: "facts" }, statuses.map((s, i) => [
        h("dt", {}, STATUS_LABEL[s]), h("dd", { class: "stat-sm" }, lists[i].items.length + (lists[i].next_cursor ? "+" : ""))])));
      fails.replaceChildren(h("h2", { id: "h-fails" }, "Recent failures"), failed.items.length ? h("ul", {}, failed.items.map((j) => h("li", {},
        h("a", { href: "#/jobs/" + j.id }, fmtPhone(j.to)), " · ", fmtTime(j.updated_at), " · ",
        h("span", {}, j.failure_reason || j.error || "no reason given")))) : h("p", { class: "muted" }, "No failed faxes."));
    } catch (e) { counts.append(errorBox(e, "Could not list jobs")); }
  };
  await load();
  const reload = debounce(500, load);
  onLive((ev) => { if (ev.type === "resync" || ev.type.startsWith("fax.")) reload(); });
  whenOffline(15000, load);
}

/* ---- Send ---- */
/* The steps a fax goes through, from the job's status and its last fax.progress
   stage (converting, converted, dialing, submitted, sending). */
const STEPS = [["queued", "Queued"], ["converting", "Converting"], ["dialing", "Dialing"], ["sending", "Sending"], ["sent", "Sent"]];
function stepOf(job, progress) {
  if (job.status === "SUCCESS") return "sent";
  if (job.status === "queued") return "queued";
  if (job.status !== "in_progress") return null;
  const st = progress && progress.stage;
  if (st === "converting") return "converting";
  if (st === "sending" || (!st && job.pages_sent > 0)) return "sending";
  return "dialing";
}
function progressView(job, progress, retry) {
  const step = stepOf(job, progress);
  const at = STEPS.findIndex((s) => s[0] === step);
  const items = STEPS.map(([k, label], i) => h("li", { class: step === "sent" || at > i ? "done" : at === i ? "now" : "" }, label));
  if (job.status === "FAILED" || job.status === "cancelled") items.push(h("li", { class: "failed" }, STATUS_LABEL[job.status]));
  const sent = progress && progress.pages_sent != null ? progress.pages_sent : job.pages_sent;
  const total = (progress && progress.pages) || job.pages;
  let detail = "";
  if (step === "converting") detail = "converting the document into fax pages";
  else if (step === "dialing") detail = total ? `dialing — ${total} page${total > 1 ? "s" : ""} to send` : "dialing";
  else if (step === "sending") detail = total ? `page ${Math.max(sent || 0, 1)} of ${total}` : "sending";
  else if (step === "sent") detail = total ? `${total} page${total > 1 ? "s" : ""} sent` : "sent";
  else if (step === "queued" && retry) detail = `will try again ${fmtTime(retry.at)}${retry.reason ? " (last try: " + retry.reason + ")" : ""}`;
  else if (step === "queued") detail = "waiting for a free line";
  return h("div", { class: "progress-view" }, h("ol", { class: "steps", "aria-label": "Progress" }, items),
    h("p", { class: "progress-text" }, badge(job.status), detail ? " — " + detail : "",
      job.status === "FAILED" ? h("span", { class: "reason" }, " — " + (job.failure_reason || job.error || "no reason given")) : null),
    h("p", {}, h("a", { href: "#/jobs/" + job.id }, "Open the job's details")));
}
const FILE_TYPES = ".pdf,.txt,.png,.jpg,.jpeg,.tif,.tiff,application/pdf,text/plain,image/*";
function pageSend() {
  const hidden = needs("fax:send", "Sending");
  if (hidden) { mount("Send a fax", hidden); return; }
  /* several files become one fax, in this order (POST /fax with several 'file' parts) */
  let files = [];
  let dragFrom = -1;
  const to = h("input", { type: "tel", id: "to", name: "to", autocomplete: "off", required: true, placeholder: "+1 555 123 4567" });
  const fileInput = h("input", { type: "file", id: "file", name: "file", multiple: true, accept: FILE_TYPES });
  const list = h("ol", { class: "files", "aria-label": "Files, sent in this order" });
  const chosen = h("p", { class: "muted", "aria-live": "polite" });
  const move = (from, where) => {
    if (where < 0 || where >= files.length || from === where) return;
    const [f] = files.splice(from, 1);
    files.splice(where, 0, f);
    drawFiles();
  };
  const drawFiles = () => {
    list.replaceChildren(...files.map((f, i) => {
      const li = h("li", { draggable: "true", class: "file-item" },
        h("span", { class: "file-name" }, f.name), h("span", { class: "muted" }, " " + fmtBytes(f.size)),
        h("span", { class: "actions" },
          h("button", { type: "button", class: "ghost small", "aria-label": `Move ${f.name} up`, disabled: i === 0, onclick: () => move(i, i - 1) }, "↑"),
          h("button", { type: "button", class: "ghost small", "aria-label": `Move ${f.name} down`, disabled: i === files.length - 1, onclick: () => move(i, i + 1) }, "↓"),
          h("button", { type: "button", class: "ghost small", "aria-label": `Remove ${f.name}`, onclick: () => { files.splice(i, 1); drawFiles(); } }, "Remove")));
      li.addEventListener("dragstart", (e) => { dragFrom = i; e.dataTransfer.effectAllowed = "move"; e.dataTransfer.setData("text/plain", String(i)); });
      li.addEventListener("dragover", (e) => { if (dragFrom >= 0) e.preventDefault(); });
      li.addEventListener("drop", (e) => { if (dragFrom < 0) return; e.preventDefault(); e.stopPropagation(); move(dragFrom, i); dragFrom = -1; });
      li.addEventListener("dragend", () => { dragFrom = -1; });
      return li;
    }));
    list.hidden = !files.length;
    const total = files.reduce((n, f) => n + f.size, 0);
    chosen.textContent = !files.length ? "No file chosen." : files.length === 1 ? `1 file (${fmtBytes(total)}).`
      : `${files.length} files (${fmtBytes(total)}): they become one fax, in this order. Drag them, or use the arrows, to change it.`;
  };
  const add = (fl) => { files = files.concat(Array.from(fl || [])); drawFiles(); };
  fileInput.addEventListener("change", () => { add(fileInput.files); fileInput.value = ""; });
  const drop = h("div", { class: "drop" }, "Drop PDF, text or image files here, or ", h("label", { for: "file", class: "inline" }, "choose them:"), fileInput);
  drop.addEventListener("dragover", (e) => { if (dragFrom < 0) { e.preventDefault(); drop.classList.add("over"); } });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { if (dragFrom >= 0) return; e.preventDefault(); drop.classList.remove("over"); add(e.dataTransfer.files); });
  drawFiles();
  const resolution = h("select", { id: "resolution", name: "resolution" }, h("option", { value: "" }, "Gateway default"), h("option", { value: "fine" }, "Fine"), h("option", { value: "standard" }, "Standard"));
  const header = h("input", { type: "text", id: "header_text", name: "header_text", autocomplete: "off", maxlength: "50" });
  const callerId = h("input", { type: "tel", id: "caller_id", name: "caller_id", autocomplete: "off" });
  const bar = h("progress", { max: 100, value: 0, hidden: true, "aria-label": "Upload progress" });
  const out = h("div", { id: "send-progress", "aria-live": "polite" });
  const form = h("form", { class: "card", onsubmit: (ev) => {
    ev.preventDefault();
    if (!files.length) { out.replaceChildren(h("p", { class: "notice error", role: "alert" }, "Choose a file to send first.")); return; }
    const fd = new FormData();
    fd.append("to", to.value.trim());
    if (resolution.value) fd.append("resolution", resolution.value);
    if (header.value.trim()) fd.append("header_text", header.value.trim());
    if (callerId.value.trim()) fd.append("caller_id", callerId.value.trim());
    for (const f of files) fd.append("file", f, f.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/fax");
    xhr.setRequestHeader("X-CSRF-Token", S.me.csrf_token);
    xhr.setRequestHeader("Accept", "application/json");
    bar.hidden = false; bar.value = 0;
    $("button[type=submit]", form).disabled = true;
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100); };
    xhr.onload = () => {
      $("button[type=submit]", form).disabled = false;
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
    xhr.onerror = () => { $("button[type=submit]", form).disabled = false; out.replaceChildren(h("p", { class: "notice error", role: "alert" }, "The upload did not reach the gateway: check the connection and try again.")); };
    xhr.send(fd);
  } },
    h("label", { for: "to" }, "Fax number", h("span", { class: "hint" }, "International form (+1…) or a national number of the gateway's default country")),
    to, drop, list, chosen,
    h("label", { for: "resolution" }, "Resolution"), resolution,
    h("label", { for: "header_text" }, "Page header (optional)", h("span", { class: "hint" }, "Printed at the top of every page; the gateway's default when blank")), header,
    h("label", { for: "caller_id" }, "Caller ID (optional)", h("span", { class: "hint" }, "The number the recipient sees, if the line allows it")), callerId,
    h("p", {}, h("button", { type: "submit" }, "Send fax")), bar);
  mount("Send a fax", form, out);
}
/* Follows one job from its events (and the ones that came before the page knew its
   id); polls only while the event stream is down. */
function watchJob(id, out) {
  const st = { job: null, progress: null, retry: null };
  const draw = () => { if (st.job) out.replaceChildren(progressView(st.job, st.progress, st.retry)); };
  const take = (ev) => {
    if (!ev.data || ev.data.id !== id) return;
    if (st.job && ev.data.updated_at && st.job.updated_at && ev.data.updated_at < st.job.updated_at) return;   /* older news */
    st.job = ev.data;
    if (ev.type === "fax.progress" && ev.progress) st.progress = ev.progress;
    else if (ev.type !== "fax.progress") st.progress = null;
    if (ev.type === "fax.retry_scheduled") st.retry = { at: ev.data.next_attempt_at, reason: ev.data.failure_reason || ev.data.error };
    draw();
  };
  const fetchJob = async () => {
    try { st.job = await api("/fax/" + id); draw(); } catch (e) { out.append(errorBox(e, "Lost track of the job")); }
  };
  live.recent.forEach(take);
  onLive((ev) => { if (ev.type === "resync") fetchJob(); else take(ev); });
  if (live.state !== "open") fetchJob();
  whenOffline(3000, () => { if (!st.job || !["SUCCESS", "FAILED", "cancelled"].includes(st.job.status)) fetchJob(); });
}

/* ---- Jobs ---- */
const BACKENDS = ["loopback", "phaxio", "sinch", "signalwire", "sip", "freeswitch"];
const JOB_FILTERS = ["status", "to", "backend", "from", "until"];
/* a date field (the browser's day) as the ISO time of that local midnight */
function dayStart(d, plusDays) {
  const [y, m, day] = d.split("-").map(Number);
  return new Date(y, m - 1, day + (plusDays || 0)).toISOString();
}
async function pageJobs(q) {
  const hidden = needs("fax:read", "The job list");
  if (hidden) { mount("Jobs", hidden); return; }
  const status = h("select", { id: "f-status", name: "status" }, h("option", { value: "" }, "Any status"),
    Object.entries(STATUS_LABEL).map(([k, v]) => h("option", { value: k, selected: q.status === k }, v)));
  const number = h("input", { type: "tel", id: "f-to", name: "to", value: q.to || "", autocomplete: "off" });
  const backend = h("select", { id: "f-backend", name: "backend" }, h("option", { value: "" }, "Any backend"),
    BACKENDS.map((b) => h("option", { value: b, selected: q.backend === b }, b)));
  const from = h("input", { type: "date", id: "f-from", name: "from", value: q.from || "" });
  const until = h("input", { type: "date", id: "f-until", name: "until", value: q.until || "" });
  const form = h("form", { class: "card row", role: "search", onsubmit: (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    if (status.value) p.set("status", status.value);
    if (number.value.trim()) p.set("to", number.value.trim());
    if (backend.value) p.set("backend", backend.value);
    if (from.value) p.set("from", from.value);
    if (until.value) p.set("until", until.value);
    location.hash = "#/jobs" + (p.toString() ? "?" + p : "");
  } },
    h("div", {}, h("label", { for: "f-status" }, "Status"), status),
    h("div", {}, h("label", { for: "f-to" }, "Number"), number),
    h("div", {}, h("label", { for: "f-backend" }, "Backend"), backend),
    h("div", {}, h("label", { for: "f-from" }, "Created from"), from),
    h("div", {}, h("label", { for: "f-until" }, "Created until"), until),
    h("div", {}, h("button", { type: "submit" }, "Filter")));
  const list = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  mount("Jobs", form, list);
  const p = new URLSearchParams({ limit: "25" });
  if (q.status) p.set("status", q.status);
  if (q.to) p.set("to", q.to);
  if (q.backend) p.set("backend", q.backend);
  if (q.from) p.set("since", dayStart(q.from));
  if (q.until) p.set("until", dayStart(q.until, 1));        /* the whole last day */
  if (q.cursor) p.set("cursor", q.cursor);
  const filtered = JOB_FILTERS.some((k) => q[k]);
  let last = "";
  /* the first page follows the jobs live; the table is redrawn only when something
     changed, so focus and scrolling stay put */
  const load = async () => {
    const page = await api("/fax?" + p);
    const sig = JSON.stringify(page);
    if (sig === last) return;
    last = sig;
    if (!page.items.length) { list.replaceChildren(h("p", { class: "card muted" }, filtered ? "No jobs match these filters." : "No faxes yet. Send one from the Send page.")); return; }
    const rows = page.items.map((j) => h("tr", { "data-job": j.id },
      h("td", { class: "phone" }, h("a", { href: "#/jobs/" + j.id }, fmtPhone(j.to))),
      h("td", {}, badge(j.status)),
      h("td", { class: "num" }, j.pages ?? "—"),
      h("td", { class: "hide-narrow" }, j.backend),
      h("td", { class: "num" }, fmtTime(j.created_at)),
      h("td", { class: "hide-narrow" }, j.failure_reason || "")));
    const nav = h("p", { class: "row" });
    if (q.cursor) nav.append(h("a", { class: "button ghost", href: "#/jobs" + qs(q, null) }, "First page"));
    if (page.next_cursor) nav.append(h("a", { class: "button ghost", href: "#/jobs" + qs(q, page.next_cursor) }, "Next page"));
    list.replaceChildren(h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Jobs" }, h("table", {},
      h("caption", { class: "muted" }, "Newest first" + (q.cursor ? "" : " · updates live")),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "To"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Pages"),
        h("th", { scope: "col", class: "hide-narrow" }, "Backend"), h("th", { scope: "col" }, "Created"), h("th", { scope: "col", class: "hide-narrow" }, "Reason"))),
      h("tbody", {}, rows))), nav);
  };
  try { await load(); } catch (e) { list.replaceChildren(errorBox(e, "Could not list jobs")); return; }
  if (!q.cursor) {
    const reload = debounce(300, () => load().catch(() => {}));
    onLive((ev) => { if (ev.type === "resync" || ev.type.startsWith("fax.")) reload(); });
    whenOffline(15000, () => load().catch(() => {}));
  }
}
function qs(q, cursor) {
  const p = new URLSearchParams();
  for (const k of JOB_FILTERS) if (q[k]) p.set(k, q[k]);
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
/* Page thumbnails of a fax image (GET …/thumbnail?page=N, PNG): what the recipient
   sees, or what arrived. Each opens larger in a new tab. */
function showThumbs(where, base, pages, what) {
  const figs = [];
  for (let n = 1; n <= pages; n++) {
    const big = `${base}?page=${n}&width=864`;
    figs.push(h("figure", { class: "thumb" },
      h("a", { href: big, target: "_blank", rel: "noopener", "aria-label": `${what}: page ${n} of ${pages}, larger, in a new tab` },
        h("img", { src: `${base}?page=${n}&width=240`, alt: `${what}, page ${n} of ${pages}`, width: "240", loading: "lazy", decoding: "async" })),
      h("figcaption", {}, `Page ${n} of ${pages}`)));
  }
  where.replaceChildren(h("div", { class: "thumbs" }, figs));
}
async function pageJob(id) {
  const hidden = needs("fax:read", "Job details");
  if (hidden) { mount("Job", hidden); return; }
  const facts = h("section", { class: "card", "aria-labelledby": "h-facts" }, h("p", { class: "muted" }, "Loading…"));
  const thumbs = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const pages = h("section", { class: "card", "aria-labelledby": "h-pages" }, h("h2", { id: "h-pages" }, "Fax pages"),
    h("p", { class: "hint" }, "What the recipient's machine prints: the document as fax pages (black and white, at the job's resolution)."), thumbs);
  const pdf = h("section", { class: "card", "aria-labelledby": "h-pdf" }, h("h2", { id: "h-pdf" }, "Outbound document"), h("p", { class: "muted" }, "Loading…"));
  mount("Job", h("p", {}, h("a", { href: "#/jobs" }, "← All jobs")), facts, pages, pdf);
  let shownPdf = false, shownPages = 0;
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
    const n = j.pages > 0 ? j.pages : 0;
    if (j.artifacts_deleted_at) thumbs.replaceChildren(h("p", { class: "muted" }, "The fax image was deleted by the retention policy."));
    else if (n && n !== shownPages) { shownPages = n; showThumbs(thumbs, `/fax/${id}/thumbnail`, n, "Fax to " + fmtPhone(j.to)); }
    else if (!n) thumbs.replaceChildren(h("p", { class: "muted" }, j.status === "FAILED" || j.status === "cancelled"
      ? "The document was never turned into fax pages." : "The pages appear here once the document is converted."));
    if (!shownPdf) {
      shownPdf = true;
      const head = h("h2", { id: "h-pdf" }, "Outbound document");
      if (j.artifacts_deleted_at) pdf.replaceChildren(head, h("p", { class: "muted" }, "The document was deleted by the retention policy on " + fmtTime(j.artifacts_deleted_at) + "."));
      else if (!has("keys:manage")) pdf.replaceChildren(head, h("p", { class: "notice" }, "The document is hidden: it is served to keys with the ", h("code", {}, "keys:manage"), " scope (GET /admin/fax-jobs/{id}/pdf), and the key you signed in with does not have it."));
      else showPdf(`/admin/fax-jobs/${id}/pdf`, pdf, "Outbound fax " + id.slice(0, 8)).then(() => pdf.prepend(head));
    }
    return done;
  };
  /* follows the job live: every event of it redraws (a burst once) */
  const redraw = debounce(200, draw);
  onLive((ev) => { if (ev.type === "resync" || (ev.data && ev.data.id === id)) redraw(); });
  if (!(await draw())) whenOffline(5000, draw);
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
    where.replaceChildren(h("h2", {}, "Attempts"), hist.length ? h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Attempts" }, h("table", {},
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
/* The unread count beside "Inbox" in the menu (X-Unread-Count of GET /inbound). */
function setUnread(n) {
  const el = $("#unread-count");
  if (!el) return;
  el.hidden = !(n > 0);
  el.replaceChildren(...(n > 0 ? [String(n), h("span", { class: "sr-only" }, " unread")] : []));
}
async function refreshUnread() {
  if (!has("inbound:list")) return;
  try {
    const r = await fetch("/inbound?limit=1", { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (r.ok) setUnread(Number(r.headers.get("X-Unread-Count") || 0));
  } catch (e) { /* the count waits for the next event */ }
}
async function pageInbox() {
  const hidden = needs("inbound:list", "The inbox");
  if (hidden) { mount("Inbox", hidden); return; }
  const summary = h("p", { class: "muted", "aria-live": "polite" });
  const list = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const preview = h("section", { class: "card", "aria-labelledby": "h-preview", hidden: true });
  mount("Inbox", summary, list, preview);
  let last = "", seen = null;
  const fresh = new Set();                                    /* arrived while the page was open */
  const mark = async (f, read) => {
    try {
      await api(`/inbound/${f.id}/${read ? "read" : "unread"}`, { method: "POST" });
      toast(read ? "Marked read." : "Marked unread.");
      await load();
    } catch (e) { toast("Not changed: " + e.message); }
  };
  const open = (f) => {
    const from = f.fr ? fmtPhone(f.fr) : "unknown sender";
    preview.hidden = false;
    const thumbs = h("div");
    const body = h("div", {}, h("p", { class: "muted" }, "Loading the PDF…"));
    preview.replaceChildren(h("h2", { id: "h-preview" }, `Fax from ${from} received ${fmtTime(f.received_at || f.created_at)}`), thumbs, body);
    if (f.pages > 0) showThumbs(thumbs, `/inbound/${f.id}/thumbnail`, f.pages, "Fax from " + from);
    showPdf(`/inbound/${f.id}/pdf`, body, "Inbound fax " + f.id.slice(0, 8));
    preview.scrollIntoView();
  };
  const load = async () => {
    const r = await fetch("/inbound?limit=50", { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!r.ok) { let d = null; try { d = (await r.json()).detail; } catch (e) { d = null; } throw new ApiError(r.status, d || `HTTP ${r.status}`); }
    const items = await r.json();                             /* a plain array; X-Next-Cursor pages it */
    const unread = Number(r.headers.get("X-Unread-Count") || 0);
    setUnread(unread);
    if (seen) for (const f of items) if (!seen.has(f.id)) fresh.add(f.id);
    seen = new Set(items.map((f) => f.id));
    const sig = JSON.stringify(items) + [...fresh].join();
    if (sig === last) return;                                 /* redrawn only when something changed */
    last = sig;
    summary.textContent = !items.length ? "" : unread ? `${unread} unread. New faxes appear here by themselves.` : "Everything is read. New faxes appear here by themselves.";
    if (!items.length) { list.replaceChildren(h("p", { class: "card muted" }, "No faxes received yet. New ones appear here by themselves.")); return; }
    list.replaceChildren(h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Received faxes" }, h("table", {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "From"), h("th", { scope: "col" }, "To"), h("th", { scope: "col" }, "Pages"),
        h("th", { scope: "col" }, "Received"), h("th", { scope: "col", class: "hide-narrow" }, "Size"), h("th", { scope: "col" }, "Actions"))),
      h("tbody", {}, items.map((f) => {
        const from = f.fr ? fmtPhone(f.fr) : "unknown sender";
        const when = fmtTime(f.received_at || f.created_at);
        const unreadRow = !f.read_at && f.status !== "deleted";
        return h("tr", { class: (unreadRow ? "unread" : "") + (fresh.has(f.id) ? " fresh" : ""), "data-inbound": f.id },
          h("td", { class: "phone" }, unreadRow ? h("span", { class: "badge new" }, "New") : null, unreadRow ? " " : null,
            f.fr ? fmtPhone(f.fr) : h("span", { class: "muted" }, "Unknown")),
          h("td", { class: "phone" }, fmtPhone(f.to)), h("td", { class: "num" }, f.pages ?? "—"),
          h("td", { class: "num" }, when), h("td", { class: "num hide-narrow" }, fmtBytes(f.size_bytes)),
          h("td", {}, f.status === "deleted" ? h("span", { class: "muted" }, "Deleted") : !has("inbound:read")
            ? h("span", { class: "muted", title: "needs inbound:read" }, "Needs inbound:read")
            : h("div", { class: "actions" },
              h("button", { type: "button", class: "ghost", "aria-label": `Preview fax from ${from} received ${when}`, onclick: () => open(f) }, "Preview"),
              h("button", { type: "button", class: "ghost", "aria-label": `Mark fax from ${from} received ${when} ${unreadRow ? "read" : "unread"}`,
                onclick: () => mark(f, unreadRow) }, unreadRow ? "Mark read" : "Mark unread"))));
      })))));
  };
  try { await load(); } catch (e) { list.replaceChildren(errorBox(e, "Could not list received faxes")); return; }
  const reload = debounce(300, () => load().catch(() => {}));
  onLive((ev) => {
    if (ev.type === "inbound.received" && ev.data) toast(`New fax from ${ev.data.fr ? fmtPhone(ev.data.fr) : "an unknown sender"}.`);
    if (ev.type === "resync" || ev.type === "inbound.received") reload();
  });
  whenOffline(15000, () => load().catch(() => {}));
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
    list.replaceChildren(keys.length ? h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "API keys" }, h("table", {},
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

/* ---- router ---- */
/* Pages kept in their own files (logs.js, settings.js, wizard.js, diagnostics.js) register here:
   name → function(parts, q). */
const EXTRA_PAGES = {};
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
  const pages = { dashboard: pageDashboard, send: pageSend, jobs: () => (parts[1] ? pageJob(parts[1]) : pageJobs(q)), inbox: pageInbox, keys: pageKeys, ...EXTRA_PAGES };
  (pages[page] || pageDashboard)(parts, q);
  $("#view").focus({ preventScroll: true });
}
/* Outside any page: the unread count follows new faxes. */
function onLiveAlways(ev) { if (ev.type === "inbound.received" || ev.type === "resync") refreshUnread(); }
function start() {
  live.subs.add(onLiveAlways);
  openLive();
  refreshUnread();
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
