/* plugins.js — the Plugins page: every plugin the gateway knows (GET /plugins: the
 * built-in backends, then bundled and installed plugins) with kind, categories,
 * capabilities, enabled and in use; a plugin's detail with its config form (its
 * config_schema fields on their settings rows; secrets are never put into the page,
 * only a typed value is sent: PUT /plugins/{id}/config), enable/disable (the same
 * route's "enabled"), and installing from the local registry (GET /plugin-registry,
 * POST /plugins/install). Uses settings.js's settingControl and wizard.js's
 * patternCheck and trunkHints. */
"use strict";

const joinList = (a) => (a || []).join(", ") || "—";
const kindLabel = (p) => (p.kind === "builtin" ? "built-in" : p.kind);

async function pagePlugins(parts) {
  const hidden = needs("keys:manage", "The Plugins page");
  if (hidden) { mount("Plugins", hidden); return; }
  if (parts[1]) return pluginDetail(decodeURIComponent(parts[1]));
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const reg = h("section", { class: "card", "aria-labelledby": "reg-h" }, h("h2", { id: "reg-h" }, "Install from the local registry"), h("p", { class: "muted" }, "Loading…"));
  mount("Plugins", body, reg);
  let all;
  try { all = await api("/plugins"); } catch (e) { body.replaceChildren(errorBox(e, "Could not list the plugins")); return; }
  const items = all.items || [];
  const row = (p) => h("tr", { "data-plugin": p.id },
    h("td", {}, h("a", { href: "#/plugins/" + encodeURIComponent(p.id) }, p.name), h("span", { class: "hint" }, p.id)),
    h("td", { class: "hide-narrow" }, p.version),
    h("td", {}, kindLabel(p)),
    h("td", { class: "hide-narrow" }, joinList(p.categories)),
    h("td", { class: "hide-narrow caps" }, joinList(p.capabilities)),
    h("td", {}, p.active ? h("span", { class: "badge ok" }, "in use") : p.kind === "builtin" ? h("span", { class: "badge" }, "available")
      : p.enabled ? h("span", { class: "badge" }, "enabled") : h("span", { class: "badge warn" }, "disabled")),
    h("td", { class: "hide-narrow" }, p.configurable ? "Yes" : "No"));
  body.replaceChildren(...[
    h("p", {}, "Plugins add trunk providers (sip-trunk), cloud fax providers (http) and native backends. Open one to see its settings, switch it on or off, or change its configuration. The Setup Wizard offers the enabled ones."),
    (all.errors || []).length ? h("div", { class: "notice error", role: "alert" }, h("p", {}, "Installed plugins that could not be read:"),
      h("ul", {}, all.errors.map((e) => h("li", {}, h("code", {}, e.path), ": ", e.detail)))) : null,
    h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Plugins" }, h("table", { class: "plugins" },
      h("caption", { class: "muted" }, `${items.length} plugins and built-in backends`),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col", class: "hide-narrow" }, "Version"), h("th", { scope: "col" }, "Kind"),
        h("th", { scope: "col", class: "hide-narrow" }, "Categories"), h("th", { scope: "col", class: "hide-narrow" }, "Capabilities"),
        h("th", { scope: "col" }, "State"), h("th", { scope: "col", class: "hide-narrow" }, "Configurable"))),
      h("tbody", {}, items.map(row))))].filter(Boolean));
  pluginRegistry(reg);
}

async function pluginRegistry(where) {
  const head = where.firstChild;
  let r;
  try { r = await api("/plugin-registry"); } catch (e) { where.replaceChildren(head, errorBox(e, "Could not read the local registry")); return; }
  const items = r.items || [];
  const out = h("div", { "aria-live": "polite" });
  const install = async (it, btn) => {
    btn.disabled = true;
    out.replaceChildren(h("p", { class: "muted" }, `Installing ${it.id} (the archive's sha256 is checked first)…`));
    try {
      const done = await api("/plugins/install", { method: "POST", json: { plugin_id: it.id } });
      toast(`Installed ${done.name || it.id}`);
      pagePlugins([]);
    } catch (e) { btn.disabled = false; out.replaceChildren(errorBox(e, `${it.id} was not installed`)); }
  };
  where.replaceChildren(head,
    h("p", { class: "hint" }, "Registry file: ", h("code", {}, r.path || "—"), " (PLUGIN_REGISTRY_PATH). Each archive's sha256 is checked before anything is unpacked; no code from a plugin runs on install."),
    items.length ? h("ul", { class: "registry" }, items.map((it) => {
      const btn = h("button", { type: "button", class: "ghost", "data-install": it.id }, `Install ${it.name || it.id}`);
      btn.onclick = () => install(it, btn);
      return h("li", {}, h("strong", {}, it.name || it.id), ` ${it.version || ""} `, h("span", { class: "hint" }, it.id + (it.description ? " — " + it.description : "")), " ",
        it.installed ? h("span", { class: "badge ok" }, "installed") : btn);
    })) : h("p", { class: "muted" }, "The local registry lists no plugins. Add archives and their sha256 to the registry file to install them from here."),
    out);
}

