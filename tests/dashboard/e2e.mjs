#!/usr/bin/env node
// End-to-end test of the dashboard against the REAL meta_db server, in Debian's chromium.
//
//   META_DB_BIN=build/meta_db node tests/dashboard/e2e.mjs
//
// Builds a tiny synthetic archive (synth --small --patients 3), ingests it into a fresh SQLite file,
// serves it with --web-root dashboard/dist, and drives the UI with playwright-core.
// Prints "N passed, N failed"; exits 0 only when nothing failed, 77 (ctest SKIP) when chromium is absent.
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const dashboard = path.join(repo, 'dashboard');
const webRoot = path.join(dashboard, 'dist');
const bin = path.resolve(process.env.META_DB_BIN || path.join(repo, 'build', 'meta_db'));
const chromiumPath = [process.env.CHROMIUM_BIN, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(Boolean).find((p) => fs.existsSync(p));
const SKIP = 77;
const deadline = Date.now() + Number(process.env.E2E_TIMEOUT_MS || 240_000);

function log(...a) {
  console.log('[e2e]', ...a);
}

if (!chromiumPath) {
  console.log('[e2e] SKIP: chromium not found (apt-get install -y chromium)');
  process.exit(SKIP);
}
if (!fs.existsSync(bin)) {
  console.error(`[e2e] meta_db binary not found at ${bin} (set META_DB_BIN)`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const require = createRequire(path.join(dashboard, 'package.json'));
let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  console.error('[e2e] playwright-core is not installed: run `npm ci` in dashboard/ first', e.message);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
if (!fs.existsSync(path.join(webRoot, 'index.html'))) {
  log('dashboard/dist missing: running npm run build');
  const r = spawnSync('npm', ['run', 'build'], { cwd: dashboard, stdio: 'inherit' });
  if (r.status !== 0) {
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meta_db_e2e-'));
const shots = path.join(tmp, 'screenshots');
fs.mkdirSync(shots);
const archive = path.join(tmp, 'archive');
const dbUri = `sqlite:${path.join(tmp, 'catalog.sqlite')}`;

function run(args, what) {
  log(`$ ${path.basename(bin)} ${args.join(' ')}`);
  const r = spawnSync(bin, args, { cwd: repo, encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0) {
    throw new Error(`${what} failed (exit ${r.status}${r.signal ? ', ' + r.signal : ''}):\n${(r.stderr || '').slice(-2000)}\n${(r.stdout || '').slice(-1000)}`);
  }
  return r.stdout;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nf = new Intl.NumberFormat('en-US');

let server;
let serverLog = '';
let browserCtx;
let userDataDir;
const results = [];

async function check(name, fn) {
  if (Date.now() > deadline) {
    results.push({ name, ok: false, err: 'global timeout' });
    log(`FAIL ${name}: global timeout`);
    return;
  }
  try {
    await fn();
    results.push({ name, ok: true });
    log(`ok   ${name}`);
  } catch (e) {
    results.push({ name, ok: false, err: e });
    log(`FAIL ${name}: ${e?.stack || e}`);
  }
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function cleanup() {
  try {
    await browserCtx?.close();
  } catch {}
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    for (let i = 0; i < 50 && server.exitCode === null; i++) await sleep(100);
    if (server.exitCode === null) server.kill('SIGKILL');
  }
  try {
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
    fs.rmSync(archive, { recursive: true, force: true });
    for (const f of fs.readdirSync(tmp)) if (f.startsWith('catalog.sqlite')) fs.rmSync(path.join(tmp, f), { force: true });
  } catch {}
}

let exitCode = 1;
try {
  // 1. data: a tiny synthetic LIDC-like archive, ingested into a fresh SQLite catalogue.
  run(['synth', '--small', '--patients', '3', '--out', archive], 'synth');
  run(['ingest', archive, '--db', dbUri], 'ingest');

  // 2. the real server, serving the built dashboard.
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  server = spawn(bin, ['serve', '--db', dbUri, '--host', '127.0.0.1', '--port', String(port), '--web-root', webRoot], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.on('data', (d) => (serverLog = (serverLog + d).slice(-20000)));
  server.stderr.on('data', (d) => (serverLog = (serverLog + d).slice(-20000)));
  let up = false;
  for (let i = 0; i < 150 && server.exitCode === null; i++) {
    try {
      const r = await fetch(`${base}/health`);
      if (r.ok) {
        up = true;
        break;
      }
    } catch {}
    await sleep(100);
  }
  if (!up) throw new Error(`server did not come up on ${base}:\n${serverLog.slice(-3000)}`);
  log(`server up at ${base}`);

  const apiGet = async (p) => {
    const r = await fetch(base + p);
    if (!r.ok) throw new Error(`GET ${p} → ${r.status} ${await r.text()}`);
    return r.json();
  };
  const stats = await apiGet('/stats');
  const counts = stats.counts ?? stats;
  const studiesTotal = (await apiGet('/studies?limit=1')).total;
  const seriesTotal = (await apiGet('/series?limit=1')).total;
  const ctTotal = (await apiGet('/series?modality=CT&limit=1')).total;
  log(`stats counts ${JSON.stringify(counts)}; /studies total ${studiesTotal}; /series total ${seriesTotal}; CT series ${ctTotal}`);
  assert(studiesTotal > 0 && seriesTotal > 0, 'the ingested catalogue is empty');

  // 3. the browser.
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'meta_db_e2e_chromium-'));
  browserCtx = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1360, height: 900 },
    acceptDownloads: true,
  });
  const page = browserCtx.pages()[0] ?? (await browserCtx.newPage());
  page.setDefaultTimeout(15_000);
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) pageErrors.push('console: ' + m.text());
  });
  const externalRequests = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) externalRequests.push(r.url());
  });
  const shot = (name) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });

  await check('overview shows the real counts from /stats', async () => {
    await page.goto(base + '/');
    await page.locator('[data-testid="count-studies"]').waitFor();
    for (const key of ['studies', 'series', 'instances']) {
      const shown = (await page.locator(`[data-testid="count-${key}"]`).textContent()).trim();
      assert(shown === nf.format(counts[key]), `count-${key}: UI shows "${shown}", /stats says ${counts[key]}`);
    }
    const shownStudies = (await page.locator('[data-testid="count-studies"]').textContent()).trim();
    assert(shownStudies === nf.format(studiesTotal), `studies card ${shownStudies} != GET /studies total ${studiesTotal}`);
    const charts = await page.locator('figure.chart').count();
    assert(charts >= 3, `expected distribution charts, found ${charts}`);
    const modalityChart = await page.locator('figure.chart[data-chart^="Modality"]').textContent();
    assert(/CT/.test(modalityChart), 'modality chart does not mention CT');
    await shot('01-overview');
  });

  await check('/ui/ serves the SPA through the server fallback', async () => {
    await page.goto(base + '/ui/');
    await page.locator('h1', { hasText: 'Overview' }).waitFor();
  });

  await check('series page filters by modality=CT and shows the right total', async () => {
    await page.goto(base + '/ui/series');
    await page.locator('[data-testid="series-table"]').waitFor();
    const allText = (await page.locator('[data-testid="range"]').textContent()).trim();
    assert(allText.endsWith(`of ${nf.format(seriesTotal)}`), `unfiltered range "${allText}" should end with "of ${nf.format(seriesTotal)}"`);
    // a modality the archive may not have: the UI must show exactly the server's total (possibly 0)
    const mrTotal = (await apiGet('/series?modality=MR&limit=1')).total;
    await page.selectOption('#f-modality', 'MR');
    await page.waitForURL(/modality=MR/);
    await page.waitForFunction((t) => document.querySelector('[data-testid="range"]')?.textContent?.trim().endsWith(t), `of ${nf.format(mrTotal)}`);
    if (mrTotal === 0) await page.locator('.results .empty').waitFor();
    await page.selectOption('#f-modality', 'CT');
    await page.waitForURL(/modality=CT/);
    await page.waitForFunction((t) => document.querySelector('[data-testid="range"]')?.textContent?.trim().endsWith(t), `of ${nf.format(ctTotal)}`);
    const rows = await page.locator('[data-testid="series-table"] tbody tr').count();
    assert(rows === Math.min(ctTotal, 50), `expected ${Math.min(ctTotal, 50)} rows, got ${rows}`);
    const mods = await page.locator('[data-testid="series-table"] tbody tr td:nth-child(3)').allTextContents(); // 1: details button
    assert(mods.every((m) => m.trim() === 'CT'), `non-CT rows under modality=CT: ${mods.join(',')}`);
    await shot('02-series-ct');
  });

  await check('filters live in the URL (reload keeps them)', async () => {
    await page.reload();
    await page.locator('[data-testid="series-table"]').waitFor();
    assert((await page.inputValue('#f-modality')) === 'CT', 'modality select lost after reload');
    const t = (await page.locator('[data-testid="range"]').textContent()).trim();
    assert(t.endsWith(`of ${nf.format(ctTotal)}`), `after reload range is "${t}"`);
  });

  await check('sorting by a header asks the server and reorders', async () => {
    await page.click('button.sort[data-sort="num_instances"]');
    await page.waitForURL(/sort=num_instances/);
    await page.click('button.sort[data-sort="num_instances"]');
    await page.waitForURL(/sort=-num_instances/);
    await page.waitForFunction(() => document.querySelector('th[aria-sort="descending"] [data-sort="num_instances"]'));
    const first = await apiGet('/series?modality=CT&sort=-num_instances&limit=1');
    await page.waitForFunction((id) => document.querySelector('[data-testid="series-table"] tbody tr')?.getAttribute('data-id') === id, first.results[0]._id);
  });

  let seriesId = '';
  await check('clicking a series row opens its detail with instances', async () => {
    const row = page.locator('[data-testid="series-table"] tbody tr').first();
    seriesId = await row.getAttribute('data-id');
    await row.click();
    await page.waitForURL(new RegExp(`/ui/series/${seriesId}$`));
    await page.locator('[data-testid="series-meta"]').waitFor();
    const doc = await apiGet(`/series/${seriesId}`);
    const metaText = await page.locator('[data-testid="series-meta"]').textContent();
    assert(metaText.includes(doc.series_instance_uid), 'detail does not show the series_instance_uid');
    await page.locator('[data-testid="instances-table"]').waitFor();
    const range = (await page.locator('[data-testid="instances-range"]').textContent()).trim();
    assert(range.endsWith(`of ${nf.format(doc.num_instances)}`), `instances range "${range}" vs num_instances ${doc.num_instances}`);
    await shot('03-series-detail');
  });

  await check('keyboard: rows are focusable and Enter opens the study', async () => {
    await page.goto(base + '/ui/studies');
    await page.locator('[data-testid="studies-table"]').waitFor();
    const t = (await page.locator('[data-testid="range"]').textContent()).trim();
    assert(t.endsWith(`of ${nf.format(studiesTotal)}`), `studies range "${t}"`);
    const row = page.locator('[data-testid="studies-table"] tbody tr').first();
    const id = await row.getAttribute('data-id');
    await row.focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(new RegExp(`/ui/studies/${id}$`));
    await page.locator('[data-testid="study-meta"]').waitFor();
    const list = await apiGet(`/studies/${id}/series?limit=1000`);
    await page.locator('[data-testid="study-series"]').waitFor();
    const n = await page.locator('[data-testid="study-series"] tbody tr').count();
    assert(n === list.results.length, `study shows ${n} series, API has ${list.results.length}`);
    await shot('04-study-detail');
  });

  await check('studies: text filter via the form, and only server-supported filters are offered', async () => {
    const openapi = await apiGet('/openapi.json');
    await page.goto(base + '/ui/studies');
    await page.locator('[data-testid="studies-table"]').waitFor();
    const declared = new Set((openapi.paths?.['/studies']?.get?.parameters ?? []).map((p) => p.name).filter(Boolean));
    if (declared.size) {
      const all = await page.$$eval('form.filters .field [name]', (els) => els.map((e) => e.getAttribute('name')));
      const undeclared = all.filter((n) => !declared.has(n));
      if (undeclared.length)
        await page.waitForFunction((names) => names.every((n) => document.querySelector(`form.filters [name="${n}"]`)?.closest('.field')?.hasAttribute('hidden')), undeclared);
      const visible = await page.$$eval('form.filters .field:not([hidden]) [name]', (els) => els.map((e) => e.getAttribute('name')));
      const unsupported = visible.filter((n) => !declared.has(n));
      assert(unsupported.length === 0, `filters offered that GET /studies does not declare: ${unsupported.join(', ')}`);
    }
    const first = (await apiGet('/studies?limit=1&sort=patient_id')).results[0];
    const expected = (await apiGet(`/studies?patient_id=${encodeURIComponent(first.patient_id)}&limit=1`)).total;
    await page.fill('#f-patient_id', first.patient_id);
    await page.press('#f-patient_id', 'Enter');
    await page.waitForURL(/patient_id=/);
    await page.waitForFunction((t) => document.querySelector('[data-testid="range"]')?.textContent?.trim() === t, `1–${nf.format(expected)} of ${nf.format(expected)}`);
    const cells = await page.locator('[data-testid="studies-table"] tbody tr td:nth-child(2)').allTextContents(); // 1: details button
    assert(cells.every((c) => c.trim() === first.patient_id), `rows for other patients: ${cells.join(',')}`);
  });

  await check('unknown and malformed ids show the API error, not a blank page', async () => {
    await page.goto(base + '/ui/series/000000000000000000000000');
    const e404 = await page.locator('[data-testid="error"]').textContent();
    assert(/404/.test(e404), `unknown id: ${e404}`);
    await page.goto(base + '/ui/studies/not-an-id');
    const e400 = await page.locator('[data-testid="error"]').textContent();
    assert(/400/.test(e400), `malformed id: ${e400}`);
  });

  await check('keyboard shortcuts: g e goes to series, / focuses search, n pages', async () => {
    await page.goto(base + '/ui/');
    await page.locator('[data-testid="count-studies"]').waitFor();
    await page.keyboard.press('g');
    await page.keyboard.press('e');
    await page.waitForURL(/\/ui\/series$/);
    await page.locator('[data-testid="series-table"]').waitFor();
    await page.keyboard.press('/');
    assert((await page.evaluate(() => document.activeElement?.id)) === 'f-q', '"/" did not focus the search box');
    await page.keyboard.press('Escape');
    if (seriesTotal > 1) {
      await page.selectOption('#page-size', '25');
      await page.waitForURL(/limit=25/);
      if (seriesTotal > 25) {
        await page.keyboard.press('n');
        await page.waitForURL(/skip=25/);
      }
    }
  });

  await check('query builder shows the API 400 error for {"$where":"1"}', async () => {
    const r = await fetch(base + '/query', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ collection: 'series', filter: { $where: '1' }, skip: 0, limit: 50 }) });
    assert(r.status === 400, `API answered ${r.status} to $where`);
    const apiMsg = (await r.json()).error.message;
    await page.goto(base + '/ui/query');
    await page.fill('#q-filter', '{"$where":"1"}');
    await page.click('#q-run');
    const box = page.locator('[data-testid="error"]');
    await box.waitFor();
    const text = await box.textContent();
    assert(text.includes('400'), `error box lacks the status: ${text}`);
    assert(text.includes(apiMsg), `error box does not show the API message verbatim ("${apiMsg}"): ${text}`);
    await shot('05-query-error');
  });

  await check('query builder runs a valid filter and shows total + JSON', async () => {
    await page.fill('#q-filter', '{"modality": "CT"}');
    await page.selectOption('#q-collection', 'series');
    await page.click('#q-run');
    await page.locator('[data-testid="query-total"]').waitFor();
    const t = (await page.locator('[data-testid="query-total"]').textContent()).trim();
    assert(t.endsWith(`of ${nf.format(ctTotal)}`), `query total "${t}" vs ${ctTotal}`);
    const json = JSON.parse(await page.locator('[data-testid="query-json"]').textContent());
    assert(json.total === ctTotal, 'raw JSON total differs');
    await shot('06-query-ok');
  });

  await check('query builder flags invalid JSON before sending', async () => {
    await page.fill('#q-filter', '{"modality": ');
    assert(await page.locator('#q-run').isDisabled(), 'Run should be disabled for invalid JSON');
    assert((await page.getAttribute('#q-filter', 'aria-invalid')) === 'true', 'textarea not marked invalid');
  });

  await check('fields page lists keys with top values', async () => {
    await page.goto(base + '/ui/fields?collection=series');
    await page.locator('[data-testid="fields-table"]').waitFor();
    const text = await page.locator('[data-testid="fields-table"]').textContent();
    assert(text.includes('modality'), 'fields table has no "modality" key');
    await page.locator('[data-testid="fields-table"] tr', { has: page.locator('th', { hasText: /^modality$/ }) }).locator('a.chip').first().click();
    await page.waitForURL(/\/ui\/series\?modality=/);
    await page.locator('[data-testid="series-table"]').waitFor();
    await shot('07-fields');
  });

  await check('collections: create via the form and see it listed', async () => {
    await page.goto(base + '/ui/collections');
    const name = `e2e-${Date.now()}`;
    await page.fill('#c-name', name);
    await page.fill('#c-description', 'created by the dashboard e2e test');
    await page.click('form.create-form button[type="submit"]');
    await page.locator('.ok-text', { hasText: 'Created' }).waitFor();
    await page.locator('[data-testid="collections-table"]', { hasText: name }).waitFor();
    // a duplicate name is a 409 shown to the user
    await page.fill('#c-name', name);
    await page.click('form.create-form button[type="submit"]');
    const err = await page.locator('form.create-form [data-testid="error"]').textContent();
    assert(/409|exists|duplicate/i.test(err), `duplicate collection error not shown: ${err}`);
    await shot('08-collections');
  });

  await check('researchers, jobs and errors pages load', async () => {
    for (const [p, marker] of [['/ui/researchers', 'Researchers'], ['/ui/jobs', 'Jobs'], ['/ui/errors', 'Ingest errors']]) {
      await page.goto(base + p);
      await page.locator('h1', { hasText: marker }).waitFor();
      await page.locator('.results table, .results .empty, .results [data-testid="error"]').first().waitFor();
      assert((await page.locator('.results [data-testid="error"]').count()) === 0, `${p} shows an error: ${await page.locator('.results').textContent()}`);
    }
    await shot('09-errors');
  });

  await check('CSV export downloads the filtered result set', async () => {
    await page.goto(base + '/ui/series?modality=CT');
    await page.locator('[data-testid="series-table"]').waitFor();
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('text=Export CSV')]);
    const file = path.join(tmp, 'export.csv');
    await dl.saveAs(file);
    const lines = fs.readFileSync(file, 'utf8').trim().split(/\r\n/);
    assert(lines.length === ctTotal + 1, `CSV has ${lines.length - 1} data rows, expected ${ctTotal}`);
    assert(lines[0].startsWith('_id,'), `CSV header: ${lines[0].slice(0, 80)}`);
  });

  await check('no JavaScript errors and no requests leave the origin', async () => {
    assert(pageErrors.length === 0, `page errors: ${pageErrors.join(' | ')}`);
    assert(externalRequests.length === 0, `external requests: ${externalRequests.join(', ')}`);
  });
  exitCode = results.every((r) => r.ok) ? 0 : 1;
} catch (e) {
  results.push({ name: 'setup', ok: false, err: e });
  log(`FAIL setup: ${e?.stack || e}`);
  if (serverLog) log('server log tail:\n' + serverLog.slice(-3000));
  exitCode = 1;
} finally {
  await cleanup();
}
const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
log(`screenshots in ${shots}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : exitCode);
