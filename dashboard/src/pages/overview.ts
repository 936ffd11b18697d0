// Overview: catalogue counts and distributions from GET /stats.
import type { PageCtx } from '../main';
import { api, type Bucket } from '../api';
import { h, clear, fmtNum, spinner } from '../dom';
import { errorBox, pageHeader, navigate } from '../ui';
import { barChart } from '../charts';
import { facetCharts } from '../series_facets';

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

const seriesParam = (param: string) => (b: Bucket) => (b.value === '(none)' || b.value === '(missing)' || b.value.startsWith('other (') ? null : `/ui/series?${new URLSearchParams({ [param]: String(b.raw ?? b.value) })}`);

/** "1–2", "1-2", "[1, 2)", "1.0-2.5 mm" → slice_thickness_min/max link. */
export function thicknessHref(b: Bucket): string | null {
  const m = /(\d+(?:\.\d+)?)\s*(?:–|-|to|,)\s*(\d+(?:\.\d+)?)/.exec(b.value);
  if (m) return `/ui/series?slice_thickness_min=${m[1]}&slice_thickness_max=${m[2]}`;
  const ge = /^(?:≥|>=|>)\s*(\d+(?:\.\d+)?)/.exec(b.value) ?? /^(\d+(?:\.\d+)?)\s*\+$/.exec(b.value);
  if (ge) return `/ui/series?slice_thickness_min=${ge[1]}`;
  const lt = /^(?:<|≤|<=)\s*(\d+(?:\.\d+)?)/.exec(b.value);
  if (lt) return `/ui/series?slice_thickness_max=${lt[1]}`;
  return null;
}

export const DISTS: DistDef[] = [
  { key: 'modality', title: 'Modality (series)', href: seriesParam('modality') },
  { key: 'manufacturer', title: 'Manufacturer', href: seriesParam('manufacturer') },
  { key: 'model', title: 'Scanner model', href: seriesParam('manufacturer_model_name') },
  { key: 'body_part', title: 'Body part', href: seriesParam('body_part_examined') },
  { key: 'kernel', title: 'Convolution kernel', href: seriesParam('convolution_kernel') },
  { key: 'slice_thickness', title: 'Slice thickness (mm)', ordered: true, href: thicknessHref },
  {
    key: 'study_year',
    title: 'Study year',
    ordered: true,
    href: (b) => (/^\d{4}$/.test(b.value) ? `/ui/studies?study_date_from=${b.value}0101&study_date_to=${b.value}1231` : null),
  },
  { key: 'instances_per_series', title: 'Images per series', ordered: true, href: (b) => { const m = /^(\d+)/.exec(b.value); return m ? `/ui/series?min_instances=${m[1]}` : null; } },
];

function sortOrdered(buckets: Bucket[]): Bucket[] {
  const n = (s: string) => {
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
  if (charts.childElementCount) body.append(h('h2', { class: 'section-title' }, 'Distributions'), charts);
  else body.append(h('p', { class: 'muted' }, 'The server reported no distributions.'));
}