async function pluginDetail(id) {
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  mount("Plugin", body);
  let p, view;
  try {
    const [all, v] = await Promise.all([api("/plugins"), api("/admin/settings")]);
    p = (all.items || []).find((x) => x.id === id);
    view = v;
  } catch (e) { body.replaceChildren(errorBox(e, "Could not read the plugin")); return; }
  if (!p) { body.replaceChildren(h("p", { class: "notice error", role: "alert" }, `No plugin ${id}. `, h("a", { href: "#/plugins" }, "Back to the list"))); return; }
  mount(p.name, body);
  const facts = [["Id", p.id], ["Version", p.version], ["Kind", kindLabel(p)], ["Source", p.source || "built in"], ["Categories", joinList(p.categories)],
    ["Capabilities", joinList(p.capabilities)], p.kind === "builtin" ? null : ["Enabled", p.enabled ? "Yes" : "No"], ["In use", p.active ? "Yes" : "No"]].filter(Boolean);
  const out = h("div", { "aria-live": "polite", id: "p-result" });
  const toggle = h("button", { type: "button", class: "ghost", id: "p-toggle" }, p.enabled ? "Disable" : "Enable");
  toggle.onclick = async () => {
    toggle.disabled = true;
    try {
      await api(`/plugins/${encodeURIComponent(p.id)}/config`, { method: "PUT", json: { enabled: !p.enabled } });
      toast(`${p.name} ${p.enabled ? "disabled" : "enabled"}`);
      pluginDetail(id);
    } catch (e) { toggle.disabled = false; out.replaceChildren(errorBox(e, "Not changed")); }
  };
  const about = h("section", { class: "card", "aria-labelledby": "p-about" }, h("h2", { id: "p-about" }, "About"),
    p.description ? h("p", {}, p.description) : null,
    h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    p.kind === "sip-trunk" ? h("div", {}, trunkHints(p).slice(1)) : null,
    p.kind === "builtin" ? h("p", {}, "A built-in backend: its settings are on the ", h("a", { href: "#/settings" }, "Settings"), " page; switch to it with the ",
      h("a", { href: "#/wizard/" + encodeURIComponent(p.id) }, "Setup Wizard"), ".")
      : h("p", { class: "actions" }, toggle, p.kind === "http" && p.enabled && (p.categories || []).includes("outbound")
        ? h("a", { class: "button ghost", href: "#/wizard/" + encodeURIComponent(p.id) }, "Set up with the wizard") : null,
        h("a", { class: "button ghost", href: "#/plugins" }, "All plugins")),
    p.active && p.enabled ? h("p", { class: "hint" }, "In use: choose another backend or trunk before disabling it.") : null,
    out);
  body.replaceChildren(about);
  if (p.kind === "builtin" || !p.configurable) return;
  body.append(await pluginForm(p, view));
}

/* The plugin's config form: its fields on their settings rows; only changed values are sent. */
async function pluginForm(p, view, saved) {
  const rows = Object.fromEntries((view.items || []).map((r) => [r.name, r]));
  const card = h("form", { class: "card", novalidate: true, "aria-labelledby": "p-config" }, h("h2", { id: "p-config" }, "Configuration"));
  let cfg;
  try { cfg = await api(`/plugins/${encodeURIComponent(p.id)}/config`); } catch (e) { card.append(errorBox(e, "Could not read the configuration")); return card; }
  const fields = (cfg.fields || []).filter((f) => rows[f.setting]);
  if (cfg.restart_required) card.append(h("p", { class: "notice", role: "note" }, "Some of this plugin's settings exist only after a restart of the gateway."));
  const controls = fields.map((f) => Object.assign(settingControl(rows[f.setting], "p-", { label: f.label, where: f.help || null, check: patternCheck(f) }), { field: f }));
  for (const c of controls) c.input.addEventListener("input", () => c.mark(c.check()));
  const out = h("div", { "aria-live": "polite" }, saved || null);
  card.append(h("p", { class: "hint" }, "Secrets are never shown: leave a secret blank to keep it."), ...controls.map((c) => c.el), out,
    h("p", { class: "actions" }, h("button", { type: "submit" }, "Save")));
  card.onsubmit = async (ev) => {
    ev.preventDefault();
    const bad = controls.find((c) => c.check());
    if (bad) { bad.mark(bad.check()); bad.input.focus(); out.replaceChildren(h("p", { class: "notice error", role: "alert" }, `Fix ${bad.field.label} first.`)); return; }
    const settings = {};
    for (const c of controls) if (c.changed()) settings[c.field.key] = c.value();
    if (!Object.keys(settings).length) { out.replaceChildren(h("p", { class: "notice" }, "Nothing changed.")); return; }
    try {
      const r = await api(`/plugins/${encodeURIComponent(p.id)}/config`, { method: "PUT", json: { settings } });
      const note = h("p", { class: "notice good", role: "status" }, "Saved: ", Object.keys(settings).join(", "), ".", r.applied && (r.applied.restart_required_by_this_change || []).length ? " Some values are used after a restart." : "");
      /* drawn again from the server: values, sources and "set (hidden)" as they are now */
      card.replaceWith(await pluginForm(p, await api("/admin/settings"), note));
    } catch (e) {
      const m = /settings\.([a-z0-9_]+)/i.exec(e.message);
      const c = m && controls.find((x) => x.field.key === m[1]);
      if (c) c.mark(e.message);
      out.replaceChildren(errorBox(e, "Not saved"));
    }
  };
  return card;
}

EXTRA_PAGES.plugins = pagePlugins;
