// plugins.js — browser tests of the console's plugin parts (called by run.js): the
// Setup Wizard's trunk provider list comes from the bundled sip-trunk plugins with
// each trunk's rules; the Plugins page lists the bundled plugins, installs one from the
// local registry (a tarball with its sha256), saves a config value and switches a plugin
// off and on; the wizard's path for an http plugin (the Telnyx manifest pointed at the
// Telnyx stand-in tests/peers/telnyx_peer.py) names a wrong API key at its field,
// applies, and a fax reaches SUCCESS through the stand-in. axe-core and screenshots.
"use strict";
const { execFileSync } = require("child_process");
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");
const { startPeer, postJob } = require("./admin_tools.js");

const PID = "test-telnyx";
const TELNYX_KEY = "KEYbrowser4242";
const setting = (key) => "PLUGIN_" + PID.toUpperCase().replace(/-/g, "_") + "_" + key.toUpperCase();

// The bundled Telnyx manifest with its API at the stand-in (tests/api/plugin_install.py's local_copy).
function localTelnyx(port) {
  const m = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "plugins", "bundled", "faxbot-http-telnyx", "manifest.json"), "utf8"));
  m.id = PID;
  delete m.short_name;
  m.http.base_url = `http://127.0.0.1:${port}/v2`;
  m.http.allowed_hosts = ["127.0.0.1"];
  return m;
}

// $FAX_DATA_DIR/plugins/registry.json listing one archive with its sha256
function writeRegistry(dataDir, m) {
  const src = fs.mkdtempSync(path.join(dataDir, "..", "tar-src-"));
  fs.mkdirSync(path.join(src, m.id));
  fs.writeFileSync(path.join(src, m.id, "manifest.json"), JSON.stringify(m, null, 2));
  const dir = path.join(dataDir, "plugins", "archives");
  fs.mkdirSync(dir, { recursive: true });
  const archive = path.join(dir, `${m.id}-${m.version}.tar.gz`);
  execFileSync("tar", ["czf", archive, "-C", src, m.id]);
  const sha256 = crypto.createHash("sha256").update(fs.readFileSync(archive)).digest("hex");
  fs.writeFileSync(path.join(dataDir, "plugins", "registry.json"), JSON.stringify({ items: [{ id: m.id, name: m.name + " (stand-in)", version: m.version,
    categories: m.categories, capabilities: m.capabilities, description: "Telnyx's manifest pointed at the local stand-in", archive: path.relative(path.join(dataDir, "plugins"), archive), sha256 }] }));
}

