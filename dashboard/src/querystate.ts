// Query page state <-> URL: a collection query (?collection=&filter=) or a cross-level cohort (?mode=cohort&cohort=).
import type { CohortLevel } from './api';
import { DEFAULT_LIMIT, MAX_LIMIT, QUERY_COLLECTIONS } from './urlstate';

export interface QueryPageState {
  mode: 'query' | 'cohort';
  collection: string;
  /** query mode: the filter; cohort mode: {"studies"?: F, "series"?: F, "instances"?: F} — JSON text as typed */
  json: string;
  ret: CohortLevel;
  sort: string;
  skip: number;
  limit: number;
  run: boolean;
}

const RETURNS: CohortLevel[] = ['studies', 'series', 'instances'];

function int(v: string | null, fallback: number, min: number, max: number): number {
  if (v === null || v.trim() === '') return fallback;
  const n = Math.floor(Number(v));
  return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : fallback;
}

export function parseQueryPage(search: string): QueryPageState {
  const sp = new URLSearchParams(search.startsWith('?') ? search.slice(1) : search);
  const mode = sp.get('mode') === 'cohort' ? 'cohort' : 'query';
  const c = sp.get('collection') ?? 'series';
  const r = sp.get('return') as CohortLevel | null;
  return {
    mode,
    collection: QUERY_COLLECTIONS.includes(c) ? c : 'series',
    json: (mode === 'cohort' ? sp.get('cohort') : sp.get('filter')) ?? (mode === 'cohort' ? '{\n  "series": {"modality": "CT"}\n}' : '{\n  "modality": "CT"\n}'),
    ret: r && RETURNS.includes(r) ? r : 'series',
    sort: sp.get('sort') ?? '',
    skip: int(sp.get('skip'), 0, 0, Number.MAX_SAFE_INTEGER),
    limit: int(sp.get('limit'), DEFAULT_LIMIT, 1, MAX_LIMIT),
    run: sp.get('run') === '1',
  };
}

export function queryPageToSearch(s: QueryPageState): string {
  const sp = new URLSearchParams();
  if (s.mode === 'cohort') {
    sp.set('mode', 'cohort');
    sp.set('return', s.ret);
    sp.set('cohort', s.json);
  } else {
    sp.set('collection', s.collection);
    sp.set('filter', s.json);
  }
  if (s.sort.trim()) sp.set('sort', s.sort);
  if (s.skip) sp.set('skip', String(s.skip));
  if (s.limit !== DEFAULT_LIMIT) sp.set('limit', String(s.limit));
  if (s.run) sp.set('run', '1');
  return '?' + sp.toString();
}

/** A link that opens the query page on an exact filter and runs it (overview bars, field values). */
export function queryHref(collection: string, filter: unknown): string {
  return '/ui/query' + queryPageToSearch({ mode: 'query', collection, json: JSON.stringify(filter), ret: 'series', sort: '', skip: 0, limit: DEFAULT_LIMIT, run: true });
}
