// Per-result-set breakdowns (modality, manufacturer, kernel, slice thickness) beside a series result:
// one exact count per bar (POST /query or /cohort with the bar's condition added), never a download of the rows.
import { api, type CohortBody, type Doc, type Bucket } from './api';
import { h, clear, spinner } from './dom';
import { barChart } from './charts';
import { navigate } from './ui';
import { queryHref } from './querystate';

export type ResultSet = { filter: Doc } | { cohort: CohortBody };

interface Dim {
  title: string;
  stat: string; // /stats distribution with the catalogue's most frequent values
  field: string;
}
const DIMS: Dim[] = [
  { title: 'Modality', stat: 'modality', field: 'modality' },
  { title: 'Manufacturer', stat: 'manufacturer', field: 'metadata.Manufacturer' },
  { title: 'Kernel', stat: 'convolution_kernel', field: 'metadata.ConvolutionKernel' },
];
/** The overview's slice-thickness buckets, half-open like the server's (discovery.cpp ThicknessBucket). */
export const THICKNESS_BUCKETS: { value: string; cond: Doc }[] = [
  { value: '<1', cond: { $lt: 1 } },
  { value: '1-2', cond: { $gte: 1, $lt: 2 } },
  { value: '2-3', cond: { $gte: 2, $lt: 3 } },
  { value: '3-5', cond: { $gte: 3, $lt: 5 } },
  { value: '>=5', cond: { $gte: 5 } },
];
const TOP = 6;

/** The result set narrowed by one more series condition. */
export function narrowed(set: ResultSet, cond: Doc): ResultSet {
  if ('filter' in set) return { filter: Object.keys(set.filter).length ? { $and: [set.filter, cond] } : cond };
  const series = set.cohort.series;
  return { cohort: { ...set.cohort, series: series && Object.keys(series).length ? { $and: [series, cond] } : cond } };
}

async function count(set: ResultSet, signal: AbortSignal): Promise<number> {
  if ('filter' in set) return (await api.query({ collection: 'series', filter: set.filter, limit: 0 }, signal)).total;
  return (await api.cohort({ ...set.cohort, return: 'series', skip: 0, limit: 1 }, signal)).total;
}

export function breakdowns(set: ResultSet, signal: AbortSignal): HTMLElement {
  const box = h('aside', { class: 'breakdowns', 'aria-label': 'Breakdown of this result', 'data-testid': 'breakdowns' }, h('h2', { class: 'section-title' }, 'Breakdown (series)'), spinner('Counting…'));
  void (async () => {
    const stats = await api.stats(signal);
    const jobs: { dim: string; bucket: Bucket; cond: Doc }[] = [];
    for (const d of DIMS) {
      for (const b of (stats.distributions[d.stat] ?? []).filter((x) => x.value !== '(missing)').slice(0, TOP)) {
        jobs.push({ dim: d.title, bucket: { value: b.value, count: 0 }, cond: { [d.field]: b.value } });
      }
    }
    for (const t of THICKNESS_BUCKETS) jobs.push({ dim: 'Slice thickness (mm)', bucket: { value: t.value, count: 0 }, cond: { 'metadata.SliceThickness': t.cond } });
    // a few requests at a time: the server's worker pool is shared with everyone else
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < jobs.length) {
          const j = jobs[next++]!;
          j.bucket.count = await count(narrowed(set, j.cond), signal);
        }
      }),
    );
    clear(box);
    box.append(h('h2', { class: 'section-title' }, 'Breakdown (series)'));
    for (const title of [...DIMS.map((d) => d.title), 'Slice thickness (mm)']) {
      const buckets = jobs.filter((j) => j.dim === title && j.bucket.count > 0).map((j) => j.bucket);
      const conds = new Map(jobs.filter((j) => j.dim === title).map((j) => [j.bucket.value, j.cond]));
      box.append(
        barChart({
          title,
          buckets,
          max: 8,
          hrefFor: (b) => {
            const c = conds.get(b.value);
            const n = c ? narrowed(set, c) : null;
            return n && 'filter' in n ? queryHref('series', n.filter) : null;
          },
          onNavigate: (href) => navigate(href),
        }),
      );
    }
  })().catch((e) => {
    if ((e as Error).name === 'AbortError') return;
    clear(box);
    box.append(h('p', { class: 'small bad-text' }, `Breakdown unavailable: ${(e as Error).message}`));
  });
  return box;
}
