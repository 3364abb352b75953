// admin_tools.js — browser tests of the Settings editor, the Setup Wizard and
// Diagnostics (called by run.js with its page, gateway and helpers): edit a live
// setting and see it persist with its source; an env-pinned setting is read-only;
// a wrong AMI secret fails Test connection naming the field; the wizard switches
// loopback → Asterisk (tests/peers/ami_peer.py, started here) → loopback while
// jobs are posted, and every job ends; Diagnostics groups its checks, a test fax
// reaches SUCCESS and the report downloads. axe-core and screenshots on each page.
"use strict";
const { spawn, execFileSync } = require("child_process");
const fs = require("fs");
const path = require("path");

const AMI_SECRET = "right-ami-secret-browser-51";
const ESL_PASSWORD = "EslBrowser93";
const HOOK_SECRET = "fs-hook-secret-browser-0c7e";

// A stand-in of tests/peers (python3 <file>, which prints "<what> peer on 127.0.0.1:PORT").
function startPeer(file, env) {
  return new Promise((resolve, reject) => {
    const proc = spawn("python3", ["-u", path.join(__dirname, "..", "peers", file)],
      { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const t = setTimeout(() => { proc.kill(); reject(new Error(`${file} did not start: ${out}`)); }, 10000);
    proc.stdout.on("data", (d) => {
      out += d;
      const m = /peer on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) { clearTimeout(t); resolve({ proc, port: Number(m[1]), out }); }
    });
    proc.stderr.on("data", (d) => { out += d; });
    proc.on("exit", (c) => { clearTimeout(t); reject(new Error(`${file} exited (${c}): ${out}`)); });
  });
}

// a one-page PDF (tests/api/documents.py), converted by Ghostscript like a real upload
let onePage = null;
async function postJob(url, key, n) {
  if (!onePage) onePage = execFileSync("python3", ["-c",
    "import sys; sys.path.insert(0, sys.argv[1]); import documents; sys.stdout.buffer.write(documents.pdf_text(1))",
    path.join(__dirname, "..", "api")]);
  const fd = new FormData();
  fd.append("to", "+1555010" + String(4000 + n));
  fd.append("file", new Blob([onePage], { type: "application/pdf" }), `job${n}.pdf`);
  const r = await fetch(url + "/fax", { method: "POST", headers: { "X-API-Key": key }, body: fd });
  const j = await r.json();
  if (r.status !== 202 && r.status !== 200) throw new Error(`POST /fax -> ${r.status} ${JSON.stringify(j)}`);
  return j.id;
}

module.exports = async function adminTools(T) {
  const { test, ok, page, url, adminApi, axeCheck, shoot, BOOT } = T;
  const field = (name) => `[data-setting="${name}"]`;

  await test("settings: a live setting is edited, saved, and shown with its source after a reload", async () => {
    await page.goto(url + "/admin/ui/#/settings/limits");
    // checked as typed: the range comes from the settings model
    await page.fill(`${field("MAX_FILE_SIZE_MB")} input`, "5000");
    await page.waitForSelector(`${field("MAX_FILE_SIZE_MB")} .field-error:has-text("between 1 and 1024")`);
    await page.click(`form:has(${field("MAX_FILE_SIZE_MB")}) button[type=submit]`);
    await page.waitForSelector("text=Fix the marked field first.");
    ok((await adminApi(url, "GET", "/admin/settings")).items.find((i) => i.name === "MAX_FILE_SIZE_MB").source === "default", "a bad value was saved");
    await page.goto(url + "/admin/ui/#/settings/identity");
    await page.waitForSelector(`${field("FAX_HEADER")} input`);
    await page.fill(`${field("FAX_HEADER")} input`, "Browser Test Header");
    await page.click(`form:has(${field("FAX_HEADER")}) button[type=submit]`);
    await page.waitForSelector("text=Applied live: FAX_HEADER");
    await page.reload();
    await page.waitForSelector(`${field("FAX_HEADER")} input`);
    ok((await page.inputValue(`${field("FAX_HEADER")} input`)) === "Browser Test Header", "the saved value is not shown after a reload");
    ok(/Settings file/.test(await page.textContent(`${field("FAX_HEADER")} .field-meta`)), "the source is not the settings file");
    const row = (await adminApi(url, "GET", "/admin/settings")).items.find((i) => i.name === "FAX_HEADER");
    ok(row.value === "Browser Test Header" && row.source === "file", "not saved on the server: " + JSON.stringify(row));
    // a restart-only setting says so, and saving one says it waits for a restart
    await page.goto(url + "/admin/ui/#/settings/jobs");
    await page.waitForSelector(`${field("FAX_WORKERS")} input`);
    ok(/needs a restart/.test(await page.textContent(`${field("FAX_WORKERS")} .field-meta`)), "FAX_WORKERS does not say it needs a restart");
    await page.fill(`${field("FAX_RETRY_MAX_SECONDS")} input`, "1200");
    await page.click(`form:has(${field("FAX_RETRY_MAX_SECONDS")}) button[type=submit]`);
    await page.waitForSelector("text=only used after a restart: FAX_RETRY_MAX_SECONDS");
    ok(/waiting for a restart: FAX_RETRY_MAX_SECONDS/.test(await page.textContent("#view")), "the pending restart is not shown");
    await page.goto(url + "/admin/ui/#/settings/identity");
    await page.waitForSelector(`${field("FAX_HEADER")} input`);
    await axeCheck(page, "settings (editing)");
    await shoot(page, "settings-edit");
  });

  await test("settings: an env-pinned setting is read-only and names its variable", async () => {
    await page.goto(url + "/admin/ui/#/settings/sip");
    const sel = `${field("ASTERISK_SPOOL_DIR")} input`;
    await page.waitForSelector(sel);
    ok(await page.isDisabled(sel), "the env-pinned ASTERISK_SPOOL_DIR can be edited");
    ok(/environment variable ASTERISK_SPOOL_DIR/.test(await page.textContent(field("ASTERISK_SPOOL_DIR"))), "the variable is not named");
    ok(/Environment/.test(await page.textContent(`${field("ASTERISK_SPOOL_DIR")} .field-meta`)), "source not shown as Environment");
    // secrets never reach the page
    const html = await page.content();
    ok(!html.includes(BOOT), "the API_KEY secret is in the page");
    await shoot(page, "settings-pinned");
  });

  let peer = null;
  try {
    peer = await startPeer("ami_peer.py", { SECRET: AMI_SECRET });
  } catch (e) {
    await test("wizard tests (the AMI stand-in)", async () => { throw e; });
    return;
  }
  const jobs = [];
  try {
    await test("wizard: a wrong AMI secret fails Test connection and names the field", async () => {
      await page.goto(url + "/admin/ui/#/wizard");
      await page.waitForSelector("input[name=backend][value=sip]");
      await axeCheck(page, "wizard: choose");
      await shoot(page, "wizard-choose");
      await page.check("input[name=backend][value=sip]");
      await page.click("form.card button[type=submit]");
      await page.waitForSelector(`${field("ASTERISK_AMI_PASSWORD")} input`);
      await page.fill(`${field("ASTERISK_AMI_HOST")} input`, "127.0.0.1");
      await page.fill(`${field("ASTERISK_AMI_PORT")} input`, String(peer.port));
      await page.fill(`${field("ASTERISK_AMI_USERNAME")} input`, "faxbot");
      await page.fill(`${field("ASTERISK_AMI_PASSWORD")} input`, "not-the-ami-secret");
      // Twilio's SIP domain is caught as typed
      await page.fill(`${field("SIP_SERVER")} input`, "mytrunk.sip.twilio.com");
      await page.waitForSelector(`${field("SIP_SERVER")} .field-error:has-text("pstn.twilio.com")`);
      await page.fill(`${field("SIP_SERVER")} input`, "");
      // an env-pinned value is read-only in the wizard too, naming its variable
      await page.click("details.more summary");
      ok(await page.isDisabled(`${field("ASTERISK_SPOOL_DIR")} input`), "the env-pinned ASTERISK_SPOOL_DIR can be edited in the wizard");
      ok(/environment variable ASTERISK_SPOOL_DIR/.test(await page.textContent(field("ASTERISK_SPOOL_DIR"))), "the wizard does not name the variable");
      await page.click("#w-test");
      await page.waitForSelector("#w-result .notice.error", { timeout: 20000 });
      const summary = await page.textContent("#w-result");
      ok(/ASTERISK_AMI_PASSWORD/.test(summary), "the failing test does not name ASTERISK_AMI_PASSWORD: " + summary);
      ok(/rejected/.test(await page.textContent(`${field("ASTERISK_AMI_PASSWORD")} .field-error`)), "no message at the password field");
      ok((await page.getAttribute(`${field("ASTERISK_AMI_PASSWORD")} input`, "aria-invalid")) === "true", "the password field is not marked invalid");
      await axeCheck(page, "wizard: details (failed test)");
      await shoot(page, "wizard-test-failed");
    });

    await test("wizard: loopback → Asterisk stand-in → loopback, jobs posted before and during the switches all end", async () => {
      for (let i = 0; i < 3; i++) jobs.push(await postJob(url, BOOT, jobs.length));
      await page.fill(`${field("ASTERISK_AMI_PASSWORD")} input`, AMI_SECRET);
      await page.click("#w-test");
      await page.waitForSelector("#w-result .notice.good", { timeout: 20000 });
      ok(/accepted by Asterisk/.test(await page.textContent(`${field("ASTERISK_AMI_PASSWORD")} .field-error`)), "the password is not marked accepted");
      await page.click("form.card button[type=submit]");
      await page.waitForSelector("#w-review");
      const review = await page.textContent("#view table");
      ok(/FAX_BACKEND\s*loopback\s*sip/.test(review), "review does not show FAX_BACKEND loopback → sip: " + review);
      ok(/ASTERISK_AMI_PASSWORD\s*not set\s*new value \(hidden\)/.test(review), "review does not mask the password: " + review);
      ok(!(await page.textContent("#view")).includes(AMI_SECRET), "the secret is shown on the review");
      await axeCheck(page, "wizard: review");
      await shoot(page, "wizard-review");
      // Back keeps what was typed; the review is the same afterwards
      await page.click("#view .actions button.ghost >> text=Back");
      await page.waitForSelector(`${field("ASTERISK_AMI_PASSWORD")} input`);
      ok((await page.inputValue(`${field("ASTERISK_AMI_PASSWORD")} input`)) === AMI_SECRET, "Back from the review lost the typed password");
      await page.click("form.card button[type=submit]");
      await page.waitForSelector("#w-review");
      ok((await page.textContent("#view table")) === review, "the review changed after Back and Next");
      for (let i = 0; i < 3; i++) jobs.push(await postJob(url, BOOT, jobs.length));
      await page.click("#w-apply");
      await page.waitForSelector("#w-outcome .notice.good", { timeout: 20000 });
      const outcome = await page.textContent("#w-outcome");
      ok(/AMI logged in\s*Yes/.test(outcome) && /Trunk registered\s*Yes/.test(outcome), "outcome: " + outcome);
      ok((await (await fetch(url + "/health/ready")).json()).backend === "sip", "the backend is not sip after Apply");
      await axeCheck(page, "wizard: done");
      await shoot(page, "wizard-done");
      for (let i = 0; i < 3; i++) jobs.push(await postJob(url, BOOT, jobs.length));

      // Diagnostics on the Asterisk backend: the telephony checks are real round trips
      await page.goto(url + "/admin/ui/#/diagnostics");
      await page.waitForSelector("#d-Telephony");
      const tel = await page.textContent("section:has(#d-Telephony)");
      ok(/AMI connection to Asterisk/.test(tel) && /Trunk registration/.test(tel) && /UDPTL/.test(tel) && /Fax modules loaded/.test(tel) && /round trip 21 ms/.test(tel), "telephony checks: " + tel);
      await axeCheck(page, "diagnostics (Asterisk)");
      await shoot(page, "diagnostics-asterisk");

      // and back to loopback
      await page.goto(url + "/admin/ui/#/wizard");
      await page.waitForSelector("input[name=backend][value=loopback]");
      await page.check("input[name=backend][value=loopback]");
      await page.click("form.card button[type=submit]");
      await page.waitForSelector(`${field("LOOPBACK_TRANSPORT")} select`);
      await page.click("form.card button[type=submit]");
      await page.waitForSelector("#w-review");
      ok(/FAX_BACKEND\s*sip\s*loopback/.test(await page.textContent("#view table")), "review does not show sip → loopback");
      for (let i = 0; i < 2; i++) jobs.push(await postJob(url, BOOT, jobs.length));
      await page.click("#w-apply");
      await page.waitForSelector("#w-outcome .notice.good", { timeout: 20000 });
      for (let i = 0; i < 2; i++) jobs.push(await postJob(url, BOOT, jobs.length));

      const final = {};
      const deadline = Date.now() + 120000;
      while (Date.now() < deadline && Object.keys(final).length < jobs.length) {
        for (const id of jobs) if (!final[id]) {
          const j = await adminApi(url, "GET", "/fax/" + id);
          if (["SUCCESS", "FAILED", "cancelled"].includes(j.status)) final[id] = j;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
      const ended = Object.values(final);
      ok(ended.length === jobs.length, `${jobs.length - ended.length} of ${jobs.length} jobs did not end`);
      const notOk = ended.filter((j) => j.status !== "SUCCESS");
      ok(!notOk.length, "jobs not sent: " + JSON.stringify(notOk.map((j) => [j.status, j.error || j.failure_reason])));
      const viaSip = ended.filter((j) => j.backend === "sip").length;
      ok(viaSip >= 3, `only ${viaSip} jobs went through the Asterisk stand-in`);
      console.log(`     ${jobs.length} jobs, all SUCCESS: ${viaSip} through Asterisk, ${ended.length - viaSip} through loopback`);
    });
  } finally {
    peer.proc.kill("SIGTERM");
  }

  await test("wizard: FreeSWITCH (ESL stand-in): Test connection, Apply, the dialplan hooks with the secret to paste, back to loopback", async () => {
    const esl = await startPeer("esl_peer.py", { PASSWORD: ESL_PASSWORD });
    try {
      await page.goto(url + "/admin/ui/#/wizard/freeswitch");
      await page.waitForSelector(`${field("FREESWITCH_ESL_PASSWORD")} input`);
      await page.fill(`${field("FREESWITCH_ESL_HOST")} input`, "127.0.0.1");
      await page.fill(`${field("FREESWITCH_ESL_PORT")} input`, String(esl.port));
      await page.fill(`${field("FREESWITCH_ESL_PASSWORD")} input`, "ClueCon");
      await page.fill(`${field("FREESWITCH_GATEWAY_NAME")} input`, "gw_test");
      await page.fill(`${field("FREESWITCH_INBOUND_SECRET")} input`, HOOK_SECRET);
      await page.fill(`${field("FREESWITCH_HOOK_URL")} input`, "http://10.0.0.5:8080");
      await page.click("#w-test");
      await page.waitForSelector("#w-result .notice.error", { timeout: 20000 });
      ok(/FREESWITCH_ESL_PASSWORD/.test(await page.textContent("#w-result")), "the wrong ESL password is not named");
      await page.fill(`${field("FREESWITCH_ESL_PASSWORD")} input`, ESL_PASSWORD);
      await page.click("#w-test");
      await page.waitForSelector("#w-result .notice.good", { timeout: 20000 });
      await page.click("form.card button[type=submit]");
      await page.waitForSelector("#w-review");
      ok(!(await page.textContent("#view")).includes(HOOK_SECRET), "the hook secret is shown on the review");
      await page.click("#w-apply");
      await page.waitForSelector("#w-outcome .notice.good", { timeout: 20000 });
      ok(/Event socket \(ESL\)\s*Connected/.test(await page.textContent("#w-outcome")), "ESL not connected: " + await page.textContent("#w-outcome"));
      await page.waitForSelector("pre.token");
      ok(!(await page.textContent("#view")).includes(HOOK_SECRET), "the secret is shown before it is asked for");
      await page.click("text=Show with the secret (audited)");
      await page.waitForSelector(`pre.token:has-text("X-Internal-Secret: ${HOOK_SECRET}")`);
      const hook = await page.textContent("pre.token");
      ok(hook.includes("http://10.0.0.5:8080/_internal/freeswitch/outbound_result"), "hook: " + hook);
      await axeCheck(page, "wizard: FreeSWITCH hooks");
      await shoot(page, "wizard-freeswitch-hooks");
    } finally {
      esl.proc.kill("SIGTERM");
    }
    await page.goto(url + "/admin/ui/#/wizard/loopback");
    await page.waitForSelector(`${field("LOOPBACK_TRANSPORT")} select`);
    await page.click("form.card button[type=submit]");
    await page.waitForSelector("#w-review");
    await page.click("#w-apply");
    await page.waitForSelector("#w-outcome .notice.good", { timeout: 20000 });
  });

  await test("wizard: Phaxio (stand-in): wrong key named, Apply, credentials accepted, the callback addresses and where the token lives", async () => {
    const phx = await startPeer("phaxio_peer.py", { API_KEY: "phx-key-browser", API_SECRET: "phx-secret-browser", CALLBACK_TOKEN: "phx-token-browser" });
    try {
      await page.goto(url + "/admin/ui/#/wizard/phaxio");
      await page.waitForSelector(`${field("PHAXIO_API_KEY")} input`);
      await page.click("details.more summary");
      await page.fill(`${field("PHAXIO_API_URL")} input`, `http://127.0.0.1:${phx.port}/v2.1`);
      await page.fill(`${field("PHAXIO_API_KEY")} input`, "phx-key-wrong");
      await page.fill(`${field("PHAXIO_API_SECRET")} input`, "phx-secret-browser");
      await page.fill(`${field("PHAXIO_CALLBACK_TOKEN")} input`, "phx-token-browser");
      await page.fill(`${field("PUBLIC_API_URL")} input`, "gateway.example.com");
      await page.waitForSelector(`${field("PUBLIC_API_URL")} .field-error:has-text("http")`);
      await page.fill(`${field("PUBLIC_API_URL")} input`, url);
      await page.click("#w-test");
      await page.waitForSelector("#w-result .notice.error", { timeout: 20000 });
      ok(/PHAXIO_API_KEY/.test(await page.textContent("#w-result")), "the rejected key is not named");
      await page.fill(`${field("PHAXIO_API_KEY")} input`, "phx-key-browser");
      await page.click("#w-test");
      await page.waitForSelector("#w-result .notice.good", { timeout: 20000 });
      await page.click("form.card button[type=submit]");
      await page.waitForSelector("#w-review");
      await page.click("#w-apply");
      await page.waitForSelector("#w-outcome .notice.good", { timeout: 20000 });
      ok(/Credentials accepted\s*Yes/.test(await page.textContent("#w-outcome")), "credentials not accepted");
      await page.waitForSelector(`code:has-text("${url}/phaxio-callback")`);
      ok(/Settings → Webhooks/.test(await page.textContent("#view")), "where the callback token lives is not said");
      await axeCheck(page, "wizard: Phaxio done");
      await shoot(page, "wizard-phaxio-done");
    } finally {
      phx.proc.kill("SIGTERM");
    }
    await page.goto(url + "/admin/ui/#/wizard/loopback");
    await page.waitForSelector(`${field("LOOPBACK_TRANSPORT")} select`);
    await page.click("form.card button[type=submit]");
    await page.waitForSelector("#w-review");
    await page.click("#w-apply");
    await page.waitForSelector("#w-outcome .notice.good", { timeout: 20000 });
  });

  await test("wizard: SignalWire (stand-in): wrong token named, Apply, credentials accepted, back to loopback", async () => {
    const project = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9";
    const sw = await startPeer("signalwire_peer.py", { PROJECT: project, TOKEN: "PTbrowsertoken42" });
    try {
      await page.goto(url + "/admin/ui/#/wizard/signalwire");
      await page.waitForSelector(`${field("SIGNALWIRE_SPACE_URL")} input`);
      await page.fill(`${field("SIGNALWIRE_SPACE_URL")} input`, `http://127.0.0.1:${sw.port}`);
      await page.fill(`${field("SIGNALWIRE_PROJECT_ID")} input`, project);
      await page.fill(`${field("SIGNALWIRE_API_TOKEN")} input`, "PTwrongtoken00");
      await page.fill(`${field("SIGNALWIRE_FAX_FROM_E164")} input`, "555 1234");
      await page.waitForSelector(`${field("SIGNALWIRE_FAX_FROM_E164")} .field-error:has-text("international form")`);
      await page.fill(`${field("SIGNALWIRE_FAX_FROM_E164")} input`, "+15550009999");
      await page.fill(`${field("SIGNALWIRE_WEBHOOK_SIGNING_KEY")} input`, "PSK_browser_signing_key");
      await page.click("#w-test");
      await page.waitForSelector("#w-result .notice.error", { timeout: 20000 });
      ok(/SIGNALWIRE_API_TOKEN/.test(await page.textContent("#w-result")), "the rejected token is not named");
      await page.fill(`${field("SIGNALWIRE_API_TOKEN")} input`, "PTbrowsertoken42");
      await page.click("#w-test");
      await page.waitForSelector("#w-result .notice.good", { timeout: 20000 });
      await page.click("form.card button[type=submit]");
      await page.waitForSelector("#w-review");
      await page.click("#w-apply");
      await page.waitForSelector("#w-outcome .notice.good", { timeout: 20000 });
      ok(/Credentials accepted\s*Yes/.test(await page.textContent("#w-outcome")), "credentials not accepted");
      await page.waitForSelector(`code:has-text("/signalwire")`);
    } finally {
      sw.proc.kill("SIGTERM");
    }
    await page.goto(url + "/admin/ui/#/wizard/loopback");
    await page.waitForSelector(`${field("LOOPBACK_TRANSPORT")} select`);
    await page.click("form.card button[type=submit]");
    await page.waitForSelector("#w-review");
    await page.click("#w-apply");
    await page.waitForSelector("#w-outcome .notice.good", { timeout: 20000 });
  });

  await test("diagnostics: checks grouped with fixes, a test fax reaches SUCCESS, the report downloads", async () => {
    await page.goto(url + "/admin/ui/#/diagnostics");
    for (const g of ["Telephony", "Provider", "Conversion", "Storage"]) await page.waitForSelector(`#d-${g}`);
    ok(/Ghostscript[\s\S]*found/.test(await page.textContent("section:has(#d-Conversion)")), "no Ghostscript check");
    ok(/Built-in fax engine/.test(await page.textContent("section:has(#d-Telephony)")), "no loopback engine check");
    await axeCheck(page, "diagnostics");
    await shoot(page, "diagnostics");
    await page.click("#d-send");
    await page.waitForSelector('#d-progress .badge.ok:has-text("Sent")', { timeout: 90000 });
    await shoot(page, "diagnostics-test-fax");
    const [dl] = await Promise.all([page.waitForEvent("download"), page.click("#d-download")]);
    ok(/^faxbot-diagnostics-.*\.json$/.test(dl.suggestedFilename()), "file name " + dl.suggestedFilename());
    const rep = JSON.parse(fs.readFileSync(await dl.path(), "utf8"));
    ok(rep.backend === "loopback" && rep.groups && rep.groups.Conversion && rep.groups.Storage.length >= 2 && rep.raw.checks, "report: " + JSON.stringify(rep).slice(0, 300));
  });

  await test("without keys:manage the Settings, Wizard, Diagnostics and Plugins pages say why, and their routes refuse", async () => {
    const reader = await adminApi(url, "POST", "/admin/api-keys", { name: "no admin", owner: "ops", scopes: ["fax:read", "fax:send"] });
    const c = await T.browser.newContext();
    const p = await c.newPage();
    try {
      await p.goto(url + "/admin/ui/");
      await p.fill("#api-key", reader.token);
      await p.click("form.signin button[type=submit]");
      await p.waitForSelector("#nav:not([hidden])");
      for (const route of ["#/settings", "#/wizard", "#/diagnostics", "#/plugins", "#/plugins/faxbot-sip-twilio"]) {
        await p.goto(url + "/admin/ui/" + route);
        await p.waitForSelector("#view .notice:has-text('does not have the')");
        ok(/keys:manage/.test(await p.textContent("#view .notice")), route + " does not name the missing scope");
      }
      const codes = await p.evaluate(async (csrf) => Promise.all([
        fetch("/admin/settings"),
        fetch("/admin/settings", { method: "PUT", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: "{\"FAX_HEADER\":\"x\"}" }),
        fetch("/admin/settings/validate", { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: "{}" }),
        fetch("/admin/diagnostics/run", { method: "POST", headers: { "X-CSRF-Token": csrf } }),
        fetch("/plugins"),
        fetch("/plugins/faxbot-sip-twilio/config"),
        fetch("/plugins/faxbot-sip-twilio/config", { method: "PUT", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: "{\"enabled\":false}" }),
        fetch("/plugins/install", { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: "{\"plugin_id\":\"x\"}" }),
      ].map((f) => f.then(async (r) => `${r.status} ${(await r.json()).detail}`))), (await (await p.request.get(url + "/admin/ui/session")).json()).csrf_token);
      ok(codes.every((x) => x.startsWith("403") && !/CSRF/.test(x)), "admin routes answered a key without keys:manage: " + codes);
    } finally {
      await c.close();
      await adminApi(url, "DELETE", "/admin/api-keys/" + reader.key_id);
    }
  });

  await test("the wizard works from the keyboard alone", async () => {
    await page.goto(url + "/admin/ui/#/wizard");
    await page.waitForSelector("input[name=backend][value=loopback]:checked");
    await page.keyboard.press("Tab");                      // from the focused step heading to the checked radio
    ok((await page.evaluate(() => document.activeElement.value)) === "loopback", "Tab does not reach the backend choice");
    await page.keyboard.press("ArrowDown");                // the next backend: SIP trunk via Asterisk
    ok((await page.evaluate(() => document.querySelector("input[name=backend]:checked").value)) === "sip", "arrow keys do not choose");
    await page.keyboard.press("Tab");
    ok((await page.evaluate(() => document.activeElement.textContent)) === "Next: details", "Tab does not reach Next");
    await page.keyboard.press("Enter");
    await page.waitForSelector(`${field("ASTERISK_AMI_HOST")} input`);
    await page.keyboard.press("Tab");
    ok((await page.evaluate(() => document.activeElement.id)) === "w-ASTERISK_AMI_HOST", "the first field is not next in the tab order");
    const ring = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    ok(ring !== "none", "no visible focus on the field");
  });

  await test("200 % zoom (640 CSS px): settings, wizard and diagnostics need no sideways scrolling", async () => {
    await page.setViewportSize({ width: 640, height: 400 });
    try {
      for (const [route, sel] of [["#/settings/network", `${field("SIP_LOCAL_NET")} input`], ["#/wizard/sip", `${field("SIP_SERVER")} input`], ["#/diagnostics", "#d-Storage"]]) {
        await page.goto(url + "/admin/ui/" + route);
        await page.waitForSelector(sel);
        const wide = await page.evaluate(() => document.documentElement.scrollWidth);
        ok(wide <= 640, `${route} is ${wide} px wide at 200 % zoom`);
      }
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  });
};
module.exports.startPeer = startPeer;
module.exports.postJob = postJob;
