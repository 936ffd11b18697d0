// Shared harness of the dashboard browser tests: a synth archive ingested into SQLite, a real `meta_db serve`
// on a free 127.0.0.1 port, and Debian's chromium (playwright-core) in a fresh profile; named checks with a
// global deadline, "N passed, N failed" and exit codes (0 ok, 1 failure, 77 = ctest SKIP: no chromium).
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const dashboard = path.join(repo, 'dashboard');
export const webRoot = path.join(dashboard, 'dist');
const SKIP = 77;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const nf = new Intl.NumberFormat('en-US');

export function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

/** An error for something the server does not offer yet: its check fails with this message alone, no stack. */
export function missingError(msg) {
  return Object.assign(new Error(msg), { missing: true });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Debian's chromium (or CHROMIUM_BIN), or undefined when there is none. */
export function findChromium() {
  return [process.env.CHROMIUM_BIN, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(Boolean).find((p) => fs.existsSync(p));
}

/** Headless chromium in the fresh profile `userDataDir`; `options` go to playwright (viewport, acceptDownloads). */
export function launchBrowser(chromium, executablePath, userDataDir, options = {}) {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    ...options,
  });
}

/**
 * Runs `body(env)` with a served catalogue and a browser page; exits the process with the verdict.
 * `timeoutMs` bounds the checks; `screenshots` true gives the body a `shots` folder in the run's temporary folder
 * (kept after the run, everything else there is removed), a path gives that folder.
 */
