#!/usr/bin/env node
// Browser test of the query builder, cohorts, plain-language box, overview links, brushing, column chooser,
// details drawer and URL state, against a real `meta_db serve` over a synth archive (issue #10 point 8).
// Saves a screenshot of every page to docs/screenshots/ (README shows them).
//
//   META_DB_BIN=build/meta_db node tests/dashboard/builder_e2e.mjs
import fs from 'node:fs';
import path from 'node:path';
import { runBrowserTest, assert, nf, repo } from './harness.mjs';

const shots = path.join(repo, 'docs', 'screenshots');
fs.mkdirSync(shots, { recursive: true });

await runBrowserTest('builder_e2e', { patients: 5 }, async ({ page, base, api, check, log }) => {
  const shot = (name) => page.screenshot({ path: path.join(shots, `${name}.png`) });
  const totalOf = async () => {
    // list pages: "1–50 of 1,234"; the query page: data-total
    const q = page.locator('[data-testid="query-total"]');
    const r = page.locator('[data-testid="range"]');
    await page.waitForFunction(() => document.querySelector('[data-testid="query-total"]') || /of [\d,]+$/.test(document.querySelector('[data-testid="range"]')?.textContent?.trim() ?? '') || document.querySelector('.results .empty') || document.querySelector('.results [data-testid="error"]'));
    const err = page.locator('.results [data-testid="error"]');
    if (await err.count()) throw new Error(`${page.url()} shows an error: ${await err.first().textContent()}`);
    if (await q.count()) return Number(await q.getAttribute('data-total'));
    const text = (await r.textContent()).trim();
    const m = /of ([\d,]+)$/.exec(text);
    return m ? Number(m[1].replace(/,/g, '')) : 0;
  };
  const liveTotal = async () => {
    await page.waitForFunction(() => document.querySelector('[data-testid="live-count"]')?.dataset.state === 'done');
    return Number(await page.locator('[data-testid="live-total"]').getAttribute('data-total'));
  };
  const queryTotal = async (collection, filter) => (await api('POST', '/query', { collection, filter, limit: 0 })).total;

  await check('every overview bar opens a list with exactly its count', async () => {
    await page.goto(base + '/');
    await page.locator('figure.chart .bar-link').first().waitFor();
    await shot('overview');
    const bars = await page.$$eval('figure.chart[data-chart] a.bar-link', (as) => as.map((a) => ({ href: a.getAttribute('href'), title: a.querySelector('title')?.textContent ?? '' })));
    assert(bars.length >= 8, `expected many linked bars, found ${bars.length}`);
    for (const b of bars) {
      const want = Number(/: ([\d,]+) \(/.exec(b.title)[1].replace(/,/g, ''));
      await page.goto(base + b.href);
      const got = await totalOf();
      assert(got === want, `bar "${b.title}" → ${b.href} lists ${got}`);
    }
    log(`${bars.length} bars checked`);
  });

  await check('brushing the slice-thickness histogram selects exactly those bars', async () => {
    await page.goto(base + '/');
    const fig = page.locator('[data-testid="brush-thickness"]');
    const over = fig.locator('.u-over');
    await over.waitFor();
    const buckets = JSON.parse(await fig.getAttribute('data-buckets'));
    assert(buckets.length >= 2, `need two thickness buckets, have ${buckets.length}`);
    const box = await over.boundingBox();
    const x = (k) => box.x + ((k + 0.5) / buckets.length) * box.width;
    const y = box.y + box.height / 2;
    await page.mouse.move(x(0), y);
    await page.mouse.down();
    await page.mouse.move(x(0.6), y, { steps: 4 });
    await page.mouse.move(x(1), y, { steps: 4 });
    await page.mouse.up();
    await page.waitForURL(/\/ui\/query\?/);
    const want = buckets[0][1] + buckets[1][1];
    const got = await totalOf();
    assert(got === want, `brushed ${buckets[0][0]}..${buckets[1][0]} (${want} series) but the list has ${got}`);
    const filter = JSON.parse(new URL(page.url()).searchParams.get('filter'));
    assert(filter['metadata.SliceThickness'], `brush did not set a slice-thickness range: ${JSON.stringify(filter)}`);
  });

  await check('the study-date timeline sets a date range (keyboard path)', async () => {
    await page.goto(base + '/');
    const fig = page.locator('[data-testid="brush-years"]');
    await fig.waitFor();
    const buckets = JSON.parse(await fig.getAttribute('data-buckets'));
    const want = buckets.reduce((s, b) => s + b[1], 0);
    await fig.locator('[data-testid="brush-apply"]').click();
    await page.waitForURL(/study_date_from=/);
    assert((await totalOf()) === want, `timeline over every year should list ${want} studies`);
  });

  await check('a cohort built in the builder counts what the API counts, and its JSON round-trips', async () => {
    await page.goto(base + '/ui/query?collection=series&filter=%7B%7D');
    await page.locator('[data-testid="builder"]').waitFor();
    await page.click('[data-testid="qb-add-row"]');
    const row = page.locator('[data-testid="qb-row"]').first();
    await row.locator('[data-testid="qb-field"]').fill('modality');
    await row.locator('[data-testid="qb-field"]').press('Tab');
    await page.locator('[data-testid="qb-row"]').first().locator('[data-testid="qb-value"]').fill('CT');
    // a nested OR group: thin slices OR many images
    await page.locator('[data-testid="qb-group"]').first().locator(':scope > .qb-actions [data-testid="qb-add-group"]').click();
    const group = page.locator('[data-testid="qb-group"] [data-testid="qb-group"]').first();
    await group.locator('[data-testid="qb-field"]').first().fill('metadata.SliceThickness');
    await group.locator('[data-testid="qb-field"]').first().press('Tab');
    await group.locator('[data-testid="qb-value2"]').first().fill('2');
    await group.locator('[data-testid="qb-add-row"]').click();
    await group.locator('[data-testid="qb-field"]').nth(1).fill('num_instances');
    await group.locator('[data-testid="qb-field"]').nth(1).press('Tab');
    await group.locator('[data-testid="qb-value"]').nth(1).fill('20');
    const expected = { modality: 'CT', $or: [{ 'metadata.SliceThickness': { $lte: 2 } }, { num_instances: { $gte: 20 } }] };
    await page.waitForFunction((e) => { try { return JSON.stringify(JSON.parse(document.querySelector('#q-filter').value)) === e; } catch { return false; } }, JSON.stringify(expected));
    const want = await queryTotal('series', expected);
    assert((await liveTotal()) === want, `live count ≠ POST /query total ${want}`);
    await shot('query-builder');
    // JSON -> builder: a new filter typed in the editor shows up as rows
    const typed = { $or: [{ 'metadata.Manufacturer': { $in: ['SIEMENS', 'GE MEDICAL SYSTEMS'] } }, { 'metadata.ConvolutionKernel': { $regex: '^B3.*$' } }], modality: { $ne: 'MR' } };
    await page.fill('#q-filter', JSON.stringify(typed));
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="qb-row"]').length === 3);
    const fields = await page.locator('[data-testid="qb-field"]').evaluateAll((els) => els.map((e) => e.value));
    assert(JSON.stringify(fields) === JSON.stringify(['metadata.Manufacturer', 'metadata.ConvolutionKernel', 'modality']), `rows from JSON: ${fields}`);
    const ops = await page.locator('[data-testid="qb-op"]').evaluateAll((els) => els.map((e) => e.value));
    assert(JSON.stringify(ops) === JSON.stringify(['in', 'wildcard', 'ne']), `operators from JSON: ${ops}`);
    // ... and an edit in the builder goes back into the JSON
    await page.locator('[data-testid="qb-value"]').nth(2).fill('PT');
    await page.waitForFunction(() => JSON.parse(document.querySelector('#q-filter').value).modality?.$ne === 'PT');
    assert((await liveTotal()) === (await queryTotal('series', { ...typed, modality: { $ne: 'PT' } })), 'live count after the builder edit');
  });

  await check('a filter the builder cannot show stays JSON with the reason; API errors sit on their row', async () => {
    await page.goto(base + '/ui/query?collection=series&filter=' + encodeURIComponent(JSON.stringify({ $nor: [{ modality: 'CT' }] })));
    const note = await page.locator('[data-testid="qb-note"]').textContent();
    assert(/\$nor/.test(note), `note does not say why: ${note}`);
    await page.fill('#q-filter', JSON.stringify({ modality: 'CT', 'metadata.ConvolutionKernel': { $regex: '(a+)+' } }));
    const err = page.locator('[data-testid="qb-row"]', { has: page.locator('[data-testid="qb-row-error"]') });
    await err.waitFor();
    assert((await err.locator('[data-testid="qb-field"]').inputValue()) === 'metadata.ConvolutionKernel', 'the error is not on the regex row');
  });

  await check('deep link reload restores the builder and the results; back/forward walk the runs', async () => {
    const f1 = { modality: 'CT' };
    const f2 = { modality: 'CT', num_instances: { $gte: 5 } };
    await page.goto(base + '/ui/query?collection=series&run=1&filter=' + encodeURIComponent(JSON.stringify(f1)));
    assert((await totalOf()) === (await queryTotal('series', f1)), 'first run total');
    await page.fill('#q-filter', JSON.stringify(f2));
    await page.click('#q-run');
    await page.waitForFunction((t) => document.querySelector('[data-testid="query-total"]')?.dataset.total === String(t), await queryTotal('series', f2));
    await page.reload();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="qb-row"]').length === 2);
    assert((await totalOf()) === (await queryTotal('series', f2)), 'reloaded total');
    await page.goBack();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="qb-row"]').length === 1);
    assert(JSON.parse(await page.inputValue('#q-filter')).modality === 'CT', 'back did not restore the first filter');
    await page.goForward();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="qb-row"]').length === 2);
  });

  await check('a cross-level cohort link shows one group per level, each with its level selector', async () => {
    const cohort = { studies: { study_date: { $gte: '19000101' } }, series: { $or: [{ modality: 'CT' }, { num_instances: { $gte: 2 } }] } };
    await page.goto(base + '/ui/query?mode=cohort&return=series&cohort=' + encodeURIComponent(JSON.stringify(cohort)));
    // The page renders the groups after its first fetches: wait for them before reading them.
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="qb-level"]').length === 2);
    const levels = await page.locator('[data-testid="qb-level"]').evaluateAll((els) => els.map((e) => e.value));
    assert(JSON.stringify(levels) === JSON.stringify(['studies', 'series']), `level selectors: ${levels}`);
    assert((await page.locator('[data-testid="qb-row"]').count()) === 3, 'rows of the cohort');
    // switching a group's level moves its filter to that level in the JSON
    await page.locator('[data-testid="qb-level"]').first().selectOption('instances');
    await page.waitForFunction(() => 'instances' in JSON.parse(document.querySelector('#q-filter').value));
    assert(!('studies' in JSON.parse(await page.inputValue('#q-filter'))), 'the studies filter did not move');
  });

  await check('a cross-level cohort counts what POST /cohort counts', async () => {
    const cohort = { studies: { study_date: { $gte: '19000101' } }, series: { modality: 'CT' } };
    const want = await api('POST', '/cohort', { ...cohort, return: 'series', limit: 1 });
    await page.goto(base + '/ui/query?mode=cohort&return=series&run=1&cohort=' + encodeURIComponent(JSON.stringify(cohort)));
    // The page renders the groups after its first fetches: wait for them before reading them.
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="qb-level"]').length === 2);
    const levels = await page.locator('[data-testid="qb-level"]').evaluateAll((els) => els.map((e) => e.value));
    assert(JSON.stringify(levels) === JSON.stringify(['studies', 'series']), `level selectors: ${levels}`);
    assert((await liveTotal()) === want.total, `live count ≠ /cohort total ${want.total}`);
    assert((await totalOf()) === want.total, 'run total ≠ /cohort total');
    const chips = await page.locator('[data-testid="cohort-counts"]').textContent();
    assert(chips.includes(`${nf.format(want.counts.patients)} patients`), `counts: ${chips}`);
    await shot('query-cohort');
  }, { needs: '/cohort' });

  await check('a plain-language question is shown, then confirmed and run', async () => {
    const q = 'CT series';
    const t = await api('POST', '/nl/translate', { question: q });
    await page.goto(base + '/ui/query');
    await page.fill('[data-testid="nl-question"]', q);
    await page.click('[data-testid="nl-translate"]');
    await page.locator('[data-testid="nl-count"]').waitFor();
    assert(Number(await page.locator('[data-testid="nl-count"]').getAttribute('data-total')) === t.count, 'shown count ≠ API count');
    await page.click('[data-testid="nl-confirm"]');
    await page.waitForURL(/run=1/);
    assert((await totalOf()) === t.count, 'the run does not list the translated count');
    await shot('query-plain-language');
  }, { needs: '/nl/translate' });

  await check('column chooser adds a metadata key, kept in the URL', async () => {
    const fields = await api('GET', '/fields?collection=series');
    const key = fields.fields.map((f) => f.path).find((p) => p.startsWith('metadata.') && !['metadata.Manufacturer', 'metadata.ManufacturerModelName', 'metadata.ConvolutionKernel', 'metadata.SliceThickness', 'metadata.BodyPartExamined'].includes(p));
    assert(key, 'no extra metadata key in /fields');
    await page.goto(base + '/ui/series');
    await page.locator('[data-testid="series-table"]').waitFor();
    await page.click('[data-testid="col-chooser"] summary');
    await page.fill('[data-testid="col-add"]', key);
    await page.click('[data-testid="col-add-btn"]');
    await page.waitForURL(/cols=/);
    assert(new URL(page.url()).searchParams.get('cols').split(',').includes(key), 'cols param lacks the key');
    await page.reload();
    await page.locator('[data-testid="series-table"]').waitFor();
    const heads = await page.locator('[data-testid="series-table"] thead th').allTextContents();
    assert(heads.some((t) => t.includes(key.slice('metadata.'.length))), `header lacks ${key}: ${heads}`);
    await shot('series');
  });

  await check('GET /dictionary answers tag, VR and name; leaves unknown keys out; bounds the list', async () => {
    const d = await api('GET', '/dictionary?keywords=SliceThickness,metadata.Modality,NoSuchKeyword,0009,1001,SOPClassUID');
    assert(JSON.stringify(d.SliceThickness) === JSON.stringify({ tag: '(0018,0050)', vr: 'DS', name: 'Slice Thickness' }), `SliceThickness: ${JSON.stringify(d.SliceThickness)}`);
    assert(d.Modality?.tag === '(0008,0060)' && d.Modality.vr === 'CS', `metadata.Modality: ${JSON.stringify(d.Modality)}`);
    assert(d.SOPClassUID?.name === 'SOP Class UID' && d.SOPClassUID.vr === 'UI', `SOPClassUID: ${JSON.stringify(d.SOPClassUID)}`);
    assert(d['0009,1001']?.tag === '(0009,1001)', `private tag: ${JSON.stringify(d['0009,1001'])}`);
    assert(!('NoSuchKeyword' in d), 'unknown keyword answered');
    const many = Array.from({ length: 1001 }, () => 'Modality').join(',');
    const r = await fetch(`${base}/dictionary?keywords=${many}`);
    assert(r.status === 400, `1001 keywords → ${r.status}`);
  });

  await check('details drawer shows keyword, tag and VR, searchable, with the tree', async () => {
    await page.goto(base + '/ui/series');
    await page.locator('[data-testid="details-btn"]').first().click();
    const drawer = page.locator('[data-testid="drawer"]');
    const row = drawer.locator('tr[data-path="metadata.SliceThickness"]');
    await row.waitFor();
    assert((await row.locator('[data-testid="attr-tag"]').textContent()) === '(0018,0050)', 'SliceThickness tag');
    assert((await row.locator('[data-testid="attr-vr"]').textContent()) === 'DS', 'SliceThickness VR');
    const modality = drawer.locator('tr[data-path="modality"]');
    assert((await modality.locator('[data-testid="attr-tag"]').textContent()) === '(0008,0060)', 'promoted modality tag');
    await drawer.locator('[data-testid="drawer-search"]').fill('0018,0050');
    assert((await drawer.locator('tbody tr:not([hidden])').count()) === 1, 'search by tag');
    assert((await drawer.locator('[data-testid="drawer-tree"] a').count()) >= 2, 'tree links');
    assert(new URL(page.url()).searchParams.get('details'), 'drawer not in the URL');
    await shot('details-drawer');
    await page.reload();
    await page.locator('[data-testid="drawer"] tr[data-path="metadata.SliceThickness"]').waitFor();
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !new URL(location.href).searchParams.get('details'));
  });

  await check('screenshots of the other pages', async () => {
    const s = (await api('GET', '/series?limit=1')).results[0];
    for (const [name, url, sel] of [
      ['studies', '/ui/studies', '[data-testid="studies-table"]'],
      ['series-detail', `/ui/series/${s._id}`, 'h1'],
      ['study-detail', `/ui/studies/${s.study_id}`, '[data-testid="study-series"]'],
      ['fields', '/ui/fields', 'h1'],
      ['collections', '/ui/collections', 'h1'],
      ['researchers', '/ui/researchers', 'h1'],
      ['jobs', '/ui/jobs', 'h1'],
      ['errors', '/ui/errors', 'h1'],
    ]) {
      await page.goto(base + url);
      await page.locator(sel).first().waitFor();
      await page.waitForLoadState('networkidle');
      await shot(name);
    }
  });
});
