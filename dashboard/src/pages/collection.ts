// One collection as a cohort: summary counts, breakdown charts, its studies (paged) and export links.
import '../pages_extra.css';
import { registerPage, type PageCtx } from '../router';
import { api, docId, type Bucket, type Doc } from '../api';
import { collectionSummary, type SummaryBucket } from '../api_jobs';
import { barChart } from '../charts';
import { h, clear, fmtNum, spinner, emptyState } from '../dom';
import { dataTable, errorBox, idBadge, link, navigate, pageHeader } from '../ui';
import { rangeLabel } from '../urlstate';
import { STUDY_COLUMNS } from './lists';
import { exportPanel } from '../export_panel';

const COUNTS: [string, string][] = [
  ['cases', 'Cases'],
  ['patients', 'Patients'],
  ['studies', 'Studies'],
  ['series', 'Series'],
  ['instances', 'Instances'],
];

// Breakdown name → its title and the series-list parameter a bar links to (within this collection).
const BREAKDOWNS: [string, string, string | null][] = [
  ['modality', 'Modality', 'modality'],
  ['manufacturer', 'Manufacturer', 'manufacturer'],
  ['kernel', 'Convolution kernel', 'convolution_kernel'],
  ['slice_thickness', 'Slice thickness (mm)', null],
];

/** Summary buckets ({value, series, instances}) as chart buckets counted in series. */
export function summaryBuckets(b: SummaryBucket[] | undefined): Bucket[] {
  return (b ?? []).map((x) => ({ value: x.value === null || x.value === undefined || x.value === '' ? '(none)' : String(x.value), count: Number(x.series) || 0, raw: x.value }));
}

export async function renderCollectionPage(ctx: PageCtx) {
  const id = ctx.params.id!;
  ctx.main.append(spinner());
  let coll: Doc;
  try {
    coll = await api.get<Doc>(`/collections/${encodeURIComponent(id)}`, ctx.signal);
  } catch (e) {
    if ((e as Error).name === 'AbortError') return;
    clear(ctx.main);
    ctx.main.append(pageHeader('Collection'), errorBox(e, 'Could not load the collection'), h('p', null, link('/ui/collections', '← Back to collections')));
    return;
  }
  clear(ctx.main);
  const name = String(coll.name ?? id);
  const summarySec = h('section', { class: 'card', 'aria-labelledby': 'h-summary' }, h('h2', { id: 'h-summary' }, 'Summary'), spinner());
  const studiesSec = h('section', { class: 'card', 'aria-labelledby': 'h-studies' });
  ctx.main.append(
    h('p', { class: 'crumbs' }, link('/ui/collections', 'Collections'), ' / ', name),
    pageHeader(name, h('span', null, coll.description ? String(coll.description) + ' · ' : '', idBadge(id)), [link(`/ui/series?collection_id=${encodeURIComponent(id)}`, 'Its series →')]),
    summarySec,
    studiesSec,
    exportPanel(id, name, 'coll'),
  );

  void (async () => {
    try {
      const s = await collectionSummary(id, ctx.signal);
      clear(summarySec);
      summarySec.append(
        h('h2', { id: 'h-summary' }, 'Summary'),
        h(
          'div',
          { class: 'cards', 'data-testid': 'summary-counts' },
          COUNTS.map(([k, label]) => h('div', { class: 'stat-card' }, h('span', { class: 'stat-value', 'data-testid': `summary-${k}` }, fmtNum(s.counts?.[k as keyof typeof s.counts])), h('span', { class: 'stat-label' }, label))),
        ),
      );
      const charts = h('div', { class: 'charts', 'data-testid': 'summary-charts' });
      const known = new Set(BREAKDOWNS.map((b) => b[0]));
      const all: [string, string, string | null][] = [...BREAKDOWNS, ...Object.keys(s.breakdowns ?? {}).filter((k) => !known.has(k)).map((k) => [k, k.replace(/_/g, ' '), null] as [string, string, string | null])];
      for (const [key, title, param] of all) {
        const buckets = summaryBuckets(s.breakdowns?.[key]);
        if (!s.breakdowns || !(key in s.breakdowns)) continue;
        charts.append(
          h(
            'div',
            { class: 'card chart-card' },
            barChart({
              title: `${title} (series)`,
              buckets,
              sortByCount: key !== 'slice_thickness',
              max: 12,
              hrefFor: param ? (b) => (b.value === '(none)' || b.value.startsWith('other (') ? null : `/ui/series?${new URLSearchParams({ collection_id: id, [param]: String(b.raw ?? b.value) })}`) : undefined,
              onNavigate: (href) => navigate(href),
            }),
          ),
        );
      }
      if (charts.childElementCount) summarySec.append(charts);
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      clear(summarySec);
      summarySec.append(h('h2', { id: 'h-summary' }, 'Summary'), errorBox(e, 'Could not load the summary'));
    }
  })();

  const range = h('span', { class: 'range', 'data-testid': 'coll-studies-range' });
  const body = h('div');
  let skip = 0;
  const limit = 50;
  const prev = h('button', { type: 'button', class: 'btn small', 'data-page': 'prev', onclick: () => ((skip = Math.max(0, skip - limit)), void load()) }, '‹ Prev');
  const next = h('button', { type: 'button', class: 'btn small', 'data-page': 'next', onclick: () => ((skip += limit), void load()) }, 'Next ›');
  studiesSec.append(h('div', { class: 'toolbar' }, h('h2', { id: 'h-studies' }, 'Studies'), h('div', { class: 'pager' }, range, prev, next)), body);
  async function load() {
    clear(body);
    body.append(spinner());
    try {
      const res = await api.list(`/collections/${encodeURIComponent(id)}/studies`, { skip, limit }, ctx.signal);
      clear(body);
      range.textContent = rangeLabel(skip, res.results.length, res.total);
      prev.disabled = skip === 0;
      next.disabled = skip + res.results.length >= res.total;
      body.append(
        res.results.length
          ? dataTable({ columns: STUDY_COLUMNS, rows: res.results, rowHref: (d) => (docId(d) ? `/ui/studies/${encodeURIComponent(docId(d))}` : null), testId: 'collection-studies', caption: `Studies of ${name}` })
          : emptyState('No studies in this collection yet.'),
      );
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      clear(body);
      body.append(errorBox(e, 'Could not load the studies'));
    }
  }
  await load();
}

registerPage({ path: '/ui/collections/:id', render: renderCollectionPage, nav: 'collections', title: 'Collection' });
