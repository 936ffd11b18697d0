#!/usr/bin/env node
// End-to-end test of the dashboard against the REAL meta_db server, in Debian's chromium.
//
//   META_DB_BIN=build/meta_db node tests/dashboard/e2e.mjs
//
// Builds a tiny synthetic archive (synth --small --patients 3), ingests it into a fresh SQLite file,
// serves it with --web-root dashboard/dist, and drives the UI with playwright-core (tests/dashboard/harness.mjs).
// Prints "N passed, N failed"; exits 0 only when nothing failed, 77 (ctest SKIP) when chromium is absent.
import fs from 'node:fs';
import path from 'node:path';
import { runBrowserTest, assert, nf } from './harness.mjs';

const options = {
  patients: 3,
  timeoutMs: Number(process.env.E2E_TIMEOUT_MS || 240_000),
  viewport: { width: 1360, height: 900 },
  acceptDownloads: true,
  pageTimeoutMs: 15_000,
  screenshots: true,
};

await runBrowserTest('e2e', options, async ({ page, base, api, check, log, tmp, shots }) => {
  const apiGet = (p) => api('GET', p);
  const stats = await apiGet('/stats');
  const counts = stats.counts ?? stats;
  const studiesTotal = (await apiGet('/studies?limit=1')).total;
  const seriesTotal = (await apiGet('/series?limit=1')).total;
  const ctTotal = (await apiGet('/series?modality=CT&limit=1')).total;
  log(`stats counts ${JSON.stringify(counts)}; /studies total ${studiesTotal}; /series total ${seriesTotal}; CT series ${ctTotal}`);
  assert(studiesTotal > 0 && seriesTotal > 0, 'the ingested catalogue is empty');

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
});
