// run.mjs — the official MCP TypeScript SDK (@modelcontextprotocol/sdk, pinned in
// package.json) as the client of faxbot's MCP server: over stdio against
// `faxbot mcp` (in-process on a data dir, and calling a gateway with FAXBOT_URL),
// and over Streamable HTTP and the legacy HTTP+SSE transport against a running
// `faxbot serve` on 127.0.0.1. Also the raw protocol edges the SDK does not walk
// (the stateless 2026-07-28 form, unknown revisions, Origin, body caps) and OAuth:
// RS256 and ES256 keys made here, a JWKS served by a local HTTP server, and
// expired / wrong-audience / unknown-kid / badly signed tokens.
//
// Usage: node tests/mcp/run.mjs [path/to/faxbot]   (or FAXBOT_BIN)
// Prints one line per test and "mcp tests: N passed, M failed"; exits 1 on a failure.
// FAXBOT_SANITIZED=1: a sanitizer report in any server's stderr fails the run.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.resolve(process.argv[2] || process.env.FAXBOT_BIN || path.join(here, '..', '..', 'build', 'faxbot'));
const SANITIZED = process.env.FAXBOT_SANITIZED === '1';
const SLOW = SANITIZED ? 3 : 1;
const PHONE = '+15551234567';
const ADMIN = 'admin-bootstrap-key-for-mcp-tests';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'faxbot-mcp-'));
const servers = [];
let passed = 0, failed = 0;

function assert(cond, msg) { if (!cond) throw new Error(msg); }

async function test(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

// ---- documents ----
function pdfPages(texts) {
  const objs = ['<< /Type /Catalog /Pages 2 0 R >>'];
  const kids = texts.map((_, i) => `${4 + 2 * i} 0 R`).join(' ');
  objs.push(`<< /Type /Pages /Kids [${kids}] /Count ${texts.length} >>`);
  objs.push('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>');
  texts.forEach((t, i) => {
    objs.push(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents ${5 + 2 * i} 0 R >>`);
    const stream = `BT\n/F1 18 Tf\n72 720 Td\n(${t}) Tj\nET\n0 g 72 100 468 6 re f`;
    objs.push(`<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`);
  });
  let out = '%PDF-1.4\n';
  const offs = [];
  objs.forEach((b, i) => { offs.push(out.length); out += `${i + 1} 0 obj\n${b}\nendobj\n`; });
  const xref = out.length;
  out += `xref\n0 ${objs.length + 1}\n0000000000 65535 f \n`;
  for (const o of offs) out += `${String(o).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objs.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}
const TWO_PAGES = pdfPages(['Faxbot MCP test, page 1 of 2', 'Faxbot MCP test, page 2 of 2']);

// ---- processes ----
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
    s.on('error', reject);
  });
}

function baseEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(FAX|API_KEY|REQUIRE_|MAX_|AUDIT_|INBOUND_|ENABLE_MCP|MCP_|OAUTH_|PUBLIC_API_URL)/.test(k)) continue;
    if (/_proxy$/i.test(k)) continue;
    env[k] = v;
  }
  return { ...env, FAX_RETRY_BASE_SECONDS: '1', ...extra };
}

async function startGateway(extra) {
  const dir = fs.mkdtempSync(path.join(work, 'gw-'));
  const port = await freePort();
  const errPath = path.join(dir, 'stderr.txt');
  const err = fs.openSync(errPath, 'w');
  const env = baseEnv({ FAX_DATA_DIR: path.join(dir, 'data'), API_KEY: ADMIN, ENABLE_MCP_HTTP: 'true', ENABLE_MCP_SSE: 'true',
                        AUDIT_LOG_ENABLED: 'true', AUDIT_LOG_FILE: path.join(dir, 'audit.log'), ...extra });
  const proc = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`], { env, stdio: ['ignore', err, err] });
  const gw = { proc, port, url: `http://127.0.0.1:${port}`, dir, errPath, auditPath: path.join(dir, 'audit.log') };
  servers.push(gw);
  const deadline = Date.now() + 20000 * SLOW;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`faxbot serve exited ${proc.exitCode}: ${fs.readFileSync(errPath, 'utf8')}`);
    try { const r = await fetch(gw.url + '/health'); if (r.status === 200) return gw; } catch { /* not yet */ }
    await sleep(100);
  }
  throw new Error('faxbot serve did not answer /health');
}

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

async function makeKey(gw, scopes, name) {
  const r = await fetch(gw.url + '/admin/api-keys', {
    method: 'POST', headers: { 'X-API-Key': ADMIN, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name, owner: 'mcp-tests', scopes }),
  });
  const j = await r.json();
  assert(r.status === 200 || r.status === 201, `key creation: HTTP ${r.status} ${JSON.stringify(j)}`);
  return j.token;
}

