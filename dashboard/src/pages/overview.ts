// Overview: catalogue counts and distributions from GET /stats.
import { registerPage, type PageCtx } from '../router';
import { api, type Bucket } from '../api';
import { h, clear, fmtNum, spinner } from '../dom';
import { errorBox, pageHeader, navigate } from '../ui';
import { barChart } from '../charts';
import { facetCharts } from '../series_facet_charts';
import { brushHistogram } from '../histogram';
import { THICKNESS_BUCKETS } from '../breakdowns';
import { queryHref } from '../querystate';

const COUNT_CARDS: [string, string, string][] = [
  ['studies', 'Studies', '/ui/studies'],
  ['series', 'Series', '/ui/series'],
  ['instances', 'Instances', '/ui/series'],
  ['collections', 'Collections', '/ui/collections'],
  ['researchers', 'Researchers', '/ui/researchers'],
  ['errors', 'Ingest errors', '/ui/errors'],
];

interface DistDef {
  key: string;
  title: string;
  ordered?: boolean; // keep server order (ranges, years) instead of sorting by count
  href?: (b: Bucket) => string | null;
}

// Series-list parameters are exact matches with * and ? wildcards: a value holding either goes to the query page.
const seriesParam = (param: string, field: string) => (b: Bucket) => {
  if (b.value === '(missing)' || b.value.startsWith('other (')) return null;
  return /[*?]/.test(b.value) ? queryHref('series', { [field]: b.value }) : `/ui/series?${new URLSearchParams({ [param]: b.value })}`;
};

/** A slice-thickness bucket's exact, half-open filter (the list's slice_thickness_max is inclusive, so not that). */
export function thicknessHref(b: Bucket): string | null {
  const t = THICKNESS_BUCKETS.find((x) => x.value === b.value);
  return t ? queryHref('series', { 'metadata.SliceThickness': t.cond }) : null;
}

/** Images-per-series buckets ("0", "1", "2-10", …, ">500") are inclusive integer ranges. */
export function instancesHref(b: Bucket): string | null {
  const range = /^(\d+)-(\d+)$/.exec(b.value);
  if (range) return `/ui/series?min_instances=${range[1]}&max_instances=${range[2]}`;
  if (/^\d+$/.test(b.value)) return `/ui/series?min_instances=${b.value}&max_instances=${b.value}`;
  const over = /^>(\d+)$/.exec(b.value);
  return over ? `/ui/series?min_instances=${Number(over[1]) + 1}` : null;
}

export const yearsHref = (from: string, to: string) => `/ui/studies?study_date_from=${from}0101&study_date_to=${to}1231`;

export const DISTS: DistDef[] = [
  { key: 'modality', title: 'Modality (series)', href: seriesParam('modality', 'modality') },
  { key: 'manufacturer', title: 'Manufacturer', href: seriesParam('manufacturer', 'metadata.Manufacturer') },
  { key: 'manufacturer_model_name', title: 'Scanner model', href: seriesParam('manufacturer_model_name', 'metadata.ManufacturerModelName') },
  { key: 'body_part_examined', title: 'Body part', href: seriesParam('body_part_examined', 'metadata.BodyPartExamined') },
  { key: 'convolution_kernel', title: 'Convolution kernel', href: seriesParam('convolution_kernel', 'metadata.ConvolutionKernel') },
  { key: 'slice_thickness', title: 'Slice thickness (mm)', ordered: true, href: thicknessHref },
  { key: 'study_year', title: 'Study year', ordered: true, href: (b) => (/^\d{4}$/.test(b.value) ? yearsHref(b.value, b.value) : null) },
  { key: 'instances_per_series', title: 'Images per series', ordered: true, href: instancesHref },
];

function sortOrdered(buckets: Bucket[]): Bucket[] {
  const n = (s: string) => {
    if (s.startsWith('<')) return -1;
    if (s.startsWith('>')) return Number(s.replace(/[^0-9.]/g, '')) + 0.5;
    const m = /-?\d+(\.\d+)?/.exec(s);
    return m ? Number(m[0]) : Number.POSITIVE_INFINITY;
  };
  return buckets.slice().sort((a, b) => n(a.value) - n(b.value) || a.value.localeCompare(b.value));
}

