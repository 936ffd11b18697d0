#!/usr/bin/env node
// End-to-end test of the dashboard's sign-in in Debian's chromium against the REAL server with an admin token:
// the sign-in shows on 401, a wrong token is refused, a researcher's token is accepted, sent as a Bearer header on
// every API call, kept in sessionStorage and never in a URL; sign-out and revocation bring the sign-in back. Also
// CORS in the browser: a page from an allow-listed loopback origin calls the API with a token (preflight included),
// a page from another origin is blocked.
//
//   META_DB_BIN=build/meta_db node tests/dashboard/signin_e2e.mjs
//
// Prints "N passed, N failed"; exits 0 only when nothing failed, 77 (ctest SKIP) when chromium is absent.
// Its server runs with a token and a CORS origin and its page visits other origins, so it drives the browser
// itself, with the harness's helpers.
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assert, dashboard, findChromium, freePort, launchBrowser, repo, sleep, webRoot } from './harness.mjs';

const bin = path.resolve(process.env.META_DB_BIN || path.join(repo, 'build', 'meta_db'));
const chromiumPath = findChromium();
const adminToken = 'signin-e2e-admin-token-' + process.pid + '-0123456789';
const log = (...a) => console.log('[signin]', ...a);

if (!chromiumPath) {
  log('SKIP: chromium not found (apt-get install -y chromium)');
  process.exit(77);
}
const require = createRequire(path.join(dashboard, 'package.json'));
const { chromium } = require('playwright-core');
if (!fs.existsSync(path.join(webRoot, 'index.html'))) {
  const r = spawnSync('npm', ['run', 'build'], { cwd: dashboard, stdio: 'inherit' });
  if (r.status !== 0) process.exit(1);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meta_db_signin-'));
const archive = path.join(tmp, 'archive');
const dbUri = `sqlite:${path.join(tmp, 'catalog.sqlite')}`;
const results = [];
let server, browserCtx, userDataDir;
const pageServers = [];
let serverLog = '';

function run(args) {
  const r = spawnSync(bin, args, { cwd: repo, encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0) throw new Error(`${args[0]} failed (${r.status}): ${(r.stderr || '').slice(-2000)}`);
}

async function check(name, fn) {
  try {
    await fn();
    results.push(true);
    log(`ok   ${name}`);
  } catch (e) {
    results.push(false);
    log(`FAIL ${name}: ${e?.stack || e}`);
  }
}

try {
  run(['synth', '--small', '--patients', '2', '--out', archive]);
  run(['ingest', archive, '--db', dbUri, '--quiet']);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  // Two other loopback origins serving a blank page: one allow-listed, one not.
  const origins = [];
  for (let i = 0; i < 2; i++) {
    const pagePort = await freePort();
    const pageServer = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<!doctype html><title>another origin</title>');
    });
    await new Promise((resolve) => pageServer.listen(pagePort, '127.0.0.1', resolve));
    pageServers.push(pageServer);
    origins.push(`http://127.0.0.1:${pagePort}`);
  }
  const [allowedOrigin, otherOrigin] = origins;
  server = spawn(bin, ['serve', '--db', dbUri, '--port', String(port), '--web-root', webRoot, '--cors-origin', allowedOrigin], {
    cwd: repo,
    env: { ...process.env, META_DB_ADMIN_TOKEN: adminToken },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout.on('data', (d) => (serverLog = (serverLog + d).slice(-20000)));
  server.stderr.on('data', (d) => (serverLog = (serverLog + d).slice(-20000)));
  for (let i = 0; i < 150; i++) {
    try {
      if ((await fetch(base + '/health')).ok) break;
    } catch {}
    await sleep(100);
  }
  const admin = async (method, p, body) => {
    const r = await fetch(base + p, {
      method,
      headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${p} → ${r.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const researcher = await admin('POST', '/researchers', { researcher_id: 'r-signin', name: 'Dr Sign', email: 'sign@example.org' });
  const issued = await admin('POST', `/researchers/${researcher._id}/tokens`, { label: 'browser' });
  const token = issued.token;
  const studiesTotal = (await admin('GET', '/studies?limit=1')).total;
  assert(studiesTotal > 0, 'empty catalogue');

  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'meta_db_signin_chromium-'));
  browserCtx = await launchBrowser(chromium, chromiumPath, userDataDir);
  const page = browserCtx.pages()[0] ?? (await browserCtx.newPage());
  page.setDefaultTimeout(15_000);
  const requests = [];
  page.on('request', (r) => requests.push({ url: r.url(), auth: r.headers()['authorization'] ?? '' }));
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));

  await check('the sign-in shows when the server answers 401', async () => {
    await page.goto(base + '/ui/studies');
    await page.locator('[data-testid="signin-token"]').waitFor();
    assert(await page.locator('.shell').isHidden(), 'the dashboard shell is visible behind the sign-in');
  });

  await check('a wrong token is refused and not kept', async () => {
    await page.fill('[data-testid="signin-token"]', 'mdb_000000000000000000000000_' + '0'.repeat(64));
    await page.click('[data-testid="signin-submit"]');
    await page.locator('[data-testid="signin-status"]', { hasText: 'not accepted' }).waitFor();
    const kept = await page.evaluate(() => sessionStorage.getItem('meta_db.token'));
    assert(kept === null, `a refused token stayed in sessionStorage: ${kept}`);
  });

  await check("a researcher's token signs in; the page shows the catalogue", async () => {
    requests.length = 0;
    await page.fill('[data-testid="signin-token"]', token);
    await page.click('[data-testid="signin-submit"]');
    await page.locator('[data-testid="identity"]', { hasText: 'researcher r-signin' }).waitFor();
    await page.locator('[data-testid="studies-table"] tbody tr').first().waitFor();
    assert(await page.locator('[data-testid="signin"]').isHidden(), 'the sign-in is still shown');
  });

  await check('every API call carries the token as a Bearer header, no URL carries it', async () => {
    const api = requests.filter((r) => new URL(r.url).pathname.match(/^\/(studies|stats|auth|fields|series|query|openapi\.json)/));
    assert(api.length > 0, 'no API requests seen');
    for (const r of api) {
      if (new URL(r.url).pathname === '/openapi.json') continue;
      assert(r.auth === `Bearer ${token}`, `${r.url} sent Authorization "${r.auth}"`);
    }
    for (const r of requests) assert(!r.url.includes(token.slice(30)), `URL carries the token: ${r.url}`);
    assert(!page.url().includes(token.slice(30)), 'the page URL carries the token');
    const history = await page.evaluate(() => location.href + '|' + document.referrer);
    assert(!history.includes(token.slice(30)), 'the token reached location or referrer');
  });

  await check('the token lives in sessionStorage (not localStorage or cookies) and survives a reload', async () => {
    const where = await page.evaluate(() => ({ session: sessionStorage.getItem('meta_db.token'), local: JSON.stringify(localStorage), cookie: document.cookie }));
    assert(where.session === token, 'sessionStorage does not hold the token');
    assert(!where.local.includes(token.slice(30)) && !where.cookie.includes(token.slice(30)), 'the token leaked to localStorage or cookies');
    await page.reload();
    await page.locator('[data-testid="identity"]', { hasText: 'researcher r-signin' }).waitFor();
    await page.locator('[data-testid="studies-table"] tbody tr').first().waitFor();
  });

  await check('sign-out forgets the token and shows the sign-in', async () => {
    await page.click('[data-testid="signout"]');
    await page.locator('[data-testid="signin-token"]').waitFor();
    const kept = await page.evaluate(() => sessionStorage.getItem('meta_db.token'));
    assert(kept === null, 'the token stayed after sign-out');
  });

  await check('a revoked token brings the sign-in back on the next call', async () => {
    await page.fill('[data-testid="signin-token"]', token);
    await page.click('[data-testid="signin-submit"]');
    await page.locator('[data-testid="identity"]', { hasText: 'researcher r-signin' }).waitFor();
    await admin('DELETE', `/researchers/${researcher._id}/tokens/${issued.token_id}`);
    await page.click('a[data-nav="series"]');
    await page.locator('[data-testid="signin-status"]', { hasText: 'no longer accepts' }).waitFor();
    assert(await page.locator('.shell').isHidden(), 'the shell stays visible after a 401');
  });

  const callFrom = async (origin) => {
    await page.goto(origin + '/');
    return page.evaluate(
      async ({ base, token }) => {
        try {
          const res = await fetch(base + '/studies?limit=1', { headers: { Authorization: `Bearer ${token}` } });
          return { status: res.status, total: (await res.json()).total };
        } catch (e) {
          return { blocked: String(e) };
        }
      },
      { base, token: adminToken },
    );
  };

  await check('CORS: a page from the allow-listed origin calls the API with a token (preflight and all)', async () => {
    const r = await callFrom(allowedOrigin);
    assert(r.status === 200 && r.total === studiesTotal, `from ${allowedOrigin}: ${JSON.stringify(r)}`);
  });

  await check('CORS: a page from another origin is blocked by the browser', async () => {
    const r = await callFrom(otherOrigin);
    assert(r.blocked, `from ${otherOrigin} the call went through: ${JSON.stringify(r)}`);
  });

  await check('the refused uses are in the audit log', async () => {
    const denied = await admin('GET', '/audit?action=denied');
    assert(denied.total >= 2, `expected the wrong and the revoked token's refusals, audit has ${denied.total}`);
  });

  await check('no JavaScript errors', async () => {
    assert(pageErrors.length === 0, pageErrors.join(' | '));
  });
} catch (e) {
  results.push(false);
  log(`FAIL setup: ${e?.stack || e}\n${serverLog.slice(-3000)}`);
} finally {
  try {
    await browserCtx?.close();
  } catch {}
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    for (let i = 0; i < 50 && server.exitCode === null; i++) await sleep(100);
    if (server.exitCode === null) server.kill('SIGKILL');
  }
  for (const s of pageServers) s.close();
  fs.rmSync(tmp, { recursive: true, force: true });
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
}
const passed = results.filter(Boolean).length;
console.log(`${passed} passed, ${results.length - passed} failed`);
process.exit(results.length && passed === results.length ? 0 : 1);