// ---- MCP helpers ----
function structured(res) { return res.structuredContent; }
function text(res) { return (res.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('\n'); }

async function callOk(client, name, args, opts) {
  const res = await client.callTool({ name, arguments: args }, undefined, opts);
  assert(!res.isError, `${name} failed: ${text(res)}`);
  return res;
}

async function waitStatus(client, jobId, want, timeoutMs = 60000 * SLOW) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = structured(await callOk(client, 'get_fax_status', { jobId }));
    if (last.status === want) return last;
    if (['SUCCESS', 'FAILED', 'cancelled'].includes(last.status)) break;
    await sleep(200);
  }
  throw new Error(`job ${jobId} did not reach ${want}: ${JSON.stringify(last)}`);
}

// The SDK runs notification handlers a tick later than response handlers, so the
// notification sent just before the answer can arrive after its request is done
// (and is dropped): require the first ones, in order, not the very last.
function progressOk(p) {
  return p.length >= 1 && /is queued/.test(p[0].message) && p.every((x, i) => x.total === 3 && (i === 0 || x.progress > p[i - 1].progress));
}

const EXPECTED_TOOLS = ['cancel_fax', 'get_fax', 'get_fax_status', 'get_inbound_pdf', 'list_faxes', 'list_inbound', 'send_fax'];

// The whole story an assistant walks: tools, a 2-page PDF out, SUCCESS, its inbound copy, the PDF back.
async function faxRoundTrip(client, label) {
  const tools = (await client.listTools()).tools;
  const names = tools.map((t) => t.name).sort();
  assert(JSON.stringify(names) === JSON.stringify(EXPECTED_TOOLS), `${label}: tools ${names}`);
  for (const t of tools) assert(t.inputSchema && t.inputSchema.type === 'object' && t.outputSchema, `${label}: schemas of ${t.name}`);
  const sent = await callOk(client, 'send_fax', { to: PHONE, fileContent: TWO_PAGES.toString('base64'), fileName: 'two-pages.pdf' });
  const job = structured(sent);
  assert(/^[0-9a-f]{32}$/.test(job.id), `${label}: job id ${job.id}`);
  assert(text(sent).includes(job.id), `${label}: summary names the job`);
  assert(!('pdf_url' in job), `${label}: no bearer link handed to the model`);
  const done = await waitStatus(client, job.id, 'SUCCESS');
  assert(done.pages === 2, `${label}: pages ${done.pages}`);
  // its inbound copy (loopback), found by paging through list_inbound
  let inbound = null, cursor;
  for (let i = 0; i < 50 && !inbound; i++) {
    const page = structured(await callOk(client, 'list_inbound', cursor ? { limit: 1, cursor } : { limit: 1 }));
    assert(page.items.length <= 1, `${label}: page size`);
    inbound = page.items.find((it) => it.source_job_id === job.id) || null;
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  assert(inbound, `${label}: no inbound copy of ${job.id}`);
  const pdf = await callOk(client, 'get_inbound_pdf', { inboundId: inbound.id });
  const res = pdf.content.find((c) => c.type === 'resource');
  assert(res && res.resource.uri === `faxbot://inbound/${inbound.id}/pdf` && res.resource.mimeType === 'application/pdf', `${label}: embedded resource`);
  const bytes = Buffer.from(res.resource.blob, 'base64');
  assert(bytes.subarray(0, 5).toString() === '%PDF-' && bytes.length === structured(pdf).size_bytes, `${label}: PDF bytes`);
  // get_fax tells the kinds apart by lookup
  const gIn = structured(await callOk(client, 'get_fax', { id: inbound.id }));
  assert(gIn.kind === 'inbound' && gIn.fax.id === inbound.id, `${label}: get_fax inbound`);
  const gOut = structured(await callOk(client, 'get_fax', { id: job.id }));
  assert(gOut.kind === 'outbound' && gOut.fax.status === 'SUCCESS', `${label}: get_fax outbound`);
  // resources
  const r1 = await client.readResource({ uri: `faxbot://fax/${job.id}` });
  assert(JSON.parse(r1.contents[0].text).id === job.id, `${label}: faxbot://fax resource`);
  const r2 = await client.readResource({ uri: `faxbot://inbound/${inbound.id}/pdf` });
  assert(Buffer.from(r2.contents[0].blob, 'base64').subarray(0, 5).toString() === '%PDF-', `${label}: inbound pdf resource`);
  const listed = await callOk(client, 'list_faxes', { limit: 5 });
  assert(structured(listed).items.some((j) => j.id === job.id), `${label}: list_faxes`);
  return { job, inbound };
}

async function badCalls(client, label) {
  const badNum = await client.callTool({ name: 'send_fax', arguments: { to: 'not-a-number', fileContent: TWO_PAGES.toString('base64'), fileType: 'pdf' } });
  assert(badNum.isError && /number|E\.164|digits/i.test(text(badNum)), `${label}: bad number → ${text(badNum)}`);
  const badFile = await client.callTool({ name: 'send_fax', arguments: { to: PHONE, fileContent: Buffer.from([0, 1, 2, 3, 0xff, 0xfe]).toString('base64'), fileName: 'x.bin' } });
  assert(badFile.isError && /Unsupported file type/.test(text(badFile)), `${label}: bad file → ${text(badFile)}`);
  const badB64 = await client.callTool({ name: 'send_fax', arguments: { to: PHONE, fileContent: '@@not base64@@' } });
  assert(badB64.isError && /base64/.test(text(badB64)), `${label}: bad base64 → ${text(badB64)}`);
  const http = await client.callTool({ name: 'send_fax', arguments: { to: PHONE, fileUrl: 'http://example.com/a.pdf' } });
  assert(http.isError && /https/.test(text(http)), `${label}: http fileUrl → ${text(http)}`);
  const priv = await client.callTool({ name: 'send_fax', arguments: { to: PHONE, fileUrl: 'https://127.0.0.1:1/a.pdf' } });
  assert(priv.isError && /private or local/.test(text(priv)), `${label}: private fileUrl → ${text(priv)}`);
  const missing = await client.callTool({ name: 'get_fax', arguments: { id: 'f'.repeat(32) } });
  assert(missing.isError && /No outbound or inbound fax/.test(text(missing)), `${label}: unknown id → ${text(missing)}`);
  let threw = false;
  try { await client.callTool({ name: 'no_such_tool', arguments: {} }); } catch (e) { threw = /Unknown tool|-32602/.test(String(e)); }
  assert(threw, `${label}: unknown tool is a protocol error`);
}

function stdioClient(env) {
  const stderrChunks = [];
  const transport = new StdioClientTransport({ command: BIN, args: ['mcp'], env: baseEnv(env), stderr: 'pipe' });
  transport.stderr?.on('data', (d) => stderrChunks.push(d));
  const client = new Client({ name: 'faxbot-mcp-tests', version: '1.0.0' });
  return { client, transport, stderr: () => Buffer.concat(stderrChunks).toString() };
}

function httpClient(gw, headers) {
  const transport = new StreamableHTTPClientTransport(new URL(gw.url + '/mcp'), { requestInit: { headers } });
  return { client: new Client({ name: 'faxbot-mcp-tests', version: '1.0.0' }), transport };
}

function sseClient(gw, headers) {
  const transport = new SSEClientTransport(new URL(gw.url + '/mcp/sse'), { requestInit: { headers } });
  return { client: new Client({ name: 'faxbot-mcp-tests', version: '1.0.0' }), transport };
}

async function rawPost(gw, body, headers = {}) {
  const r = await fetch(gw.url + '/mcp', {
    method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers },
  });
  const t = await r.text();
  let j = null;
  try { j = JSON.parse(t); } catch { /* not JSON */ }
  return { status: r.status, json: j, text: t, headers: r.headers };
}