module.exports = async function pluginTests(T) {
  const { test, ok, page, url, adminApi, axeCheck, shoot, BOOT, dataDir } = T;
  const field = (name) => `[data-setting="${name}"]`;
  let peer = null;
  try {
    peer = await startPeer("telnyx_peer.py", { API_KEY: TELNYX_KEY });
    const publicKey = /public_key (\S+)/.exec(peer.out)[1];
    writeRegistry(dataDir, localTelnyx(peer.port));

    await test("plugins: the wizard's trunk provider list is the bundled sip-trunk plugins, with the chosen trunk's rules", async () => {
      const trunks = (await adminApi(url, "GET", "/plugins")).items.filter((p) => p.kind === "sip-trunk");
      ok(trunks.length >= 7, "bundled trunks: " + trunks.length);
      await page.goto(url + "/admin/ui/#/wizard/sip");
      await page.waitForSelector(`${field("SIP_TRUNK_PRESET")} select`);
      const names = await page.$$eval(`${field("SIP_TRUNK_PRESET")} option`, (os) => os.map((o) => o.textContent));
      for (const t of trunks) ok(names.includes(t.name), `${t.name} is not offered: ${names.join(" | ")}`);
      await page.selectOption(`${field("SIP_TRUNK_PRESET")} select`, "twilio");
      await page.waitForSelector("#w-trunk-hints:has-text('pstn.twilio.com')");
      ok(/E\.164/.test(await page.textContent("#w-trunk-hints")), "the caller ID rule is not shown");
      await page.fill(`${field("SIP_SERVER")} input`, "acme.example.com");
      await page.waitForSelector(`${field("SIP_SERVER")} .field-error:has-text("termination URI host")`);
      await page.selectOption(`${field("SIP_TRUNK_PRESET")} select`, "flowroute");
      await page.waitForSelector("#w-trunk-hints:has-text('sip.flowroute.com')");
      ok(/tech prefix/.test(await page.textContent("#w-trunk-hints")), "flowroute's number format is not shown");
      ok(!(await page.textContent(`${field("SIP_SERVER")} .field-error`)), "twilio's host rule still applies to flowroute");
      await axeCheck(page, "wizard: trunk provider");
      await shoot(page, "wizard-trunk");
    });

    await test("plugins: the Plugins page lists the bundled plugins, installs from the local registry, saves a config value, disables and enables", async () => {
      await page.goto(url + "/admin/ui/#/plugins");
      await page.waitForSelector("table.plugins tbody tr");
      for (const id of ["faxbot-sip-twilio", "faxbot-sip-generic", "faxbot-http-telnyx", "faxbot-http-documo", "loopback"])
        ok(await page.$(`tr[data-plugin="${id}"]`), `${id} is not listed`);
      ok(/sip-trunk/.test(await page.textContent('tr[data-plugin="faxbot-sip-twilio"]')), "kind not shown");
      ok(!/\bnull\b|undefined|could not be read/.test(await page.textContent("#view")), "stray text or a plugin error on the page");
      // install from the local registry (sha256 checked by the gateway)
      await page.waitForSelector(`button[data-install="${PID}"]`);
      await page.click(`button[data-install="${PID}"]`);
      await page.waitForSelector(`tr[data-plugin="${PID}"]`, { timeout: 15000 });
      await page.waitForSelector(`.registry li:has-text("${PID}") .badge:has-text("installed")`);
      await axeCheck(page, "plugins");
      await shoot(page, "plugins");
      // its detail and config form: a value checked as typed against the manifest's pattern, then saved
      await page.click(`tr[data-plugin="${PID}"] a`);
      await page.waitForSelector(`${field(setting("from_number"))} input`);
      await page.fill(`${field(setting("from_number"))} input`, "3125550100");
      await page.waitForSelector(`${field(setting("from_number"))} .field-error:has-text("From number")`);
      await page.fill(`${field(setting("from_number"))} input`, "+13125550100");
      await page.fill(`${field(setting("connection_id"))} input`, "1234567890");
      await page.click("form.card button[type=submit]");
      await page.waitForSelector("text=Saved: ");
      const cfg = await adminApi(url, "GET", `/plugins/${PID}/config`);
      ok(cfg.settings.from_number === "+13125550100" && cfg.settings.connection_id === "1234567890", "not saved: " + JSON.stringify(cfg.settings));
      ok(!(await page.inputValue(`${field(setting("api_key"))} input`)), "a secret is in the page");
      ok(/Settings file/.test(await page.textContent(field(setting("from_number")))), "the saved value's source is not shown");
      await axeCheck(page, "plugin detail");
      await shoot(page, "plugin-detail");
      // switch a bundled plugin off and on
      await page.goto(url + "/admin/ui/#/plugins/faxbot-http-documo");
      await page.waitForSelector("#p-toggle:has-text('Disable')");
      await page.click("#p-toggle");
      await page.waitForSelector("#p-toggle:has-text('Enable')");
      ok((await adminApi(url, "GET", "/plugins")).items.find((p) => p.id === "faxbot-http-documo").enabled === false, "not disabled");
      await page.click("#p-toggle");
      await page.waitForSelector("#p-toggle:has-text('Disable')");
      ok((await adminApi(url, "GET", "/plugins")).items.find((p) => p.id === "faxbot-http-documo").enabled === true, "not enabled again");
    });

    await test("wizard: Telnyx http plugin (stand-in): form from its config_schema, wrong API key named at the field, Apply, a fax reaches SUCCESS", async () => {
      await page.goto(url + "/admin/ui/#/wizard");
      await page.waitForSelector(`input[name=backend][value="${PID}"]`);
      await page.check(`input[name=backend][value="${PID}"]`);
      await page.click("form.card button[type=submit]");
      await page.waitForSelector(`${field(setting("api_key"))} input[type=password]`);
      ok(/Mission Control Portal/.test(await page.textContent(field(setting("api_key")))), "the field's help is not shown");
      await page.fill(`${field(setting("api_key"))} input`, "KEYwrong0000");
      await page.fill(`${field(setting("public_key"))} input`, publicKey);
      await page.fill(`${field(setting("connection_id"))} input`, "1234567890");
      await page.fill(`${field(setting("from_number"))} input`, "+13125550100");
      await page.fill(`${field("PUBLIC_API_URL")} input`, url);
      await page.click("#w-test");
      await page.waitForSelector("#w-result .notice.error", { timeout: 20000 });
      ok(/refused by the provider/.test(await page.textContent(`${field(setting("api_key"))} .field-error`)), "the wrong key is not named at its field");
      ok(await page.getAttribute(`${field(setting("api_key"))} input`, "aria-invalid") === "true", "the key field is not marked invalid");
      await shoot(page, "wizard-plugin-test-failed");
      await page.fill(`${field(setting("api_key"))} input`, TELNYX_KEY);
      await page.click("#w-test");
      await page.waitForSelector("#w-result .notice.good", { timeout: 20000 });
      await page.click("form.card button[type=submit]");
      await page.waitForSelector("#w-review");
      ok(/new value \(hidden\)/.test(await page.textContent("table.review")), "the key is not masked on review");
      await page.click("#w-apply");
      await page.waitForSelector("#w-outcome .notice.good", { timeout: 20000 });
      ok(/Credentials accepted\s*Yes/.test(await page.textContent("#w-outcome")), "credentials not accepted");
      await page.waitForSelector(`code:has-text("${url}/plugin-hooks/${PID}/events")`);
      await axeCheck(page, "wizard: plugin done");
      await shoot(page, "wizard-plugin-done");
      const id = await postJob(url, BOOT, 77);
      let job = null;
      for (let i = 0; i < 150 && !(job && ["SUCCESS", "FAILED"].includes(job.status)); i++) {
        await new Promise((r) => setTimeout(r, 200));
        job = await adminApi(url, "GET", "/fax/" + id);
      }
      ok(job.status === "SUCCESS" && job.backend === PID, "the fax did not go through the stand-in: " + JSON.stringify(job));
      await adminApi(url, "PUT", "/admin/settings", { FAX_BACKEND: "loopback" });
    });
  } finally {
    if (peer) peer.proc.kill("SIGTERM");
  }
};
