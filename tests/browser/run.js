// run.js — browser tests of the Admin Console: a real gateway (loopback engine)
// on a free port, Debian's chromium driven by playwright-core, axe-core for
// accessibility, screenshots of every page (light/dark, desktop/phone) under
// <build>/screenshots. Usage: node run.js <faxbot binary> <screenshot dir>.
// One browser and few pages, reused; prints "browser tests: N passed, M failed".
"use strict";
const { chromium } = require("playwright-core");
const { spawn, execFileSync } = require("child_process");
const fs = require("fs");
const net = require("net");
const os = require("os");
const path = require("path");

const BIN = path.resolve(process.argv[2] || "build/faxbot");
const SHOTS = path.resolve(process.argv[3] || "build/screenshots");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const BOOT = "bootstrap-key-for-browser-tests-7d41e0";
const AXE = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

let passed = 0, failed = 0, skipped = 0;
let current = null;          // the page a failing test leaves a screenshot of
const results = [];
function ok(cond, msg) { if (!cond) throw new Error(msg); }
async function test(name, fn) {
  const t0 = Date.now();
  try { await fn(); passed++; results.push(`ok   ${name} (${Date.now() - t0} ms)`); }
  catch (e) {
    if (e.skip) { skipped++; results.push(`SKIP ${name}: ${e.message}`); console.log(results[results.length - 1]); return; }
    failed++;
    if (current) await current.screenshot({ path: path.join(SHOTS, "FAILED-" + name.replace(/\W+/g, "-").slice(0, 60) + ".png") }).catch(() => {}); results.push(`FAIL ${name}: ${e.message.split("\n")[0]}`); console.error(`FAIL ${name}\n${e.stack}`); }
  console.log(results[results.length - 1]);
}

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); });
    s.on("error", rej);
  });
}

async function startGateway(dir, extraEnv) {
  const port = await freePort();
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(FAX|API_|REQUIRE_|AUDIT|AUTH_|TRUSTED|PHAXIO|SINCH|SIGNALWIRE|ASTERISK|FREESWITCH)/.test(k) && !/proxy/i.test(k)) env[k] = v;
  Object.assign(env, { FAX_DATA_DIR: path.join(dir, "data"), API_KEY: BOOT, FAX_RETRY_BASE_SECONDS: "1" }, extraEnv || {});
  fs.mkdirSync(env.FAX_DATA_DIR, { recursive: true });
  const log = fs.openSync(path.join(dir, "gateway.log"), "w");
  const proc = spawn(BIN, ["serve", "--listen", `127.0.0.1:${port}`], { env, cwd: dir, stdio: ["ignore", log, log] });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try { if ((await fetch(url + "/health")).ok) return { proc, url }; } catch (e) { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  proc.kill("SIGTERM");
  throw new Error("the gateway did not start: " + fs.readFileSync(path.join(dir, "gateway.log"), "utf8").slice(-2000));
}

async function adminApi(url, method, p, body) {
  const r = await fetch(url + p, { method, headers: { "X-API-Key": BOOT, "Content-Type": "application/json" }, body: body && JSON.stringify(body) });
  const j = await r.json();
  if (!r.ok) throw new Error(`${method} ${p} -> ${r.status} ${JSON.stringify(j)}`);
  return j;
}

async function signIn(page, url, key) {
  await page.goto(url + "/admin/ui/");
  await page.fill("#api-key", key);
  await page.click("form.signin button[type=submit]");
}