const META = (v = '2026-07-28') => ({ 'io.modelcontextprotocol/protocolVersion': v, 'io.modelcontextprotocol/clientCapabilities': {} });

// ---- JWT ----
function b64u(buf) { return Buffer.from(buf).toString('base64url'); }
function signJwt(alg, kid, key, claims) {
  const head = b64u(JSON.stringify({ alg, kid, typ: 'JWT' }));
  const body = b64u(JSON.stringify(claims));
  const data = Buffer.from(`${head}.${body}`);
  const sig = alg === 'RS256' ? crypto.sign('sha256', data, key) : crypto.sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
  return `${head}.${body}.${b64u(sig)}`;
}
function jwk(pub, kid, alg) { return { ...pub.export({ format: 'jwk' }), kid, alg, use: 'sig' }; }

// ---- the tests ----
async function main() {
  if (!fs.existsSync(BIN)) { console.log(`FAIL faxbot binary not found: ${BIN}`); process.exit(1); }

  // stdio, in-process on a local data dir
  await test('stdio (in-process): initialize, tools, 2-page PDF to SUCCESS, inbound copy, PDF, resources, progress', async () => {
    const { client, transport, stderr } = stdioClient({ FAX_DATA_DIR: path.join(work, 'stdio-data') });
    await client.connect(transport);
    try {
      assert(client.getServerVersion().name === 'faxbot', 'server name');
      assert(client.getServerCapabilities().tools, 'tools capability');
      await faxRoundTrip(client, 'stdio');
      await badCalls(client, 'stdio');
      // progress notifications while the fax is sent, when asked for
      const progress = [];
      const res = await callOk(client, 'send_fax', { to: PHONE, fileContent: TWO_PAGES.toString('base64'), fileType: 'pdf' },
                               { onprogress: (p) => progress.push(p), timeout: 120000 * SLOW, resetTimeoutOnProgress: true });
      assert(structured(res).status === 'SUCCESS', `progress call ends with the outcome: ${structured(res).status}`);
      assert(progressOk(progress), `progress: ${JSON.stringify(progress)}`);
      // filePath works locally
      const f = path.join(work, 'local.pdf');
      fs.writeFileSync(f, TWO_PAGES);
      const byPath = await callOk(client, 'send_fax', { to: PHONE, filePath: f });
      assert(structured(byPath).id, 'filePath send');
    } finally {
      await client.close();
    }
    assert(!/ERROR: AddressSanitizer|runtime error:|LeakSanitizer/.test(stderr()), `sanitizer report in faxbot mcp:\n${stderr()}`);
  });

  await test('stdio: oversized and malformed lines get JSON-RPC errors on stdout, logs only on stderr', async () => {
    const proc = spawn(BIN, ['mcp'], { env: baseEnv({ FAX_DATA_DIR: path.join(work, 'stdio-raw'), MAX_FILE_SIZE_MB: '1' }), stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '', err = '';
    proc.stdout.on('data', (d) => { out += d; });
    proc.stderr.on('data', (d) => { err += d; });
    proc.stdin.write('{"jsonrpc":"2.0","id":1,"method":"ping"}\n');
    proc.stdin.write('x'.repeat(3 * 1024 * 1024) + '\n');
    proc.stdin.write('[{"jsonrpc":"2.0","id":2,"method":"ping"}]\n');
    proc.stdin.write('{"jsonrpc":"2.0","id":3,"method":"nope"}\n');
    proc.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'send_fax', arguments: { to: PHONE, fileContent: TWO_PAGES.toString('base64'), fileType: 'pdf' }, _meta: { progressToken: 't' } } }) + '\n');
    proc.stdin.write('{"jsonrpc":"2.0","id":5,"method":"resources/list"}\n');
    proc.stdin.end();
    const code = await new Promise((r) => proc.on('exit', r));
    const lines = out.trim().split('\n').map((l) => JSON.parse(l));
    assert(code === 0, `exit ${code}`);
    const answers = lines.filter((l) => 'id' in l);
    assert(answers.length === 6, `6 answers, got ${answers.length}: ${out.slice(0, 500)}`);
    assert(lines.some((l) => l.method === 'notifications/progress' && l.params.progressToken === 't'), 'progress lines');
    assert(answers[4].result.structuredContent.status === 'SUCCESS', `send_fax waited for the outcome: ${JSON.stringify(answers[4]).slice(0, 300)}`);
    assert(answers[5].result.resources.length === 1 && /^faxbot:\/\/inbound\/[0-9a-f]{32}\/pdf$/.test(answers[5].result.resources[0].uri), 'resources/list');
    assert(answers[0].id === 1 && answers[0].result, 'ping');
    assert(answers[1].error.code === -32700 && /longer than/.test(answers[1].error.message), 'overlong line');
    assert(answers[2].error.code === -32600, 'batch refused');
    assert(answers[3].error.code === -32601, 'unknown method');
    assert(err.length > 0 && !/\{"jsonrpc"/.test(err), 'logs on stderr only');
    assert(!/AddressSanitizer|runtime error:|LeakSanitizer/.test(err), `sanitizer report from faxbot mcp:\n${err.slice(-3000)}`);
  });

  const gw = await startGateway({ MAX_FILE_SIZE_MB: '2' });
  const full = await makeKey(gw, 'fax:send,fax:read,inbound:list,inbound:read', 'assistant');
  const readOnly = await makeKey(gw, 'fax:read', 'reader');
  let httpJob = null;

  await test('stdio calling a gateway (FAXBOT_URL + FAXBOT_API_KEY): round trip; read-only key cannot send', async () => {
    const a = stdioClient({ FAXBOT_URL: gw.url, FAXBOT_API_KEY: full });
    await a.client.connect(a.transport);
    try { await faxRoundTrip(a.client, 'stdio-rest'); } finally { await a.client.close(); }
    const b = stdioClient({ FAXBOT_URL: gw.url, FAXBOT_API_KEY: readOnly });
    await b.client.connect(b.transport);
    try {
      const r = await b.client.callTool({ name: 'send_fax', arguments: { to: PHONE, fileContent: TWO_PAGES.toString('base64'), fileType: 'pdf' } });
      assert(r.isError && /Insufficient scope: fax:send/.test(text(r)), `read-only send: ${text(r)}`);
    } finally { await b.client.close(); }
  });

  await test('Streamable HTTP (SDK, Bearer key): negotiate, round trip, errors, progress', async () => {
    const { client, transport } = httpClient(gw, { Authorization: `Bearer ${full}` });
    await client.connect(transport);
    try {
      assert(transport.protocolVersion === '2025-11-25', `negotiated ${transport.protocolVersion}`);
      httpJob = (await faxRoundTrip(client, 'http')).job;
      await badCalls(client, 'http');
      const progress = [];
      const res = await callOk(client, 'send_fax', { to: PHONE, fileContent: TWO_PAGES.toString('base64'), fileType: 'pdf' },
                               { onprogress: (p) => progress.push(p), timeout: 120000 * SLOW, resetTimeoutOnProgress: true });
      assert(structured(res).status === 'SUCCESS' && progressOk(progress), `http progress: ${JSON.stringify(progress)}`);
    } finally { await client.close(); }
  });

  await test('Streamable HTTP: X-API-Key works; fax:read key cannot send (isError with the API message)', async () => {
    const { client, transport } = httpClient(gw, { 'X-API-Key': readOnly });
    await client.connect(transport);
    try {
      const r = await client.callTool({ name: 'send_fax', arguments: { to: PHONE, fileContent: TWO_PAGES.toString('base64'), fileType: 'pdf' } });
      assert(r.isError && /Insufficient scope: fax:send required/.test(text(r)), `send: ${text(r)}`);
      const l = await client.callTool({ name: 'list_inbound', arguments: {} });
      assert(l.isError && /inbound:list/.test(text(l)), `list_inbound: ${text(l)}`);
      await callOk(client, 'list_faxes', {});
    } finally { await client.close(); }
  });

  await test('Streamable HTTP: a key of another owner does not see the job (as the REST API)', async () => {
    assert(httpJob, 'needs the job of the round trip');
    const r = await fetch(gw.url + '/admin/api-keys', { method: 'POST', headers: { 'X-API-Key': ADMIN, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'other', owner: 'someone-else', scopes: 'fax:read,fax:send' }) });
    const other = (await r.json()).token;
    const { client, transport } = httpClient(gw, { 'X-API-Key': other });
    await client.connect(transport);
    try {
      for (const [tool, args] of [['get_fax_status', { jobId: httpJob.id }], ['cancel_fax', { jobId: httpJob.id }]]) {
        const res = await client.callTool({ name: tool, arguments: args });
        assert(res.isError && /Job not found/.test(text(res)), `${tool}: ${text(res)}`);
      }
      const list = structured(await callOk(client, 'list_faxes', { limit: 50 }));
      assert(!list.items.some((j) => j.id === httpJob.id), 'list_faxes shows only its own');
    } finally { await client.close(); }
  });

  await test('Streamable HTTP: wrong key and no key get 401 (SDK connect fails)', async () => {
    for (const headers of [{ Authorization: 'Bearer fbk_wrong_key' }, { 'X-API-Key': 'nope' }, {}]) {
      const { client, transport } = httpClient(gw, headers);
      let err = null;
      try { await client.connect(transport); } catch (e) { err = e; }
      assert(err && (err.code === 401 || /401/.test(String(err))), `expected 401 for ${JSON.stringify(headers)}: ${err}`);
      await client.close().catch(() => {});
    }
    const raw = await rawPost(gw, { jsonrpc: '2.0', id: 1, method: 'ping' }, { Authorization: 'Bearer wrong' });
    assert(raw.status === 401 && raw.headers.get('www-authenticate'), `raw 401 ${raw.status}`);
  });

  await test('Streamable HTTP: untrusted Origin refused (403); localhost origin allowed', async () => {
    const bad = await rawPost(gw, { jsonrpc: '2.0', id: 1, method: 'ping' }, { Authorization: `Bearer ${full}`, Origin: 'https://evil.example' });
    assert(bad.status === 403, `evil origin: ${bad.status}`);
    const good = await rawPost(gw, { jsonrpc: '2.0', id: 1, method: 'ping' }, { Authorization: `Bearer ${full}`, Origin: 'http://localhost:3000' });
    assert(good.status === 200 && good.json.result, `localhost origin: ${good.status}`);
    const { client, transport } = sseClient(gw, { Authorization: `Bearer ${full}`, Origin: 'http://attacker.test' });
    let err = null;
    try { await client.connect(transport); } catch (e) { err = e; }
    assert(err && (err.code === 403 || /403/.test(String(err))), `SSE with evil origin: ${err}`);
    await client.close().catch(() => {});
  });

  await test('Streamable HTTP: revisions — each legacy one negotiated, stateless 2026-07-28, unknown ones refused', async () => {
    const auth = { Authorization: `Bearer ${full}` };
    for (const v of ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25']) {
      const r = await rawPost(gw, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: v, capabilities: {}, clientInfo: { name: 't', version: '1' } } }, auth);
      assert(r.status === 200 && r.json.result.protocolVersion === v, `initialize ${v}: ${r.text}`);
    }
    const fut = await rawPost(gw, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2099-01-01', capabilities: {}, clientInfo: { name: 't', version: '1' } } }, auth);
    assert(fut.json.result.protocolVersion === '2025-11-25', 'unknown initialize revision → our newest legacy one');
    const hdr = await rawPost(gw, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { ...auth, 'MCP-Protocol-Version': '1999-01-01' });
    assert(hdr.status === 400 && hdr.json.error.code === -32022 && hdr.json.error.data.supported.includes('2026-07-28'), `bad header: ${hdr.text}`);
    const disc = await rawPost(gw, { jsonrpc: '2.0', id: 3, method: 'server/discover', params: { _meta: META() } }, { ...auth, 'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': 'server/discover' });
    assert(disc.status === 200 && disc.json.result.supportedVersions.includes('2026-07-28') && disc.json.result._meta['io.modelcontextprotocol/serverInfo'].name === 'faxbot' && disc.json.result.resultType === 'complete', `discover: ${disc.text}`);
    const list = await rawPost(gw, { jsonrpc: '2.0', id: 4, method: 'tools/list', params: { _meta: META() } }, { ...auth, 'MCP-Protocol-Version': '2026-07-28' });
    assert(list.json.result.tools.length === 7 && typeof list.json.result.ttlMs === 'number' && list.json.result.cacheScope, `stateless tools/list: ${list.text.slice(0, 300)}`);
    const call = await rawPost(gw, { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'list_faxes', arguments: { limit: 1 }, _meta: META() } }, { ...auth, 'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': 'tools/call', 'Mcp-Name': 'list_faxes' });
    assert(call.json.result.isError === false && call.json.result.resultType === 'complete', `stateless call: ${call.text.slice(0, 300)}`);
    const lie = await rawPost(gw, { jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'list_faxes', arguments: {}, _meta: META() } }, { ...auth, 'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': 'tools/call', 'Mcp-Name': 'send_fax' });
    assert(lie.status === 400 && lie.json.error.code === -32602, `Mcp-Name disagreeing with the body: ${lie.text}`);
    const unk = await rawPost(gw, { jsonrpc: '2.0', id: 6, method: 'tools/list', params: { _meta: META('2030-01-01') } }, auth);
    assert(unk.status === 400 && unk.json.error.code === -32022 && unk.json.error.data.requested === '2030-01-01', `unknown _meta revision: ${unk.text}`);
    const nocaps = await rawPost(gw, { jsonrpc: '2.0', id: 7, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } } }, auth);
    assert(nocaps.json.error.code === -32602, `missing clientCapabilities: ${nocaps.text}`);
    const note = await rawPost(gw, { jsonrpc: '2.0', method: 'notifications/initialized' }, auth);
    assert(note.status === 202, `notification: ${note.status}`);
    const parse = await rawPost(gw, '{"jsonrpc":"2.0",', auth);
    assert(parse.status === 400 && parse.json.error.code === -32700, `parse error: ${parse.text}`);
    const get = await fetch(gw.url + '/mcp', { headers: auth });
    assert(get.status === 405, `GET /mcp: ${get.status}`);
  });

  await test('Streamable HTTP: a body over the cap is refused (413) before it is read', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'send_fax', arguments: { to: PHONE, fileContent: 'A'.repeat(4 * 1024 * 1024) } } });
    // as curl does for large bodies: Expect: 100-continue, and the server refuses before the upload
    const status = await new Promise((resolve) => {
      const sock = net.connect(gw.port, '127.0.0.1');
      let got = '';
      sock.on('data', (d) => {
        got += d;
        if (/^HTTP\/1\.1 100/.test(got)) { got = ''; sock.write(big); }
        else if (/^HTTP\/1\.1 (\d+)/.test(got)) { resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(got)[1])); sock.destroy(); }
      });
      sock.on('error', () => resolve(0));
      sock.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json\r\n` +
                 `Authorization: Bearer ${full}\r\nContent-Length: ${Buffer.byteLength(big)}\r\nExpect: 100-continue\r\n\r\n`);
    });
    assert(status === 413, `big body: ${status}`);
    // within the body cap but over the upload limit once decoded: the API's message
    const { client, transport } = httpClient(gw, { Authorization: `Bearer ${full}` });
    await client.connect(transport);
    try {
      const r2 = await client.callTool({ name: 'send_fax', arguments: { to: PHONE, fileContent: Buffer.alloc(2 * 1024 * 1024 + 10, 0x41).toString('base64'), fileType: 'txt' } });
      assert(r2.isError && /exceeds 2 MB limit/.test(text(r2)), `over the upload limit: ${text(r2)}`);
    } finally { await client.close(); }
  });

  await test('legacy HTTP+SSE (SDK SSEClientTransport): round trip with progress; wrong key 401; a session is its key\'s', async () => {
    const { client, transport } = sseClient(gw, { Authorization: `Bearer ${full}` });
    await client.connect(transport);
    try {
      await faxRoundTrip(client, 'sse');
      const progress = [];
      const res = await callOk(client, 'send_fax', { to: PHONE, fileContent: TWO_PAGES.toString('base64'), fileType: 'pdf' },
                               { onprogress: (p) => progress.push(p), timeout: 120000 * SLOW, resetTimeoutOnProgress: true });
      assert(structured(res).status === 'SUCCESS' && progressOk(progress), `sse progress: ${JSON.stringify(progress)}`);
      // another key cannot post into this session
      const sid = new URL(transport._endpoint).searchParams.get('sessionId');
      const other = await fetch(`${gw.url}/mcp/messages?sessionId=${sid}`, { method: 'POST', headers: { 'X-API-Key': readOnly, 'Content-Type': 'application/json' }, body: '{"jsonrpc":"2.0","id":9,"method":"ping"}' });
      assert(other.status === 403, `foreign key into a session: ${other.status}`);
    } finally { await client.close(); }
    const bad = sseClient(gw, { 'X-API-Key': 'wrong' });
    let err = null;
    try { await bad.client.connect(bad.transport); } catch (e) { err = e; }
    assert(err && (err.code === 401 || /401/.test(String(err))), `SSE wrong key: ${err}`);
    await bad.client.close().catch(() => {});
  });

  await test('MCP traffic shows in /metrics and the audit log', async () => {
    const m = await (await fetch(gw.url + '/metrics')).text();
    const ok = /faxbot_mcp_tool_calls_total\{outcome="ok"\} (\d+)/.exec(m);
    const bad = /faxbot_mcp_tool_calls_total\{outcome="error"\} (\d+)/.exec(m);
    assert(ok && Number(ok[1]) > 5 && bad && Number(bad[1]) > 0, `metrics: ${m.split('\n').filter((l) => l.includes('mcp')).join(' | ')}`);
    assert(/faxbot_mcp_messages_total\{transport="sse"\} [1-9]/.test(m) && /faxbot_mcp_messages_total\{transport="http"\} [1-9]/.test(m), 'per transport');
    const audit = fs.readFileSync(gw.auditPath, 'utf8');
    assert(/mcp_tool_call/.test(audit) && /send_fax/.test(audit), 'audit has tool calls');
    assert(/api_key_denied_scope/.test(audit) && /auth_failed/.test(audit), 'audit has refusals');
  });

  await test('idle legacy SSE sessions are closed (MCP_IDLE_SECONDS) and sessions are capped (MCP_MAX_SESSIONS)', async () => {
    const g2 = await startGateway({ MCP_IDLE_SECONDS: '5', MCP_MAX_SESSIONS: '1' });
    const ac = new AbortController();
    const r = await fetch(g2.url + '/mcp/sse', { headers: { 'X-API-Key': ADMIN }, signal: ac.signal });
    assert(r.status === 200 && /text\/event-stream/.test(r.headers.get('content-type')), `open: ${r.status}`);
    const second = await fetch(g2.url + '/mcp/sse', { headers: { 'X-API-Key': ADMIN } });
    assert(second.status === 503, `second session over the cap: ${second.status}`);
    const reader = r.body.getReader();
    let got = '';
    const t0 = Date.now();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      got += Buffer.from(value).toString();
      if (Date.now() - t0 > 30000 * SLOW) { ac.abort(); throw new Error('idle session not closed'); }
    }
    assert(/event: endpoint/.test(got), 'endpoint event');
    assert(Date.now() - t0 >= 4000, 'closed after the idle time, not before');
    await sleep(300);
    const third = await fetch(g2.url + '/mcp/sse', { headers: { 'X-API-Key': ADMIN } });
    assert(third.status === 200, `a slot is free again: ${third.status}`);
    third.body.cancel();
  });

  // OAuth: JWTs against a JWKS served here
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsa2 = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwks = { keys: [jwk(rsa.publicKey, 'rsa-1', 'RS256'), jwk(ec.publicKey, 'ec-1', 'ES256')] };
  let jwksFetches = 0;
  const jwksServer = http.createServer((req, res) => {
    jwksFetches++;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(jwks));
  });
  await new Promise((r) => jwksServer.listen(0, '127.0.0.1', r));
  const ISS = 'https://issuer.test', AUD = 'faxbot-mcp';
  const og = await startGateway({ REQUIRE_MCP_OAUTH: 'true', OAUTH_ISSUER: ISS, OAUTH_AUDIENCE: AUD,
                                  OAUTH_JWKS_URL: `http://127.0.0.1:${jwksServer.address().port}/jwks.json` });
  const now = Math.floor(Date.now() / 1000);
  const claims = (over = {}) => ({ iss: ISS, aud: AUD, sub: 'user-1', exp: now + 600, nbf: now - 10,
                                   scope: 'fax:send fax:read inbound:list inbound:read', ...over });

  await test('OAuth: RS256 and ES256 tokens from the JWKS work over Streamable HTTP and SSE', async () => {
    for (const [alg, kid, key] of [['RS256', 'rsa-1', rsa.privateKey], ['ES256', 'ec-1', ec.privateKey]]) {
      const tok = signJwt(alg, kid, key, claims());
      const { client, transport } = httpClient(og, { Authorization: `Bearer ${tok}` });
      await client.connect(transport);
      try {
        assert((await client.listTools()).tools.length === 7, `${alg} tools`);
        await callOk(client, 'list_faxes', {});
      } finally { await client.close(); }
    }
    const s = sseClient(og, { Authorization: `Bearer ${signJwt('ES256', 'ec-1', ec.privateKey, claims())}` });
    await s.client.connect(s.transport);
    try { await callOk(s.client, 'list_faxes', {}); } finally { await s.client.close(); }
  });

  await test('OAuth: expired, not-yet-valid, wrong audience, wrong issuer, bad signature, alg/key mismatch, API key → 401', async () => {
    const cases = {
      expired: signJwt('RS256', 'rsa-1', rsa.privateKey, claims({ exp: now - 3600 })),
      notYet: signJwt('RS256', 'rsa-1', rsa.privateKey, claims({ nbf: now + 3600 })),
      wrongAud: signJwt('ES256', 'ec-1', ec.privateKey, claims({ aud: 'someone-else' })),
      wrongIss: signJwt('RS256', 'rsa-1', rsa.privateKey, claims({ iss: 'https://evil.test' })),
      badSig: signJwt('RS256', 'rsa-1', rsa2.privateKey, claims()),
      mismatch: signJwt('ES256', 'rsa-1', ec.privateKey, claims()),
      apiKey: full,
    };
    for (const [name, tok] of Object.entries(cases)) {
      const r = await rawPost(og, { jsonrpc: '2.0', id: 1, method: 'ping' }, { Authorization: `Bearer ${tok}` });
      assert(r.status === 401, `${name}: HTTP ${r.status}`);
      assert(/resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp"/.test(r.headers.get('www-authenticate') || ''), `${name}: WWW-Authenticate ${r.headers.get('www-authenticate')}`);
    }
    const { client, transport } = httpClient(og, { Authorization: `Bearer ${cases.expired}` });
    let err = null;
    try { await client.connect(transport); } catch (e) { err = e; }
    assert(err && (err.code === 401 || /401|Unauthorized/i.test(String(err))), `SDK connect with an expired token: ${err}`);
    await client.close().catch(() => {});
  });

  await test('OAuth: unknown kid → 401 after a JWKS refetch; a rotated-in key is picked up', async () => {
    const before = jwksFetches;
    const tok = signJwt('RS256', 'rsa-2', rsa2.privateKey, claims());
    await sleep(5200);     // the refetch on an unknown kid is rate-limited to one per 5 s
    const r = await rawPost(og, { jsonrpc: '2.0', id: 1, method: 'ping' }, { Authorization: `Bearer ${tok}` });
    assert(r.status === 401 && jwksFetches === before + 1, `unknown kid: ${r.status}, fetches ${jwksFetches - before}`);
    jwks.keys.push(jwk(rsa2.publicKey, 'rsa-2', 'RS256'));
    await sleep(5200);
    const r2 = await rawPost(og, { jsonrpc: '2.0', id: 2, method: 'ping' }, { Authorization: `Bearer ${tok}` });
    assert(r2.status === 200 && r2.json.result, `rotated key: ${r2.status} ${r2.text}`);
  });

  await test('OAuth: scopes come from the token (fax:read only cannot send); protected-resource metadata', async () => {
    const tok = signJwt('ES256', 'ec-1', ec.privateKey, claims({ scope: 'fax:read' }));
    const { client, transport } = httpClient(og, { Authorization: `Bearer ${tok}` });
    await client.connect(transport);
    try {
      const r = await client.callTool({ name: 'send_fax', arguments: { to: PHONE, fileContent: TWO_PAGES.toString('base64'), fileType: 'pdf' } });
      assert(r.isError && /Insufficient scope: fax:send/.test(text(r)), `send with fax:read: ${text(r)}`);
    } finally { await client.close(); }
    for (const p of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const m = await (await fetch(og.url + p)).json();
      assert(m.resource === `${og.url}/mcp` && m.authorization_servers[0] === ISS && m.scopes_supported.includes('fax:send'), `metadata ${p}: ${JSON.stringify(m)}`);
    }
  });
  jwksServer.close();
}

