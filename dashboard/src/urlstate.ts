// List-page state <-> URL query string. The UI URL and the API query use the same parameter
// names, so a dashboard link is also a readable description of the API call behind it.
import { SERIES_FACET_FILTERS } from './series_facets';

export interface FilterDef {
  name: string;
  label: string;
  type?: 'text' | 'number' | 'date' | 'select';
  placeholder?: string;
  options?: string[];
  step?: string;
}

export interface ListState {
  filters: Record<string, string>;
  sort: string;
  skip: number;
  limit: number;
}

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 1000;
export const PAGE_SIZES = [25, 50, 100, 250, 500];

const MODALITIES = ['CT', 'MR', 'CR', 'DX', 'PT', 'NM', 'US', 'MG', 'SEG', 'SR', 'RTSTRUCT', 'OT'];

export const STUDY_FILTERS: FilterDef[] = [
  { name: 'q', label: 'Search', placeholder: 'free text' },
  { name: 'modality', label: 'Modality', type: 'select', options: MODALITIES },
  { name: 'patient_id', label: 'Patient ID', placeholder: 'LIDC-IDRI-0001' },
  { name: 'accession_number', label: 'Accession number' },
  { name: 'study_date_from', label: 'Study date from', type: 'date' },
  { name: 'study_date_to', label: 'Study date to', type: 'date' },
  { name: 'study_description', label: 'Study description', placeholder: 'contains…' },
  { name: 'collection_id', label: 'Collection ID', placeholder: '24-hex id' },
];

export const SERIES_FILTERS: FilterDef[] = [
  { name: 'q', label: 'Search', placeholder: 'free text' },
  { name: 'modality', label: 'Modality', type: 'select', options: MODALITIES },
  { name: 'body_part_examined', label: 'Body part', placeholder: 'CHEST' },
  { name: 'manufacturer', label: 'Manufacturer', placeholder: 'SIEMENS' },
  { name: 'manufacturer_model_name', label: 'Model' },
  { name: 'convolution_kernel', label: 'Kernel', placeholder: 'B30f' },
  { name: 'slice_thickness_min', label: 'Slice thickness ≥ (mm)', type: 'number', step: 'any' },
  { name: 'slice_thickness_max', label: 'Slice thickness ≤ (mm)', type: 'number', step: 'any' },
  { name: 'series_description', label: 'Series description', placeholder: 'contains…' },
  { name: 'min_instances', label: 'Min. instances', type: 'number', step: '1' },
  { name: 'max_instances', label: 'Max. instances', type: 'number', step: '1' },
  { name: 'patient_id', label: 'Patient ID', placeholder: 'LIDC-IDRI-0001' },
  { name: 'study_id', label: 'Study ID', placeholder: '24-hex id' },
  { name: 'collection_id', label: 'Collection ID', placeholder: '24-hex id' },
  ...SERIES_FACET_FILTERS, // #13 annotation and QC facets (series_facets.ts)
];

const RESERVED = new Set(['sort', 'skip', 'limit']);

function isAllowed(name: string, allowed: string[]): boolean {
  return allowed.includes(name) || /^metadata\.[A-Za-z0-9_]+$/.test(name);
}

function toInt(v: string | null, fallback: number, min: number, max: number): number {
  if (v === null || v.trim() === '') return fallback;
  const n = Math.floor(Number(v));
  if (!Number.isFinite(n)) return fallback;
  return Math.min(max, Math.max(min, n));
}

/** Parse "?modality=CT&sort=-study_date&skip=50" into a ListState, dropping unknown params. */
export function parseListState(search: string, allowed: string[], defaultSort = ''): ListState {
  const sp = new URLSearchParams(search.startsWith('?') ? search.slice(1) : search);
  const filters: Record<string, string> = {};
  for (const [k, v] of sp) {
    if (RESERVED.has(k) || v.trim() === '') continue;
    if (isAllowed(k, allowed)) filters[k] = v.trim();
  }
  const sort = (sp.get('sort') ?? defaultSort).trim();
  return {
    filters,
    sort: /^[-+]?[A-Za-z0-9_.]+(,[-+]?[A-Za-z0-9_.]+)*$/.test(sort) ? sort : defaultSort,
    skip: toInt(sp.get('skip'), 0, 0, Number.MAX_SAFE_INTEGER),
    limit: toInt(sp.get('limit'), DEFAULT_LIMIT, 1, MAX_LIMIT),
  };
}

/** Query string for the UI URL: stable order, defaults omitted. Returns "" or "?...". */
export function listStateToSearch(state: ListState, defaultSort = ''): string {
  const sp = new URLSearchParams();
  for (const k of Object.keys(state.filters).sort()) {
    const v = state.filters[k];
    if (v !== undefined && v !== '') sp.set(k, v);
  }
  if (state.sort && state.sort !== defaultSort) sp.set('sort', state.sort);
  if (state.skip > 0) sp.set('skip', String(state.skip));
  if (state.limit !== DEFAULT_LIMIT) sp.set('limit', String(state.limit));
  const s = sp.toString();
  return s ? '?' + s : '';
}

/** Parameters for the list endpoint (GET /studies, GET /series). */
export function listStateToApiParams(state: ListState): Record<string, string | number> {
  const p: Record<string, string | number> = { ...state.filters };
  if (state.sort) p.sort = state.sort;
  p.skip = state.skip;
  p.limit = state.limit;
  return p;
}