// axe-core in the light and the dark theme: no serious or critical finding
async function axeCheck(page, label) {
  await page.evaluate(AXE);
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    const r = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
    const bad = r.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    ok(!bad.length, `${label} (${scheme}): axe found ${bad.map((v) => `${v.id} (${v.impact}: ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")})`).join("; ")}`);
  }
  await page.emulateMedia({ colorScheme: "light" });
}

async function shoot(page, name) {
  for (const [size, vp] of [["desktop", { width: 1280, height: 800 }], ["phone", { width: 390, height: 844 }]]) {
    await page.setViewportSize(vp);
    for (const scheme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.waitForTimeout(60);
      await page.screenshot({ path: path.join(SHOTS, `${name}-${scheme}-${size}.png`), fullPage: true });
    }
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.emulateMedia({ colorScheme: "light" });
}

async function main() {
  fs.mkdirSync(SHOTS, { recursive: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "faxbot-browser-"));
  const pdf = path.join(dir, "three-pages.pdf");
  fs.writeFileSync(pdf, execFileSync("python3", ["-c",
    "import sys; sys.path.insert(0, sys.argv[1]); import documents; sys.stdout.buffer.write(documents.pdf_text(3))",
    path.join(__dirname, "..", "api")]));
  // ASTERISK_SPOOL_DIR from the environment: the Asterisk stand-in's spool, and an env-pinned setting
  fs.mkdirSync(path.join(dir, "spool"));
  const gw = await startGateway(dir, { ASTERISK_SPOOL_DIR: path.join(dir, "spool") });
  const userData = fs.mkdtempSync(path.join(os.tmpdir(), "faxbot-chromium-"));
  const browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
  });
  void userData; // playwright gives every launch its own fresh profile directory
  const url = gw.url;
  try {
    const admin = await adminApi(url, "POST", "/admin/api-keys", { name: "console admin", owner: "ops", scopes: ["*", "keys:manage"] });
    const reader = await adminApi(url, "POST", "/admin/api-keys", { name: "reader", owner: "ops", scopes: ["fax:read"] });
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    page.setDefaultTimeout(15000);
    page.on("dialog", (d) => d.accept());
    const pageErrors = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    // refused requests (401/403/404, tested on purpose) log "Failed to load resource": only script errors count
    page.on("console", (m) => { if (m.type() === "error" && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text()); });
    current = page;
    let jobId = null;

    await test("sign-in page: a wrong key is refused with a clear message", async () => {
      // Each try is a fresh context (nothing cached) whose first navigation elsewhere warms
      // the browser up, so the figure is the console's own; the best of three, because
      // this machine is shared and a busy moment says nothing about the page.
      const tries = [];
      for (let i = 0; i < 3; i++) {
        const c = await browser.newContext();
        const p = await c.newPage();
        await p.goto(url + "/health");
        await p.goto(url + "/admin/ui/");
        await p.waitForSelector("#api-key");
        tries.push(await p.evaluate(() => performance.getEntriesByType("navigation")[0].domContentLoadedEventEnd));
        await c.close();
      }
      const nav = Math.min(...tries);
      console.log(`     first page interactive (DOMContentLoaded done) after ${tries.map((t) => t.toFixed(0)).join(", ")} ms (best ${nav.toFixed(0)})`);
      await signIn(page, url, "fbk_live_000000000000_" + "B".repeat(43));
      await page.waitForSelector(".signin .notice.error");
      ok(/Sign-in refused/.test(await page.textContent(".signin .notice.error")), "no refusal text");
      ok((await ctx.cookies()).length === 0, "a cookie was set for a wrong key");
      await axeCheck(page, "sign-in");
      await shoot(page, "signin");
      // last, so a slow moment of this shared machine fails this test only, not the sign-in the others need
      ok(nav < 300, `the first page took ${nav} ms to become interactive (budget 300 ms)`);
    });

    await test("sign in with a good key; the key is nowhere the page can read", async () => {
      await page.fill("#api-key", admin.token);
      await page.click("form.signin button[type=submit]");
      await page.waitForSelector("#nav:not([hidden])");
      const seen = await page.evaluate(() => JSON.stringify({ l: { ...localStorage }, s: { ...sessionStorage }, c: document.cookie, v: document.querySelector("#api-key") && document.querySelector("#api-key").value }));
      ok(!seen.includes(admin.token) && !seen.includes(admin.token.slice(-20)), "the key is readable by script: " + seen);
      ok(!seen.includes("faxbot_session"), "the session cookie is readable by script");
      const cookies = await ctx.cookies();
      ok(cookies.length === 1 && cookies[0].httpOnly && cookies[0].sameSite === "Strict", "cookie flags: " + JSON.stringify(cookies));
    });

    await test("dashboard shows the backend, readiness and job counts", async () => {
      await page.goto(url + "/admin/ui/#/dashboard");
      await page.waitForSelector("text=loopback");
      await page.waitForSelector("#h-counts ~ dl");
      await axeCheck(page, "dashboard");
      await shoot(page, "dashboard");
      // 200 % zoom of a 1280-wide window is a 640 CSS px viewport: nothing may need sideways scrolling
      await page.setViewportSize({ width: 640, height: 400 });
      const wide = await page.evaluate(() => document.documentElement.scrollWidth);
      await page.screenshot({ path: path.join(SHOTS, "dashboard-light-zoom200.png"), fullPage: true });
      await page.setViewportSize({ width: 1280, height: 800 });
      ok(wide <= 640, `at 200 % zoom the page is ${wide} px wide`);
    });

    await test("send a 3-page PDF: upload progress, then SUCCESS", async () => {
      await page.goto(url + "/admin/ui/#/send");
      await page.fill("#to", "+1 555 010 4477");
      await page.setInputFiles("#file", pdf);
      await axeCheck(page, "send");
      await shoot(page, "send");
      await page.click("form.card button[type=submit]");
      await page.waitForSelector(".steps li.now, .steps li.done", { timeout: 15000 });
      ok((await page.getAttribute("progress", "value")) === "100", "upload progress did not reach 100");
      // (selectors, not waitForFunction: the console's CSP forbids the string eval it may fall back to)
      await page.waitForSelector('#view [aria-live] p .badge.ok:has-text("Sent")', { timeout: 90000 });
      await shoot(page, "send-done");
      const href = await page.getAttribute("text=Open the job's details", "href");
      jobId = href.split("/").pop();
    });

    await test("job detail shows 3 pages and the outbound PDF in the page", async () => {
      await page.click("text=Open the job's details");
      await page.waitForSelector("dl.facts");
      const facts = await page.textContent("dl.facts");
      ok(/Pages3/.test(facts.replace(/\s+/g, "")), "pages not 3: " + facts);
      await axeCheck(page, "job detail");
      await shoot(page, "job");
      const route = await fetch(`${url}/admin/fax-jobs/${jobId}/pdf`, { headers: { "X-API-Key": BOOT } });
      if (route.status === 404 && !/PDF/.test(await route.text())) {
        const e = new Error("GET /admin/fax-jobs/{id}/pdf (issue 10) is not in this build: the PDF in the page is not checked");
        e.skip = true;
        throw e;
      }
      await page.waitForSelector("iframe.pdf");
      ok((await page.getAttribute("iframe.pdf", "src")).startsWith("blob:"), "the PDF is not shown from a blob");
    });

    await test("jobs list with a status filter and the job in it", async () => {
      await page.goto(url + "/admin/ui/#/jobs?status=SUCCESS");
      await page.waitForSelector(`a[href="#/jobs/${jobId}"]`);
      ok((await page.inputValue("#f-status")) === "SUCCESS", "filter not kept");
      await page.goto(url + "/admin/ui/#/jobs?status=FAILED");
      await page.waitForSelector("text=No jobs match these filters.");
      await page.goto(url + "/admin/ui/#/jobs");
      await page.waitForSelector("table");
      await axeCheck(page, "jobs");
      await shoot(page, "jobs");
    });

    await require("./live.js")({ page, url, boot: BOOT, pdf, dir, test, ok, axeCheck, shoot });

    await test("the fax arrives in the Inbox and previews there", async () => {
      await page.goto(url + "/admin/ui/#/inbox");
      await page.waitForSelector("table button", { timeout: 30000 });
      await page.click("table button");
      await page.waitForSelector("#h-preview ~ div iframe.pdf");
      await axeCheck(page, "inbox");
      await shoot(page, "inbox");
    });

    let created = null;
    await test("create a key (scopes as checkboxes), token shown once, rotate it, then revoke it", async () => {
      await page.goto(url + "/admin/ui/#/keys");
      await page.waitForSelector("table");
      await page.fill("#k-name", "made in the browser");
      await page.check("input[value='inbound:list']");
      await page.click("form.card button[type=submit]");
      await page.waitForSelector("#new-token");
      created = (await page.textContent("#new-token")).trim();
      ok(/^fbk_live_[0-9a-f]{12}_/.test(created), "no token shown");
      const keyId = created.split("_")[2];
      const listed = await adminApi(url, "GET", "/admin/api-keys");
      const k = listed.find((x) => x.key_id === keyId);
      ok(k && k.scopes.join(",") === "fax:send,fax:read,inbound:list", "scopes: " + JSON.stringify(k));
      await axeCheck(page, "keys");
      await shoot(page, "keys");
      await page.click(`button[aria-label="Rotate key ${keyId}"]`);
      await page.waitForSelector(`h2:has-text("Key ${keyId} rotated")`);
      const rotated = (await page.textContent("#new-token")).trim();
      ok(rotated !== created && rotated.startsWith(`fbk_live_${keyId}_`), "rotation did not show a new token");
      created = rotated;
      await page.click(`button[aria-label="Revoke key ${keyId}"]`);
      await page.waitForSelector(`tr:has-text("${keyId}"):has-text("Revoked")`);
      await page.goto(url + "/admin/ui/#/dashboard");
      ok(!(await page.content()).includes(created), "the token is still shown after leaving the page");
    });

    await test("settings page: the settings API's values with their source, or a clear note without it", async () => {
      await page.goto(url + "/admin/ui/#/settings");
      await page.waitForSelector("#view .card, #view .notice");
      const route = await fetch(`${url}/admin/settings`, { headers: { "X-API-Key": BOOT } });
      if (route.status === 200) {
        await page.waitForSelector("#view .field");
        ok(/Built-in default|Environment|Settings file/.test(await page.textContent("#view")), "no value sources shown");
      } else {
        ok(/no settings API yet/.test(await page.textContent("#view .notice")), "no explanation without the settings API");
      }
      await axeCheck(page, "settings");
      await shoot(page, "settings");
    });

    // Settings editing, the Setup Wizard and Diagnostics (tests/browser/admin_tools.js)
    await require("./admin_tools.js")({ test, ok, page, url, adminApi, axeCheck, shoot, BOOT, browser });

    // Plugins: the wizard's trunk list and http plugin path, the Plugins page (tests/browser/plugins.js)
    await require("./plugins.js")({ test, ok, page, url, adminApi, axeCheck, shoot, BOOT, dataDir: path.join(dir, "data") });

    await test("a revoked key cannot sign in", async () => {
      const c2 = await browser.newContext();
      const p2 = await c2.newPage();
      await signIn(p2, url, created);
      await p2.waitForSelector(".signin .notice.error");
      ok(/revoked/.test(await p2.textContent(".signin .notice.error")), "no revocation reason");
      await c2.close();
    });

    await test("CSRF: a state change without the token is refused", async () => {
      const r = await page.evaluate(async (id) => {
        const a = await fetch(`/fax/${id}/cancel`, { method: "POST" });
        const b = await fetch("/admin/api-keys", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{\"scopes\":[\"fax:read\"]}" });
        return [a.status, b.status, (await b.json()).detail];
      }, jobId);
      ok(r[0] === 403 && r[1] === 403 && /CSRF/.test(r[2]), "not refused: " + r);
    });

    await test("a session ends when its key is revoked; scopes hide pages and routes", async () => {
      const c3 = await browser.newContext();
      const p3 = await c3.newPage();
      await signIn(p3, url, reader.token);
      await p3.waitForSelector("#nav:not([hidden])");
      await p3.goto(url + "/admin/ui/#/send");
      await p3.waitForSelector("text=does not have the");
      ok(/fax:send/.test(await p3.textContent("#view .notice")), "Send page does not say which scope is missing");
      await axeCheck(p3, "send without scope");
      await shoot(p3, "send-no-scope");
      const codes = await p3.evaluate(async () => Promise.all(["/admin/api-keys", "/inbound", "/fax"].map(async (u) => (await fetch(u)).status)));
      ok(codes[0] === 403 && codes[1] === 403 && codes[2] === 200, "scope checks: " + codes);
      await adminApi(url, "DELETE", "/admin/api-keys/" + reader.key_id);
      await p3.goto(url + "/admin/ui/#/jobs");
      await p3.waitForSelector("form.signin", { timeout: 10000 });
      ok((await p3.evaluate(() => fetch("/fax").then((r) => r.status))) === 401, "the session still works");
      await c3.close();
    });

    await test("sign out ends the session on the server", async () => {
      await page.click("#sign-out");
      await page.waitForSelector("form.signin");
      ok((await page.evaluate(() => fetch("/fax").then((r) => r.status))) === 401, "still signed in after sign-out");
    });

    await test("no script errors on any page", async () => {
      ok(!pageErrors.length, pageErrors.join(" | "));
    });
    await ctx.close();
  } finally {
    await browser.close();
    const exited = new Promise((r) => gw.proc.once("exit", r));
    gw.proc.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15000))]);
    fs.rmSync(userData, { recursive: true, force: true });
  }
  await test("the gateway logged no sanitizer report (ASan/UBSan/LSan builds)", async () => {
    const log = fs.readFileSync(path.join(dir, "gateway.log"), "utf8");
    const hit = ["ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer", "WARNING: ThreadSanitizer"].find((m) => log.includes(m));
    ok(!hit, `${hit}: ${log.slice(log.indexOf(hit), log.indexOf(hit) + 1500)}`);
  });
  console.log(`browser tests: ${passed} passed, ${failed} failed, ${skipped} skipped (screenshots in ${SHOTS})`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { console.error(e); console.log(`browser tests: ${passed} passed, ${failed + 1} failed`); process.exit(1); });
