#!/usr/bin/env node
// The Content-Security-Policy in a real browser: the dashboard (/, /ui/...) and Swagger UI (/docs) served by the real
// `meta_db serve` must work under it — no CSP violation, no console error, the pages actually rendered (Swagger lists
// the API's operations; the dashboard draws its navigation and fetched data). Debian's chromium via playwright-core
// (dashboard/node_modules), as tests/dashboard/e2e.mjs. Exit 77 (ctest SKIP) when chromium is absent.
//   META_DB_BIN=build/meta_db node tests/security/csp_browser_test.mjs
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
const webRoot = path.join(repo, 'dashboard', 'dist');
let passed = 0;
let failed = 0;
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  ok ? passed++ : failed++;
};

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meta_db_csp-'));
spawnSync(bin, ['synth', '--patients', '2', '--out', path.join(tmp, 'a'), '--small'], { stdio: 'ignore' });
spawnSync(bin, ['ingest', path.join(tmp, 'a'), '--db', `sqlite:${tmp}/c.sqlite`, '--quiet'], { stdio: 'ignore' });
const port = await new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const server = spawn(bin, ['serve', '--db', `sqlite:${tmp}/c.sqlite`, '--port', String(port), '--web-root', webRoot],
  { stdio: 'ignore' });
const base = `http://127.0.0.1:${port}`;
let browser;
try {
  for (let i = 0; i < 150; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  const page = await browser.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push('console: ' + m.text());
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
  });

  const docs = await page.goto(`${base}/docs`);
  check((docs.headers()['content-security-policy'] || '').includes("script-src 'self'"), '/docs carries the CSP');
  await page.waitForSelector('.opblock', { timeout: 30000 }).catch(() => {});
  const operations = await page.locator('.opblock').count();
  check(operations > 20, `Swagger UI rendered ${operations} operations under the CSP`);
  await page.locator('.opblock-summary').first().click();
  await page.waitForTimeout(300);
  check(problems.length === 0, `/docs: no CSP violation or console error ${JSON.stringify(problems)}`);
  problems.length = 0;

  const home = await page.goto(`${base}/`);
  check((home.headers()['content-security-policy'] || '').includes("default-src 'self'"), '/ carries the CSP');
  await page.waitForLoadState('networkidle');
  const text = await page.locator('body').innerText();
  check(text.length > 50, `dashboard rendered (${text.length} characters of text)`);
  for (const route of ['/ui/series', '/ui/studies', '/ui/query', '/ui/fields', '/ui/collections', '/ui/errors']) {
    await page.goto(`${base}${route}`);
    await page.waitForLoadState('networkidle');
  }
  check(problems.length === 0, `dashboard pages: no CSP violation or console error ${JSON.stringify(problems)}`);
  // Control: an inline script injected into the page must be blocked and seen, or the checks above prove nothing.
  problems.length = 0;
  await page.evaluate(() => {
    const script = document.createElement('script');
    script.textContent = 'window.__inlineRan = true';
    document.body.appendChild(script);
  });
  await page.waitForTimeout(300);
  const ran = await page.evaluate(() => window.__inlineRan === true);
  check(!ran && problems.some((p) => /CSP violation|Content Security Policy/.test(p)),
    `control: an injected inline script is blocked and reported (${problems.length} reports)`);
} catch (e) {
  check(false, `unexpected: ${e}`);
} finally {
  if (browser) await browser.close();
  server.kill('SIGTERM');
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
