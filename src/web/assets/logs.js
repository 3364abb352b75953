/* Faxbot Admin Console — the Logs page: the gateway's log lines (gateway and PBX:
 * Asterisk/AMI, FreeSWITCH, SIP) and its audit events, live from GET
 * /admin/logs/stream (Server-Sent Events: the recent past first, then each line as
 * it is written; no polling). Filters by source, level and text; Pause holds new
 * lines back until Resume. Phone numbers arrive masked from the gateway and are
 * masked here again. Uses app.js's helpers (h, needs, mount, fmtTime, S). */
"use strict";

const LOG_KEEP = 1000;                     /* lines kept in the page */
const LOG_LEVELS = { debug: 0, info: 1, warn: 2, error: 3 };
const LOG_SOURCES = { gateway: "Gateway", pbx: "PBX", audit: "Audit" };
const LOG_SOURCE_CHOICES = { gateway: "Gateway", pbx: "PBX fax events (Asterisk, FreeSWITCH)", audit: "Audit events" };

/* Digit runs of 7 or more that are not part of an id keep their last 4 digits. */
function maskNumbers(text) {
  return String(text).replace(/(^|[^0-9A-Za-z])(\+?)(\d{7,})(?![0-9A-Za-z])/g,
    (m, pre, plus, d) => pre + plus + "*".repeat(d.length - 4) + d.slice(-4));
}

function pageLogs() {
  const hidden = needs("keys:manage", "The logs");
  if (hidden) { mount("Logs", hidden); return; }
  const source = h("select", { id: "l-source", name: "source" }, h("option", { value: "" }, "Everything"),
    Object.entries(LOG_SOURCE_CHOICES).map(([k, v]) => h("option", { value: k }, v)));
  const level = h("select", { id: "l-level", name: "level" }, h("option", { value: "debug" }, "All levels"),
    h("option", { value: "info" }, "Info and above"), h("option", { value: "warn" }, "Warnings and errors"), h("option", { value: "error" }, "Errors only"));
  level.value = "info";
  const text = h("input", { type: "search", id: "l-text", name: "text", autocomplete: "off", placeholder: "job id, event, word…" });
  const pause = h("button", { type: "button", id: "l-pause", class: "ghost", "aria-pressed": "false" }, "Pause");
  const state = h("p", { class: "muted log-state", role: "status" }, "Connecting…");
  const body = h("ol", { class: "log", id: "log-lines", "aria-label": "Log lines, newest first" });
  const empty = h("p", { class: "muted" }, "No lines match these filters yet.");
  const filters = h("form", { class: "card row", role: "search", onsubmit: (ev) => ev.preventDefault() },
    h("div", {}, h("label", { for: "l-source" }, "Source"), source),
    h("div", {}, h("label", { for: "l-level" }, "Level"), level),
    h("div", { class: "grow" }, h("label", { for: "l-text" }, "Text"), text),
    h("div", {}, pause));
  mount("Logs", h("p", { class: "hint" }, "Gateway lines, PBX fax events (Asterisk, FreeSWITCH) and audit events, as they happen. Numbers are masked."),
    filters, state, h("section", { class: "card", "aria-labelledby": "h-log" }, h("h2", { id: "h-log", class: "sr-only" }, "Log lines"), body, empty));

  const lines = [];                        /* everything received, oldest first */
  const held = [];                         /* received while paused */
  let paused = false, connected = false;
  const shows = (e) => (!source.value || e.source === source.value) &&
    (LOG_LEVELS[e.level] ?? 1) >= LOG_LEVELS[level.value] &&
    (!text.value.trim() || (e.message + " " + (e.event || "")).toLowerCase().includes(text.value.trim().toLowerCase()));
  const row = (e) => h("li", { class: "log-line " + e.level, "data-seq": String(e.seq), "data-source": e.source },
    h("time", { datetime: e.ts }, fmtLogTime(e.ts)), " ",
    h("span", { class: "badge " + (e.source === "audit" ? "" : e.source === "pbx" ? "pbx" : "") }, LOG_SOURCES[e.source] || e.source), " ",
    e.level === "warn" || e.level === "error" ? h("span", { class: "badge " + (e.level === "error" ? "bad" : "warn") }, e.level === "error" ? "Error" : "Warning") : null,
    e.level === "warn" || e.level === "error" ? " " : null,
    h("span", { class: "log-msg" }, maskNumbers(e.message)));
  const redraw = () => {
    const shown = lines.filter(shows).slice(-300).reverse();
    body.replaceChildren(...shown.map(row));
    empty.hidden = shown.length > 0;
  };
  const status = () => {
    state.textContent = (connected ? "Live" : "Reconnecting…") + (paused ? ` · paused, ${held.length} new line${held.length === 1 ? "" : "s"} waiting` : "") +
      ` · ${lines.length} line${lines.length === 1 ? "" : "s"} received`;
  };
  const add = (e) => {
    lines.push(e);
    if (lines.length > LOG_KEEP) lines.shift();
    if (shows(e)) {
      body.prepend(row(e));
      empty.hidden = true;
      while (body.children.length > 300) body.lastChild.remove();
    }
  };
  pause.addEventListener("click", () => {
    paused = !paused;
    pause.textContent = paused ? "Resume" : "Pause";
    pause.setAttribute("aria-pressed", String(paused));
    if (!paused) held.splice(0).forEach(add);
    status();
  });
  for (const el of [source, level]) el.addEventListener("change", redraw);
  text.addEventListener("input", redraw);

  const es = new EventSource("/admin/logs/stream?history=200");
  S.unsubs.push(() => es.close());
  es.onopen = () => { connected = true; status(); };
  es.onerror = () => {
    connected = false;
    if (es.readyState === EventSource.CLOSED) state.textContent = "The live log is not available (signed out, or too many log windows open). Reload the page to try again.";
    else status();
  };
  es.addEventListener("log", (m) => {
    let e;
    try { e = JSON.parse(m.data); } catch (err) { return; }
    if (paused) held.push(e); else add(e);
    status();
  });
  redraw();
}

/* Today's lines show the time only; older ones the date too. */
function fmtLogTime(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return iso;
  const today = d.toDateString() === new Date().toDateString();
  return today ? d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" })
    : d.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

EXTRA_PAGES.logs = pageLogs;
