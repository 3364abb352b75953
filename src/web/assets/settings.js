/* settings.js — the Settings page with editing, and the form controls the Setup
 * Wizard shares. Everything comes from the server's settings model
 * (GET /admin/settings "items": name, type, range, choices, secret, source, apply,
 * editable, pinned_by, help); a change is PUT /admin/settings and applied live by
 * the gateway (or kept until a restart for "restart" settings). Secrets are never
 * sent to the page: a secret field is empty and only a typed value is sent back.
 * Uses app.js's helpers (h, api, mount, needs, errorBox, toast). */
"use strict";

const SOURCE_LABEL = { env: "Environment", file: "Settings file", default: "Built-in default" };
const GROUP_ORDER = ["backend", "identity", "security", "inbound", "storage", "limits", "documents", "jobs", "trunk", "network",
  "loopback", "sip", "freeswitch", "phaxio", "sinch", "signalwire", "events", "mcp", "database", "server", "cli"];
const GROUP_TITLE = { sip: "Asterisk (SIP)", freeswitch: "FreeSWITCH", phaxio: "Phaxio", sinch: "Sinch", signalwire: "SignalWire",
  mcp: "MCP (AI assistants)", cli: "Command line", trunk: "SIP trunk", network: "Network (NAT, ports)" };
function groupTitle(g) { return GROUP_TITLE[g] || g.charAt(0).toUpperCase() + g.slice(1); }

/* The text form of a model value, as PUT takes it back. */
function valueText(v) { return v == null ? "" : typeof v === "boolean" ? (v ? "true" : "false") : String(v); }

/* One control for one row of the settings model.
 * Returns { el, row, input, changed(), value(), check() } — value() is what PUT gets,
 * check() is "" or a plain message, shown next to the field as it is typed. */
function settingControl(row, idPrefix, opts = {}) {
  const id = idPrefix + row.name;
  const errId = id + "-err", helpId = id + "-help";
  const locked = !row.editable;
  const original = row.secret ? "" : valueText(row.value);
  let input;
  const dflt = row.default == null || row.default === "" ? null : valueText(row.default);
  if (row.type === "boolean" || row.type === "choice") {
    const choices = row.type === "boolean" ? [["true", "Yes"], ["false", "No"]] : (row.choices || []).map((c) => [c, c]);
    input = h("select", { id, name: row.name },
      original === "" ? h("option", { value: "" }, dflt != null ? `Default (${dflt === "true" ? "Yes" : dflt === "false" ? "No" : dflt})` : "Not set") : null,
      choices.map(([v, label]) => h("option", { value: v }, label)));
    input.value = original;
  } else {
    const attrs = { id, name: row.name, autocomplete: "off", spellcheck: "false" };
    if (row.type === "integer") Object.assign(attrs, { type: "number", inputmode: "numeric", step: "1", min: row.range && row.range[0], max: row.range && row.range[1] });
    else if (row.secret) Object.assign(attrs, { type: "password", autocomplete: "new-password" });
    else attrs.type = "text";
    if (row.secret) attrs.placeholder = row.is_set ? "Set (hidden) — leave blank to keep it" : "Not set";
    else if (dflt != null && original === "") attrs.placeholder = "Default: " + dflt;
    if (opts.placeholder && !row.secret && original === "") attrs.placeholder = opts.placeholder;
    input = h("input", attrs);
    input.value = original;
  }
  if (locked) input.disabled = true;
  const err = h("span", { class: "field-error", id: errId, "aria-live": "polite" });
  const describe = [helpId, errId];
  input.setAttribute("aria-describedby", describe.join(" "));
  const help = opts.where ? null : row.help;
  const lock = row.pinned_by
    ? `Read-only: set by the environment variable ${row.pinned_by}, which wins over this page. Change or unset ${row.pinned_by} where the gateway is started.`
    : row.apply === "env_only" ? `Read-only: ${row.name} can only be set in the environment.` : null;
  const meta = h("span", { class: "field-meta" },
    h("span", { class: "badge" }, SOURCE_LABEL[row.source] || row.source),
    " ", row.apply === "live" ? "applies live" : row.apply === "restart" ? "needs a restart" : "environment only");
  const el = h("div", { class: "field" + (locked ? " locked" : ""), "data-setting": row.name },
    h("label", { for: id }, opts.label || row.name, opts.label ? h("code", { class: "varname" }, row.name) : null),
    h("div", { class: "field-body" }, input,
      h("span", { class: "hint", id: helpId }, help, lock ? h("strong", { class: "lock" }, " " + lock) : null),
      opts.where ? h("span", { class: "hint where" }, opts.where) : null,
      meta, err));
  const c = {
    el, row, input,
    value() { return input.value.trim(); },
    changed() { return !locked && (row.secret ? input.value !== "" : input.value.trim() !== original); },
    check() {
      const v = input.value.trim();
      if (!c.changed() || v === "") return "";
      if (row.type === "integer") {
        if (!/^-?\d+$/.test(v)) return `${row.name} must be a whole number.`;
        const n = Number(v);
        if (row.range && (n < row.range[0] || n > row.range[1])) return `${row.name} must be between ${row.range[0]} and ${row.range[1]}.`;
      }
      if (opts.check) return opts.check(v) || "";
      return "";
    },
    /* a message from the server (or the check above) on this field; "" clears it */
    mark(msg, good) {
      err.textContent = msg || "";
      err.className = "field-error" + (good ? " good" : "");
      if (msg && !good) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
    },
  };
  input.addEventListener("input", () => c.mark(c.check()));
  input.addEventListener("change", () => c.mark(c.check()));
  return c;
}

