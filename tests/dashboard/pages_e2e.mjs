#!/usr/bin/env node
// End-to-end test of the Jobs, collection and nodules pages and the annotation/QC series filters, in chromium,
// against the REAL meta_db server over a `meta_db synth` archive (issues #11.7 and #13.4).
//
//   META_DB_BIN=build/meta_db node tests/dashboard/pages_e2e.mjs      [SCREENSHOT_DIR=docs/screenshots]
//
// Each check first asks /openapi.json for the endpoints and parameters it needs; one the server does not declare
// fails that check with "missing endpoint …" (and nothing else). Prints "N passed, N failed"; exits 0 only when
// nothing failed, 77 (ctest SKIP) when chromium is absent (tests/dashboard/harness.mjs).
import fs from 'node:fs';
import path from 'node:path';
import { runBrowserTest, assert, missingError, nf } from './harness.mjs';

const options = {
  timeoutMs: Number(process.env.E2E_TIMEOUT_MS || 300_000),
  viewport: { width: 1360, height: 900 },
  acceptDownloads: true,
  pageTimeoutMs: 20_000,
  screenshots: process.env.SCREENSHOT_DIR || true,
};

await runBrowserTest('pages-e2e', options, async ({ page, base, api, check, log, openapi, tmp, shots }) => {
  const apiGet = (p) => api('GET', p);
  const apiPost = (p, body) => api('POST', p, body);
  const paths = openapi.paths ?? {};
  const seriesParams = new Set((paths['/series']?.get?.parameters ?? []).map((p) => p.name));
  // A check needing what another part of the merge adds fails with this, and only for that reason.
  const need = (method, route, owner) => {
    if (!paths[route]?.[method.toLowerCase()]) {
      throw missingError(`missing endpoint ${method} ${route} (${owner}); this check passes once that part is merged`);
    }
  };
  const needParam = (name, owner) => {
    if (!seriesParams.has(name)) {
      throw missingError(`missing parameter GET /series?${name} (${owner}); this check passes once that part is merged`);
    }
  };
  const needJobs = () => {
    need('GET', '/jobs/{id}/report', 'H1 jobs, #11');
    need('GET', '/jobs/{id}/snapshots', 'H1 jobs, #11');
  };

  const studies = (await apiGet('/studies?limit=1000&sort=patient_id')).results;
  assert(studies.length >= 2, 'the synth archive has fewer than 2 studies');
  const researcherId = `e2e-r-${Date.now()}`;
  await apiPost('/researchers', { researcher_id: researcherId, name: 'Pages E2E', email: 'pages-e2e@example.org' });

  const text = async (sel) => (await page.locator(sel).first().textContent()).trim();
  const waitText = (sel, expected) =>
    page.waitForFunction(([s, t]) => document.querySelector(s)?.textContent?.trim() === t, [sel, expected]).catch(async () => {
      throw new Error(`${sel} shows "${await page.locator(sel).first().textContent().catch(() => '(absent)')}", expected "${expected}"`);
    });
  const waitEnds = (sel, suffix) =>
    page.waitForFunction(([s, t]) => document.querySelector(s)?.textContent?.trim().endsWith(t), [sel, suffix]).catch(async () => {
      throw new Error(`${sel} shows "${await page.locator(sel).first().textContent().catch(() => '(absent)')}", expected it to end with "${suffix}"`);
    });
  /** Tab from the top of the page until `selector` has focus (keyboard reachability). */
  const tabTo = async (selector, max = 120) => {
    await page.evaluate(() => document.getElementById('main')?.focus());
    for (let i = 0; i < max; i++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
    }
    throw new Error(`${selector} is not reachable with Tab`);
  };
  const jobIdFromUrl = () => decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
  const waitDone = async (jobId) => {
    await page.locator('[data-testid="job-status"]').waitFor();
    await page.waitForFunction(() => /^(done|failed)\b/.test(document.querySelector('[data-testid="job-status"]')?.textContent ?? ''), null, { timeout: 60_000 });
    const job = await apiGet(`/jobs/${jobId}`);
    assert(job.status === 'done', `job ${jobId} ended ${job.status}: ${JSON.stringify(job.error ?? '')}`);
    assert((await text('[data-testid="job-status"]')) === 'done · 100%', `status line: ${await text('[data-testid="job-status"]')}`);
    return job;
  };
  const checkTotals = async (job) => {
    for (const k of ['identifiers', 'matched', 'missing', 'ambiguous', 'studies', 'series', 'instances']) {
      await waitText(`[data-testid="total-${k}"]`, typeof job.totals?.[k] === 'number' ? nf.format(job.totals[k]) : '—');
    }
  };

  let pastedJob = null;
  await check('jobs: create from a pasted list, progress reaches done, totals are the API’s', async () => {
    needJobs();
    const accessions = studies.map((s) => s.accession_number).filter(Boolean).slice(0, 2);
    assert(accessions.length === 2, 'synth studies carry no accession numbers');
    await page.goto(base + '/ui/jobs');
    await tabTo('#job-name');
    await page.keyboard.type('pasted e2e');
    await page.fill('#job-researcher', researcherId);
    await page.selectOption('#job-id-type', 'accession_number');
    await page.fill('#job-ids', [...accessions, 'NO-SUCH-ACCESSION', accessions[0]].join('\n'));
    await page.click('#job-create');
    await page.waitForURL(/\/ui\/jobs\/[^/]+$/);
    const id = jobIdFromUrl();
    pastedJob = await waitDone(id);
    await checkTotals(pastedJob);
    assert(pastedJob.totals.missing >= 1, `the absent accession is not reported missing: ${JSON.stringify(pastedJob.totals)}`);
  });

  await check('jobs: the report pages, filters by status with reasons, and downloads as CSV', async () => {
    needJobs();
    assert(pastedJob, 'no job from the previous check');
    const id = pastedJob._id;
    const all = await apiGet(`/jobs/${id}/report`);
    await waitEnds('[data-testid="report-range"]', `of ${nf.format(all.total)}`);
    const missing = await apiGet(`/jobs/${id}/report?status=missing`);
    await page.selectOption('#report-status', 'missing');
    await page.waitForURL(/status=missing/);
    await waitEnds('[data-testid="report-range"]', `of ${nf.format(missing.total)}`);
    const rows = page.locator('[data-testid="report-table"] tbody tr');
    assert((await rows.count()) === Math.min(missing.total, 50), `missing rows ${await rows.count()} vs ${missing.total}`);
    const statuses = await page.locator('[data-testid="report-table"] tbody td:nth-child(3)').allTextContents();
    assert(statuses.every((s) => s.trim() === 'missing'), `rows with other statuses: ${statuses}`);
    const reasons = await page.locator('[data-testid="report-table"] tbody td:nth-child(4)').allTextContents();
    const apiReasons = missing.results.map((r) => (r.reason === undefined || r.reason === null || r.reason === '' ? '—' : r.reason));
    assert(JSON.stringify(reasons.map((r) => r.trim())) === JSON.stringify(apiReasons.map(String)), `reasons ${reasons} vs API ${apiReasons}`);
    await tabTo('[data-testid="report-csv"]');
    const [dl] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
    const file = path.join(tmp, 'report.csv');
    await dl.saveAs(file);
    const r = await fetch(`${base}/jobs/${id}/report?format=csv&status=missing`);
    assert(r.status === 200, `report CSV answered ${r.status}`);
    assert(fs.readFileSync(file, 'utf8') === (await r.text()), 'the downloaded CSV differs from GET /jobs/{id}/report?format=csv&status=missing');
    await page.selectOption('#report-status', '');
    await waitEnds('[data-testid="report-range"]', `of ${nf.format(all.total)}`);
  });

  await check('jobs: changes since the last snapshot and the snapshot list are the API’s', async () => {
    needJobs();
    const id = pastedJob?._id;
    assert(id, 'no job from the first check');
    const snaps = await apiGet(`/jobs/${id}/snapshots`);
    await page.locator('[data-testid="snapshots-table"], section:has(#h-snapshots) .empty').first().waitFor();
    const n = await page.locator('[data-testid="snapshots-table"] tbody tr').count();
    assert(n === snaps.results.length, `snapshots shown ${n}, API ${snaps.results.length}`);
    const job = await apiGet(`/jobs/${id}`);
    const changes = await text('[data-testid="job-changes"]');
    if (job.changes) {
      const newly = (job.changes.newly_matched ?? []).length;
      assert(changes.includes(`${nf.format(newly)} identifier`), `changes card "${changes}" lacks ${newly} newly matched`);
      assert(changes.includes(`${nf.format(job.changes.series_added ?? 0)} series added`), `changes card "${changes}" lacks series_added`);
    }
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(shots, 'jobs.png'), fullPage: true });
  });

  let csvJob = null;
  await check('jobs: create from an uploaded CSV file (sent as text/csv)', async () => {
    needJobs();
    const patients = [...new Set(studies.map((s) => s.patient_id))].slice(0, 2);
    const csv = path.join(tmp, 'patients.csv');
    fs.writeFileSync(csv, ['patient_id', ...patients, 'NO-SUCH-PATIENT'].join('\r\n') + '\r\n');
    await page.goto(base + '/ui/jobs');
    await page.fill('#job-name', 'csv e2e');
    await page.fill('#job-researcher', researcherId);
    await page.check('#job-source-csv');
    await page.setInputFiles('#job-csv', csv);
    const [req] = await Promise.all([page.waitForRequest((r) => r.method() === 'POST' && new URL(r.url()).pathname === '/jobs'), page.click('#job-create')]);
    assert(/^text\/csv/.test(req.headers()['content-type'] ?? ''), `POST /jobs sent as ${req.headers()['content-type']}`);
    await page.waitForURL(/\/ui\/jobs\/[^/]+$/);
    csvJob = await waitDone(jobIdFromUrl());
    assert(csvJob.totals.identifiers === 3, `CSV job has ${csvJob.totals.identifiers} identifiers, expected 3`);
    await checkTotals(csvJob);
  });

  await check('jobs list shows both jobs with their status', async () => {
    needJobs();
    await page.goto(base + '/ui/jobs');
    await page.locator('[data-testid="jobs-table"]').waitFor();
    for (const j of [pastedJob, csvJob].filter(Boolean)) {
      const row = page.locator(`[data-testid="jobs-table"] tr[data-id="${j._id}"]`);
      assert((await row.count()) === 1, `job ${j._id} not listed`);
      assert((await row.locator('[data-testid="status-pill"]').textContent()).trim() === 'done', `job ${j._id} not shown done`);
    }
  });

  let collectionId = '';
  await check('collection page: open from the job, summary counts and studies are the API’s', async () => {
    needJobs();
    need('GET', '/collections/{id}/summary', 'H1 jobs, #11');
    assert(pastedJob?.collection_id, `the job has no collection_id: ${JSON.stringify(pastedJob)}`);
    collectionId = String(pastedJob.collection_id);
    await page.goto(base + `/ui/jobs/${pastedJob._id}`);
    await tabTo('[data-testid="open-collection"]');
    await page.keyboard.press('Enter');
    await page.waitForURL(new RegExp(`/ui/collections/${collectionId}$`));
    const summary = await apiGet(`/collections/${collectionId}/summary`);
    for (const k of ['cases', 'patients', 'studies', 'series', 'instances']) await waitText(`[data-testid="summary-${k}"]`, nf.format(summary.counts[k]));
    const charts = await page.locator('[data-testid="summary-charts"] figure.chart').count();
    const expected = Object.keys(summary.breakdowns ?? {}).length;
    assert(charts === expected, `${charts} breakdown charts, the summary has ${expected}`);
    if ((summary.breakdowns?.modality ?? []).length) {
      const fig = await text('[data-testid="summary-charts"] figure.chart[data-chart^="Modality"]');
      for (const b of summary.breakdowns.modality.slice(0, 5)) assert(fig.includes(String(b.value)), `modality chart lacks ${b.value}`);
    }
    const studiesTotal = (await apiGet(`/collections/${collectionId}/studies?limit=1`)).total;
    await waitEnds('[data-testid="coll-studies-range"]', `of ${nf.format(studiesTotal)}`);
  });

  await check('collection page: export links with split options answer 200', async () => {
    need('GET', '/collections/{id}/export', 'H2 exports, #11');
    assert(collectionId, 'no collection from the previous check');
    const link = page.locator('[data-testid="coll-export-link"]');
    let href = await link.getAttribute('href');
    assert(href === `/collections/${collectionId}/export?format=csv&level=series`, `default export link ${href}`);
    let r = await fetch(base + href);
    const csvBody = await r.text();
    assert(r.status === 200, `${href} answered ${r.status}: ${csvBody.slice(0, 300)}`);
    const csvRows = csvBody.trim().split(/\r?\n/).length - 1;
    const summary = await apiGet(`/collections/${collectionId}/summary`);
    assert(csvRows === summary.counts.series, `CSV export has ${csvRows} rows, the collection ${summary.counts.series} series`);
    await page.selectOption('#coll-format', 'jsonl');
    await page.selectOption('#coll-level', 'studies');
    await page.check('#coll-use-split');
    await page.fill('#coll-stratify', 'metadata.Manufacturer');
    await page.fill('#coll-seed', '7');
    href = await link.getAttribute('href');
    const u = new URL(href, base);
    assert(u.searchParams.get('format') === 'jsonl' && u.searchParams.get('level') === 'studies' && u.searchParams.get('split') === 'train:70,val:15,test:15' && u.searchParams.get('stratify') === 'metadata.Manufacturer' && u.searchParams.get('seed') === '7', `split link ${href}`);
    r = await fetch(base + href);
    const body = await r.text();
    assert(r.status === 200, `${href} answered ${r.status}: ${body.slice(0, 300)}`);
    const lines = body.trim().split('\n').map((l) => JSON.parse(l));
    assert(lines.length === summary.counts.studies && lines.every((l) => ['train', 'val', 'test'].includes(l.split)), `JSONL export: ${lines.length} lines (studies ${summary.counts.studies}), splits ${[...new Set(lines.map((l) => l.split))]}`);
    await page.fill('#coll-split', 'train:70,,');
    assert((await page.getAttribute('#coll-split', 'aria-invalid')) === 'true' && (await link.count()) === 0, 'an unreadable split still offers a link');
    await page.fill('#coll-split', 'train:70,val:15,test:15');
    await page.selectOption('#coll-format', 'tcia');
    href = await page.locator('[data-testid="coll-export-link"]').getAttribute('href');
    r = await fetch(base + href);
    assert(r.status === 200, `${href} answered ${r.status}`);
    await page.selectOption('#coll-format', 'csv');
    await page.uncheck('#coll-use-split');
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(shots, 'collection.png'), fullPage: true });
  });

  const FACETS = [
    ['min_nodules', '1', 'H5 annotations, #13'],
    ['min_max_diameter_mm', '3', 'H5 annotations, #13'],
    ['min_malignancy', '3', 'H5 annotations, #13'],
    ['min_nodule_readers', '2', 'H5 annotations, #13'],
  ];
  await check('series list: annotation filters change the total to the API’s', async () => {
    for (const [name, , owner] of FACETS) needParam(name, owner);
    const all = (await apiGet('/series?limit=1')).total;
    await page.goto(base + '/ui/series');
    await waitEnds('[data-testid="range"]', `of ${nf.format(all)}`);
    for (const [name, value] of FACETS) {
      const expected = (await apiGet(`/series?${name}=${value}&limit=1`)).total;
      await page.fill(`#f-${name}`, value);
      await page.press(`#f-${name}`, 'Enter');
      await page.waitForURL(new RegExp(`${name}=${value}`));
      await waitEnds('[data-testid="range"]', `of ${nf.format(expected)}`);
      await page.fill(`#f-${name}`, '');
      await page.press(`#f-${name}`, 'Enter');
      await waitEnds('[data-testid="range"]', `of ${nf.format(all)}`);
    }
    const some = (await apiGet('/series?min_nodules=1&limit=1')).total;
    assert(some > 0, `the synth archive should have series with a nodule (${some} of ${all})`);
  });

  await check('series list: QC filters (qc_flag, kernel_class) change the total to the API’s', async () => {
    needParam('qc_flag', 'H6 QC, #13');
    needParam('kernel_class', 'H6 QC, #13');
    await page.goto(base + '/ui/series');
    await page.locator('[data-testid="series-table"]').waitFor();
    let nonEmpty = 0;
    for (const [name, values] of [
      ['qc_flag', ['missing_slices', 'duplicate_positions', 'instance_number_holes', 'mixed_orientation']],
      ['kernel_class', ['soft', 'standard', 'sharp', 'unknown']],
    ]) {
      for (const v of values) {
        const expected = (await apiGet(`/series?${name}=${v}&limit=1`)).total;
        if (expected > 0) nonEmpty++;
        await page.selectOption(`#f-${name}`, v);
        await page.waitForURL(new RegExp(`${name}=${v}`));
        await waitEnds('[data-testid="range"]', `of ${nf.format(expected)}`);
      }
      await page.selectOption(`#f-${name}`, '');
    }
    assert(nonEmpty >= 1, `no series has any of these QC flags or kernel classes (every series has a kernel class)`);
  });

  await check('overview: every /stats distribution has a chart panel (annotation/QC panels when present)', async () => {
    const stats = await apiGet('/stats');
    const canon = (k) => k.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');
    const keys = new Set(Object.keys(stats.distributions ?? {}).map(canon));
    await page.goto(base + '/ui/');
    await page.locator('[data-testid="count-studies"]').waitFor();
    const n = await page.locator('figure.chart').count();
    // Plus the brushable slice-thickness histogram and study-date timeline (two more figures).
    assert(n >= keys.size - 2 && n <= keys.size + 2, `${n} chart panels for ${keys.size} distributions (${[...keys]})`);
    const facetKeys = [...keys].filter((k) => /nodule|malignan|diameter|reader|qc|flag|kernel_class|spacing/.test(k));
    log(`annotation/QC distributions in /stats: ${facetKeys.join(', ') || 'none'}`);
  });

  await check('nodules page: ratings tables and one SVG outline per ROI on each slice', async () => {
    need('GET', '/series/{id}/annotations', 'H5 annotations, #13');
    needParam('min_nodules', 'H5 annotations, #13');
    const withNodule = (await apiGet('/series?min_nodules=1&limit=1')).results[0];
    assert(withNodule, 'no series with a nodule in the synth archive');
    const sid = withNodule._id;
    const ann = await apiGet(`/series/${sid}/annotations?limit=1000`);
    await page.goto(base + `/ui/series/${sid}`);
    await page.locator('a', { hasText: 'Nodules →' }).click();
    await page.waitForURL(new RegExp(`/ui/series/${sid}/nodules$`));
    await page.locator('[data-testid="ratings-table"]').waitFor();
    const ratingRows = await page.locator('[data-testid="ratings-table"] tbody tr').count();
    assert(ratingRows === ann.results.length, `ratings table has ${ratingRows} rows, the API ${ann.results.length} annotations`);
    const nodRows = await page.locator('[data-testid="nodules-table"] tbody tr').count();
    assert(nodRows === ann.nodules.length, `nodules table has ${nodRows} rows, the API ${ann.nodules.length} nodules`);
    // the malignancy column (last) holds each annotation's rating, as a multiset (the table orders by nodule, reader)
    const shown = (await page.locator('[data-testid="ratings-table"] tbody td:last-child').allTextContents()).map((t) => t.trim()).sort();
    const apiMalignancy = ann.results.map((a) => (typeof a.ratings?.malignancy === 'number' ? String(a.ratings.malignancy) : '—')).sort();
    assert(JSON.stringify(shown) === JSON.stringify(apiMalignancy), `malignancy shown ${shown} vs API ${apiMalignancy}`);
    const zs = new Set();
    let rois = 0;
    for (const a of ann.results) for (const r of a.rois ?? []) (zs.add(Math.round(r.z_position * 1000) / 1000), rois++);
    const thumbs = await page.locator('[data-testid="slice-thumbs"] svg[data-z]').count();
    assert(thumbs === zs.size, `${thumbs} slice SVGs for ${zs.size} distinct ROI z positions`);
    const drawn = await page.locator('[data-testid="slice-thumbs"] [data-roi]').count();
    assert(drawn === rois, `${drawn} outlines drawn for ${rois} ROIs`);
    const labelled = await page.$$eval('[data-testid="slice-thumbs"] svg[data-z]', (els) => els.every((e) => e.getAttribute('role') === 'img' && (e.getAttribute('aria-label') ?? '').startsWith('Slice z =')));
    assert(labelled, 'slice SVGs are not labelled images');
    if (zs.size > 1) {
      await tabTo('#z-slider');
      const before = await text('[data-testid="z-value"]');
      await page.keyboard.press('ArrowRight');
      const after = await text('[data-testid="z-value"]');
      assert(before !== after && after.includes('2 / '), `the slider did not move with the keyboard: "${before}" → "${after}"`);
      await page.keyboard.press('Tab');
      assert(await page.evaluate(() => document.activeElement?.matches('.slice-thumb[data-index="0"]')), 'Tab after the slider does not reach the first slice button');
      await page.keyboard.press('ArrowRight');
      await page.keyboard.press('Enter');
      assert((await page.getAttribute('.slice-thumb[data-index="1"]', 'aria-pressed')) === 'true', 'Arrow + Enter on the slice buttons does not select the next slice');
    }
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(shots, 'nodules.png'), fullPage: true });
  });
});