/** Header click: unsorted/other field → ascending; ascending → descending; descending → ascending. */
export function toggleSort(current: string, field: string): string {
  const primary = current.split(',')[0] ?? '';
  if (primary === field || primary === '+' + field) return '-' + field;
  return field;
}

/** Sort direction of a column for aria-sort: 'ascending' | 'descending' | 'none'. */
export function sortDirection(current: string, field: string): 'ascending' | 'descending' | 'none' {
  const primary = current.split(',')[0] ?? '';
  if (primary === field || primary === '+' + field) return 'ascending';
  if (primary === '-' + field) return 'descending';
  return 'none';
}

const nf = new Intl.NumberFormat('en-US');
/** "1–50 of 1,318", "0 of 0", clamps the upper bound to the total. */
export function rangeLabel(skip: number, shown: number, total: number): string {
  if (total === 0 || shown === 0) return `0 of ${nf.format(total)}`;
  const from = skip + 1;
  const to = Math.min(skip + shown, Math.max(total, skip + shown));
  return `${nf.format(from)}–${nf.format(to)} of ${nf.format(total)}`;
}

/** Skip for the previous/next/last page, clamped to [0, last page start]. */
export function pageSkip(state: ListState, total: number, where: 'first' | 'prev' | 'next' | 'last'): number {
  const last = total > 0 ? Math.floor((total - 1) / state.limit) * state.limit : 0;
  switch (where) {
    case 'first':
      return 0;
    case 'prev':
      return Math.max(0, state.skip - state.limit);
    case 'next':
      return Math.min(last, state.skip + state.limit);
    case 'last':
      return last;
  }
}

/** Convert a date input (YYYY-MM-DD) to what the API accepts; both forms are passed as typed. */
export function withFilter(state: ListState, name: string, value: string | undefined): ListState {
  const filters = { ...state.filters };
  if (value === undefined || value.trim() === '') delete filters[name];
  else filters[name] = value.trim();
  return { ...state, filters, skip: 0 };
}

/** Query-builder state in the URL: ?collection=series&filter={...}&sort={...}&limit=50&skip=0 */
export interface QueryState {
  collection: string;
  filter: string;
  sort: string;
  skip: number;
  limit: number;
}

export const QUERY_COLLECTIONS = ['series', 'studies', 'instances', 'collections', 'researchers', 'jobs'];

export function parseQueryState(search: string): QueryState {
  const sp = new URLSearchParams(search.startsWith('?') ? search.slice(1) : search);
  const c = sp.get('collection') ?? 'series';
  return {
    collection: QUERY_COLLECTIONS.includes(c) ? c : 'series',
    filter: sp.get('filter') ?? '{\n  "modality": "CT"\n}',
    sort: sp.get('sort') ?? '',
    skip: toInt(sp.get('skip'), 0, 0, Number.MAX_SAFE_INTEGER),
    limit: toInt(sp.get('limit'), DEFAULT_LIMIT, 1, MAX_LIMIT),
  };
}

export function queryStateToSearch(q: QueryState): string {
  const sp = new URLSearchParams();
  sp.set('collection', q.collection);
  sp.set('filter', q.filter);
  if (q.sort.trim()) sp.set('sort', q.sort);
  if (q.skip) sp.set('skip', String(q.skip));
  if (q.limit !== DEFAULT_LIMIT) sp.set('limit', String(q.limit));
  return '?' + sp.toString();
}

export type JsonCheck = { ok: true; value: unknown } | { ok: false; message: string };

/** Validate a JSON object typed by the user; the message names line and column when possible. */
export function checkJsonObject(text: string, what = 'Filter', allowEmpty = false): JsonCheck {
  if (text.trim() === '') return allowEmpty ? { ok: true, value: undefined } : { ok: false, message: `${what} is empty: use {} to match everything` };
  try {
    const v = JSON.parse(text);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return { ok: false, message: `${what} must be a JSON object like {"modality": "CT"}` };
    return { ok: true, value: v };
  } catch (e) {
    const msg = (e as Error).message;
    const m = /position (\d+)/.exec(msg);
    if (m) {
      const pos = Number(m[1]);
      const before = text.slice(0, pos);
      const line = before.split('\n').length;
      const col = pos - before.lastIndexOf('\n');
      return { ok: false, message: `${what}: invalid JSON at line ${line}, column ${col} — ${msg}` };
    }
    return { ok: false, message: `${what}: invalid JSON — ${msg}` };
  }
}

/** Sort box in the query builder: JSON ({"study_date":-1}) or shorthand ("-study_date,patient_id"). */
export function parseSortInput(text: string): JsonCheck {
  const t = text.trim();
  if (!t) return { ok: true, value: undefined };
  if (t.startsWith('{')) return checkJsonObject(t, 'Sort');
  const out: Record<string, number> = {};
  for (const part of t.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([-+]?)([A-Za-z0-9_.]+)$/.exec(part);
    if (!m) return { ok: false, message: `Sort: cannot read "${part}"; use field or -field, comma-separated, or a JSON object` };
    out[m[2]!] = m[1] === '-' ? -1 : 1;
  }
  return { ok: true, value: out };
}