/* What a PUT answered, in words: applied live, or waiting for a restart. */
function appliedNote(meta) {
  const applied = meta.applied || [];
  const restart = meta.restart_required_by_this_change || [];
  const live = applied.filter((n) => !restart.includes(n));
  if (!applied.length) return h("p", { class: "notice" }, "Nothing changed: the values were already in effect.");
  return h("div", { class: "notice good", role: "status" },
    live.length ? h("p", {}, "Applied live: ", live.join(", "), meta.backend_swapped ? " (the backend was swapped live; calls in progress finish on the old one)." : ".") : null,
    restart.length ? h("p", {}, "Saved, but only used after a restart: ", restart.join(", "),
      ". Restart the service (or POST /admin/restart when ADMIN_ALLOW_RESTART is true).") : null);
}

function groupsOf(items) {
  const groups = {};
  for (const it of items) (groups[it.group] = groups[it.group] || []).push(it);
  const order = (g) => { const i = GROUP_ORDER.indexOf(g); return i < 0 ? 99 : i; };
  return Object.keys(groups).sort((a, b) => order(a) - order(b) || a.localeCompare(b)).map((g) => [g, groups[g]]);
}

async function pageSettingsEdit(parts, q) {
  const hidden = needs("keys:manage", "Settings");
  if (hidden) { mount("Settings", hidden); return; }
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  mount("Settings", body);
  let view;
  try { view = await api("/admin/settings"); } catch (e) { body.replaceChildren(errorBox(e, "Could not read the settings")); return; }
  const draw = (v, note, noteGroup) => {
    const meta = v._meta || {};
    const all = groupsOf(v.items || []);
    const want = parts[1] || "backend";
    const groups = want === "all" ? all : all.filter(([g]) => g === want).concat(all.some(([g]) => g === want) ? [] : all.slice(0, 1)).slice(0, 1);
    const at = want === "all" ? "all" : groups[0][0];
    const toc = h("nav", { class: "toc", "aria-label": "Settings sections" }, h("ul", {},
      all.concat([["all"]]).map(([g]) => h("li", {}, h("a", { href: "#/settings/" + g, "aria-current": g === at ? "page" : null }, g === "all" ? "All sections" : groupTitle(g))))));
    const intro = h("p", { class: "muted" }, "Values come from the environment (wins), the settings file ",
      h("code", {}, meta.config_file || "—"), " or the built-in default. Saving writes the settings file",
      meta.secrets_encrypted ? " (secrets encrypted with FAXBOT_CONFIG_KEY)" : " (secrets in plain text: set FAXBOT_CONFIG_KEY to encrypt them)",
      " and applies what can be applied live.");
    const pending = (meta.restart_required || []).length
      ? h("p", { class: "notice", role: "note" }, "Saved but waiting for a restart: ", meta.restart_required.join(", ")) : null;
    body.replaceChildren(...[intro, pending, toc].filter(Boolean), ...groups.map(([g, rows]) => {
      const controls = rows.map((r) => settingControl(r, "s-"));
      const out = h("div", { "aria-live": "polite" }, noteGroup === g ? note : null);
      const editable = controls.some((c) => !c.input.disabled);
      const form = h("form", { class: "card settings-group", "aria-labelledby": "set-" + g, novalidate: true, onsubmit: async (ev) => {
        ev.preventDefault();
        const changes = {};
        let bad = null;
        for (const c of controls) {
          const m = c.check();
          c.mark(m);
          if (m && !bad) bad = c;
          if (c.changed()) changes[c.row.name] = c.value();
        }
        if (bad) { bad.input.focus(); out.replaceChildren(h("p", { class: "notice error", role: "alert" }, "Fix the marked field first.")); return; }
        if (!Object.keys(changes).length) { out.replaceChildren(h("p", { class: "notice" }, "Nothing to save: no value was changed.")); return; }
        const btn = $("button[type=submit]", form);
        btn.disabled = true;
        try {
          const nv = await api("/admin/settings", { method: "PUT", json: changes });
          toast("Settings saved");
          draw(nv, appliedNote(nv._meta || {}), g);
        } catch (e) {
          btn.disabled = false;
          const named = controls.find((c) => e.message.includes(c.row.name));
          if (named) named.mark(e.message);
          out.replaceChildren(errorBox(e, "Not saved"));
        }
      } },
        h("h2", { id: "set-" + g }, groupTitle(g)),
        controls.map((c) => c.el),
        editable ? h("p", { class: "actions" }, h("button", { type: "submit" }, `Save ${groupTitle(g)}`)) : h("p", { class: "muted" }, "Nothing here can be changed from the console."),
        out);
      return form;
    }));
  };
  draw(view);
}

EXTRA_PAGES.settings = pageSettingsEdit;