export async function renderOverview(ctx: PageCtx) {
  ctx.main.append(pageHeader('Overview', 'What is in the catalogue: counts and the distributions researchers filter on.'));
  const body = h('div', null, spinner());
  ctx.main.append(body);
  let stats;
  try {
    stats = await api.stats(ctx.signal);
  } catch (e) {
    if ((e as Error).name === 'AbortError') return;
    clear(body);
    body.append(errorBox(e, 'Could not load /stats'));
    return;
  }
  clear(body);
  const cards = h(
    'div',
    { class: 'cards', 'data-testid': 'counts' },
    COUNT_CARDS.map(([key, label, href]) =>
      h('a', { class: 'stat-card' + (key === 'errors' && (stats.counts[key] ?? 0) > 0 ? ' warn' : ''), href, 'data-link': '', 'data-count': key }, h('span', { class: 'stat-value', 'data-testid': `count-${key}` }, fmtNum(stats.counts[key])), h('span', { class: 'stat-label' }, label)),
    ),
  );
  const avg = stats.counts.series ? (stats.counts.instances ?? 0) / stats.counts.series : 0;
  body.append(cards);
  if (avg) body.append(h('p', { class: 'small muted' }, `${avg.toFixed(1)} images per series on average.`));

  const charts = h('div', { class: 'charts' });
  const facets: DistDef[] = facetCharts(Object.keys(stats.distributions)); // #13 annotation/QC panels, when /stats has them
  const known = new Set([...DISTS, ...facets].map((d) => d.key));
  const defs = [
    ...DISTS,
    ...facets,
    ...Object.keys(stats.distributions)
      .filter((k) => !known.has(k))
      .map((k) => ({ key: k, title: k.replace(/_/g, ' ').replace(/^\w/, (c) => c.toUpperCase()) }) as DistDef),
  ];
  for (const d of defs) {
    const buckets = stats.distributions[d.key];
    if (!buckets) continue;
    charts.append(
      h(
        'div',
        { class: 'card chart-card' },
        barChart({ title: d.title, buckets: d.ordered ? sortOrdered(buckets) : buckets, sortByCount: !d.ordered, max: d.ordered ? 16 : 10, hrefFor: d.href, onNavigate: (href) => navigate(href) }),
      ),
    );
  }
  const brushes = h('div', { class: 'charts brushes' });
  const thickness = sortOrdered(stats.distributions.slice_thickness ?? []).filter((b) => THICKNESS_BUCKETS.some((t) => t.value === b.value));
  if (thickness.length) {
    brushes.append(
      h('div', { class: 'card chart-card' }, brushHistogram({
        title: 'Slice thickness (mm) — drag to select a range',
        testId: 'brush-thickness',
        buckets: thickness,
        hrefFor: (i, j) => {
          const lo = THICKNESS_BUCKETS.find((t) => t.value === thickness[i]!.value)!.cond.$gte;
          const hi = THICKNESS_BUCKETS.find((t) => t.value === thickness[j]!.value)!.cond.$lt;
          const cond: Record<string, unknown> = {};
          if (lo !== undefined) cond.$gte = lo;
          if (hi !== undefined) cond.$lt = hi;
          // every bucket: any number (the comparison's type bracket leaves non-numbers out, as the buckets do)
          if (!Object.keys(cond).length) cond.$gte = -Number.MAX_VALUE;
          return queryHref('series', { 'metadata.SliceThickness': cond });
        },
      })),
    );
  }
  const years = (stats.distributions.study_year ?? []).filter((b) => /^\d{4}$/.test(b.value)).sort((a, b) => a.value.localeCompare(b.value));
  if (years.length) {
    // every year from the first to the last, so the timeline's x axis is time (empty years are 0)
    const all: Bucket[] = [];
    for (let y = Number(years[0]!.value); y <= Number(years[years.length - 1]!.value); y++) all.push({ value: String(y), count: years.find((b) => b.value === String(y))?.count ?? 0 });
    brushes.append(h('div', { class: 'card chart-card' }, brushHistogram({ title: 'Study dates by year — drag to select a period', testId: 'brush-years', buckets: all, hrefFor: (i, j) => yearsHref(all[i]!.value, all[j]!.value) })));
  }
  if (brushes.childElementCount) body.append(h('h2', { class: 'section-title' }, 'Select a range'), brushes);
  if (charts.childElementCount) body.append(h('h2', { class: 'section-title' }, 'Distributions'), charts);
  else body.append(h('p', { class: 'muted' }, 'The server reported no distributions.'));
}

registerPage({ path: '/', render: renderOverview, nav: 'overview', title: 'Overview' });
registerPage({ path: '/ui', render: renderOverview, nav: 'overview', title: 'Overview' });
