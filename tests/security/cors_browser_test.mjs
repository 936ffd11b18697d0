#!/usr/bin/env node
// CORS in a real browser, as the earlier FastAPI app's frontend uses it: a page served by a second HTTP server on
// another loopback origin (python3 -m http.server) calls `meta_db serve --cors-origin <that origin>` with fetch — a
// simple GET, a preflighted POST /query with a JSON body, and an error answer whose `detail` the page reads — while
// a page from a third, unlisted origin is refused by the browser. Debian's chromium via playwright-core
// (dashboard/node_modules), as tests/dashboard/e2e.mjs. Exit 77 (ctest SKIP) when chromium is absent.
//   META_DB_BIN=build/meta_db node tests/security/cors_browser_test.mjs
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.resolve(process.env.META_DB_BIN || path.join(repo, 'build', 'meta_db'));
const chromiumPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
if (!chromiumPath) {
  console.log('SKIP: chromium not found');
  process.exit(77);
}
const { chromium } = createRequire(path.join(repo, 'dashboard', 'package.json'))('playwright-core');
let passed = 0;
let failed = 0;
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  ok ? passed++ : failed++;
};
const freePort = () => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const waitFor = async (url) => {
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(url)).status < 500) return true;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
};

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meta_db_cors-'));
spawnSync(bin, ['synth', '--patients', '2', '--out', path.join(tmp, 'a'), '--small'], { stdio: 'ignore' });
spawnSync(bin, ['ingest', path.join(tmp, 'a'), '--db', `sqlite:${tmp}/c.sqlite`, '--quiet'], { stdio: 'ignore' });
const apiPort = await freePort();
const pagePort = await freePort();
const strangerPort = await freePort();
const api = `http://127.0.0.1:${apiPort}`;
const allowed = `http://127.0.0.1:${pagePort}`;
const stranger = `http://127.0.0.1:${strangerPort}`;
// The page: plain fetch calls as the FastAPI app's frontend makes them (Content-Type: application/json).
fs.mkdirSync(path.join(tmp, 'www'));
fs.writeFileSync(path.join(tmp, 'www', 'index.html'), `<!doctype html><title>cors</title><script>
window.run = async (api) => {
  const out = {};
  try {
    const health = await fetch(api + '/health');
    out.get = { status: health.status, body: await health.json() };
  } catch (e) { out.get = { error: String(e) }; }
  try {
    const q = await fetch(api + '/query', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ collection: 'series', query: {}, limit: 5, skip: 0, sort: {} }) });
    out.post = { status: q.status, body: await q.json() };
  } catch (e) { out.post = { error: String(e) }; }
  try {
    const bad = await fetch(api + '/available-fields?collection=nope');
    out.error = { status: bad.status, body: await bad.json() };
  } catch (e) { out.error = { error: String(e) }; }
  return out;
};
</script>`);
const children = [
  spawn(bin, ['serve', '--db', `sqlite:${tmp}/c.sqlite`, '--port', String(apiPort), '--cors-origin', allowed],
    { stdio: ['ignore', fs.openSync(path.join(tmp, 'serve.log'), 'w'), 'ignore'] }),
  spawn('python3', ['-m', 'http.server', String(pagePort), '--bind', '127.0.0.1', '--directory',
    path.join(tmp, 'www')], { stdio: 'ignore' }),
  spawn('python3', ['-m', 'http.server', String(strangerPort), '--bind', '127.0.0.1', '--directory',
    path.join(tmp, 'www')], { stdio: 'ignore' }),
];
let browser;
try {
  check(await waitFor(`${api}/health`) && await waitFor(`${allowed}/`) && await waitFor(`${stranger}/`),
    'the API and both page servers answer');
  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  const page = await browser.newPage();
  await page.goto(`${allowed}/index.html`);
  const ok = await page.evaluate((a) => window.run(a), api);
  check(ok.get?.status === 200 && ok.get.body.status === 'ok', `allowed origin: GET /health through CORS ${JSON.stringify(ok.get)}`);
  check(ok.post?.status === 200 && Array.isArray(ok.post.body.results) && ok.post.body.results.length > 0,
    `allowed origin: preflighted POST /query with a JSON body answers results (${JSON.stringify(ok.post).slice(0, 120)})`);
  check(ok.error?.status === 400 && typeof ok.error.body.detail === 'string',
    `allowed origin: an error's FastAPI detail is readable (${JSON.stringify(ok.error)})`);
  const log = fs.readFileSync(path.join(tmp, 'serve.log'), 'utf8');
  check(/OPTIONS \/query 204/.test(log), 'the browser sent a preflight (OPTIONS /query 204 in the access log)');

  const other = await browser.newPage();
  await other.goto(`${stranger}/index.html`);
  const refused = await other.evaluate((a) => window.run(a), api);
  check(refused.get?.error && refused.post?.error && refused.error?.error,
    `unlisted origin: the browser refuses every answer ${JSON.stringify(refused).slice(0, 160)}`);
  const after = fs.readFileSync(path.join(tmp, 'serve.log'), 'utf8');
  check(/OPTIONS \/query 403/.test(after), 'unlisted origin: its preflight is refused (403)');
} catch (e) {
  check(false, `unexpected: ${e}`);
} finally {
  if (browser) await browser.close();
  for (const child of children) child.kill('SIGTERM');
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