export async function runBrowserTest(
  name,
  { patients = 4, timeoutMs = 110_000, viewport = { width: 1280, height: 800 }, acceptDownloads = false, pageTimeoutMs = 10_000, screenshots = false } = {},
  body,
) {
  const log = (...a) => console.log(`[${name}]`, ...a);
  const bin = path.resolve(process.env.META_DB_BIN || path.join(repo, 'build', 'meta_db'));
  const chromiumPath = findChromium();
  if (!chromiumPath) {
    log('SKIP: chromium not found (apt-get install -y chromium)');
    process.exit(SKIP);
  }
  const fail = (msg) => {
    console.error(`[${name}] ${msg}`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  };
  if (!fs.existsSync(bin)) fail(`meta_db binary not found at ${bin} (set META_DB_BIN)`);
  let chromium;
  try {
    ({ chromium } = createRequire(path.join(dashboard, 'package.json'))('playwright-core'));
  } catch (e) {
    fail(`playwright-core is not installed: run npm ci in dashboard/ (${e.message})`);
  }
  if (!fs.existsSync(path.join(webRoot, 'index.html'))) {
    log('dashboard/dist missing: running npm run build');
    if (spawnSync('npm', ['run', 'build'], { cwd: dashboard, stdio: 'inherit' }).status !== 0) fail('npm run build failed');
  }
  const deadline = Date.now() + timeoutMs;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `meta_db_${name}-`));
  const archive = path.join(tmp, 'archive');
  const dbUri = `sqlite:${path.join(tmp, 'catalog.sqlite')}`;
  const shots = screenshots ? path.resolve(typeof screenshots === 'string' ? screenshots : path.join(tmp, 'screenshots')) : undefined;
  if (shots) fs.mkdirSync(shots, { recursive: true });
  const verdict = (passed, failed, note = '') => {
    if (shots) log(`screenshots in ${shots}`);
    console.log(`${passed} passed, ${failed} failed${note}`);
  };
  const run = (args) => {
    const r = spawnSync(bin, args, { cwd: repo, encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`meta_db ${args[0]} failed (${r.status}): ${(r.stderr || '').slice(-2000)}`);
  };
  const results = [];
  let server;
  let serverLog = '';
  let ctx;
  let userDataDir;
  let exitCode = 1;
  try {
    run(['synth', '--small', '--patients', String(patients), '--out', archive]);
    run(['ingest', archive, '--db', dbUri, '--quiet']);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    server = spawn(bin, ['serve', '--db', dbUri, '--host', '127.0.0.1', '--port', String(port), '--web-root', webRoot], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    server.stdout.on('data', (d) => (serverLog = (serverLog + d).slice(-20000)));
    server.stderr.on('data', (d) => (serverLog = (serverLog + d).slice(-20000)));
    let up = false;
    for (let i = 0; i < 200 && server.exitCode === null && !up; i++) {
      up = await fetch(`${base}/health`).then((r) => r.ok, () => false);
      if (!up) await sleep(100);
    }
    if (!up) throw new Error(`server did not come up:\n${serverLog.slice(-3000)}`);
    log(`server up at ${base}`);

    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), `meta_db_${name}_chromium-`));
    ctx = await launchBrowser(chromium, chromiumPath, userDataDir, { viewport, acceptDownloads });
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    page.setDefaultTimeout(pageTimeoutMs);
    const consoleErrors = [];
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    // A 4xx the test provokes on purpose is logged by chromium as a failed resource load; nothing else may be.
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) consoleErrors.push('console: ' + m.text());
    });
    const offOrigin = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(base) && !/^(data|blob):/.test(r.url())) offOrigin.push(r.url());
    });
    const api = async (method, p, json) => {
      const r = await fetch(base + p, { method, headers: json ? { 'Content-Type': 'application/json' } : {}, body: json ? JSON.stringify(json) : undefined });
      const text = await r.text();
      if (!r.ok) throw Object.assign(new Error(`${method} ${p} → ${r.status} ${text.slice(0, 300)}`), { status: r.status });
      return JSON.parse(text);
    };
    const openapi = await api('GET', '/openapi.json');
    const check = async (checkName, fn, { needs } = {}) => {
      if (needs && !openapi.paths?.[needs]) {
        results.push({ name: checkName, skipped: true });
        log(`SKIP ${checkName}: the server has no ${needs} yet (issue #10 point 1/3, merged separately)`);
        return;
      }
      if (Date.now() > deadline) {
        results.push({ name: checkName, ok: false });
        log(`FAIL ${checkName}: global timeout`);
        return;
      }
      try {
        await fn();
        results.push({ name: checkName, ok: true });
        log(`ok   ${checkName}`);
      } catch (e) {
        results.push({ name: checkName, ok: false });
        log(`FAIL ${checkName}: ${e?.missing ? e.message : e?.stack || e}`);
      }
    };
    await body({ page, base, api, check, log, consoleErrors, offOrigin, openapi, tmp, shots });
    await check('no console errors and no off-origin requests', async () => {
      assert(consoleErrors.length === 0, `console errors:\n${consoleErrors.join('\n')}`);
      assert(offOrigin.length === 0, `off-origin requests: ${offOrigin.join(', ')}`);
    });
    const failed = results.filter((r) => r.ok === false).length;
    const passed = results.filter((r) => r.ok).length;
    const skipped = results.filter((r) => r.skipped).length;
    verdict(passed, failed, skipped ? `, ${skipped} skipped (need a route not yet merged)` : '');
    exitCode = failed ? 1 : 0;
  } catch (e) {
    console.error(`[${name}] ${e?.stack || e}\n${serverLog.slice(-2000)}`);
    verdict(results.filter((r) => r.ok).length, results.filter((r) => r.ok === false).length + 1);
  } finally {
    await ctx?.close().catch(() => undefined);
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      for (let i = 0; i < 50 && server.exitCode === null; i++) await sleep(100);
      if (server.exitCode === null) server.kill('SIGKILL');
    }
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
    if (shots?.startsWith(tmp + path.sep)) {
      for (const f of fs.readdirSync(tmp)) if (path.join(tmp, f) !== shots) fs.rmSync(path.join(tmp, f), { recursive: true, force: true });
    } else {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  process.exit(exitCode);
}