async function stopAll() {
  for (const s of servers) {
    if (s.proc.exitCode === null) {
      s.proc.kill('SIGTERM');
      const t = setTimeout(() => s.proc.kill('SIGKILL'), 10000);
      await new Promise((r) => s.proc.on('exit', r));
      clearTimeout(t);
    }
    const err = fs.readFileSync(s.errPath, 'utf8');
    if (/ERROR: AddressSanitizer|runtime error:|LeakSanitizer|SUMMARY: UndefinedBehavior/.test(err)) {
      failed++;
      console.log(`FAIL sanitizer report in ${s.errPath}:\n${err.slice(-4000)}`);
    } else if (s.proc.exitCode !== 0 && s.proc.signalCode !== 'SIGTERM') {
      failed++;
      console.log(`FAIL gateway exited ${s.proc.exitCode}/${s.proc.signalCode}:\n${err.slice(-2000)}`);
    }
  }
}

try {
  await main();
} catch (e) {
  failed++;
  console.log(`FAIL setup: ${e && e.stack ? e.stack : e}`);
} finally {
  await stopAll();
  if (!failed) fs.rmSync(work, { recursive: true, force: true });
  console.log(`mcp tests: ${passed} passed, ${failed} failed${failed ? ` (files kept in ${work})` : ''}`);
  process.exit(failed ? 1 : 0);
}
