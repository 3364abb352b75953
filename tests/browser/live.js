// live.js — browser tests of the console's live pages, called from run.js with its
// helpers: Send follows a fax from its events (converting → dialing → page N of M →
// sent), several files become one fax in the order chosen, the job detail shows
// the fax pages as thumbnails that load, the Inbox shows a new fax without a
// reload and marks it read, the Logs page streams a line written after it opened
// (Pause holds lines back, numbers masked), and Jobs filters by backend and date
// and updates live. axe-core and screenshots for each page.
"use strict";
const fs = require("fs");
const path = require("path");

// Polls fn (in node) until it returns something true; fails naming what.
async function until(fn, what, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// A fax sent through the API (not the page), as another client would.
async function apiSend(url, key, to, files) {
  const fd = new FormData();
  fd.append("to", to);
  for (const [name, bytes, type] of files) fd.append("file", new Blob([bytes], { type }), name);
  const r = await fetch(url + "/fax", { method: "POST", headers: { "X-API-Key": key }, body: fd });
  const j = await r.json();
  if (r.status !== 202) throw new Error("POST /fax -> " + r.status + " " + JSON.stringify(j));
  return j;
}

async function thumbsLoaded(page, n) {
  await page.waitForSelector(`.thumbs figure:nth-child(${n}) img`);
  return until(() => page.evaluate((count) => {
    const imgs = [...document.querySelectorAll(".thumbs img")];
    return imgs.length === count && imgs.every((i) => i.complete && i.naturalWidth > 0 && i.naturalHeight > i.naturalWidth)
      ? imgs.map((i) => `${i.naturalWidth}x${i.naturalHeight}`) : null;
  }, n), `${n} page thumbnails to load`);
}

module.exports = async function liveTests({ page, url, boot, pdf, dir, test, ok, axeCheck, shoot }) {
  let jobId = null;

  await test("live: Send follows the fax from its events: converting, dialing, page 1..3 of 3, sent", async () => {
    await page.goto(url + "/admin/ui/#/send");
    await page.waitForSelector("#live-state.open");
    ok((await page.textContent("#live-state")).trim() === "Live", "the header does not say Live");
    await page.fill("#to", "+1 555 010 4477");
    await page.setInputFiles("#file", pdf);
    // every text the progress area shows, as it changes (recorded in the page)
    await page.evaluate(() => {
      window.__progress = [];
      const el = document.querySelector("#send-progress");
      new MutationObserver(() => {
        const t = el.textContent;
        if (window.__progress[window.__progress.length - 1] !== t) window.__progress.push(t);
      }).observe(el, { childList: true, subtree: true, characterData: true });
    });
    const polls = [];
    page.on("request", (r) => { if (/\/fax\/[0-9a-f]{32}$/.test(r.url())) polls.push(r.url()); });
    await page.click("form.card button[type=submit]");
    await page.waitForSelector('#send-progress .badge.ok:has-text("Sent")', { timeout: 90000 });
    const seen = await page.evaluate(() => window.__progress);
    const all = seen.join(" | ");
    for (const want of ["converting", "dialing", "page 1 of 3", "page 2 of 3", "page 3 of 3", "3 pages sent"])
      ok(all.includes(want), `"${want}" never shown; saw: ${all}`);
    ok(seen.findIndex((t) => t.includes("page 1 of 3")) < seen.findIndex((t) => t.includes("page 3 of 3")), "pages out of order: " + all);
    ok(polls.length === 0, `the page polled GET /fax/{id} ${polls.length} times with the event stream open`);
    jobId = (await page.getAttribute("#send-progress a", "href")).split("/").pop();
    await shoot(page, "send-live-done");
  });

  await test("live: job detail shows the outbound PDF and 3 page thumbnails that load", async () => {
    await page.goto(url + "/admin/ui/#/jobs/" + jobId);
    const sizes = await thumbsLoaded(page, 3);
    ok(sizes.every((s) => s.startsWith("240x")), "thumbnail sizes: " + sizes);
    ok(/Page 3 of 3/.test(await page.textContent(".thumbs")), "no page captions");
    await page.waitForSelector("iframe.pdf");
    await axeCheck(page, "job detail with thumbnails");
    await shoot(page, "job-thumbnails");
  });

  await test("live: several files become one fax in the order chosen (reorder, remove)", async () => {
    const note = path.join(dir, "cover-note.txt"), extra = path.join(dir, "not-this.txt");
    fs.writeFileSync(note, "Cover note: three pages follow.\n");
    fs.writeFileSync(extra, "This file is removed before sending.\n");
    await page.goto(url + "/admin/ui/#/send");
    await page.fill("#to", "+1 555 010 4478");
    await page.setInputFiles("#file", [pdf, note, extra]);
    await page.waitForSelector("ol.files li:nth-child(3)");
    await page.click('button[aria-label="Remove not-this.txt"]');
    await page.click('button[aria-label="Move cover-note.txt up"]');
    const order = await page.$$eval("ol.files .file-name", (els) => els.map((e) => e.textContent));
    ok(order.join() === "cover-note.txt,three-pages.pdf", "order: " + order);
    await axeCheck(page, "send with several files");
    await shoot(page, "send-files");
    await page.click("form.card button[type=submit]");
    await page.waitForSelector('#send-progress .badge.ok:has-text("Sent")', { timeout: 90000 });
    const id = (await page.getAttribute("#send-progress a", "href")).split("/").pop();
    const job = await (await fetch(`${url}/fax/${id}`, { headers: { "X-API-Key": boot } })).json();
    ok(job.pages === 4 && job.file_name === "cover-note.txt (+1 more)", "job: " + JSON.stringify(job));
    await page.goto(url + "/admin/ui/#/jobs/" + id);
    await thumbsLoaded(page, 4);
    // the cover note (little ink) is page 1, the PDF's pages follow
    const ink = await page.evaluate(() => [...document.querySelectorAll(".thumbs img")].map((img) => {
      const c = document.createElement("canvas");
      c.width = img.naturalWidth; c.height = img.naturalHeight;
      const g = c.getContext("2d");
      g.drawImage(img, 0, 0);
      const d = g.getImageData(0, 0, c.width, c.height).data;
      let dark = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] < 128) dark++;
      return dark;
    }));
    ok(ink[0] < ink[1] && ink[0] < ink[2] && ink[0] < ink[3], "page 1 is not the short cover note: dark pixels " + ink);
  });

  await test("live: a new fax appears in the Inbox without a reload; mark read and unread", async () => {
    await page.goto(url + "/admin/ui/#/inbox");
    await page.waitForSelector("table tbody tr");
    const before = await page.$$eval("tbody tr", (r) => r.length);
    await page.evaluate(() => { window.__inboxPage = true; });       // gone if the page reloaded
    const sent = await apiSend(url, boot, "+15550104479", [["live.txt", "arrives live\n", "text/plain"]]);
    await page.waitForSelector(`tbody tr:nth-child(${before + 1})`, { timeout: 30000 });
    ok(await page.evaluate(() => window.__inboxPage === true), "the page was reloaded");
    const inboundId = await until(async () => {
      const j = await (await fetch(`${url}/fax/${sent.id}`, { headers: { "X-API-Key": boot } })).json();
      return j.inbound_id;
    }, "the inbound id");
    const row = `tr[data-inbound="${inboundId}"]`;
    await page.waitForSelector(`${row}.unread`);
    const unread = parseInt(await page.textContent("#unread-count"), 10);
    ok(unread >= 1, "no unread count in the menu");
    await axeCheck(page, "inbox with unread faxes");
    await shoot(page, "inbox-unread");
    await page.click(`${row} button:has-text("Mark read")`);
    await page.waitForSelector(`${row}:not(.unread) button:has-text("Mark unread")`);
    await until(async () => (parseInt(await page.textContent("#unread-count"), 10) || 0) === unread - 1, "the unread count to go down", 5000);
    const api = await (await fetch(`${url}/inbound/${inboundId}`, { headers: { "X-API-Key": boot } })).json();
    ok(api.read_at, "the gateway did not store the read mark");
    await page.click(`${row} button:has-text("Preview")`);
    await page.waitForSelector("#h-preview ~ div .thumbs img");
    await page.click(`${row} button:has-text("Mark unread")`);
    await page.waitForSelector(`${row}.unread`);
  });

  await test("live: the Logs page streams a line written after it opened; Pause holds lines back; numbers masked", async () => {
    await page.goto(url + "/admin/ui/#/logs");
    await page.waitForSelector("#log-lines li");
    await until(async () => /Live/.test(await page.textContent(".log-state")), "the log stream to open");
    await page.evaluate(() => { window.__logsPage = true; });
    const sent = await apiSend(url, boot, "+15550104480", [["log.txt", "for the log\n", "text/plain"]]);
    const line = `#log-lines li:has-text("${sent.id}")`;
    await page.waitForSelector(line, { timeout: 15000 });
    ok(await page.evaluate(() => window.__logsPage === true), "the page was reloaded");
    const text = await page.textContent("#log-lines");
    ok(!text.includes("5550104480") && !text.includes("0104480"), "a phone number is shown unmasked");
    ok(text.includes("*4480"), "the masked number is not there");
    await axeCheck(page, "logs");
    await shoot(page, "logs");
    // filters: audit only, then a text filter
    await page.selectOption("#l-source", "audit");
    ok(await page.$$eval("#log-lines li", (ls) => ls.every((l) => l.dataset.source === "audit")), "the source filter let other lines through");
    await page.fill("#l-text", sent.id);
    await page.waitForSelector(`#log-lines li:has-text("job_created")`);
    await page.selectOption("#l-source", "");
    await page.fill("#l-text", "");
    // paused: a new job's lines wait; resumed: they show
    await page.click("#l-pause");
    const count = await page.$$eval("#log-lines li", (l) => l.length);
    const held = await apiSend(url, boot, "+15550104481", [["held.txt", "held back\n", "text/plain"]]);
    await until(async () => /[1-9]\d* new lines? waiting/.test(await page.textContent(".log-state")), "lines to wait while paused");
    ok((await page.$$eval("#log-lines li", (l) => l.length)) === count, "lines were added while paused");
    ok(!(await page.$(`#log-lines li:has-text("${held.id}")`)), "a held line is shown while paused");
    await page.click("#l-pause");
    await page.waitForSelector(`#log-lines li:has-text("${held.id}")`);
  });

  await test("live: the dashboard's counts follow a new fax without a reload", async () => {
    await page.goto(url + "/admin/ui/#/dashboard");
    await page.waitForSelector("#h-counts ~ dl");
    const sentCount = async () => Number((await page.textContent('#h-counts ~ dl dt:has-text("Sent") + dd')).replace(/\D/g, ""));
    const since = await page.evaluate(() => { const d = new Date(); d.setHours(0, 0, 0, 0); return d.toISOString(); });
    const apiCount = async () => (await (await fetch(`${url}/fax?status=SUCCESS&limit=500&since=${encodeURIComponent(since)}`,
      { headers: { "X-API-Key": boot } })).json()).items.length;
    const before = await sentCount();
    await page.evaluate(() => { window.__dashPage = true; });
    const job = await apiSend(url, boot, "+15550104483", [["dash.txt", "for the dashboard\n", "text/plain"]]);
    await until(async () => (await (await fetch(`${url}/fax/${job.id}`, { headers: { "X-API-Key": boot } })).json()).status === "SUCCESS", "the fax to be sent", 30000);
    const want = await apiCount();
    ok(want > before, "the gateway's count did not go up");
    await until(async () => (await sentCount()) === want, `the Sent count to reach ${want}`, 10000);
    ok(await page.evaluate(() => window.__dashPage === true), "the page was reloaded");
  });

  await test("live: jobs filter by backend and date, and a new job appears without a reload", async () => {
    const today = await page.evaluate(() => { const d = new Date(); return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`; });
    const tomorrow = await page.evaluate(() => { const d = new Date(); d.setDate(d.getDate() + 1); return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`; });
    await page.goto(url + "/admin/ui/#/jobs");
    await page.selectOption("#f-backend", "loopback");
    await page.fill("#f-from", today);
    await page.fill("#f-until", today);
    await page.click("form[role=search] button[type=submit]");
    await page.waitForSelector(`tr[data-job="${jobId}"]`);
    ok((await page.evaluate(() => location.hash)).includes("backend=loopback"), "the filter is not in the address");
    await axeCheck(page, "jobs filtered");
    await shoot(page, "jobs-filtered");
    await page.evaluate(() => { window.__jobsPage = true; });
    const fresh = await apiSend(url, boot, "+15550104482", [["new.txt", "a new job\n", "text/plain"]]);
    await page.waitForSelector(`tr[data-job="${fresh.id}"]`, { timeout: 15000 });
    ok(await page.evaluate(() => window.__jobsPage === true), "the page was reloaded");
    await page.goto(url + "/admin/ui/#/jobs?backend=phaxio");
    await page.waitForSelector("text=No jobs match these filters.");
    await page.goto(url + `/admin/ui/#/jobs?from=${tomorrow}`);
    await page.waitForSelector("text=No jobs match these filters.");
  });
};
